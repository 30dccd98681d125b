"""One writer at a time: a second glucomag run waits for the first, or gives up in one line.

Real processes: DuckDB lets one process open the file for writing; here the test process
holds it (as a long import or a nightly run would) while `glucomag import`s start.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from tests.conftest import FIXTURES, ROOT, TIMEZONE
from tests.digest import CORE, digest
from transforms.warehouse import connect, run

FOOD = FIXTURES / "cronometer" / "servings_small.csv"
GLUCOSE = FIXTURES / "dexcom" / "clarity_mgdl.csv"
HOLD_S = 10  # longer than a glucomag process takes to reach the warehouse


def start_import(home: Path, path: Path, lock_timeout: str) -> subprocess.Popen:
    env = {**os.environ, "GLUCOMAG_LOCK_TIMEOUT": lock_timeout,
           "PREFECT_LOGGING_LEVEL": "WARNING"}
    env.pop("PREFECT_HOME", None)
    return subprocess.Popen([sys.executable, "-m", "glucomag", "import", str(path), "--home",
                             str(home), "--timezone", TIMEZONE], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_imports_at_once_both_wait_and_both_files_are_stored(tmp_path: Path):
    home = tmp_path / "home"
    holder = connect(home / "warehouse.duckdb")  # another run, busy with the warehouse
    runs = [start_import(home, FOOD, "120"), start_import(home, GLUCOSE, "120")]
    time.sleep(HOLD_S)
    assert [r.poll() for r in runs] == [None, None]  # neither could do anything yet
    holder.close()
    outputs = [r.communicate(timeout=120) for r in runs]
    for r, (stdout, stderr) in zip(runs, outputs, strict=True):
        assert r.returncode == 0, stderr
        assert "Traceback" not in stdout + stderr
    assert outputs[0][0].startswith("servings_small.csv: cronometer_servings, 12 rows stored")
    assert outputs[1][0].startswith("clarity_mgdl.csv: dexcom_clarity, 21 rows stored")
    with connect(home / "warehouse.duckdb") as con:
        assert run(con, "SELECT count(*) FROM food_entries")[0][0] == 12
        assert run(con, "SELECT count(*) FROM glucose_readings")[0][0] == 21
        assert run(con, "SELECT count(*) FROM import_batches WHERE status = 'stored'"
                   )[0][0] == 2
    assert len(list((home / "archive").iterdir())) == 2


def test_a_run_that_waits_too_long_gives_up_in_one_line_and_changes_nothing(tmp_path: Path):
    home = tmp_path / "home"
    with connect(home / "warehouse.duckdb") as con:
        before = digest(con, CORE)
    holder = duckdb.connect(str(home / "warehouse.duckdb"))
    try:
        waiting = start_import(home, FOOD, "1.5")
        stdout, stderr = waiting.communicate(timeout=120)
    finally:
        holder.close()
    assert waiting.returncode == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(
        f"error: another glucomag run is using the warehouse ({home / 'warehouse.duckdb'}, "
        f"process {os.getpid()}); gave up after 1.5 s")
    assert "Traceback" not in stdout + stderr and stdout == ""
    assert FOOD.exists() and list((home / "archive").iterdir()) == []  # nothing moved
    with connect(home / "warehouse.duckdb") as con:
        assert digest(con, CORE) == before
