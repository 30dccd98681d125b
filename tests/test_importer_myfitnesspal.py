"""MyFitnessPal Nutrition-Summary CSV; expected values from
tests/fixtures/myfitnesspal/README.md (hand-computed)."""

from __future__ import annotations

from datetime import date, datetime
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

MFP = FIXTURES / "myfitnesspal"
WITH_TIME = MFP / "Nutrition-Summary-2026-03-01-to-2026-03-03.csv"
WITHOUT_TIME = MFP / "Nutrition-Summary-2026-03-04-to-2026-03-05.csv"
OTHER_DETECTORS = (cronometer_servings, dexcom_clarity, cronometer_dailysummary,
                   cronometer_biometrics, loseit)


def test_detects_its_own_fixtures_and_no_other():
    for path in (WITH_TIME, WITHOUT_TIME):
        assert myfitnesspal.detect(read_head(path)), path
        assert not any(module.detect(read_head(path)) for module in OTHER_DETECTORS), path
    for path in fixtures_outside(MFP):
        assert not myfitnesspal.detect(read_head(path)), path


def test_bom_time_note_and_user_named_meals():
    imported = myfitnesspal.read(WITH_TIME, TIMEZONE)
    frame = conform(imported)
    assert (imported.rows_read, imported.rows_skipped, frame.height) == (8, 0, 8)
    assert frame["source_row"].to_list() == list(range(2, 10))
    assert frame["meal"].to_list() == ["Breakfast", "Lunch", "Post-Workout", "Dinner",
                                       "Breakfast", "Lunch", "Dinner", "Snacks"]
    assert frame["food_name"][2] == "Post-Workout (MyFitnessPal meal total)"
    assert set(frame["entry_type"]) == {"meal_total"}
    for column in ("magnesium_mg", "amount", "unit", "grams", "category"):
        assert frame[column].null_count() == 8, column
    assert frame["local_ts"].to_list() == [
        datetime(2026, 3, 1, 8, 15), datetime(2026, 3, 1, 12, 30), datetime(2026, 3, 1, 17, 45),
        None, datetime(2026, 3, 2, 7, 50), datetime(2026, 3, 2, 13, 5),
        datetime(2026, 3, 2, 19, 0), None]
    assert "chicken, rice" in frame["raw_record"][1]


def test_per_day_totals_match_hand_sums():
    daily = (conform(myfitnesspal.read(WITH_TIME, TIMEZONE))
             .group_by("local_date")
             .agg(pl.col("energy_kcal").sum(), pl.col("carbohydrates_g").sum())
             .sort("local_date"))
    assert daily["local_date"].to_list() == [date(2026, 3, 1), date(2026, 3, 2),
                                             date(2026, 3, 3)]
    assert daily["energy_kcal"].to_list() == pytest.approx([2100.5, 920.0, 150.0], abs=1e-9)
    assert daily["carbohydrates_g"].to_list() == pytest.approx([250.2, 118.5, 20.0], abs=1e-9)


def test_bad_rows_are_flagged_not_dropped():
    frame = conform(myfitnesspal.read(WITH_TIME, TIMEZONE))
    flagged = frame.filter(pl.col("parse_error").is_not_null())
    assert flagged.select("source_row", "parse_error").rows() == [
        (8, "Calories 'abc' is not a number"),
        (9, "Time '25:10' is not a time of day"),
    ]
    lunch = frame.filter(pl.col("source_row") == 7).row(0, named=True)
    assert lunch["carbohydrates_g"] is None and lunch["parse_error"] is None  # blank = unknown


def test_quoted_variant_without_time_and_note():
    imported = myfitnesspal.read(WITHOUT_TIME, TIMEZONE)
    frame = conform(imported)
    assert (imported.rows_read, imported.rows_skipped, frame.height) == (3, 0, 3)
    assert frame["local_ts"].null_count() == 3
    assert frame["parse_error"].null_count() == 3
    assert frame["local_date"].to_list() == [date(2026, 3, 4), date(2026, 3, 4),
                                             date(2026, 3, 5)]
    assert frame["energy_kcal"].to_list() == [410.0, 690.0, 505.5]
    assert frame["carbohydrates_g"].to_list() == [52.0, 80.5, 61.25]


def test_user_notice_says_magnesium_is_unknown():
    assert myfitnesspal.USER_NOTICE == (
        "MyFitnessPal's export has no food names and no magnesium: magnesium for these days "
        "cannot be derived and is shown as unknown.")


def test_without_meal_column_is_refused_in_one_line(tmp_path: Path):
    path = tmp_path / "Nutrition-Summary.csv"
    path.write_text("Date,Calories,Carbohydrates (g)\n2026-03-01,400,50\n")
    with pytest.raises(BadFileError) as caught:
        myfitnesspal.read(path, TIMEZONE)
    assert str(caught.value).startswith("Nutrition-Summary.csv, row 1, column 'Meal': ")
