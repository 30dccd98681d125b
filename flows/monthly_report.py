"""The monthly flow: last month's report (or a given month's), in the user's time zone.

Scheduled by `glucomag serve` for the 1st of each month, hours after the nightly run (which
it waits for if that still holds the warehouse); `glucomag run monthly-report` runs it now.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prefect import flow
from prefect.runtime import flow_run

from flows.tasks import rebuild_marts, retrying, write_report
from glucomag.settings import load_settings
from transforms.runs import recorded_run, report_month


@flow(name="monthly_report", log_prints=True)
def monthly_report(home: str, month: str | None = None, now: datetime | None = None) -> dict:
    """Rebuild the marts, then write reports/monthly/YYYY-MM.html for `month` (YYYY-MM), by
    default the month before `now` (default: the current instant) in the user's zone."""
    settings = load_settings(Path(home))
    start, end = report_month(month, now or datetime.now(UTC), settings.timezone)
    with recorded_run(settings, "monthly_report", flow_run.id) as record:
        marts = retrying(rebuild_marts, settings)(home)
        record.marts_built(marts)
        report = retrying(write_report, settings)(home, "monthly", start, end, f"{start:%Y-%m}")
        record.report_written(report)
    return {"month": f"{start:%Y-%m}", "marts": marts, "report": report}
