"""Tasks shared by the flows, and their retry policy.

Every task calls a plain function (tests call those directly). Tasks have side effects on the
warehouse, so Prefect's result caching is off. Transient failures — the warehouse busy with
another run, an inbox file still being written, a file system hiccup — are retried with
exponential backoff as configured (`task_retries`, `retry_backoff_seconds`); anything else
fails at once.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.tasks import exponential_backoff

from glucomag.settings import Settings, load_settings
from reports.data import write_period_report
from transforms import pipeline
from transforms.runs import is_transient


def retry_if_transient(_task: Task[..., Any], _run: TaskRun, state: State) -> bool:
    error = state.result(raise_on_failure=False)
    return isinstance(error, BaseException) and is_transient(error)


def retrying(a_task: Task[..., Any], settings: Settings) -> Task[..., Any]:
    """`a_task` with the user's retry settings."""
    return a_task.with_options(
        retries=settings.task_retries,
        retry_delay_seconds=exponential_backoff(settings.retry_backoff_seconds)(
            settings.task_retries),
        retry_condition_fn=retry_if_transient)


@task(name="refresh enrichment", cache_policy=NO_CACHE)
def refresh_enrichment(home: str) -> dict:
    changed, error = pipeline.refresh_enrichment(load_settings(Path(home)))
    return {"changed": changed, "error": error}


@task(name="rebuild marts", cache_policy=NO_CACHE)
def rebuild_marts(home: str) -> list[dict]:
    outcomes = pipeline.rebuild_marts(load_settings(Path(home)))
    return [{"suite": o.suite, "success": o.success, "failed": o.failed} for o in outcomes]


@task(name="write report", cache_policy=NO_CACHE)
def write_report(home: str, kind: str, start: date, end: date, label: str) -> str:
    return str(write_period_report(load_settings(Path(home)), start, end, kind, label))
