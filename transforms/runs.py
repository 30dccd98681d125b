"""What scheduled runs need besides the import itself: the periods they cover, waiting for a
file that is still being written, telling transient failures from real ones, the
`flow_runs` log of every run and its quiet JSON-lines log under `<home>/logs/`.
"""

from __future__ import annotations

import calendar
import errno
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from glucomag.settings import Settings
from transforms.migrations import WarehouseError
from transforms.warehouse import WarehouseBusyError, connect, run

# File errors that waiting does not fix: retrying them only delays reporting them.
PERMANENT_ERRNOS = {errno.ENOENT, errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOTDIR}

LOG_FILE_NAME = "glucomag.jsonl"

# A failed run has already waited for the warehouse; logging its failure should not wait long.
FAILURE_LOG_WAIT_S = 5.0


class FileStillBeingWrittenError(OSError):
    """An inbox file kept changing for longer than the wait limit."""


def month_bounds(first: date) -> tuple[date, date]:
    """First and last day of the month of `first`."""
    return first.replace(day=1), first.replace(day=calendar.monthrange(first.year, first.month)[1])


def parse_month(text: str) -> tuple[date, date]:
    """First and last day of the month `text` (YYYY-MM); ValueError if it is not one."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise ValueError(f"'{text}' is not YYYY-MM")
    return month_bounds(date.fromisoformat(f"{text}-01"))


def previous_month(now: datetime, timezone: str) -> tuple[date, date]:
    """First and last day of the calendar month before `now`'s month in `timezone`.

    `now` must be an aware instant: the month is the user's local one, which differs from the
    UTC month for hours around midnight on the 1st.
    """
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    first_of_this_month = now.astimezone(ZoneInfo(timezone)).date().replace(day=1)
    return month_bounds(first_of_this_month - timedelta(days=1))


def report_month(month: str | None, now: datetime, timezone: str) -> tuple[date, date]:
    """The month to report: `month` (YYYY-MM) if given, else the one before `now`'s."""
    return previous_month(now, timezone) if month is None else parse_month(month)


def month_starts(start: date, end: date) -> list[date]:
    """The first day of every calendar month that [start, end] touches."""
    months = []
    month = start.replace(day=1)
    while month <= end:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def wait_until_settled(path: Path, quiet_s: float, timeout_s: float,
                       clock: Callable[[], float] = time.time,
                       sleep: Callable[[float], None] = time.sleep) -> int:
    """Wait until `path` has not changed (size or modification time) for `quiet_s` seconds;
    return its size. A file last modified longer ago than that is settled at once, so a
    nightly run over finished exports does not wait at all.

    `clock` is wall-clock seconds (it is compared with the file's mtime). Raises
    `FileStillBeingWrittenError` after `timeout_s`.
    """
    started = clock()
    stat = path.stat()
    seen = (stat.st_size, stat.st_mtime_ns)
    # An mtime ahead of our clock (a share with a skewed clock) counts as "changed now".
    changed_at = min(stat.st_mtime_ns / 1e9, started)
    poll_s = min(max(quiet_s / 4, 0.01), 1.0)
    while True:
        now = clock()
        if now - changed_at >= quiet_s:
            return seen[0]
        if now - started >= timeout_s:
            raise FileStillBeingWrittenError(
                f"still being written after {timeout_s:g} s; left in the inbox")
        sleep(poll_s)
        stat = path.stat()
        current = (stat.st_size, stat.st_mtime_ns)
        if current != seen:
            seen, changed_at = current, clock()


def is_transient(error: BaseException) -> bool:
    """Worth retrying later: the warehouse is busy, a file is still being written, or the
    file system failed in a way that waiting may fix."""
    if isinstance(error, WarehouseBusyError | FileStillBeingWrittenError):
        return True
    if isinstance(error, duckdb.IOException):
        return "lock" in str(error).lower()
    return isinstance(error, OSError) and error.errno not in PERMANENT_ERRNOS


def one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def log_event(log_file: Path, event: dict[str, str | int | float | None]) -> None:
    """Append `event`, stamped with the time, as one JSON line to `log_file` (created 0600 in
    a 0700 folder: even file names and counts tell when someone logged food and glucose).

    Callers pass file names, counts, outcomes and durations only — never messages, which can
    quote a food name, a glucose value or a site address.
    """
    folder = log_file.parent
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
    line = json.dumps({"ts_utc": datetime.now(UTC).isoformat(timespec="milliseconds"),
                       **event}) + "\n"
    # One write of one line with O_APPEND: concurrent runs never interleave within a line.
    fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def file_event(summary: dict) -> dict[str, str | int | float | None]:
    """The log fields of one import summary: its file, format, status and row counts."""
    return {key: summary[key] for key in ("file_name", "format", "status", "rows_read",
                                          "rows_stored", "rows_duplicate", "rows_quarantined")}


@dataclass
class FlowRunRecord:
    """What a flow run did, filled in by the flow as it goes."""

    flow: str
    flow_run_id: str
    log_file: Path
    started_at_utc: datetime = field(default_factory=lambda: datetime.now(UTC))
    files: int = 0
    rows_stored: int = 0
    problems: list[str] = field(default_factory=list)

    def event(self, event: str, **fields: str | int | float | None) -> None:
        """Log one event of this run. A log that cannot be written (disk full, folder made
        read-only) does not fail the run: `flow_runs` still records it."""
        with suppress(OSError):
            log_event(self.log_file, {"flow": self.flow, "flow_run_id": self.flow_run_id,
                                      "event": event, **fields})

    def marts_built(self, outcomes: list[dict]) -> None:
        self.event("marts", suites=len(outcomes),
                   failed_expectations=sum(outcome["failed"] for outcome in outcomes))

    def report_written(self, path: str) -> None:
        self.event("report", file_name=Path(path).name)

    def finished(self, outcome: str) -> None:
        self.event("run_finished", outcome=outcome, files=self.files,
                   rows_stored=self.rows_stored, problems=len(self.problems),
                   duration_s=round((datetime.now(UTC) - self.started_at_utc)
                                    .total_seconds(), 3))


def record_flow_run(settings: Settings, record: FlowRunRecord, outcome: str,
                    message: str | None, lock_timeout_s: float | None = None) -> None:
    """Store one `flow_runs` row (replacing the row of the same Prefect run: a retried flow
    run keeps its id)."""
    con = connect(settings.warehouse, lock_timeout_s)
    try:
        run(con, "INSERT OR REPLACE INTO flow_runs VALUES ($flow, $id, $started, now(), "
                 "$files, $rows, $outcome, $message)",
            {"flow": record.flow, "id": record.flow_run_id, "started": record.started_at_utc,
             "files": record.files, "rows": record.rows_stored, "outcome": outcome,
             "message": message})
    finally:
        con.close()


@contextmanager
def recorded_run(settings: Settings, flow: str, flow_run_id: str) -> Iterator[FlowRunRecord]:
    """Log the run in `flow_runs` when the block ends, however it ends: `completed`,
    `completed_with_errors` (the record's problems, e.g. a file that failed) or `failed`
    (the exception, which is re-raised); and its start and end in the JSON-lines log."""
    record = FlowRunRecord(flow=flow, flow_run_id=flow_run_id,
                           log_file=settings.logs / LOG_FILE_NAME)
    record.event("run_started")
    try:
        yield record
    except BaseException as error:
        record.finished("failed")
        # If the warehouse is what failed (busy, too new), the run's own error says so.
        with suppress(WarehouseError):
            record_flow_run(settings, record, "failed",
                            "; ".join([*record.problems, one_line(error)]),
                            lock_timeout_s=FAILURE_LOG_WAIT_S)
        raise
    outcome = "completed_with_errors" if record.problems else "completed"
    record.finished(outcome)
    record_flow_run(settings, record, outcome, "; ".join(record.problems) or None)


def last_flow_runs(con: duckdb.DuckDBPyConnection, limit: int = 5) -> list[tuple]:
    """(flow, started_at_utc, finished_at_utc, files, rows_stored, outcome, message),
    newest first."""
    return run(con, "SELECT flow, started_at_utc, finished_at_utc, files, rows_stored, "
                    "outcome, message FROM flow_runs ORDER BY started_at_utc DESC "
                    "LIMIT $limit", {"limit": limit})
