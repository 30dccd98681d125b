"""Cronometer dailysummary.csv and biometrics.csv; expected values from
tests/fixtures/cronometer_extra/README.md (hand-computed)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import FIXTURES, TIMEZONE, fixtures_outside
from transforms.importers import (
    conform,
    cronometer_biometrics,
    cronometer_dailysummary,
    cronometer_servings,
    dexcom_clarity,
    loseit,
    myfitnesspal,
)
from transforms.importers.base import BadFileError, read_head

EXTRA = FIXTURES / "cronometer_extra"
DAILY = EXTRA / "dailysummary.csv"
BIOMETRICS = EXTRA / "biometrics.csv"
NO_TIME = EXTRA / "biometrics_no_time_column.csv"
OWN = {cronometer_dailysummary: [DAILY], cronometer_biometrics: [BIOMETRICS, NO_TIME]}
OTHER_DETECTORS = (cronometer_servings, dexcom_clarity, myfitnesspal, loseit)


def other_fixtures() -> list[Path]:
    return fixtures_outside(EXTRA)


@pytest.mark.parametrize("module", list(OWN))
def test_detects_its_own_fixtures_and_no_other(module):
    for path in OWN[module]:
        assert module.detect(read_head(path)), path
    for path in other_fixtures():
        assert not module.detect(read_head(path)), path


def test_servings_summary_and_biometrics_are_told_apart():
    servings = FIXTURES / "cronometer" / "servings_small.csv"
    assert not cronometer_dailysummary.detect(read_head(servings))  # it has `Food Name`
    assert not cronometer_biometrics.detect(read_head(DAILY))
    assert not cronometer_dailysummary.detect(read_head(BIOMETRICS))
    for path in (DAILY, BIOMETRICS, NO_TIME):
        assert not any(module.detect(read_head(path)) for module in OTHER_DETECTORS), path


def test_dailysummary_one_daily_total_per_day():
    imported = cronometer_dailysummary.read(DAILY, TIMEZONE)
    frame = conform(imported)
    assert (imported.rows_read, imported.rows_skipped, frame.height) == (7, 0, 7)
    assert frame["source_row"].to_list() == list(range(2, 9))
    assert set(frame["entry_type"]) == {"daily_total"}
    assert set(frame["food_name"]) == {"Cronometer daily total"}
    for column in ("local_ts", "meal", "amount", "unit", "grams", "category"):
        assert frame[column].null_count() == 7, column
    valid = frame.filter(pl.col("parse_error").is_null())
    assert valid["local_date"].to_list() == [date(2026, 3, d) for d in (1, 2, 3, 4, 5)]
    assert valid["magnesium_mg"].to_list() == [320.64, 184.50, 376.52, None, 250.25]
    assert valid["energy_kcal"].to_list() == [1048.28, 816.10, 622.04, 1500.00, 1210.50]
    assert valid["carbohydrates_g"].to_list() == [118.06, 91.71, 6.00, 180.00, 140.00]


def test_dailysummary_days_match_the_servings_fixture_sums():
    servings = conform(cronometer_servings.read(FIXTURES / "cronometer" / "servings_small.csv",
                                                TIMEZONE))
    summed = (servings.group_by("local_date").agg(pl.col("magnesium_mg").sum())
              .sort("local_date")["magnesium_mg"].to_list())
    daily = conform(cronometer_dailysummary.read(DAILY, TIMEZONE)).head(3)
    assert daily["magnesium_mg"].to_list() == pytest.approx(summed, abs=1e-9)


def test_dailysummary_bad_rows_are_flagged():
    frame = conform(cronometer_dailysummary.read(DAILY, TIMEZONE))
    flagged = frame.filter(pl.col("parse_error").is_not_null())
    assert flagged.select("source_row", "parse_error").rows() == [
        (6, "Date '2026-02-30' is not a date"),
        (8, "Magnesium (mg) '12O.5' is not a number"),
    ]
    assert flagged["local_date"].to_list() == [None, date(2026, 3, 6)]
    assert flagged["magnesium_mg"].to_list() == [200.0, None]


def test_dailysummary_without_date_column_is_refused_in_one_line(tmp_path: Path):
    path = tmp_path / "dailysummary.csv"
    path.write_text("Energy (kcal),Magnesium (mg)\n1000,300\n")
    with pytest.raises(BadFileError) as caught:
        cronometer_dailysummary.read(path, TIMEZONE)
    assert str(caught.value).startswith("dailysummary.csv, row 1, column 'Date': ")
    assert "\n" not in str(caught.value)


def test_biometrics_glucose_rows_only_converted_per_row():
    imported = cronometer_biometrics.read(BIOMETRICS, TIMEZONE)
    frame = conform(imported).sort("source_row")
    assert (imported.rows_read, imported.rows_skipped, frame.height) == (12, 3, 9)
    assert frame["source_row"].to_list() == [2, 4, 5, 7, 8, 9, 10, 12, 13]
    assert set(frame["kind"]) == {"fingerstick"} and set(frame["device"]) == {"Cronometer"}
    assert frame["out_of_range"].null_count() == 9
    values = frame["glucose_mg_dl"].to_list()
    assert values == pytest.approx([92.0, 140.52168, 101.0, 88.0, 99.0858, None, None, 110.0,
                                    126.0], abs=1e-9)
    text = frame.write_csv()
    for other_metric in ("Weight", "165.4", "Body Fat", "22.5", "120/80"):
        assert other_metric not in text


def test_biometrics_times_and_dst():
    frame = conform(cronometer_biometrics.read(BIOMETRICS, TIMEZONE))
    valid = frame.filter(pl.col("parse_error").is_null()).sort("ts_utc")
    assert valid["source_row"].to_list() == [2, 4, 8, 12, 13]
    assert valid["ts_utc"].to_list() == [
        datetime(2026, 3, 1, 12, 5, tzinfo=UTC),
        datetime(2026, 3, 1, 18, 45, tzinfo=UTC),
        datetime(2026, 3, 8, 13, 0, tzinfo=UTC),   # EDT after the spring change
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),  # ambiguous 01:30: the earlier (EDT)
        datetime(2026, 11, 2, 3, 15, tzinfo=UTC),  # EST again, next UTC day
    ]
    assert valid["local_ts"].to_list() == [
        datetime(2026, 3, 1, 7, 5), datetime(2026, 3, 1, 13, 45), datetime(2026, 3, 8, 9, 0),
        datetime(2026, 11, 1, 1, 30), datetime(2026, 11, 1, 22, 15)]
    assert valid["local_date"].to_list()[-1] == date(2026, 11, 1)


def test_biometrics_bad_rows_are_flagged_not_dropped():
    frame = conform(cronometer_biometrics.read(BIOMETRICS, TIMEZONE))
    flagged = frame.filter(pl.col("parse_error").is_not_null()).sort("source_row")
    assert flagged.select("source_row", "parse_error").rows() == [
        (5, "Time is missing: a glucose reading needs a time"),
        (7, "local time 2026-03-08 02:30:00 does not exist in America/New_York "
            "(clocks went forward)"),
        (9, "Amount 'abc' is not a number"),
        (10, "Unit '' is not mg/dL or mmol/L"),
    ]
    blank_time = flagged.row(0, named=True)
    assert (blank_time["local_date"], blank_time["local_ts"], blank_time["ts_utc"]) == (
        date(2026, 3, 2), None, None)


def test_biometrics_without_time_column_quarantines_the_reading():
    imported = cronometer_biometrics.read(NO_TIME, TIMEZONE)
    frame = conform(imported)
    assert (imported.rows_read, imported.rows_skipped, frame.height) == (2, 1, 1)
    row = frame.row(0, named=True)
    assert (row["source_row"], row["glucose_mg_dl"], row["local_date"]) == (
        2, 95.0, date(2026, 3, 1))
    assert row["parse_error"] == "Time is missing: a glucose reading needs a time"


def test_biometrics_without_metric_column_is_refused_in_one_line(tmp_path: Path):
    path = tmp_path / "biometrics.csv"
    path.write_text("Day,Time,Unit,Amount\n2026-03-01,08:00,mg/dL,90\n")
    with pytest.raises(BadFileError) as caught:
        cronometer_biometrics.read(path, TIMEZONE)
    assert str(caught.value).startswith("biometrics.csv, row 1, column 'Metric': ")
