"""The nightly flow: import everything in the inbox, rebuild marts, write the nightly report.

Run by hand with `glucomag run nightly`, or on a schedule by `glucomag serve`. Each inbox
file is its own task: a file that fails (after its retries, if the failure was transient)
is reported and left where it is, and the other files are imported all the same. Every run
is logged in `flow_runs`.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flows.tasks import rebuild_marts, refresh_enrichment, retrying
from glucomag.settings import load_settings
from reports.data import write_period_report
from transforms import pipeline
from transforms.runs import one_line, recorded_run


@task(name="import inbox file", cache_policy=NO_CACHE)
def import_inbox_file(home: str, path: str) -> list[dict]:
    settings = load_settings(Path(home))
    return [asdict(summary) for summary in pipeline.import_inbox_file(settings, Path(path))]


@task(name="write nightly report", cache_policy=NO_CACHE)
def write_nightly_report(home: str, today: date) -> str:
    settings = load_settings(Path(home))
    start, end = pipeline.nightly_period(settings, today)
    return str(write_period_report(settings, start, end, kind="nightly", label=end.isoformat()))


@flow(name="nightly", log_prints=True)
def nightly(home: str, today: date | None = None) -> dict:
    """Apply changed custom foods, import the inbox file by file, rebuild and validate marts,
    write the nightly report."""
    settings = load_settings(Path(home))
    with recorded_run(settings, "nightly", flow_run.id) as record:
        enrichment = retrying(refresh_enrichment, settings)(home)
        if enrichment["error"]:
            record.problems.append(enrichment["error"])
        imports: list[dict] = []
        failures: list[str] = []
        for path in pipeline.inbox_files(settings):
            state = retrying(import_inbox_file, settings)(home, str(path), return_state=True)
            if state.is_completed():
                imports.extend(state.result())
            else:
                failures.append(f"{path.name}: {one_line(state.result(raise_on_failure=False))}")
            record.files += 1
        record.rows_stored = sum(summary["rows_stored"] for summary in imports)
        record.problems += [summary["message"] for summary in imports
                            if summary["status"] == "failed"] + failures
        marts = retrying(rebuild_marts, settings)(home)
        report = retrying(write_nightly_report, settings)(
            home, today or datetime.now(ZoneInfo(settings.timezone)).date())
    return {"enrichment": enrichment, "imports": imports, "failures": failures,
            "marts": marts, "report": report}
