"""The bad-input corpus (tests/bad_inputs/README.md) through the real `glucomag import`.

Each file either imports cleanly — good rows stored, bad rows quarantined with a reason — or is
refused with exactly one stderr line naming it and exit code 2. Never a traceback, a hang or
unbounded memory, and the data stored before is left exactly as it was. The command runs in a
subprocess with a time limit and an address-space cap; its peak memory is measured.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.bad_inputs.make_corpus import GENERATED, build
from tests.conftest import FIXTURES, ROOT, TIMEZONE
from tests.digest import table_digest

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
GOOD = (FIXTURES / "cronometer" / "servings_small.csv", FIXTURES / "dexcom" / "clarity_mgdl.csv")
TIMEOUT_S = 180  # per command (all files of one kind); the whole set takes about 40 s
PEAK_RSS_LIMIT = 1 << 30  # the measured peak is about 0.8 GiB, 50 MB lines included
# The address-space cap keeps a runaway import from taking the machine down. Python with
# polars, DuckDB and GX reserves far more address space than it uses (thread stacks, malloc
# arenas: about 2.3 GiB at rest with MALLOC_ARENA_MAX=2), so the cap is on address space and
# the real bound is the peak resident memory checked below.
ADDRESS_SPACE_CAP = (4 << 30) + (64 << 20) * (os.cpu_count() or 1)
MAX_REASON_CHARS = 4_000


@dataclass(frozen=True)
class Clean:
    """Exit 0: `stored` rows stored and `quarantined` rows quarantined, whose reasons contain
    every one of `reasons`; `names` are food names stored exactly as written."""

    stored: int
    quarantined: int
    reasons: tuple[str, ...] = ()
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refused:
    """Exit 2: one stderr line naming the file, containing every one of `fragments`."""

    fragments: tuple[str, ...]


EXPECTED: dict[str, Clean | Refused] = {
    "apple_health_bad_values.xml": Clean(3, 8, (
        "value 'abc' is not a number", "glucose_mg_dl outside the plausible range",
        "unit '%' is not mg/dL or mmol/L", "date 2099-06-07 is in the future",
        "magnesium_mg outside the plausible range [0, 5000]",
        "date 1900-01-01 is before 2000-01-01")),
    "apple_health_billion_laughs.xml": Refused(("refused: the XML declares entities",)),
    "apple_health_external_dtd.xml": Refused(("refers to an external entity or DTD",)),
    "apple_health_truncated.xml": Refused(("not well-formed XML at line 9",)),
    "apple_health_without_export_xml.zip": Refused((
        "an Apple Health export without apple_health_export/export.xml",)),
    "apple_health_wrong_root.xml": Refused(("not an Apple Health export (root element <Export>",)),
    "binary_garbage.csv": Refused(("row 1: unrecognised export (first line:",)),
    "carelink_bad_values.csv": Clean(1, 4, (
        "Sensor Glucose (mg/dL) 'abc' is not a number", "date 1900-01-01 is before 2000-01-01",
        "glucose_mg_dl outside the plausible range", "Date '2026/06/31' is not a date")),
    "carelink_missing_time.csv": Refused((
        "row 5, column 'Time': required column missing in section 'Sensor'",)),
    "carelink_no_sections.csv": Refused(("no CareLink section found",)),
    "cronometer_biometrics_mixed_units.csv": Clean(2, 5, (
        "Unit 'mmol' is not mg/dL or mmol/L", "Amount 'high' is not a number",
        "glucose_mg_dl outside the plausible range")),
    "cronometer_dailysummary_bad_values.csv": Clean(1, 4, (
        "Date '2026-13-01' is not a date", "magnesium_mg outside the plausible range",
        "Energy (kcal) 'lots' is not a number")),
    "cronometer_servings_1900_dates.csv": Clean(1, 2, (
        "date 1900-01-01 is before 2000-01-01", "date 1899-12-31 is before 2000-01-01")),
    "cronometer_servings_50mb_cell.csv": Clean(1, 1, (
        "food_name is 52428800 characters long (at most 1000)",)),
    "cronometer_servings_absurd_magnesium.csv": Clean(1, 3, (
        "magnesium_mg outside the plausible range [0, 5000]",
        "Magnesium (mg) '90,000' is not a number", "grams outside the plausible range")),
    "cronometer_servings_bom_only.csv": Refused((
        "row 1: unrecognised export (the file is empty)",)),
    "cronometer_servings_duplicate_column.csv": Refused((
        "row 1, column 'Magnesium (mg)': two columns have this name",)),
    "cronometer_servings_empty.csv": Refused(("row 1: unrecognised export (the file is empty)",)),
    "cronometer_servings_future_dates.csv": Clean(1, 2, (
        "date 2099-05-11 is in the future", "date 2100-01-01 is in the future")),
    "cronometer_servings_header_only.csv": Clean(0, 0),
    "cronometer_servings_latin1.csv": Clean(3, 0, names=("Müsli", "Crème brûlée", "Jalapeño")),
    "cronometer_servings_missing_day.csv": Refused((
        "row 1, column 'Day': required column missing (found: Time, Group, Food Name",)),
    "cronometer_servings_negative_magnesium.csv": Clean(1, 3, (
        "magnesium_mg outside the plausible range [0, 5000]",
        "Amount '-1.00 cup' is not a number and unit", "energy_kcal outside the plausible range")),
    "cronometer_servings_nul_bytes.csv": Refused(("row 3: the file holds NUL bytes",)),
    "cronometer_servings_repeated_header.csv": Clean(4, 0),
    "cronometer_servings_semicolon.csv": Refused((
        "row 1: unrecognised export (first line: 'Day;Time;Group;",
        "(fields separated by ';'")),
    "cronometer_servings_text_in_numbers.csv": Clean(1, 6, (
        "Magnesium (mg) 'lots' is not a number", "magnesium_mg 'NaN' is not a number",
        "energy_kcal 'inf' is not a number", "Amount 'a handful' is not a number and unit",
        "Day 'yesterday' is not a date", "Time 'noon' is not a time of day")),
    "cronometer_servings_truncated.csv": Clean(3, 1, (
        "the file ends in the middle of this row (4 of 9 fields)",)),
    "cronometer_servings_utf16.csv": Clean(3, 0, names=("Crème fraîche", "Jalapeño")),
    "dexcom_clarity_future_and_1900.csv": Clean(1, 3, (
        "date 2099-05-24 is in the future", "date 1900-01-01 is before 2000-01-01",
        "date 1999-12-31 is before 2000-01-01")),
    "dexcom_clarity_glucose_out_of_range.csv": Clean(2, 4, (
        "glucose_mg_dl outside the plausible range [10, 1000]",)),
    "dexcom_clarity_header_only.csv": Clean(0, 0),
    "dexcom_clarity_text_values.csv": Clean(1, 5, (
        "Glucose Value (mg/dL) 'abc' is not a number, Low or High",
        "Glucose Value (mg/dL) 'N/A' is not a number, Low or High",
        "Timestamp 'yesterday' is not a timestamp",
        "Timestamp '2026-02-30T10:00:00' is not a timestamp")),
    "dexcom_clarity_truncated.csv": Clean(2, 1, (
        "the file ends in the middle of this row (8 of 14 fields)",)),
    "generic_bad_mapping.csv": Refused(("mapping generic_bad_mapping.csv.mapping.toml is not "
                                        "valid TOML",)),
    "generic_latin1.csv": Refused(("row 2: not utf-8 text; set 'encoding'",)),
    "generic_mixed_units.csv": Clean(2, 2, ("glucose_mg_dl outside the plausible range",)),
    "generic_wrong_delimiter.csv": Refused(("row 1, column 'Datum'", "is delimiter ';' right?")),
    "huge_single_line.csv": Refused(("row 1: unrecognised export (first line: 'lorem,ipsum",)),
    "libreview_latin1.csv": Refused(("not UTF-8 or UTF-16 text",)),
    "libreview_mixed_date_order.csv": Refused((
        "row 2, column 'Device Timestamp': dates are written both day-first and month-first",)),
    "libreview_mixed_units.csv": Clean(3, 2, ("glucose_mg_dl outside the plausible range",)),
    "libreview_preamble_only.csv": Refused(("row 1: no LibreView header row",)),
    "libreview_values_out_of_range.csv": Clean(3, 4, (
        "Historic Glucose mg/dL 'abc' is not a number, HI or LO",
        "glucose_mg_dl outside the plausible range", "Scan Glucose mg/dL is blank")),
    "loseit_bad_values.csv": Clean(1, 4, (
        "Date '13/45/2026' is not a date", "amount outside the plausible range",
        "Deleted 'maybe' is not true or false", "Calories 'lots' is not a number")),
    "macrofactor_bad_values.xlsx": Clean(1, 5, (
        "magnesium_mg outside the plausible range", "Magnesium (mg) 'lots' is not a number",
        "is before 2000-01-01", "Date 'someday' is not a date")),
    "macrofactor_no_food_sheet.xlsx": Refused(("a spreadsheet workbook without a food log sheet",)),
    "macrofactor_truncated.xlsx": Refused(("a damaged or incomplete zip archive",)),
    "myfitnesspal_tab_delimited.csv": Refused((
        "row 1: unrecognised export", "(fields separated by '\\t'")),
    "myfitnesspal_text_in_numbers.csv": Clean(1, 4, (
        "Calories 'abc' is not a number", "Date '31/02/2026' is not a date",
        "Time '25:99' is not a time of day")),
    "nightscout_bad_values.json": Clean(1, 6, (
        "sgv 'abc' is not a number", "glucose_mg_dl outside the plausible range",
        "date '1780388100' is not epoch milliseconds", "is in the future", "mbg is missing",
        "date 'tomorrow' is not epoch milliseconds")),
    "nightscout_csv_bad_values.csv": Clean(1, 4, (
        "Glucose (mg/dL) 'abc' is not a number", "date 2099-06-05 is in the future")),
    "nightscout_csv_no_entries.csv": Refused((
        "row 1: no '# CGM ENTRIES' section with a header and rows",)),
    "nightscout_deep_nesting.json": Refused(("JSON nested too deeply",)),
    "nightscout_huge_integer.json": Refused(("not valid JSON: Exceeds the limit (4300 digits)",)),
    "nightscout_not_a_list.json": Refused(("row 1: unrecognised export (first line: '{",)),
    "nightscout_truncated.json": Refused(("not valid JSON: Expecting ',' delimiter at line 3, "
                                          "column 100",)),
    "unknown_columns.csv": Refused((
        "row 1: unrecognised export (first line: 'Name,Email,Phone')",)),
    "xdrip_50mb_line.csv": Refused((
        "row 3: a line of 52,428,814 characters (at most 1,048,576): a damaged file",)),
    "xdrip_bad_values.csv": Clean(1, 8, (
        "DAY '31.02.2026' is not a date", "TIME '25:00' is not a time",
        "UDT_CGMS 'abc' is not a number", "glucose_mg_dl outside the plausible range",
        "TIME is blank", "DAY is blank")),
    "xdrip_comma_delimited.csv": Refused(("row 1: unrecognised export (first line: 'DAY,TIME",)),
    "zip_bomb.zip": Refused(("member 'servings.csv' expands 1011× (a zip bomb?)",)),
    "zip_damaged.zip": Refused(("a damaged or incomplete zip archive",)),
    "zip_lying_size.zip": Refused(("damaged zip archive (Bad CRC-32",)),
    "zip_nested.zip": Refused(("zip_nested.zip/inner.zip: a zip archive inside an archive",)),
}
CLEAN = sorted(name for name, outcome in EXPECTED.items() if isinstance(outcome, Clean))
REFUSED = sorted(name for name, outcome in EXPECTED.items() if isinstance(outcome, Refused))


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    peak_rss: int  # bytes
    seconds: float


def glucomag_capped(*args: str) -> Run:
    """`python -m glucomag ARGS` in a subprocess that caps its own address space before
    importing anything (no preexec_fn: the test process may run threads), killed after
    TIMEOUT_S; its peak resident memory comes from wait4."""
    launcher = ("import resource, runpy, sys; "
                f"resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE_CAP},) * 2); "
                "sys.argv = ['glucomag', *sys.argv[1:]]; "
                "runpy.run_module('glucomag', run_name='__main__', alter_sys=True)")
    environment = {**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING", "MALLOC_ARENA_MAX": "2"}
    environment.pop("PREFECT_HOME", None)
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen([sys.executable, "-c", launcher, *args], stdout=out,
                                   stderr=err, env=environment, cwd=ROOT)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > TIMEOUT_S:
                process.kill()
                os.wait4(process.pid, 0)
                process.returncode = -9
                pytest.fail(f"glucomag {' '.join(args[:3])}… still running after "
                            f"{TIMEOUT_S} s: a hang")
            time.sleep(0.05)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(process.returncode, out.read().decode(), err.read().decode(),
                   usage.ru_maxrss * 1024, time.monotonic() - started)


def corpus_files() -> set[str]:
    """The committed cases: every file here except the README, the generator and mappings."""
    return {p.name for p in CORPUS.iterdir() if p.is_file()
            and p.name not in ("README.md", "make_corpus.py", "__init__.py")
            and not p.name.endswith(".mapping.toml")}


def _good_state(con: duckdb.DuckDBPyConnection, batches: list[int]) -> dict[str, tuple]:
    """Digests of everything the good import stored (its rows, batch log entries, quarantine
    and validations) and of the reference data."""
    where = f"batch_id IN ({', '.join(map(str, batches))})"
    return {
        "core_food_entries": table_digest(con, "core_food_entries", (), where),
        "core_glucose_readings": table_digest(con, "core_glucose_readings", (), where),
        "core_import_batches": table_digest(con, "core_import_batches",
                                            ("started_at", "finished_at"), where),
        "quarantined_rows": table_digest(con, "quarantined_rows", (), where),
        "validation_runs": table_digest(con, "validation_runs", ("run_at",), where),
        **{table: table_digest(con, table) for table in ("ref_foods", "ref_portions",
                                                         "ref_aliases")},
    }


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """A warehouse with a good import, then every corpus file imported into it: clean ones
    in one command, refused ones in another (each file gets its own line either way)."""
    generated = build(tmp_path_factory.mktemp("generated"))
    paths = {p.name: p for p in generated} | {
        name: CORPUS / name for name in corpus_files()}
    home = tmp_path_factory.mktemp("bad-inputs") / "home"
    good = glucomag_capped("import", *map(str, GOOD), "--home", str(home),
                           "--timezone", TIMEZONE)
    assert good.returncode == 0, good.stderr
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        batches = [row[0] for row in con.execute(
            "SELECT batch_id FROM core_import_batches ORDER BY 1").fetchall()]
        before = _good_state(con, batches)
    runs = {kind: glucomag_capped("import", *(str(paths[name]) for name in names),
                                  "--home", str(home), "--timezone", TIMEZONE)
            for kind, names in (("clean", CLEAN), ("refused", REFUSED))}
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        after = _good_state(con, batches)
        logged = con.execute(
            "SELECT file_name, status, rows_stored, rows_quarantined, message, batch_id "
            "FROM core_import_batches").fetchall()
        quarantined = con.execute("SELECT file_name, reason, raw_record FROM quarantined_rows"
                                  ).fetchall()
        foods = con.execute("SELECT b.file_name, e.food_name FROM core_food_entries e "
                            "JOIN core_import_batches b USING (batch_id)").fetchall()
    return {"home": home, "runs": runs, "before": before, "after": after, "logged": logged,
            "quarantined": quarantined, "foods": foods, "batches": batches, "good": good}


def test_the_corpus_is_documented_and_small():
    documented = set(re.findall(r"^\| `([^`]+)` \|", (CORPUS / "README.md").read_text(),
                                flags=re.MULTILINE))
    cases = corpus_files() | set(GENERATED)
    assert cases == set(EXPECTED) == documented
    assert len(cases) >= 40
    assert not corpus_files() & set(GENERATED)
    committed = sum(p.stat().st_size for p in CORPUS.iterdir() if p.is_file())
    assert committed < 200_000  # big and binary cases are generated (make_corpus.py)


def test_no_traceback_no_hang_bounded_memory(imported):
    for kind, run in imported["runs"].items():
        output = run.stdout + run.stderr
        assert "Traceback" not in output, (kind, output[-3000:])
        assert run.peak_rss < PEAK_RSS_LIMIT, (kind, run.peak_rss)
    assert imported["runs"]["clean"].returncode == 0, imported["runs"]["clean"].stderr[-3000:]
    assert imported["runs"]["refused"].returncode == 2


def test_data_stored_before_is_unchanged(imported):
    assert imported["after"] == imported["before"]
    food, glucose = imported["before"]["core_food_entries"], \
        imported["before"]["core_glucose_readings"]
    assert (food[0], glucose[0]) == (12, 21)  # the digests cover the good import's rows


@pytest.mark.parametrize("name", REFUSED)
def test_refused_file_gets_exactly_one_line_and_nothing_stored(imported, name):
    run = imported["runs"]["refused"]
    lines = run.stderr.splitlines()
    assert len(lines) == len(REFUSED)  # one line per file, nothing else
    mine = [line for line in lines if re.match(rf"error: {re.escape(name)}[,:/]", line)]
    assert len(mine) == 1, run.stderr
    assert len(mine[0]) < 700  # one readable line, whatever the file held
    for fragment in EXPECTED[name].fragments:
        assert fragment in mine[0]
    logged = [row for row in imported["logged"] if row[0].split("/")[0] == name]
    assert logged and all(row[1] == "failed" for row in logged)
    assert not [row for row in imported["quarantined"] if row[0].split("/")[0] == name]
    quarantine = imported["home"] / "quarantine"
    (copy,) = quarantine.glob(f"*-{name}")
    assert copy.with_name(copy.name + ".reason.txt").read_text().strip()


@pytest.mark.parametrize("name", CLEAN)
def test_clean_file_stores_good_rows_and_quarantines_bad_ones_with_reasons(imported, name):
    expected = EXPECTED[name]
    run = imported["runs"]["clean"]
    summaries = re.findall(rf"^{re.escape(name)}: \w+, (\d+) rows stored, (\d+) quarantined",
                           run.stdout, flags=re.MULTILINE)
    assert summaries, run.stdout
    assert (sum(int(s) for s, _ in summaries), sum(int(q) for _, q in summaries)) == \
        (expected.stored, expected.quarantined)
    logged = [row for row in imported["logged"] if row[0] == name]
    assert len(logged) == len(summaries) and all(row[1] == "stored" for row in logged)
    assert sum(row[2] for row in logged) == expected.stored
    reasons = [(reason, record) for file, reason, record in imported["quarantined"]
               if file == name]
    assert len(reasons) == expected.quarantined
    for reason, record in reasons:
        assert reason and reason.strip()
        assert len(reason) <= MAX_REASON_CHARS and len(record) <= MAX_REASON_CHARS
    for fragment in expected.reasons:
        assert any(fragment in reason for reason, _ in reasons), (fragment, reasons)
    stored_names = {food for file, food in imported["foods"] if file == name}
    assert set(expected.names) <= stored_names
    assert all(len(food) <= 1000 for food in stored_names)
