"""User text never becomes SQL: food names, meals and file names that look like SQL (quotes,
`'; DROP TABLE …; --`, backslashes, placeholders) are stored exactly as written, and every
table is still there afterwards — through import, a refused import, enrichment, aliases,
lookups, the marts, status and the report.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from tests.conftest import ROOT, TIMEZONE
from transforms.warehouse import connect

DROP = "'; DROP TABLE core_food_entries; --"
FOOD_NAMES = (
    f"Robert{DROP}",
    'O\'Brien\'s "best" oats \\ with a backslash\\',
    "100% whey %s {0} $1 ? :name $$",
    "Tea'); DELETE FROM core_import_batches WHERE ('1'='1",
    "/* not a comment */ Bread -- nor this",
    "Nuts, almonds\\'; SELECT 1; --",
)
MEAL = 'Lunch"; DROP TABLE quarantined_rows; --'
FILE_NAME = f"servings{DROP} \"q\" \\ back.csv"
REFUSED_NAME = "x'); DROP TABLE core_import_batches; --.csv"


def glucomag(*args: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING"}
    environment.pop("PREFECT_HOME", None)
    return subprocess.run([sys.executable, "-m", "glucomag", *args], capture_output=True,
                          text=True, env=environment, cwd=ROOT, timeout=300)


def _servings(folder: Path) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Day", "Time", "Group", "Food Name", "Amount", "Energy (kcal)",
                     "Magnesium (mg)", "Category"])
    for number, name in enumerate(FOOD_NAMES):
        writer.writerow(["2026-03-02", f"{8 + number}:00", MEAL, name, "1.00 cup", "100",
                         "" if number % 2 else "20.5", f"{DROP} category"])
    path = folder / FILE_NAME
    path.write_text(out.getvalue())
    return path


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE NOT internal "
        "UNION ALL SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}


def test_sql_looking_text_is_stored_verbatim_and_every_table_survives(tmp_path: Path):
    with connect(tmp_path / "fresh.duckdb") as con:
        expected_tables = _tables(con)
    assert {"core_food_entries", "core_import_batches", "quarantined_rows"} <= expected_tables

    home = tmp_path / "home"
    refused = tmp_path / REFUSED_NAME
    refused.write_text(f"{DROP},b\n1,2\n")
    imported = glucomag("import", str(_servings(tmp_path)), str(refused), "--home", str(home),
                        "--timezone", TIMEZONE)
    assert imported.returncode == 2  # the second file is refused
    assert imported.stdout.startswith(f"{FILE_NAME}: cronometer_servings, 6 rows stored")
    assert imported.stderr.startswith(f"error: {REFUSED_NAME}, row 1")
    assert imported.stderr.count("\n") == 1
    # A name without an export value (odd rows), with quotes and backslashes.
    alias = glucomag("foods", "alias", FOOD_NAMES[1], "sr28:20137", "--home", str(home))
    assert alias.returncode == 0, alias.stderr
    lookup = glucomag("foods", "lookup", FOOD_NAMES[2], DROP, "--json", "--home", str(home))
    assert lookup.returncode == 0, lookup.stderr
    for command in (("report", "--month", "2026-03"), ("status",)):
        result = glucomag(*command, "--home", str(home))
        assert result.returncode == 0, (command, result.stderr)

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert _tables(con) == expected_tables
        stored = con.execute("SELECT food_name, meal, category, match_method FROM "
                             "core_food_entries ORDER BY local_ts").fetchall()
        files = {row[0] for row in con.execute("SELECT file_name FROM core_import_batches")
                 .fetchall()}
        aliases = con.execute("SELECT alias FROM user_aliases").fetchall()
        batches = con.execute("SELECT count(*) FROM core_import_batches").fetchone()[0]
    assert [row[0] for row in stored] == list(FOOD_NAMES)
    assert {row[1] for row in stored} == {MEAL}
    assert {row[2] for row in stored} == {f"{DROP} category"}
    assert stored[1][3] == "user_alias"  # the alias found the stored name, quotes and all
    assert files == {FILE_NAME, REFUSED_NAME} and batches == 2
    assert aliases == [(FOOD_NAMES[1],)]
    report = (home / "reports" / "monthly" / "2026-03.html").read_text()
    assert DROP not in report and MEAL not in report  # shown escaped, if at all
