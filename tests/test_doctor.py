"""`glucomag doctor` and the one-line errors of the scheduling commands."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from transforms.migrations import SCHEMA_VERSION


def glucomag(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PREFECT_HOME", None)
    return subprocess.run([sys.executable, "-m", "glucomag", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_doctor_on_a_fresh_data_folder_says_ok_to_everything(tmp_path: Path):
    home = tmp_path / "home"
    result = glucomag("doctor", "--home", str(home))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "OK   versions", "OK   data folder", "OK   warehouse", "OK   reference data",
        "OK   schedules", "OK   nightscout", "OK   last runs", "OK   inbox"]
    assert f"schema version {SCHEMA_VERSION}" in lines[2]
    assert "prefect 3." in lines[0] and "duckdb 2." in lines[0]
    assert "nightly '30 2 * * *' next " in lines[4] and "monthly_report '0 6 1 * *'" in lines[4]


def test_doctor_shows_the_nightscout_site_never_its_token(tmp_path: Path):
    from tests.conftest import TOKEN

    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        f'nightscout_url = "https://me:hunter2@ns.example/?token={TOKEN}"\n'
        f'nightscout_token = "{TOKEN}"\n')
    result = glucomag("doctor", "--home", str(home))
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("OK   nightscout: https://ns.example, pulled in every nightly run (with a token)"
            in result.stdout.splitlines())
    output = result.stdout + result.stderr
    assert TOKEN not in output and "hunter2" not in output


def test_doctor_says_how_to_fix_a_nightscout_url_that_is_not_one(settings):
    from glucomag.doctor import check_nightscout
    from glucomag.settings import load_settings

    (settings.home / "config.toml").write_text('nightscout_url = "ns.example"\n')
    check = check_nightscout(load_settings(settings.home))
    assert not check.ok and "not a Nightscout URL" in check.detail
    assert "https://my-ns.example" in check.fix


def test_doctor_names_each_problem_and_what_to_do(settings):
    from glucomag.doctor import run_checks
    from transforms.runs import recorded_run

    (settings.home / "config.toml").write_text('nightly_cron = "61 * * * *"\n')
    with pytest.raises(OSError), recorded_run(settings, "nightly", "run-1"):
        raise OSError("disk full")
    stale = settings.inbox / "servings.csv"
    stale.write_text("Day,Food Name\n")
    three_days_ago = time.time() - 3 * 86_400
    os.utime(stale, (three_days_ago, three_days_ago))

    from glucomag.settings import load_settings

    checks = {c.name: c for c in run_checks(load_settings(settings.home))}
    failed = sorted(name for name, c in checks.items() if not c.ok)
    assert failed == ["inbox", "last runs", "schedules"]
    assert "nightly_cron = '61 * * * *'" in checks["schedules"].line()
    assert checks["last runs"].detail.startswith("nightly ")
    assert "failed, 0 files, 0 rows stored — disk full" in checks["last runs"].detail
    assert checks["inbox"].detail == "1 file(s) waiting, the oldest for 72 h"
    assert "glucomag run nightly" in checks["inbox"].fix
    assert all(" — " in c.line() for c in checks.values() if not c.ok)


def test_doctor_exits_1_when_something_needs_fixing(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('monthly_cron = "0 6 32 * *"\n')
    result = glucomag("doctor", "--home", str(home))
    assert result.returncode == 1
    assert [line[:3] for line in result.stdout.splitlines()].count("FIX") == 1
    assert "FIX  schedules: monthly_cron = '0 6 32 * *'" in result.stdout


@pytest.mark.parametrize(("args", "config", "message"), [
    (("run", "monthly-report", "--month", "2026-13"), "", "--month '2026-13' is not YYYY-MM"),
    (("run", "backfill", "--from", "2026-05-01", "--to", "2026-04-01"), "",
     "--from is after --to"),
    (("run", "backfill", "--from", "2026-05-01", "--to", "May"), "", "--to 'May' is not"),
    (("run", "nightly",), 'nightly_cron = "every night"\n',
     "nightly_cron: Value error, 'every night' is not a cron schedule of 5 fields"),
    (("serve",), 'nightly_cron = "61 * * * *"\n', "nightly_cron = '61 * * * *' in config.toml"),
])
def test_scheduling_mistakes_are_one_line_with_exit_code_2(tmp_path: Path, args, config,
                                                            message):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(config)
    result = glucomag(*args, "--home", str(home))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], \
        result.stderr
    assert not list(home.glob("logs/*"))  # serve refused before starting any server
