"""Overlapping exports, in any order and any number of times, store what one import of their
union stores — nothing twice, nothing missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FIXTURES, ROOT, TIMEZONE
from tests.digest import digest
from transforms.ingest import import_file
from transforms.warehouse import connect

CRONOMETER = FIXTURES / "cronometer" / "servings_small.csv"
CLARITY = FIXTURES / "dexcom" / "clarity_mgdl.csv"
CLARITY_METADATA = 8  # header + 7 rows of patient/device/alert data before the first reading

# What one import stores and keeps, whichever file brought it: the rows and their merge
# lineage, not which batch or file line a row arrived in first.
STORED = {
    "core_food_entries": (("batch_id", "source_row"), ""),
    "core_glucose_readings": (("batch_id", "source_row"), ""),
    "food_name_matches": ((), ""),
}


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8-sig").splitlines()


def _nightscout(readings: list[tuple[datetime, int]]) -> str:
    return json.dumps([{"type": "sgv", "sgv": value, "device": "xDrip-DexcomG6",
                        "date": int(ts.timestamp() * 1000),
                        "dateString": ts.isoformat().replace("+00:00", "Z")}
                       for ts, value in sorted(readings, reverse=True)])


def _clarity_readings() -> list[tuple[datetime, int]]:
    """(UTC instant, value) of the Clarity fixture's numeric EGVs (New York, EST in March)."""
    readings = []
    for line in _lines(CLARITY)[CLARITY_METADATA:]:
        cells = line.split(",")
        if cells[2] == "EGV" and cells[7].isdigit():
            local = datetime.fromisoformat(cells[1])
            readings.append(((local + timedelta(hours=5)).replace(tzinfo=UTC), int(cells[7])))
    return readings


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    """Overlapping windows of three sources, and the union of each source."""
    folder = tmp_path_factory.mktemp("exports")
    food = _lines(CRONOMETER)
    extra = food[-1].replace("2026-03-03", "2026-03-04")
    food_rows = [*food[1:], extra]
    clarity = _lines(CLARITY)
    meta, egv = clarity[:CLARITY_METADATA], clarity[CLARITY_METADATA:]
    readings = _clarity_readings()
    # Nightscout holds the same sensor's readings 30 s later, and some Clarity lacks
    relayed = [(ts + timedelta(seconds=30), v) for ts, v in readings[6:]]
    relayed += [(readings[-1][0] + timedelta(minutes=5 * k), 150 + k) for k in range(1, 4)]
    files = {
        "food_a.csv": "\n".join([food[0], *food_rows[:7]]),
        "food_b.csv": "\n".join([food[0], *food_rows[4:12]]),
        "food_c.csv": "\n".join([food[0], *food_rows[9:]]),
        "clarity_a.csv": "\n".join([*meta, *egv[:12]]),
        "clarity_b.csv": "\n".join([*meta, *egv[7:]]),
        "nightscout_a.json": _nightscout(relayed[:8]),
        "nightscout_b.json": _nightscout(relayed[5:]),
        # the unions
        "food_all.csv": "\n".join([food[0], *food_rows]),
        "clarity_all.csv": "\n".join(clarity),
        "nightscout_all.json": _nightscout(relayed),
    }
    for name, text in files.items():
        (folder / name).write_text(text + "\n")
    return {name: folder / name for name in files}


WINDOWS = ("food_a.csv", "food_b.csv", "food_c.csv", "clarity_a.csv", "clarity_b.csv",
           "nightscout_a.json", "nightscout_b.json")
UNIONS = ("food_all.csv", "clarity_all.csv", "nightscout_all.json")


@pytest.fixture(scope="module")
def empty_warehouse(tmp_path_factory) -> bytes:
    """A new warehouse with its reference data, copied for each example (loading SR28 once)."""
    path = tmp_path_factory.mktemp("empty") / "warehouse.duckdb"
    connect(path).close()
    return path.read_bytes()


def _stored_after(files: list[Path], folder: Path, empty: bytes) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "warehouse.duckdb"
    path.write_bytes(empty)
    with connect(path) as con:
        for file in files:
            import_file(con, file, TIMEZONE, "me")
        return digest(con, STORED)


@pytest.fixture(scope="module")
def union_digest(exports, empty_warehouse, tmp_path_factory) -> dict:
    return _stored_after([exports[n] for n in UNIONS], tmp_path_factory.mktemp("union"),
                         empty_warehouse)


def test_the_windows_overlap_and_together_cover_the_union(exports, union_digest):
    rows = {name: len(_lines(exports[name])) for name in WINDOWS}
    assert rows["food_a.csv"] + rows["food_b.csv"] + rows["food_c.csv"] - 3 > 13  # overlap
    assert union_digest["core_food_entries"][0] == 13
    # Clarity's 21 readings; Nightscout's 12 relayed copies of them (stored, superseded) and 3
    # of its own
    assert union_digest["core_glucose_readings"][0] == 21 + 12 + 3


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(WINDOWS), again=st.lists(st.sampled_from(WINDOWS), max_size=3))
def test_any_order_with_repeats_stores_the_union(order, again, exports, empty_warehouse,
                                                 union_digest, tmp_path_factory):
    files = [exports[name] for name in (*order, *again)]
    stored = _stored_after(files, tmp_path_factory.mktemp("order"), empty_warehouse)
    assert stored == union_digest, (order, again)


def test_machines_in_other_time_zones_store_the_same_readings_once(exports, union_digest,
                                                                   tmp_path):
    """The same warehouse used from machines set to different time zones (a laptop that
    travels): an overlapping export imported on each is recognised, not stored again."""
    home = tmp_path / "home"
    for machine_zone, name in (("Europe/Berlin", "clarity_a.csv"),
                               ("Asia/Tokyo", "clarity_b.csv")):
        env = {**os.environ, "TZ": machine_zone}
        env.pop("PREFECT_HOME", None)
        result = subprocess.run([sys.executable, "-m", "glucomag", "import",
                                 str(exports[name]), "--home", str(home),
                                 "--timezone", TIMEZONE],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
    with connect(home / "warehouse.duckdb") as con:
        stored = digest(con, {"core_glucose_readings": STORED["core_glucose_readings"]})
        clarity_only = con.execute("SELECT count(*) FROM core_glucose_readings").fetchone()[0]
    assert clarity_only == 21
    with connect(tmp_path / "one.duckdb") as con:
        import_file(con, exports["clarity_all.csv"], TIMEZONE, "me")
        assert stored == digest(con, {"core_glucose_readings":
                                      STORED["core_glucose_readings"]})
