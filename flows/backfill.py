"""The backfill flow: bring stored data and reports for a date range up to date after the
rules changed — a new alias, custom food or supplement, or new reference data.

Enrichment and marts are rebuilt whole (they are derived from every stored row and quick);
the reports of every month the range touches, and the nightly report ending on its last
day, are written again.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from prefect import flow
from prefect.runtime import flow_run

from flows.tasks import rebuild_marts, refresh_enrichment, retrying, write_report
from glucomag.settings import load_settings
from transforms.pipeline import NIGHTLY_WINDOW_DAYS
from transforms.runs import month_bounds, month_starts, recorded_run


@flow(name="backfill", log_prints=True)
def backfill(home: str, start: date, end: date) -> dict:
    """Re-enrich every entry, rebuild the marts, rewrite the reports for [start, end]."""
    if start > end:
        raise ValueError(f"backfill from {start} to {end}: the start is after the end")
    settings = load_settings(Path(home))
    with recorded_run(settings, "backfill", flow_run.id) as record:
        enrichment = retrying(refresh_enrichment, settings)(home)
        if enrichment["error"]:
            record.problems.append(enrichment["error"])
        marts = retrying(rebuild_marts, settings)(home)
        record.marts_built(marts)
        reports = [retrying(write_report, settings)(home, "monthly", *month_bounds(first),
                                                    f"{first:%Y-%m}")
                   for first in month_starts(start, end)]
        reports.append(retrying(write_report, settings)(
            home, "nightly", end - timedelta(days=NIGHTLY_WINDOW_DAYS - 1), end,
            end.isoformat()))
        for report in reports:
            record.report_written(report)
    return {"enrichment": enrichment, "marts": marts, "reports": reports}
