"""`glucomag serve`: a local Prefect server (unless one is configured) and the scheduled
deployments of the nightly and monthly flows, until Ctrl-C.

The server listens on 127.0.0.1 only, on a free port, with its database in the data folder's
`.prefect/`; its log goes to `<home>/logs/prefect-server.log`. It runs in its own process
group, so that stopping it takes all its processes with it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime

from glucomag.settings import Settings

SERVER_STARTUP_TIMEOUT_S = 180.0
SERVER_STOP_TIMEOUT_S = 30.0
NIGHTLY_DEPLOYMENT = "glucomag-nightly"
MONTHLY_DEPLOYMENT = "glucomag-monthly-report"


class ServeError(Exception):
    """The local server could not be started: one line, exit code 2."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def api_healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
            return response.status == 200 and json.loads(response.read()) is True
    except (OSError, ValueError):
        return False


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM the process's group, then SIGKILL whatever is left after a grace period."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=SERVER_STOP_TIMEOUT_S)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    # Children that outlived the leader are still in its group.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def local_server(settings: Settings, port: int | None = None,
                 startup_timeout_s: float = SERVER_STARTUP_TIMEOUT_S) -> Iterator[str]:
    """Run `prefect server start` on 127.0.0.1 for the block; yields its API URL."""
    port = port or free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    logs = settings.logs
    logs.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "PREFECT_HOME": str(settings.prefect_home.resolve()),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    env.pop("PREFECT_API_URL", None)
    with (logs / "prefect-server.log").open("ab") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
             "--port", str(port)],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        deadline = time.monotonic() + startup_timeout_s
        while not api_healthy(api_url):
            if server.poll() is not None:
                raise ServeError(f"the local Prefect server stopped at start (exit code "
                                 f"{server.returncode}); see {logs / 'prefect-server.log'}")
            if time.monotonic() > deadline:
                raise ServeError(f"the local Prefect server did not answer within "
                                 f"{startup_timeout_s:g} s; see {logs / 'prefect-server.log'}")
            time.sleep(0.5)
        yield api_url
    finally:
        stop_process_group(server)


def next_runs(settings: Settings, after: datetime | None = None) -> dict[str, datetime]:
    """When each schedule fires next (after `after`, default now), computed by Prefect's own
    scheduler code (same DST rules as the server). Raises `ServeError` naming a schedule
    Prefect refuses."""
    from prefect.server.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    runs = {}
    for flow, key in (("nightly", "nightly_cron"), ("monthly_report", "monthly_cron")):
        try:
            schedule = CronSchedule(cron=getattr(settings, key), timezone=settings.timezone)
        except ValidationError as error:
            raise ServeError(f"{key} = '{getattr(settings, key)}' in config.toml: "
                             f"{error.errors()[0]['msg']}") from None
        runs[flow] = asyncio.run(schedule.get_dates(n=1, start=after))[0]
    return runs


def deployments(settings: Settings) -> list:
    """The nightly and monthly deployments, on the user's cron schedules in their zone."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    from flows.monthly_report import monthly_report
    from flows.nightly import nightly

    home = str(settings.home.resolve())
    # By module, not file path: the runner's subprocesses import the flows wherever they run.
    return [
        nightly.to_deployment(NIGHTLY_DEPLOYMENT, parameters={"home": home},
                              schedules=[Cron(settings.nightly_cron, timezone=settings.timezone)],
                              entrypoint_type=EntrypointType.MODULE_PATH),
        monthly_report.to_deployment(
            MONTHLY_DEPLOYMENT, parameters={"home": home},
            schedules=[Cron(settings.monthly_cron, timezone=settings.timezone)],
            entrypoint_type=EntrypointType.MODULE_PATH),
    ]


def serve(settings: Settings) -> None:
    """Serve the deployments until SIGINT or SIGTERM, with a local server unless
    `PREFECT_API_URL` points at one already."""
    # SIGTERM (systemd, kill) stops the same way as Ctrl-C: Prefect's serve loop exits on
    # KeyboardInterrupt and the server is stopped on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    own_server = not os.environ.get("PREFECT_API_URL")
    if own_server:
        port = free_port()
        # Before Prefect is first imported (next_runs does): it reads its settings from the
        # environment then, and the runner's flow-run subprocesses inherit them. Without
        # this, Prefect would start an ephemeral server of its own.
        os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
    next_runs(settings)  # a schedule Prefect refuses stops us before any server starts
    try:
        if not own_server:
            _serve_deployments(settings)
            return
        with local_server(settings, port) as api_url:
            print(f"Prefect server: {api_url.removesuffix('/api')} (UI and API, this machine "
                  "only)", flush=True)
            _serve_deployments(settings)
    except KeyboardInterrupt:
        pass
    print("stopped", flush=True)


def _serve_deployments(settings: Settings) -> None:
    from prefect import serve as prefect_serve

    to_serve = deployments(settings)
    print(f"serving: nightly ({settings.nightly_cron}) and monthly_report "
          f"({settings.monthly_cron}), time zone {settings.timezone}; Ctrl-C stops",
          flush=True)
    prefect_serve(*to_serve, print_starting_message=False)
