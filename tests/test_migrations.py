"""Schema versions: an older warehouse is upgraded in place, a newer one is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from schemas.canonical import MART_TABLES, WAREHOUSE_TABLES
from tests.conftest import FIXTURES, ROOT, TIMEZONE
from tests.digest import digest, full
from transforms.ingest import import_file
from transforms.migrations import (
    MIGRATIONS,
    SCHEMA_VERSION,
    WarehouseVersionError,
)
from transforms.warehouse import connect, run

MAKE_V0 = FIXTURES / "warehouse_v0" / "make.py"
V0_TABLES = ["core_food_entries", "core_glucose_readings", "core_import_batches",
             "quarantined_rows", "validation_runs", "daily_summary"]


@pytest.fixture(scope="module")
def v0_template(tmp_path_factory) -> Path:
    """The version-0 warehouse, built once by the fixture's own script (a DuckDB file is
    ~3 MB, too big to commit; the script is the record of the old shape)."""
    path = tmp_path_factory.mktemp("v0") / "warehouse.duckdb"
    subprocess.run([sys.executable, str(MAKE_V0), str(path)], check=True, cwd=ROOT,
                   capture_output=True)
    return path


@pytest.fixture
def v0(v0_template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "home" / "warehouse.duckdb"
    path.parent.mkdir()
    path.write_bytes(v0_template.read_bytes())
    return path


def shape(con: duckdb.DuckDBPyConnection) -> dict[str, set[tuple]]:
    """Each table's columns with type and nullability (order aside: ADD COLUMN appends)."""
    rows = run(con, "SELECT table_name, column_name, data_type, is_nullable "
                    "FROM information_schema.columns WHERE table_schema = 'main' "
                    "AND table_catalog = current_database()")
    tables: dict[str, set[tuple]] = {}
    for table, *column in rows:
        tables.setdefault(table, set()).add(tuple(column))
    return tables


def test_migrations_are_numbered_in_order():
    assert [m.version for m in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1))


def test_a_new_warehouse_is_created_at_the_current_version(tmp_path: Path):
    with connect(tmp_path / "w.duckdb") as con:
        assert run(con, "SELECT version, description FROM schema_version") == [
            (SCHEMA_VERSION, "created")]
    with connect(tmp_path / "w.duckdb") as con:  # opening again records nothing
        assert run(con, "SELECT count(*) FROM schema_version")[0][0] == 1


def test_version_0_is_upgraded_in_place_to_the_shape_of_a_new_warehouse(v0: Path,
                                                                        tmp_path: Path):
    with connect(v0) as con:
        upgraded = shape(con)
        versions = run(con, "SELECT version FROM schema_version ORDER BY 1")
    with connect(tmp_path / "new.duckdb") as con:
        new = shape(con)
    assert versions == [(m.version,) for m in MIGRATIONS]
    assert upgraded == new
    for spec in (*WAREHOUSE_TABLES, *MART_TABLES):
        assert {c[0] for c in upgraded[spec.name]} == set(spec.names)


def test_upgraded_rows_keep_their_data_and_ids(v0: Path):
    with connect(v0) as con:
        food = run(con, "SELECT food_name, magnesium_mg, magnesium_source, match_method, "
                        "export_magnesium_mg, entry_type, unknown_reason IS NULL "
                        "FROM core_food_entries ORDER BY source_row")
        assert food == [
            ("Oatmeal, cooked with water", 63.18, "export", "export", 63.18, "food", True),
            ("Bananas, raw", 31.86, "export", "export", 31.86, "food", True),
            ('<b>Mom\'s "best" chili, v2</b>', None, "unknown", "none", None, "food", False),
        ]
        # 7 stored readings: the 07:10:13 stored twice (Berlin and UTC ids) is kept once,
        # the first stored; Nightscout's two are merged into Dexcom's (lineage kept)
        readings = run(con, "SELECT strftime(local_ts, '%H:%M:%S'), source, batch_id, "
                            "superseded_by IS NOT NULL FROM core_glucose_readings "
                            "ORDER BY ts_utc, source")
        assert readings == [
            ("07:00:12", "dexcom_clarity", 2, False), ("07:05:12", "dexcom_clarity", 2, False),
            ("07:05:30", "nightscout_entries", 4, True),
            ("07:10:13", "dexcom_clarity", 2, False), ("07:15:12", "dexcom_clarity", 3, False),
            ("07:15:20", "nightscout_entries", 4, True),
        ]
        assert run(con, "SELECT count(*) FROM core_glucose_readings AS r JOIN "
                        "core_glucose_readings AS w ON w.entry_id = r.superseded_by "
                        "WHERE w.source = 'dexcom_clarity'")[0][0] == 2
        assert run(con, "SELECT count(*) FROM glucose_readings")[0][0] == 4
        assert run(con, "SELECT count(*), sum(rows_stored), count(rows_superseded) "
                        "FROM import_batches")[0] == (4, 10, 0)
        assert run(con, "SELECT count(*) FROM quarantined_rows")[0][0] == 1
        assert run(con, "SELECT count(*) FROM validation_runs")[0][0] == 1
        # the old daily_summary (no supplement column) is derived: recreated, rebuilt later
        assert run(con, "SELECT count(*) FROM daily_summary")[0][0] == 0
        # stored entries and readings are recognised when an overlapping export comes
        food_import = import_file(con, FIXTURES / "cronometer" / "servings_small.csv",
                                  TIMEZONE, "me")
        glucose_import = import_file(con, FIXTURES / "dexcom" / "clarity_mgdl.csv",
                                     TIMEZONE, "me")
        assert (food_import.rows_stored, food_import.rows_duplicate) == (9, 3)
        assert (glucose_import.rows_stored, glucose_import.rows_duplicate) == (17, 4)
        assert run(con, "SELECT nextval('batch_id_seq')")[0][0] == 7  # the sequence went on


def test_a_crash_during_the_upgrade_leaves_version_0_intact(v0: Path):
    with duckdb.connect(str(v0), read_only=True) as con:
        before = digest(con, full(V0_TABLES))
    # killed after the second migration was applied, before the transaction committed
    script = "import sys; from pathlib import Path; from transforms.warehouse import connect; " \
             "connect(Path(sys.argv[1]))"
    crashed = subprocess.run([sys.executable, "-c", script, str(v0)], cwd=ROOT,
                             env={**os.environ, "GLUCOMAG_CRASH_AT": "migrate:applied#2"},
                             capture_output=True, text=True, timeout=120)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    with duckdb.connect(str(v0), read_only=True) as con:
        assert digest(con, full(V0_TABLES)) == before
        assert run(con, "SELECT count(*) FROM information_schema.tables "
                        "WHERE table_name = 'schema_version'")[0][0] == 0
    with connect(v0) as con:
        assert run(con, "SELECT max(version) FROM schema_version")[0][0] == SCHEMA_VERSION


def test_a_changed_mart_is_recreated_without_a_migration(tmp_path: Path):
    path = tmp_path / "w.duckdb"
    connect(path).close()
    with duckdb.connect(str(path)) as con:
        con.execute("ALTER TABLE daily_summary DROP COLUMN magnesium_supplement_mg").fetchall()
        con.execute("CREATE TABLE agp_profile_old AS SELECT 1 AS x").fetchall()
    with connect(path) as con:
        columns = run(con, "SELECT column_name FROM information_schema.columns "
                           "WHERE table_name = 'daily_summary' ORDER BY ordinal_position")
        assert [c[0] for c in columns] == next(
            s.names for s in MART_TABLES if s.name == "daily_summary")
        assert run(con, "SELECT max(version) FROM schema_version")[0][0] == SCHEMA_VERSION


def test_a_newer_warehouse_is_refused_in_one_line(tmp_path: Path):
    home = tmp_path / "home"
    path = home / "warehouse.duckdb"
    connect(path).close()
    with duckdb.connect(str(path)) as con:
        con.execute("INSERT INTO schema_version VALUES (99, 'from the future', now())"
                    ).fetchall()
        before = digest(con, full(["schema_version", "core_food_entries"]))
    with pytest.raises(WarehouseVersionError, match=r"schema version 99, newer than this "
                                                    rf"glucomag knows \({SCHEMA_VERSION}\)"):
        connect(path)
    result = subprocess.run([sys.executable, "-m", "glucomag", "status", "--home", str(home)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: warehouse.duckdb has schema version 99, newer than this glucomag knows "
        f"({SCHEMA_VERSION}): upgrade glucomag, or open a backup made with this version"]
    assert "Traceback" not in result.stdout + result.stderr
    with duckdb.connect(str(path), read_only=True) as con:
        assert digest(con, full(["schema_version", "core_food_entries"])) == before
