"""The plain functions behind scheduled runs: which month the monthly flow reports (across
DST changes and where the UTC date is not the local one), waiting for a file still being
written, which failures are retried, and the `flow_runs` log."""

from __future__ import annotations

import errno
import json
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from transforms.runs import (
    FileStillBeingWrittenError,
    month_starts,
    previous_month,
    recorded_run,
    report_month,
    wait_until_settled,
)
from transforms.warehouse import WarehouseBusyError, connect, run

NEW_YORK = "America/New_York"


@pytest.mark.parametrize(("now_utc", "timezone", "expected"), [
    # 2026-11-01: clocks go back at 06:00 UTC; local midnight is still EDT (04:00 UTC).
    (datetime(2026, 11, 1, 3, 59, 59, tzinfo=UTC), NEW_YORK, (date(2026, 9, 1), date(2026, 9, 30))),
    (datetime(2026, 11, 1, 4, 0, tzinfo=UTC), NEW_YORK, (date(2026, 10, 1), date(2026, 10, 31))),
    # 06:30 UTC is 01:30 EST, the hour that happens twice: still November 1st.
    (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), NEW_YORK, (date(2026, 10, 1), date(2026, 10, 31))),
    # 2026-03-08: clocks go forward a week after the month starts; March 1st is EST (05:00 UTC).
    (datetime(2026, 3, 1, 4, 59, tzinfo=UTC), NEW_YORK, (date(2026, 1, 1), date(2026, 1, 31))),
    (datetime(2026, 3, 1, 5, 0, tzinfo=UTC), NEW_YORK, (date(2026, 2, 1), date(2026, 2, 28))),
    (datetime(2026, 4, 1, 4, 0, tzinfo=UTC), NEW_YORK, (date(2026, 3, 1), date(2026, 3, 31))),
    # Auckland is UTC+13 in March: on the local 1st of April it is still March 31st in UTC.
    (datetime(2026, 3, 31, 17, 0, tzinfo=UTC), "Pacific/Auckland",
     (date(2026, 3, 1), date(2026, 3, 31))),
    (datetime(2026, 3, 31, 10, 59, tzinfo=UTC), "Pacific/Auckland",
     (date(2026, 2, 1), date(2026, 2, 28))),
    # and Honolulu (UTC-10) is still on the 31st when UTC has reached the 1st
    (datetime(2026, 1, 1, 9, 0, tzinfo=UTC), "Pacific/Honolulu",
     (date(2025, 11, 1), date(2025, 11, 30))),
    (datetime(2026, 1, 1, 10, 0, tzinfo=UTC), "Pacific/Honolulu",
     (date(2025, 12, 1), date(2025, 12, 31))),
])
def test_previous_month_is_the_users_local_one(now_utc, timezone, expected):
    assert previous_month(now_utc, timezone) == expected


def test_previous_month_needs_an_aware_instant():
    with pytest.raises(ValueError, match="time zone"):
        previous_month(datetime(2026, 11, 1, 4, 0), NEW_YORK)


@pytest.mark.parametrize(("timezone", "after", "fires_local", "month"), [
    # The monthly schedule's own fire time, by Prefect's scheduler code, then the month it
    # reports: on the day clocks go back in New York, and in a zone ahead of UTC.
    (NEW_YORK, datetime(2026, 10, 20, tzinfo=UTC), "2026-11-01 06:00 EST", "2026-10"),
    (NEW_YORK, datetime(2026, 2, 20, tzinfo=UTC), "2026-03-01 06:00 EST", "2026-02"),
    ("Pacific/Auckland", datetime(2026, 3, 20, tzinfo=UTC), "2026-04-01 06:00 NZDT", "2026-03"),
])
def test_the_monthly_schedule_reports_the_month_just_ended(settings, timezone, after,
                                                           fires_local, month):
    from zoneinfo import ZoneInfo

    from glucomag.serve import next_runs

    zoned = settings.model_copy(update={"timezone": timezone})
    fires = next_runs(zoned, after=after)["monthly_report"]
    assert f"{fires.astimezone(ZoneInfo(timezone)):%Y-%m-%d %H:%M %Z}" == fires_local
    start, end = previous_month(fires, timezone)
    assert f"{start:%Y-%m}" == month and end.month == start.month


def test_the_nightly_schedule_still_runs_on_the_day_0230_does_not_exist(settings):
    from zoneinfo import ZoneInfo

    from glucomag.serve import next_runs

    fires = next_runs(settings, after=datetime(2026, 3, 7, 12, tzinfo=UTC))["nightly"]
    assert f"{fires.astimezone(ZoneInfo(NEW_YORK)):%Y-%m-%d %H:%M %Z}" == "2026-03-08 03:30 EDT"


def test_report_month_takes_a_given_month_or_refuses_it():
    now = datetime(2026, 7, 15, tzinfo=UTC)
    assert report_month("2024-02", now, NEW_YORK) == (date(2024, 2, 1), date(2024, 2, 29))
    assert report_month(None, now, NEW_YORK) == (date(2026, 6, 1), date(2026, 6, 30))
    with pytest.raises(ValueError, match="YYYY-MM"):
        report_month("2024-13", now, NEW_YORK)


def test_month_starts_lists_every_month_a_range_touches():
    assert month_starts(date(2025, 12, 31), date(2026, 2, 1)) == [
        date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)]
    assert month_starts(date(2026, 5, 3), date(2026, 5, 9)) == [date(2026, 5, 1)]


class FakeClock:
    """Wall-clock seconds that advance only when the code under test sleeps; `on_sleep`
    lets a 'writer' append to the file between polls."""

    def __init__(self, start: float, on_sleep=lambda now: None):
        self.now = start
        self.on_sleep = on_sleep
        self.sleeps = 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds
        self.on_sleep(self.now)


def test_a_file_not_touched_for_the_quiet_interval_is_settled_at_once(tmp_path: Path):
    path = tmp_path / "export.csv"
    path.write_text("a,b\n1,2\n")
    clock = FakeClock(path.stat().st_mtime + 10)
    assert wait_until_settled(path, quiet_s=2, timeout_s=60, clock=clock,
                              sleep=clock.sleep) == 8
    assert clock.sleeps == 0


def test_a_growing_file_is_waited_for_until_it_stops_changing(tmp_path: Path):
    path = tmp_path / "export.csv"
    path.write_text("header\n")
    started = path.stat().st_mtime
    appended = []

    def writer(now: float) -> None:
        if now - started < 5:  # the download goes on for 5 s, one row per poll
            with path.open("a") as handle:
                handle.write("row\n")
            appended.append(now)

    clock = FakeClock(started, on_sleep=writer)
    size = wait_until_settled(path, quiet_s=2, timeout_s=60, clock=clock, sleep=clock.sleep)
    assert size == path.stat().st_size == len("header\n") + 4 * len(appended)
    assert appended and clock.now >= appended[-1] + 2  # waited the quiet interval after


def test_a_file_that_never_stops_growing_gives_up_as_transient(tmp_path: Path):
    path = tmp_path / "export.csv"
    path.write_text("header\n")

    def writer(now: float) -> None:
        with path.open("a") as handle:
            handle.write("row\n")

    clock = FakeClock(path.stat().st_mtime, on_sleep=writer)
    with pytest.raises(FileStillBeingWrittenError, match="still being written after 30 s"):
        wait_until_settled(path, quiet_s=2, timeout_s=30, clock=clock, sleep=clock.sleep)


def test_a_file_grown_by_another_thread_is_read_only_when_complete(tmp_path: Path):
    path = tmp_path / "export.csv"
    path.write_text("header\n")
    rows = 60

    def download() -> None:
        for _ in range(rows):
            with path.open("a") as handle:
                handle.write("2026-03-01,12.5\n")
            time.sleep(0.02)

    thread = threading.Thread(target=download)
    thread.start()
    try:
        size = wait_until_settled(path, quiet_s=0.5, timeout_s=60)
        finished_first = not thread.is_alive()
    finally:
        thread.join()
    assert finished_first
    assert size == len("header\n") + rows * len("2026-03-01,12.5\n")


def test_transient_failures_are_told_from_real_ones():
    from transforms.runs import is_transient

    assert is_transient(WarehouseBusyError("another glucomag run is using the warehouse"))
    assert is_transient(FileStillBeingWrittenError("x.csv: still being written"))
    assert is_transient(OSError(errno.EIO, "Input/output error"))
    assert is_transient(OSError(errno.ESTALE, "Stale file handle"))
    assert not is_transient(FileNotFoundError(errno.ENOENT, "gone"))
    assert not is_transient(PermissionError(errno.EACCES, "denied"))
    assert not is_transient(ValueError("a bug"))


def test_recorded_run_logs_completed_with_errors_and_failed_runs(settings):
    with recorded_run(settings, "nightly", "run-1") as record:
        record.files, record.rows_stored = 2, 33
        record.problems.append("broken.csv: unrecognised export")
    with pytest.raises(RuntimeError), recorded_run(settings, "backfill", "run-2") as record:
        raise RuntimeError("disk on fire\nsecond line")
    for files in (5, 1):  # a flow run retried by Prefect keeps its id: one row, the last
        with recorded_run(settings, "monthly_report", "run-3") as record:
            record.files = files
    with connect(settings.warehouse) as con:
        rows = run(con, "SELECT flow, flow_run_id, files, rows_stored, outcome, message, "
                        "finished_at_utc >= started_at_utc FROM flow_runs ORDER BY 2")
    assert rows == [
        ("nightly", "run-1", 2, 33, "completed_with_errors", "broken.csv: unrecognised export",
         True),
        ("backfill", "run-2", 0, 0, "failed", "disk on fire", True),
        ("monthly_report", "run-3", 1, 0, "completed", None, True)]
    # and the JSON-lines log: a start and an end per run, the end with its outcome only
    ends = [json.loads(line) for line in
            (settings.home / "logs" / "glucomag.jsonl").read_text().splitlines()
            if '"run_finished"' in line]
    assert [(e["flow"], e["flow_run_id"], e["outcome"], e["files"], e["problems"])
            for e in ends] == [
        ("nightly", "run-1", "completed_with_errors", 2, 1), ("backfill", "run-2", "failed", 0, 0),
        ("monthly_report", "run-3", "completed", 5, 0),
        ("monthly_report", "run-3", "completed", 1, 0)]
    log = (settings.home / "logs" / "glucomag.jsonl").read_text()
    assert "disk on fire" not in log and "broken.csv" not in log


def test_a_log_that_cannot_be_written_does_not_fail_the_run(settings):
    (settings.home / "logs").write_text("a file where the log folder should be")
    with recorded_run(settings, "nightly", "run-1") as record:
        record.report_written(str(settings.reports / "nightly" / "2026-03-04.html"))
    with connect(settings.warehouse) as con:
        assert run(con, "SELECT outcome FROM flow_runs")[0][0] == "completed"
