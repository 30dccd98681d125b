"""No network: a full nightly run over the sample data makes no outbound connection (only
`glucomag pull nightscout` may, and it is not part of a run). Loopback stays allowed: Prefect's
local API listens there.

Two checks. In-process, every Python-level connect and name lookup is recorded and anything
but loopback or a Unix socket refused, so an attempt is seen even where a caller would swallow
the error (telemetry). In a subprocess, `glucomag demo` runs in a network namespace with only
loopback (Linux `unshare -rn`), which also covers code below Python (DuckDB fetching an
extension, say): it must succeed there.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE_DATA

EXPORTS = ("cronometer/servings.csv", "dexcom/clarity_export.csv")
SAMPLE_TIMEZONE = "America/New_York"


def _local(address: object, family: int) -> bool:
    if family == getattr(socket, "AF_UNIX", None):
        return True
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:  # a name other than localhost
        return False


@pytest.fixture
def outbound(monkeypatch) -> list[str]:
    """Record and refuse every non-loopback connection and name lookup in this process."""
    attempts: list[str] = []
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex
    getaddrinfo, create_connection = socket.getaddrinfo, socket.create_connection

    def guarded_connect(self, address):
        if not _local(address, self.family):
            attempts.append(f"connect {address!r}")
            raise OSError("network access is not allowed in this test")
        return connect(self, address)

    def guarded_connect_ex(self, address):
        if not _local(address, self.family):
            attempts.append(f"connect_ex {address!r}")
            raise OSError("network access is not allowed in this test")
        return connect_ex(self, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        if not _local((host,), socket.AF_INET):
            attempts.append(f"getaddrinfo {host!r}")
            raise socket.gaierror("name lookups are not allowed in this test")
        return getaddrinfo(host, *args, **kwargs)

    def guarded_create_connection(address, *args, **kwargs):
        if not _local(address, socket.AF_INET):
            attempts.append(f"create_connection {address!r}")
            raise OSError("network access is not allowed in this test")
        return create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", guarded_create_connection)
    return attempts


def test_the_guard_sees_an_outbound_attempt(outbound):
    with pytest.raises(OSError), socket.socket() as sock:
        sock.connect(("192.0.2.1", 443))  # TEST-NET-1: never routed anyway
    with pytest.raises(OSError):
        socket.create_connection(("example.org", 443), timeout=1)
    assert len(outbound) == 2


def test_a_nightly_run_makes_no_outbound_connection(prefect_harness, outbound, tmp_path):
    import flows.nightly
    from glucomag.settings import load_settings

    home = tmp_path / "home"
    settings = load_settings(home, timezone=SAMPLE_TIMEZONE)
    settings.create_folders()
    (home / "config.toml").write_text(f'timezone = "{SAMPLE_TIMEZONE}"\n')
    for name in EXPORTS:
        shutil.copy2(SAMPLE_DATA / name, settings.inbox)
    result = flows.nightly.nightly(home=str(home))
    assert [s["status"] for s in result["imports"]] == ["stored", "stored"]
    assert all(mart["success"] for mart in result["marts"])
    assert Path(result["report"]).exists()
    assert outbound == []


def test_demo_runs_with_loopback_only(tmp_path):
    """`glucomag demo` (import, nightly flow in Prefect's local ephemeral mode, report) in a
    network namespace whose only interface is loopback."""
    if not shutil.which("unshare") or not shutil.which("ip") or subprocess.run(
            ["unshare", "-rn", "true"], capture_output=True).returncode != 0:
        pytest.skip("no unprivileged network namespaces here (unshare -rn)")
    environment = {**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING"}
    environment.pop("PREFECT_HOME", None)
    command = (f"ip link set lo up && exec {sys.executable} -m glucomag demo "
               f"--home {tmp_path / 'demo'}")
    result = subprocess.run(["unshare", "-rn", "sh", "-c", command], capture_output=True,
                            text=True, env=environment, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "servings.csv: cronometer_servings, 455 rows stored" in result.stdout
    assert "report: " in result.stdout
