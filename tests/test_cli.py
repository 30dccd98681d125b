"""The `glucomag` command as a user runs it: real processes, real files, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT, TIMEZONE


def glucomag(*args: str, env: dict | None = None, cwd: Path | None = None
             ) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING", **(env or {})}
    environment.pop("PREFECT_HOME", None)  # the command must pick its own, inside the data folder
    return subprocess.run([sys.executable, "-m", "glucomag", *args], capture_output=True,
                          text=True, env=environment, cwd=cwd or ROOT, timeout=300)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0]


def test_import_prints_a_summary_per_file(tmp_path: Path):
    home = tmp_path / "home"
    result = glucomag("import", str(FIXTURES / "cronometer" / "servings_bad_rows.csv"),
                      str(FIXTURES / "dexcom" / "clarity_mgdl.csv"), "--home", str(home),
                      "--timezone", TIMEZONE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "servings_bad_rows.csv: cronometer_servings, 3 rows stored, 3 quarantined, "
        "0 duplicates skipped, 0 non-entry rows skipped",
        "clarity_mgdl.csv: dexcom_clarity, 21 rows stored, 0 quarantined, "
        "0 duplicates skipped, 8 non-entry rows skipped",
    ]
    assert result.stderr == ""  # not a terminal: no progress bar
    for name in ("warehouse.duckdb", "inbox", "archive", "quarantine", "reports"):
        assert (home / name).exists()
    assert len(list((home / "archive").iterdir())) == 2
    again = glucomag("import", str(FIXTURES / "dexcom" / "clarity_mgdl.csv"),
                     "--home", str(home))
    assert again.stdout.strip().endswith("nothing new stored")


class Stream:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(("files", "tty", "shown"), [
    (2, True, True), (1, True, False), (2, False, False), (0, True, False)])
def test_a_progress_bar_only_for_several_files_on_a_terminal(files: int, tty: bool,
                                                              shown: bool):
    from glucomag.cli import show_progress

    assert show_progress(files, Stream(tty)) is shown


def test_import_on_a_terminal_shows_a_bar_and_prints_the_same_lines(tmp_path: Path):
    import pty
    import threading

    files = [str(FIXTURES / "cronometer" / "servings_bad_rows.csv"),
             str(FIXTURES / "dexcom" / "clarity_mgdl.csv")]
    plain = glucomag("import", *files, "--home", str(tmp_path / "plain"),
                     "--timezone", TIMEZONE)
    controller, terminal = pty.openpty()
    seen = bytearray()

    def read_terminal() -> None:  # drain it, so the bar never blocks on a full terminal
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the last writer closed it
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = threading.Thread(target=read_terminal)
    reader.start()
    environment = {**os.environ, "TERM": "xterm"}
    environment.pop("PREFECT_HOME", None)
    try:
        on_tty = subprocess.run(
            [sys.executable, "-m", "glucomag", "import", *files, "--home",
             str(tmp_path / "tty"), "--timezone", TIMEZONE],
            stdout=subprocess.PIPE, stderr=terminal, text=True, env=environment, cwd=ROOT,
            timeout=300)
    finally:
        os.close(terminal)
        reader.join(timeout=10)
        os.close(controller)
    assert on_tty.returncode == plain.returncode == 0
    assert on_tty.stdout == plain.stdout and len(on_tty.stdout.splitlines()) == 2
    assert b"importing" in seen


def test_malformed_file_one_line_exit_2_and_quarantined_copy(tmp_path: Path):
    home = tmp_path / "home"
    bad = FIXTURES / "cronometer" / "servings_no_day_column.csv"
    result = glucomag("import", str(bad), "--home", str(home))
    assert_one_line_error(result, "servings_no_day_column.csv", "row 1", "column 'Day'")
    kept = list((home / "quarantine").glob("*-servings_no_day_column.csv"))
    assert len(kept) == 1 and kept[0].read_bytes() == bad.read_bytes()
    reason = kept[0].with_name(kept[0].name + ".reason.txt").read_text()
    assert "column 'Day'" in reason
    assert bad.exists()  # files named on the command line are copied, never moved


@pytest.mark.parametrize(("args", "fragment"), [
    (("report", "--month", "2026-13"), "not YYYY-MM"),
    (("import", "nowhere.csv"), "no such file"),
    (("import", str(FIXTURES / "dexcom" / "clarity_mgdl.csv"), "--timezone", "Mars/Base"),
     "unknown time zone 'Mars/Base'"),
])
def test_bad_input_gets_one_line_and_exit_2(args: tuple[str, ...], fragment: str,
                                            tmp_path: Path):
    assert_one_line_error(glucomag(*args, "--home", str(tmp_path / "h")), fragment)


def test_home_from_environment_then_status_and_monthly_report(tmp_path: Path):
    home = tmp_path / "from-env"
    env = {"GLUCOMAG_HOME": str(home), "GLUCOMAG_TIMEZONE": TIMEZONE}
    imported = glucomag("import", str(FIXTURES / "cronometer" / "servings_small.csv"), env=env)
    assert imported.returncode == 0, imported.stderr
    status = glucomag("status", env=env)
    assert status.returncode == 0, status.stderr
    assert "food entries: 12 (10 with magnesium), days 2026-03-01 to 2026-03-03" in status.stdout
    assert "Informational only" in status.stdout
    report = glucomag("report", "--month", "2026-03", env=env)
    assert report.returncode == 0, report.stderr
    path = home / "reports" / "monthly" / "2026-03.html"
    assert f"report: {path}" in report.stdout
    html = path.read_text()
    assert 'id="informational-banner"' in html and "2026-03-01" in html


def test_demo_runs_the_nightly_flow_on_the_sample_data(tmp_path: Path):
    result = glucomag("demo", "--home", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    report = tmp_path / "demo" / "reports" / "nightly" / "2026-10-11.html"
    assert f"report: {report}" in result.stdout
    assert report.exists()
    assert "servings.csv: cronometer_servings, 455 rows stored" in result.stdout
    assert (tmp_path / "demo" / ".prefect").is_dir()  # Prefect's home is inside the data folder


def test_foods_lookup_json_is_a_stable_interface(tmp_path: Path):
    import json

    result = glucomag("foods", "lookup", "black beans", "Office lunch", "--amount", "1 cup",
                      "--json", "--home", str(tmp_path / "h"))
    assert result.returncode == 0, result.stderr
    beans, unknown = json.loads(result.stdout)
    assert set(beans) >= {"query", "food_id", "food_name", "magnesium_mg_per_100g", "grams",
                          "magnesium_mg", "method", "confidence", "candidates"}
    # SR28: Beans, black, mature seeds, cooked, boiled, without salt: 70 mg/100 g, cup = 172 g
    assert (beans["food_id"], beans["method"], beans["grams"]) == ("sr28:16015", "alias", 172.0)
    assert beans["magnesium_mg"] == pytest.approx(120.4)
    assert unknown["magnesium_mg"] is None and unknown["method"] == "none"
    assert len(unknown["candidates"]) == 3 and "score" in unknown["candidates"][0]


def test_foods_unmatched_then_alias_fixes_it(tmp_path: Path):
    home = str(tmp_path / "h")
    log = tmp_path / "log.csv"
    log.write_text("Day,Food Name,Amount,Energy (kcal),Magnesium (mg)\n"
                   "2026-04-01,Office lunch,200.00 g,500,\n2026-04-02,Office lunch,100.00 g,250,\n")
    assert glucomag("import", str(log), "--home", home, "--timezone", TIMEZONE).returncode == 0
    unmatched = glucomag("foods", "unmatched", "--home", home)
    assert unmatched.stdout.splitlines()[0].strip() == "2 × Office lunch: no match"
    assert_one_line_error(glucomag("foods", "alias", "Office lunch", "sr28:99999",
                                   "--home", home), "no reference food with id 'sr28:99999'")
    fixed = glucomag("foods", "alias", "Office lunch", "sr28:20137", "--home", home)
    assert fixed.stdout.strip() == ("alias: 'Office lunch' → Quinoa, cooked (sr28:20137); "
                                    "2 entries updated")
    assert glucomag("foods", "unmatched", "--home", home).stdout.strip() == \
        "Every logged food has a magnesium value."


def test_foods_import_fdc_from_the_download_layout(tmp_path: Path):
    result = glucomag("foods", "import-fdc", str(FIXTURES / "fdc"), "--home",
                      str(tmp_path / "h"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("FoodData Central: 7 foods, 12 portions loaded; "
                                     "0 entries updated")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(glucomag("foods", "import-fdc", str(tmp_path / "empty"), "--home",
                                   str(tmp_path / "h")), "food.csv")
