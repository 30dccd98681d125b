"""The nightly flow: import everything in the inbox, rebuild marts, write the nightly report.

Run by hand with `glucomag run nightly`; each task calls a plain function that tests call
directly. Tasks have side effects on the warehouse, so Prefect's result caching is off.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from glucomag.settings import load_settings
from reports.data import write_period_report
from transforms import pipeline


@task(name="refresh enrichment", cache_policy=NO_CACHE)
def refresh_enrichment(home: str) -> dict:
    changed, error = pipeline.refresh_enrichment(load_settings(Path(home)))
    return {"changed": changed, "error": error}


@task(name="import inbox file", cache_policy=NO_CACHE)
def import_inbox_file(home: str, path: str) -> list[dict]:
    settings = load_settings(Path(home))
    return [asdict(summary) for summary in
            pipeline.import_and_file(settings, Path(path), keep_original=False)]


@task(name="rebuild marts", cache_policy=NO_CACHE)
def rebuild_marts(home: str) -> list[dict]:
    outcomes = pipeline.rebuild_marts(load_settings(Path(home)))
    return [{"suite": o.suite, "success": o.success, "failed": o.failed} for o in outcomes]


@task(name="write nightly report", cache_policy=NO_CACHE)
def write_nightly_report(home: str, today: date) -> str:
    settings = load_settings(Path(home))
    start, end = pipeline.nightly_period(settings, today)
    return str(write_period_report(settings, start, end, kind="nightly", label=end.isoformat()))


@flow(name="nightly", log_prints=True)
def nightly(home: str, today: date | None = None) -> dict:
    """Apply changed custom foods, import the inbox, rebuild and validate marts, write the
    nightly report."""
    settings = load_settings(Path(home))
    enrichment = refresh_enrichment(home)
    imports = [summary for path in pipeline.inbox_files(settings)
               for summary in import_inbox_file(home, str(path))]
    marts = rebuild_marts(home)
    report = write_nightly_report(home, today or date.today())
    return {"enrichment": enrichment, "imports": imports, "marts": marts, "report": report}
