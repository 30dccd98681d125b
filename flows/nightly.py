"""The nightly flow: pull from Nightscout (if configured), import everything in the inbox,
rebuild marts, write the nightly report.

Run by hand with `glucomag run nightly`, or on a schedule by `glucomag serve`. Each inbox
file is its own task: a file that fails (after its retries, if the failure was transient)
is reported and left where it is, and the other files are imported all the same. Every run
is logged in `flow_runs` and, one JSON line per step, in `<home>/logs/glucomag.jsonl`. A
Nightscout pull that fails is one of the run's problems: the inbox is imported all the same.
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
from glucomag.settings import Settings, load_settings
from reports.data import write_period_report
from transforms import pipeline
from transforms.runs import FlowRunRecord, file_event, one_line, recorded_run


@task(name="pull nightscout", cache_policy=NO_CACHE)
def pull_nightscout(home: str) -> dict:
    # Only the data folder is a parameter: Prefect stores parameters, and the token stays out.
    path, error = pipeline.pull_configured_nightscout(load_settings(Path(home)))
    return {"file": path.name if path else None, "error": error}


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
    """Pull from Nightscout if configured, apply changed custom foods, import the inbox file
    by file, rebuild and validate marts, write the nightly report."""
    settings = load_settings(Path(home))
    with recorded_run(settings, "nightly", flow_run.id) as record:
        pulled = None
        if settings.nightscout_url:
            pulled = pull_and_record(home, settings, record)
        enrichment = retrying(refresh_enrichment, settings)(home)
        if enrichment["error"]:
            record.problems.append(enrichment["error"])
        imports: list[dict] = []
        failures: list[str] = []
        for path in pipeline.inbox_files(settings):
            state = retrying(import_inbox_file, settings)(home, str(path), return_state=True)
            if state.is_completed():
                summaries = state.result()
                imports.extend(summaries)
                for summary in summaries:
                    record.event("file", **file_event(summary))
            else:
                error = state.result(raise_on_failure=False)
                failures.append(f"{path.name}: {one_line(error)}")
                record.event("file", file_name=path.name, status="failed",
                             error=type(error).__name__)
            record.files += 1
        record.rows_stored = sum(summary["rows_stored"] for summary in imports)
        record.problems += [summary["message"] for summary in imports
                            if summary["status"] == "failed"] + failures
        marts = retrying(rebuild_marts, settings)(home)
        record.marts_built(marts)
        report = retrying(write_nightly_report, settings)(
            home, today or datetime.now(ZoneInfo(settings.timezone)).date())
        record.report_written(report)
    return {"nightscout": pulled, "enrichment": enrichment, "imports": imports,
            "failures": failures, "marts": marts, "report": report}


def pull_and_record(home: str, settings: Settings, record: FlowRunRecord) -> dict:
    """Run the pull task; whatever goes wrong becomes one problem of the run, never an
    exception, so the inbox is still imported."""
    state = retrying(pull_nightscout, settings)(home, return_state=True)
    if state.is_completed():
        pulled = state.result()
    else:
        pulled = {"file": None,
                  "error": f"Nightscout: {one_line(state.result(raise_on_failure=False))}"}
    if pulled["error"]:
        record.problems.append(pulled["error"])
    record.event("nightscout_pull", file_name=pulled["file"],
                 outcome="failed" if pulled["error"] else "pulled" if pulled["file"]
                 else "nothing_new")
    return pulled
