"""Nothing personal leaks: names, birth dates and serials planted in the exports (synthetic,
listed in the fixtures' READMEs and tests/bad_inputs/README.md) appear nowhere glucomag writes
or prints — not in any warehouse table, report, log, quarantine reason, Prefect's database in
the data folder, or the output of the flow and the commands.

A real nightly flow (the session's Prefect API) imports good and bad exports that carry them,
then the commands a user runs (`import`, `run nightly` with Prefect's local ephemeral mode in
the data folder, `report`, `status`) run on the same data folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pytest

from tests.conftest import FIXTURES, ROOT, TIMEZONE

BAD = Path(__file__).resolve().parent / "bad_inputs"
# Files the nightly flow imports (good readings next to the planted data) and files the
# command-line runs get afterwards.
NIGHTLY_INBOX = (
    FIXTURES / "cronometer" / "servings_small.csv",
    FIXTURES / "dexcom" / "clarity_mgdl.csv",
    FIXTURES / "libreview" / "us_mgdl.csv",
    FIXTURES / "libreview" / "clinic_pro_two_preambles.csv",
    FIXTURES / "libreview" / "de_mgdl.csv",
    FIXTURES / "carelink" / "carelink_export.csv",
    FIXTURES / "apple_health" / "export.zip",
    FIXTURES / "nightscout" / "entries.json",
    FIXTURES / "nightscout" / "exporter.csv",
    BAD / "libreview_preamble_only.csv",  # unreadable: the preamble names the patient
    BAD / "carelink_no_sections.csv",  # unreadable: names, birth date, pump serial
    BAD / "dexcom_clarity_text_values.csv",  # quarantined rows next to personal rows
    BAD / "libreview_values_out_of_range.csv",
)
COMMAND_LINE = (
    FIXTURES / "libreview" / "eu_mmol_utf16.csv",
    FIXTURES / "apple_health" / "export.xml",
    BAD / "apple_health_bad_values.xml",
    BAD / "libreview_preamble_only.csv",
    BAD / "carelink_no_sections.csv",
)
RUN_NIGHTLY_INBOX = FIXTURES / "carelink" / "carelink_mmol.csv"
PLANTED = (
    "Testfirst", "Testlast", "Testdoctor", "1975-05-05", "05.05.1975", "01-02-1970",
    "1980-01-01", "8TEST9", "5TST12345", "0x302a8c1e0", "NG1234567H", "BG9876543",
    "a1b2c3d4-0000-4000-8000-5e71a1000001", "MXGT0A1B2C3", "3MH00ABCDEF", "JGMA12345678",
    "SM12345678", "8G1234", "HKBiologicalSexFemale", "Badfirst", "Badlast", "1977-07-07",
    "07.07.1977", "8BADX9", "NG7654321H", "MXGT0BAD123",
)


def _found(data: bytes) -> list[str]:
    """The planted strings in `data`, as UTF-8 or UTF-16 (LibreView's Windows encoding)."""
    return [p for p in PLANTED if p.encode() in data or p.encode("utf-16-le") in data]


def glucomag(*args: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PREFECT_LOGGING_LEVEL": "INFO"}  # the most it would log
    environment.pop("PREFECT_HOME", None)  # its own, in the data folder
    return subprocess.run([sys.executable, "-m", "glucomag", *args], capture_output=True,
                          text=True, env=environment, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def everything(prefect_harness, tmp_path_factory):
    """Run it all once; return the data folder and every piece of output."""
    import flows.nightly
    from glucomag.settings import load_settings

    home = tmp_path_factory.mktemp("privacy") / "home"
    settings = load_settings(home, timezone=TIMEZONE)
    settings.create_folders()
    (home / "config.toml").write_text(f'timezone = "{TIMEZONE}"\n')
    for path in NIGHTLY_INBOX:
        shutil.copy2(path, settings.inbox / path.name)
    result = flows.nightly.nightly(home=str(home))
    outputs = {"nightly result": repr(result)}
    outputs["import"] = glucomag("import", *map(str, COMMAND_LINE), "--home", str(home))
    shutil.copy2(RUN_NIGHTLY_INBOX, settings.inbox / RUN_NIGHTLY_INBOX.name)
    outputs["run nightly"] = glucomag("run", "nightly", "--home", str(home))
    outputs["report"] = glucomag("report", "--month", "2026-03", "--home", str(home))
    outputs["status"] = glucomag("status", "--home", str(home))
    return home, result, outputs


def test_the_planted_data_is_really_in_the_inputs():
    planted = set()
    for path in {*NIGHTLY_INBOX, *COMMAND_LINE, RUN_NIGHTLY_INBOX}:
        data = path.read_bytes()
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                data = b"".join(archive.read(name) for name in archive.namelist())
        planted.update(_found(data))
    assert planted == set(PLANTED)


def test_the_runs_did_their_work(everything):
    home, result, outputs = everything
    statuses = {s["file_name"]: s["status"] for s in result["imports"]}
    assert statuses["libreview_preamble_only.csv"] == "failed"
    assert statuses["carelink_no_sections.csv"] == "failed"
    assert sum(status == "stored" for status in statuses.values()) >= 10
    assert outputs["import"].returncode == 2  # two of the files are unreadable
    for command in ("run nightly", "report", "status"):
        assert outputs[command].returncode == 0, (command, outputs[command].stderr)
    assert (home / "reports" / "monthly" / "2026-03.html").exists()
    assert list((home / "reports" / "nightly").glob("*.html"))
    assert any((home / ".prefect").rglob("*.db"))  # Prefect's own database, scanned below


def test_no_table_holds_planted_data(everything):
    home, _, _ = everything
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        tables = [row[0] for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT internal").fetchall()]
        assert {"core_food_entries", "core_glucose_readings", "core_import_batches",
                "quarantined_rows", "validation_runs"} <= set(tables)
        rows = 0
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"').fetchall():
                rows += 1
                text = "\x1f".join(map(str, row))
                assert not _found(text.encode()), (table, _found(text.encode()), row)
    assert rows > 500


def test_no_file_glucomag_wrote_holds_planted_data(everything):
    """Every file in the data folder — the warehouse file itself, reports, quarantine reasons,
    Prefect's database and logs — except the user's own files kept as they came (archive/,
    and the unreadable ones in quarantine/)."""
    home, _, _ = everything
    scanned = []
    for path in sorted(home.rglob("*")):
        if not path.is_file():
            continue
        kept_as_given = path.parent.name in ("archive", "quarantine") \
            and not path.name.endswith(".reason.txt")
        if kept_as_given:
            continue
        scanned.append(path.relative_to(home))
        assert not _found(path.read_bytes()), (path, _found(path.read_bytes()))
    names = {p.parts[0] for p in scanned}
    assert {"warehouse.duckdb", "reports", "quarantine", ".prefect", "logs"} <= names
    assert any(p.name.endswith(".reason.txt") for p in scanned)


def test_no_output_holds_planted_data(everything):
    _, _, outputs = everything
    for name, output in outputs.items():
        text = output if isinstance(output, str) else output.stdout + output.stderr
        assert not _found(text.encode()), (name, _found(text.encode()), text[-2000:])
    assert "libreview_preamble_only.csv" in outputs["import"].stderr


def test_the_nightly_flow_prints_nothing_planted(prefect_harness, tmp_path, capfd):
    """The flow's own stdout/stderr and logging (captured at the file-descriptor level)."""
    import flows.nightly
    from glucomag.settings import load_settings

    home = tmp_path / "home"
    settings = load_settings(home, timezone=TIMEZONE)
    settings.create_folders()
    for path in (FIXTURES / "carelink" / "carelink_export.csv", BAD / "carelink_no_sections.csv",
                 BAD / "libreview_preamble_only.csv", FIXTURES / "dexcom" / "clarity_mgdl.csv"):
        shutil.copy2(path, settings.inbox / path.name)
    result = flows.nightly.nightly(home=str(home))
    assert [s["status"] for s in result["imports"]].count("failed") == 2
    captured = capfd.readouterr()
    assert not _found((captured.out + captured.err).encode()), captured
