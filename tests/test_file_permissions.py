"""Health data is the user's alone: the data folder and its subfolders (Prefect's home
included) are created 0700, the warehouse file 0600 and reports 0600 — whatever the umask
(here 0, the most permissive)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.conftest import FIXTURES, ROOT, TIMEZONE


def glucomag_with_umask(umask: int, *args: str) -> subprocess.CompletedProcess:
    """The command with its own umask, set in the child itself (no preexec_fn: the test
    process may run threads)."""
    launcher = (f"import os, runpy, sys; os.umask({umask:#o}); "
                "sys.argv = ['glucomag', *sys.argv[1:]]; "
                "runpy.run_module('glucomag', run_name='__main__', alter_sys=True)")
    environment = {**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING"}
    environment.pop("PREFECT_HOME", None)
    return subprocess.run([sys.executable, "-c", launcher, *args], capture_output=True,
                          text=True, env=environment, cwd=ROOT, timeout=300)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_folder_warehouse_and_reports_are_private_whatever_the_umask(tmp_path: Path):
    home = tmp_path / "new" / "home"
    imported = glucomag_with_umask(0, "import", str(FIXTURES / "cronometer" / "servings_small.csv"),
                                   "--home", str(home), "--timezone", TIMEZONE)
    assert imported.returncode == 0, imported.stderr
    report = glucomag_with_umask(0, "report", "--month", "2026-03", "--home", str(home))
    assert report.returncode == 0, report.stderr

    assert mode(home) == 0o700
    for folder in ("inbox", "archive", "quarantine", "reports", ".prefect"):
        assert mode(home / folder) == 0o700, folder
    assert mode(home / "warehouse.duckdb") == 0o600
    assert mode(home / "reports" / "monthly" / "2026-03.html") == 0o600
    # The parent the command created on the way is an ordinary folder (umask 0: 0777), so
    # the modes above were set, not inherited from a restrictive umask.
    assert mode(tmp_path / "new") == 0o777


def test_an_existing_data_folder_keeps_its_mode(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir(mode=0o750)
    home.chmod(0o750)
    result = glucomag_with_umask(0o022, "status", "--home", str(home))
    assert result.returncode == 0, result.stderr
    assert mode(home) == 0o750  # the user chose it: not changed behind their back
    assert mode(home / "inbox") == 0o700 and mode(home / "warehouse.duckdb") == 0o600
