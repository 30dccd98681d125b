"""Property: every importer, fed a mutated copy of its own fixtures, either imports cleanly
(bad rows quarantined) or refuses the file with one line — never a traceback, never a
partial store."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FIXTURES, TIMEZONE
from transforms.importers import detect_formats
from transforms.importers.base import BadFileError
from transforms.importers.generic_csv import mapping_path
from transforms.ingest import import_file
from transforms.warehouse import connect, run

# Every export fixture: text files, workbooks and zip exports (an Apple Health export.zip is
# read whole by its importers), and generic CSVs (mutated, their mapping copied beside them).
EXPORTS = sorted(
    path for path in FIXTURES.rglob("*")
    if path.is_file() and path.suffix.lower() in {".csv", ".json", ".xml", ".txt", ".xlsx", ".zip"}
    and path.parent.name not in {"sr28", "fdc"} and "phrasings" not in path.name
    and "mapping" not in path.name
)
TABLES = ("core_food_entries", "core_glucose_readings", "quarantined_rows")


def _recognised(path: Path) -> bool:
    try:
        return bool(detect_formats(path))
    except BadFileError:
        return False


SEEDS = [path for path in EXPORTS if _recognised(path)]


@pytest.fixture(scope="module")
def warehouse():
    with tempfile.TemporaryDirectory() as folder:
        con = connect(Path(folder) / "warehouse.duckdb")
        yield con
        con.close()


def mutate(data: bytes, operation: str, position: float, payload: bytes) -> bytes:
    at = int(position * len(data))
    lines = data.split(b"\n")
    line = int(position * len(lines)) if lines else 0
    match operation:
        case "truncate":
            return data[:at]
        case "drop_line":
            return b"\n".join(lines[:line] + lines[line + 1:])
        case "duplicate_line":
            return b"\n".join(lines[:line + 1] + lines[line:])
        case "overwrite":
            return data[:at] + payload + data[at + len(payload):]
        case "insert":
            return data[:at] + payload + data[at:]
        case "swap_delimiters":
            return data.replace(b",", b";") if b"," in data else data.replace(b";", b",")
    raise AssertionError(operation)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS),
       operations=st.lists(st.tuples(
           st.sampled_from(["truncate", "drop_line", "duplicate_line", "overwrite", "insert",
                            "swap_delimiters"]),
           st.floats(0, 1), st.binary(min_size=1, max_size=12)), min_size=1, max_size=3))
def test_mutated_exports_import_cleanly_or_fail_in_one_line(warehouse, seed, operations,
                                                            tmp_path_factory):
    data = seed.read_bytes()
    for operation, position, payload in operations:
        data = mutate(data, operation, position, payload)
    path = tmp_path_factory.mktemp("fuzz") / seed.name
    path.write_bytes(data)
    mapping = mapping_path(seed)
    if mapping is not None:
        shutil.copy(mapping, path.parent / mapping.name)
    before = {t: run(warehouse, f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}
    summary = import_file(warehouse, path, TIMEZONE, "me")  # must not raise
    after = {t: run(warehouse, f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}
    if summary.status == "failed":
        assert summary.message and "\n" not in summary.message
        assert summary.message.startswith(path.name)
        assert after == before  # nothing partial
    elif summary.status == "stored":  # food or glucose (a generic CSV's mapping decides)
        stored = [after[t] - before[t] for t in ("core_food_entries", "core_glucose_readings")]
        assert sorted(stored) == [0, summary.rows_stored]
        assert after["quarantined_rows"] - before["quarantined_rows"] == summary.rows_quarantined


def test_every_registered_format_has_a_seed():
    from transforms.importers import IMPORTERS

    seeded = {m.FORMAT for path in SEEDS for m in detect_formats(path)}
    assert {m.FORMAT for m in IMPORTERS} - seeded == set()
    assert {path.suffix for path in SEEDS} >= {".csv", ".json", ".xml", ".xlsx", ".zip"}
