"""The nightly run's optional Nightscout pull (against the fake site of conftest.py) and the
quiet JSON-lines log every scheduled run writes under the data folder."""

from __future__ import annotations

import json
import shutil
import stat

from tests.conftest import NEWEST_MS, TIES, TOKEN, Site
from tests.test_scheduled_flows import GOOD, configure, flow_runs
from transforms.warehouse import connect, run

# Every key a log line may carry: names of files, counts, outcomes, durations — nothing else.
LOG_KEYS = {"ts_utc", "flow", "flow_run_id", "event", "file_name", "format", "status",
            "rows_read", "rows_stored", "rows_duplicate", "rows_quarantined", "error",
            "outcome", "suites", "failed_expectations", "files", "problems", "duration_s"}
FOOD_NAME = "Oatmeal, cooked with water"  # in GOOD: must never reach the log


def log_lines(settings) -> list[dict]:
    return [json.loads(line) for line in
            (settings.home / "logs" / "glucomag.jsonl").read_text().splitlines()]


def prefect_log_text(flow_run_id: str) -> str:
    """Everything Prefect logged for a flow run and its tasks, from its own history."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(
            flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return "\n".join(log.message for log in logs)


def test_nightly_pulls_configured_nightscout_and_logs_each_step(prefect_harness, settings,
                                                                site: Site, monkeypatch):
    from flows.nightly import nightly

    configure(settings, f'nightscout_url = "{site.url}"\n')
    monkeypatch.setenv("GLUCOMAG_NIGHTSCOUT_TOKEN", TOKEN)
    shutil.copy2(GOOD, settings.inbox / "servings.csv")

    result = nightly(home=str(settings.home))

    assert result["nightscout"]["error"] is None
    pulled = result["nightscout"]["file"]
    assert pulled.startswith("nightscout-") and site.requests[0]["find[date][$gt]"] == ["0"]
    assert sorted((s["file_name"], s["status"]) for s in result["imports"]) == [
        (pulled, "stored"), ("servings.csv", "stored")]
    assert list(settings.inbox.iterdir()) == []
    with connect(settings.warehouse) as con:  # the 2 entries tied with another are one reading
        assert run(con, "SELECT count(*) FROM core_glucose_readings "
                        "WHERE source = 'nightscout_entries'")[0][0] == 2500 - len(TIES)
    (flow, files, _, outcome, message), = flow_runs(settings)
    assert (flow, files, outcome, message) == ("nightly", 2, "completed", None)

    lines = log_lines(settings)
    assert [line["event"] for line in lines] == [
        "run_started", "nightscout_pull", "file", "file", "marts", "report", "run_finished"]
    assert set().union(*lines) <= LOG_KEYS and {line["flow"] for line in lines} == {"nightly"}
    assert lines[1]["outcome"] == "pulled" and lines[1]["file_name"] == pulled
    assert {(line["file_name"], line["status"]) for line in lines[2:4]} == {
        (pulled, "stored"), ("servings.csv", "stored")}
    assert lines[-1]["outcome"] == "completed" and lines[-1]["files"] == 2
    assert lines[-1]["duration_s"] >= 0
    text = (settings.home / "logs" / "glucomag.jsonl").read_text()
    assert TOKEN not in text and FOOD_NAME not in text and "Oatmeal" not in text
    assert stat.S_IMODE((settings.home / "logs" / "glucomag.jsonl").stat().st_mode) == 0o600
    assert stat.S_IMODE((settings.home / "logs").stat().st_mode) == 0o700

    # The next run asks only for entries from 24 h before the newest one stored, as
    # `glucomag pull nightscout` does; the repeats it brings are not stored again.
    again = nightly(home=str(settings.home))
    assert site.requests[-1]["find[date][$gt]"] == [str(NEWEST_MS - 86_400_000)]
    assert [s["rows_stored"] for s in again["imports"]] == [0]
    assert [line["event"] for line in log_lines(settings)].count("run_finished") == 2


def test_a_failing_nightscout_site_is_a_problem_of_the_run_not_a_stop(prefect_harness,
                                                                      settings, site: Site):
    from flows.nightly import nightly

    site.mode = "error500"  # and it echoes the request URL, token included
    configure(settings, f'nightscout_url = "{site.url}"\nnightscout_token = "{TOKEN}"\n')
    shutil.copy2(GOOD, settings.inbox / "servings.csv")

    state = nightly(home=str(settings.home), return_state=True)

    assert state.is_completed() and len(site.requests) == 1
    assert [(s["file_name"], s["status"]) for s in state.result()["imports"]] == [
        ("servings.csv", "stored")]
    (_, files, rows, outcome, message), = flow_runs(settings)
    assert (files, rows, outcome) == (1, 12, "completed_with_errors")
    assert message == f"Nightscout: {site.url.rstrip('/')} answered HTTP 500 Internal Server Error"
    assert TOKEN not in (settings.home / "logs" / "glucomag.jsonl").read_text()
    assert [line["outcome"] for line in log_lines(settings)
            if line["event"] == "nightscout_pull"] == ["failed"]
    assert TOKEN not in prefect_log_text(str(state.state_details.flow_run_id))


def test_run_nightly_says_the_pull_failed_and_exits_2_after_importing(settings, site: Site):
    from tests.test_cli import glucomag

    site.mode = "error500"
    configure(settings, f'nightscout_url = "{site.url}"\n')
    shutil.copy2(GOOD, settings.inbox / "servings.csv")
    result = glucomag("run", "nightly", "--home", str(settings.home),
                      env={"GLUCOMAG_NIGHTSCOUT_TOKEN": TOKEN})
    assert result.returncode == 2
    assert "error: Nightscout: " in result.stderr and "answered HTTP 500" in result.stderr
    assert result.stdout.startswith("servings.csv: cronometer_servings, 12 rows stored")
    assert TOKEN not in result.stdout + result.stderr


def test_without_a_url_nothing_is_pulled(settings, site: Site):
    from transforms.pipeline import pull_configured_nightscout

    assert settings.nightscout_url is None
    assert pull_configured_nightscout(settings) == (None, None)
    assert site.requests == []


def test_the_token_is_never_shown_by_the_settings(settings, monkeypatch):
    from glucomag.settings import load_settings

    monkeypatch.setenv("GLUCOMAG_NIGHTSCOUT_TOKEN", TOKEN)
    loaded = load_settings(settings.home)
    assert loaded.nightscout_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(loaded) and TOKEN not in str(loaded.model_dump())
