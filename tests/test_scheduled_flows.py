"""Real Prefect runs of the scheduled flows: per-file isolation and retries in `nightly`,
the monthly report's period, backfill after a new alias, and the `flow_runs` log."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from transforms.warehouse import connect, run

GOOD = FIXTURES / "cronometer" / "servings_small.csv"
BROKEN = FIXTURES / "cronometer" / "servings_no_day_column.csv"
# Settings that make waiting and retrying take a second instead of minutes.
QUICK = ("inbox_settle_seconds = 0.5\ninbox_settle_timeout_seconds = 1.0\n"
         "task_retries = 2\nretry_backoff_seconds = 0.5\n")


def configure(settings, extra: str = "") -> None:
    (settings.home / "config.toml").write_text(
        f'timezone = "{settings.timezone}"\n{QUICK}{extra}')


def flow_runs(settings) -> list[tuple]:
    with connect(settings.warehouse) as con:
        return run(con, "SELECT flow, files, rows_stored, outcome, message FROM flow_runs "
                        "ORDER BY started_at_utc")


def task_run_counts(flow_run_id: str) -> dict[str, list[int]]:
    """How many times Prefect ran each task of a flow run, from its own run history."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    counts: dict[str, list[int]] = {}
    for task_run in task_runs:
        counts.setdefault(task_run.name.rsplit("-", 1)[0], []).append(task_run.run_count)
    return counts


def test_one_bad_and_one_unfinished_file_do_not_stop_the_good_one(prefect_harness, settings):
    from flows.nightly import nightly

    configure(settings)
    shutil.copy2(GOOD, settings.inbox / "a-good.csv")
    shutil.copy2(BROKEN, settings.inbox / "b-broken.csv")
    growing = settings.inbox / "c-growing.csv"
    growing.write_text(GOOD.read_text().splitlines()[0] + "\n")
    stop = threading.Event()

    def download() -> None:  # a sync client still writing the export all night
        while not stop.wait(0.05):
            with growing.open("a") as handle:
                handle.write("2026-03-04,,Lunch,Toast,1.00 slice" + "," * 42 + "\n")

    writer = threading.Thread(target=download)
    writer.start()
    try:
        state = nightly(home=str(settings.home), return_state=True)
    finally:
        stop.set()
        writer.join()
    result = state.result()

    assert [(s["file_name"], s["status"]) for s in result["imports"]] == [
        ("a-good.csv", "stored"), ("b-broken.csv", "failed")]
    assert result["failures"] == [
        "c-growing.csv: still being written after 1 s; left in the inbox"]
    assert sorted(p.name for p in settings.inbox.iterdir()) == ["c-growing.csv"]
    assert len(list(settings.archive.iterdir())) == 1
    quarantined = sorted(p.name for p in settings.quarantine.iterdir())
    assert [name.split("-", 1)[1] for name in quarantined] == [
        "b-broken.csv", "b-broken.csv.reason.txt"]
    with connect(settings.warehouse) as con:
        assert run(con, "SELECT count(*) FROM food_entries")[0][0] == 12
    # the unfinished file was retried (transient), the broken one was not (it never raised)
    counts = task_run_counts(str(state.state_details.flow_run_id))
    assert sorted(counts["import inbox file"]) == [1, 1, 3]
    (flow, files, rows, outcome, message), = flow_runs(settings)
    assert (flow, files, rows, outcome) == ("nightly", 3, 12, "completed_with_errors")
    assert "column 'Day'" in message and "c-growing.csv: still being written" in message


def test_a_busy_warehouse_is_retried_with_backoff_until_it_is_free(prefect_harness, settings,
                                                                   monkeypatch):
    from flows.nightly import nightly

    (settings.home / "config.toml").write_text(
        f'timezone = "{settings.timezone}"\ntask_retries = 3\nretry_backoff_seconds = 1.0\n')
    shutil.copy2(GOOD, settings.inbox / "servings.csv")
    connect(settings.warehouse).close()
    monkeypatch.setenv("GLUCOMAG_LOCK_TIMEOUT", "0.2")
    holder = subprocess.Popen(  # another process (an `import`) holds the warehouse for 2 s
        [sys.executable, "-c", "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); time.sleep(2)", str(settings.warehouse)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        state = nightly(home=str(settings.home), return_state=True)
    finally:
        holder.wait(timeout=60)
    assert state.is_completed()
    assert [s["status"] for s in state.result()["imports"]] == ["stored"]
    counts = task_run_counts(str(state.state_details.flow_run_id))
    assert counts["refresh enrichment"][0] > 1  # failed busy at least once, then succeeded
    assert flow_runs(settings)[0][3] == "completed"


@pytest.mark.parametrize(("now", "month"), [
    (datetime(2026, 4, 1, 4, 30, tzinfo=UTC), "2026-03"),  # 00:30 EDT on April 1st
    (datetime(2026, 4, 1, 3, 30, tzinfo=UTC), "2026-02"),  # still March 31st in New York
])
def test_monthly_report_writes_last_month_in_the_users_time_zone(prefect_harness, settings,
                                                                 now, month):
    from flows.monthly_report import monthly_report
    from transforms.pipeline import import_and_file

    configure(settings)
    import_and_file(settings, GOOD, keep_original=True)
    result = monthly_report(home=str(settings.home), now=now)
    report = settings.reports / "monthly" / f"{month}.html"
    assert result["report"] == str(report) and result["month"] == month
    assert f"monthly report — {month}" in report.read_text()
    with connect(settings.warehouse) as con:
        assert run(con, "SELECT count(*) FROM daily_summary")[0][0] == 3  # marts rebuilt
    assert [(r[0], r[3]) for r in flow_runs(settings)] == [("monthly_report", "completed")]


LOGGED = """Day,Time,Group,Food Name,Amount,Energy (kcal),Magnesium (mg),Category
2026-03-02,12:30,Lunch,Grandma's lentil stew,1.00 cup,230,,Recipes
2026-03-02,19:00,Dinner,"Nuts, almonds",28.00 g,162,75.60,Nuts
2026-04-01,12:30,Lunch,Grandma's lentil stew,2.00 cup,460,,Recipes
"""


def test_backfill_after_a_new_alias_changes_daily_totals_and_reports(prefect_harness, settings,
                                                                     tmp_path: Path):
    from flows.backfill import backfill
    from flows.monthly_report import monthly_report
    from transforms.pipeline import add_user_alias, import_and_file

    configure(settings)
    export = tmp_path / "servings.csv"
    export.write_text(LOGGED)
    import_and_file(settings, export, keep_original=True)
    monthly_report(home=str(settings.home), month="2026-03")
    march = settings.reports / "monthly" / "2026-03.html"
    before = march.read_text()

    def totals() -> list[tuple]:
        with connect(settings.warehouse) as con:
            return run(con, "SELECT local_date::VARCHAR, round(magnesium_known_mg, 2), "
                            "entries_with_magnesium FROM daily_summary ORDER BY 1")

    assert totals() == [("2026-03-02", 75.6, 1), ("2026-04-01", 0.0, 0)]
    _, changed = add_user_alias(settings, "Grandma's lentil stew", "sr28:16070")
    assert changed == 2
    assert totals() == [("2026-03-02", 75.6, 1), ("2026-04-01", 0.0, 0)]  # marts not yet

    result = backfill(home=str(settings.home), start=date(2026, 3, 1), end=date(2026, 4, 30))
    # 1 cup of cooked lentils: 198 g × 36 mg/100 g = 71.28 mg (SR28 16070)
    assert totals() == [("2026-03-02", 146.88, 2), ("2026-04-01", 142.56, 1)]
    assert result["reports"] == [str(settings.reports / "monthly" / "2026-03.html"),
                                 str(settings.reports / "monthly" / "2026-04.html"),
                                 str(settings.reports / "nightly" / "2026-04-30.html")]
    day = "2026-03-02</td><td class=\"num\">2</td><td class=\"num\">at least {} mg</td>"
    assert day.format(76) in before and day.format(147) in march.read_text()
    assert [(r[0], r[3]) for r in flow_runs(settings)] == [
        ("monthly_report", "completed"), ("backfill", "completed")]


def test_backfill_refuses_a_range_that_ends_before_it_starts(prefect_harness, settings):
    from flows.backfill import backfill

    configure(settings)
    with pytest.raises(ValueError, match="the start is after the end"):
        backfill(home=str(settings.home), start=date(2026, 5, 1), end=date(2026, 4, 1))
