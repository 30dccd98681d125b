"""`glucomag serve` for real: a local Prefect server on a free 127.0.0.1 port, the deployments
on a one-minute test schedule, a scheduled nightly run that archives an inbox file, and
Ctrl-C leaving no process behind."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import FIXTURES, ROOT
from transforms.warehouse import connect, run

RUN_TIMEOUT_S = 240  # server start-up + up to a minute to the next cron minute + the run


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (parent links)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(condition, what: str, timeout_s: float = RUN_TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def api_get(base: str, path: str) -> dict:
    with urllib.request.urlopen(f"{base}/api{path}", timeout=10) as response:
        return json.loads(response.read())


def test_serve_runs_the_scheduled_nightly_flow_and_stops_cleanly(tmp_path: Path):
    home = tmp_path / "home"
    (home / "inbox").mkdir(parents=True)
    (home / "config.toml").write_text('timezone = "America/New_York"\n'
                                      'nightly_cron = "* * * * *"\n')
    shutil.copy2(FIXTURES / "cronometer" / "servings_small.csv", home / "inbox" / "servings.csv")
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           # The server creates runs from schedules every loop, the runner polls for them:
           # seconds instead of a minute each, so the test waits for the cron minute only.
           "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
           "PREFECT_RUNNER_POLL_FREQUENCY": "2"}
    for key in ("PREFECT_API_URL", "PREFECT_HOME"):
        env.pop(key, None)
    output = tmp_path / "serve.out"
    with output.open("w") as out:
        serve = subprocess.Popen([sys.executable, "-m", "glucomag", "serve", "--home", str(home)],
                                 cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    seen: set[int] = set()
    try:
        base = wait_for(lambda: (re.search(r"Prefect server: (http://127\.0\.0\.1:\d+)",
                                           output.read_text()) or [None, None])[1],
                        "the server to start")
        assert api_get(base, "/health") is True

        def archived() -> bool:
            seen.update(descendants(serve.pid))
            return not (home / "inbox" / "servings.csv").exists() and any(
                (home / "archive").iterdir())

        wait_for(archived, "a scheduled nightly run to archive the inbox file")

        def logged() -> list[tuple]:
            seen.update(descendants(serve.pid))
            with connect(home / "warehouse.duckdb") as con:
                return run(con, "SELECT flow, flow_run_id, files, rows_stored, outcome "
                                "FROM flow_runs")

        (flow, flow_run_id, files, rows, outcome), = wait_for(logged, "the run's flow_runs row")
        assert (flow, files, rows, outcome) == ("nightly", 1, 12, "completed")
        flow_run = wait_for(
            lambda: (r := api_get(base, f"/flow_runs/{flow_run_id}"))["state_type"]
            == "COMPLETED" and r, "Prefect to record the run as completed")
        assert flow_run["auto_scheduled"] is True  # created by the schedule, not by hand
        deployment = api_get(base, f"/deployments/{flow_run['deployment_id']}")
        assert deployment["name"] == "glucomag-nightly"
        assert deployment["schedules"][0]["schedule"] == {
            "cron": "* * * * *", "timezone": "America/New_York", "day_or": True}
        assert seen, "the server runs as a child process"

        serve.send_signal(signal.SIGINT)  # Ctrl-C
        assert serve.wait(timeout=120) == 0
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait()
    text = output.read_text()
    assert text.rstrip().endswith("stopped") and "Traceback" not in text
    assert [pid for pid in seen if alive(pid)] == []
    assert (home / ".prefect" / "prefect.db").exists()  # the server's state is in the data folder
