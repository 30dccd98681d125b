"""Process-wide switches that must be set before Prefect or Great Expectations is imported."""

from __future__ import annotations

import os
from pathlib import Path

QUIET = {
    # No telemetry, from any part of the stack.
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
    # Local ephemeral Prefect: no server to start by hand; give slow machines time to boot it.
    "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "true",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def configure_prefect(prefect_home: Path, log_level: str = "WARNING") -> None:
    """Point Prefect at a home inside the data folder, analytics off, before it is imported."""
    if not prefect_home.is_dir():
        prefect_home.mkdir(parents=True, exist_ok=True)
        prefect_home.chmod(0o700)  # its database holds flow-run logs: the user's only
    os.environ["PREFECT_HOME"] = str(prefect_home.resolve())
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", log_level)
    for key, value in QUIET.items():
        os.environ[key] = value
