"""The real `nightly` flow on the shipped sample data, checked against the generator's truth."""

from __future__ import annotations

import json
import shutil

import duckdb
import polars as pl
import pytest

from tests.conftest import SAMPLE_DATA
from transforms.warehouse import query_frame

TRUTH = json.loads((SAMPLE_DATA / "ground_truth" / "summary.json").read_text())
EXPORTS = ("cronometer/servings.csv", "dexcom/clarity_export.csv")
TABLES = ("food_entries", "glucose_readings", "import_batches", "quarantined_rows",
          "daily_summary")


def _snapshot(path) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {t: query_frame(con, f"SELECT * FROM {t} ORDER BY ALL") for t in TABLES}


@pytest.fixture(scope="module")
def nightly_home(prefect_harness, tmp_path_factory):
    from flows.nightly import nightly
    from glucomag.settings import load_settings

    home = tmp_path_factory.mktemp("nightly") / "home"
    settings = load_settings(home, timezone=TRUTH["timezone"])
    settings.create_folders()
    (home / "config.toml").write_text(f'timezone = "{TRUTH["timezone"]}"\n')
    for name in EXPORTS:
        shutil.copy2(SAMPLE_DATA / name, settings.inbox)
    first = nightly(home=str(home))
    return settings, first


def test_first_run_stores_every_reading_and_entry(nightly_home):
    settings, result = nightly_home
    assert [s["status"] for s in result["imports"]] == ["stored", "stored"]
    cronometer, dexcom = TRUTH["cronometer"], TRUTH["dexcom"]
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        food = con.execute("SELECT count(*), count(magnesium_mg), "
                           "count(*) FILTER (WHERE magnesium_source = 'export'), "
                           "count(*) FILTER (WHERE magnesium_source = 'unknown') "
                           "FROM food_entries").fetchall()[0]
        glucose = con.execute(
            "SELECT count(*) FILTER (WHERE kind = 'sensor'), "
            "count(*) FILTER (WHERE out_of_range = 'below_range'), "
            "count(*) FILTER (WHERE out_of_range = 'above_range'), "
            "count(*) FILTER (WHERE kind = 'fingerstick') FROM glucose_readings").fetchall()[0]
    assert food == (cronometer["food_rows"], cronometer["rows_with_magnesium"],
                    cronometer["rows_with_magnesium"], cronometer["rows_without_magnesium"])
    assert glucose == (dexcom["egv_rows"], dexcom["egv_low"], dexcom["egv_high"],
                       dexcom["calibration_rows"])


def test_inbox_is_emptied_into_the_archive_by_hash(nightly_home):
    settings, result = nightly_home
    assert list(settings.inbox.iterdir()) == []
    archived = sorted(p.name for p in settings.archive.iterdir())
    assert archived == sorted(f"{s['sha256']}.csv" for s in result["imports"])
    assert sorted(s["sha256"] for s in result["imports"]) == sorted(
        TRUTH["sha256"][name] for name in EXPORTS)


def test_daily_summary_matches_ground_truth(nightly_home):
    settings, _ = nightly_home
    truth = pl.read_csv(SAMPLE_DATA / "ground_truth" / "daily.csv", try_parse_dates=True)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        daily = query_frame(con, "SELECT * FROM daily_summary ORDER BY local_date")
    joined = truth.join(daily, on="local_date", how="full", coalesce=True)
    assert joined.height == TRUTH["date_range"]["days"] == daily.height
    assert (joined["food_entries"] == joined["food_entries_right"]).all()
    assert (joined["entries_with_magnesium"] == joined["entries_with_magnesium_right"]).all()
    assert (joined["magnesium_known_mg"] - joined["magnesium_known_mg_right"]).abs().max() < 0.005
    assert (joined["sensor_readings"] == joined["glucose_readings"]).all()
    assert (joined["glucose_mean_mg_dl"] - joined["glucose_mean_mg_dl_right"]).abs().max() < 5e-5
    assert (joined["in_range_share"] - joined["glucose_in_range_share"]).abs().max() < 5e-7


def test_report_is_written_and_marked_informational(nightly_home):
    settings, result = nightly_home
    html = (settings.reports / "nightly" / "2026-10-11.html").read_text()
    assert result["report"].endswith("2026-10-11.html")
    body = html[html.index("<body"):]
    assert body.index('id="informational-banner"') < body.index("<h1")
    assert "Samplefirst" not in html and "8SAMP1" not in html


def test_every_stage_was_validated(nightly_home):
    settings, result = nightly_home
    from schemas.canonical import MART_TABLES

    assert [m["success"] for m in result["marts"]] == [True] * len(MART_TABLES)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        stages = con.execute("SELECT stage, bool_and(success), count(*) FROM validation_runs "
                             "GROUP BY stage ORDER BY stage").fetchall()
    marts = sorted((f"mart {spec.name}", True, 1) for spec in MART_TABLES)
    assert stages == sorted([("enriched food entries", True, 1), *marts,
                             ("staged food rows", True, 1), ("staged glucose rows", True, 1)])


def test_personal_data_from_the_export_is_never_stored(nightly_home):
    settings, _ = nightly_home
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        tables = [row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()")
                  .fetchall()]
        text = " ".join(str(row) for table in tables
                        for row in con.execute(f"SELECT * FROM {table}").fetchall())
    assert {"core_food_entries", "core_glucose_readings", "quarantined_rows"} <= set(tables)
    for personal in ("Samplefirst", "Samplelast", "1980-01-01", "8SAMP1"):
        assert personal not in text


def test_second_run_changes_nothing(nightly_home):
    from flows.nightly import nightly

    settings, _ = nightly_home
    before = _snapshot(settings.warehouse)
    for name in EXPORTS:  # the user drops the same exports in again
        shutil.copy2(SAMPLE_DATA / name, settings.inbox)
    again = nightly(home=str(settings.home))
    assert [s["status"] for s in again["imports"]] == ["already_imported"] * 2
    after = _snapshot(settings.warehouse)
    for table in TABLES:
        assert after[table].equals(before[table]), table


def test_glucose_marts_agree_with_the_generators_truth_and_with_daily_summary(nightly_home):
    """Per-day metrics from the polars marts vs the generator's own numbers and the SQL mart."""
    settings, _ = nightly_home
    truth = pl.read_csv(SAMPLE_DATA / "ground_truth" / "daily.csv", try_parse_dates=True)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        daily = query_frame(con, "SELECT m.*, s.glucose_in_range_share, s.glucose_readings "
                                 "FROM daily_glucose_metrics m JOIN daily_summary s "
                                 "USING (subject_id, local_date) ORDER BY local_date")
        months = query_frame(con, "SELECT * FROM period_glucose_metrics "
                                  "WHERE period = 'month' ORDER BY period_start")
        agp = query_frame(con, "SELECT * FROM agp_profile")
    joined = daily.join(truth, on="local_date")
    assert joined.height == TRUTH["date_range"]["days"]
    assert (joined["mean_mg_dl"] - joined["glucose_mean_mg_dl"]).abs().max() < 5e-5
    assert (joined["tir_70_180_pct"] / 100 - joined["glucose_in_range_share"]).abs().max() < 1e-9
    assert (joined["readings"] == joined["glucose_readings"]).all()
    assert months["readings"].sum() == TRUTH["dexcom"]["egv_rows"]
    assert agp.height == 96 * months.height
    # the AGP's median stays between its quartiles in every bin
    assert (agp["p25_mg_dl"] <= agp["p50_mg_dl"]).all()
    assert (agp["p50_mg_dl"] <= agp["p75_mg_dl"]).all()


def test_metrics_command_prints_the_documented_names_as_json(nightly_home):
    import subprocess
    import sys

    settings, _ = nightly_home
    last = TRUTH["date_range"]["last"]
    result = subprocess.run(
        [sys.executable, "-m", "glucomag", "metrics", "--home", str(settings.home),
         "--month", last[:7], "--by", "week", "--format", "json"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert "Informational only" in document["informational_only"]
    names = ("subject_id, period_start, period_end, days_with_data, readings, wear_pct, "
             "mean_mg_dl, sd_mg_dl, cv_pct, gmi_pct, ea1c_pct, tir_70_180_pct, "
             "titr_70_140_pct, tbr_below_70_pct, tbr_below_54_pct, tar_above_180_pct, "
             "tar_above_250_pct, mage_mg_dl, modd_mg_dl, conga1_mg_dl, lbgi, hbgi, j_index")
    rows = document["metrics"]
    assert rows and all(list(row) == names.split(", ") for row in rows)
    assert all(row["period_start"] >= f"{last[:7]}-01" for row in rows)
    bad = subprocess.run([sys.executable, "-m", "glucomag", "metrics", "--home",
                          str(settings.home), "--by", "year"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0
    assert "--by 'year'" in bad.stderr
