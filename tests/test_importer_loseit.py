"""Lose It! food-logs.csv; expected values from tests/fixtures/loseit/README.md
(hand-computed)."""

from __future__ import annotations

from datetime import date
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

LOSEIT = FIXTURES / "loseit"
FOOD_LOGS = LOSEIT / "food-logs.csv"
OTHER_DETECTORS = (cronometer_servings, dexcom_clarity, cronometer_dailysummary,
                   cronometer_biometrics, myfitnesspal)
OUNCE_G = 28.349523125


def test_detects_its_own_fixture_and_no_other():
    assert loseit.detect(read_head(FOOD_LOGS))
    assert not any(module.detect(read_head(FOOD_LOGS)) for module in OTHER_DETECTORS)
    for path in fixtures_outside(LOSEIT):
        assert not loseit.detect(read_head(path)), path


def test_deleted_rows_are_skipped():
    imported = loseit.read(FOOD_LOGS, TIMEZONE)
    frame = conform(imported)
    assert (imported.rows_read, imported.rows_skipped, frame.height) == (13, 4, 9)
    assert frame["source_row"].to_list() == [2, 3, 4, 6, 7, 9, 11, 13, 14]
    text = frame.write_csv()
    for deleted in ("Pepperoni Pizza", "Dark Chocolate", "Coffee", "Apple"):
        assert deleted not in text


def test_units_amounts_grams_and_no_magnesium():
    frame = conform(loseit.read(FOOD_LOGS, TIMEZONE))
    assert frame["unit"].to_list() == ["Cup", "Each", "Ounces", "Cup", "Grams", "Cup", "Cup",
                                       "Tablespoon", "Ounces"]
    assert frame["amount"].to_list() == [1.0, 1.0, 1.0, 2.0, 150.0, 0.75, 1.5, 2.0, 6.0]
    grams = frame["grams"].to_list()
    assert grams == pytest.approx([None, None, OUNCE_G, None, 150.0, None, None, None,
                                   6 * OUNCE_G], abs=1e-9)
    assert frame["magnesium_mg"].null_count() == 9 and frame["local_ts"].null_count() == 9
    assert set(frame["entry_type"]) == {"food"}
    assert frame["food_name"][0] == "Oatmeal, Cooked"
    assert frame["meal"].to_list()[:3] == ["Breakfast", "Breakfast", "Snacks"]


def test_us_dates_and_per_day_totals():
    daily = (conform(loseit.read(FOOD_LOGS, TIMEZONE))
             .group_by("local_date")
             .agg(pl.len().alias("entries"), pl.col("energy_kcal").count().alias("known"),
                  pl.col("energy_kcal").sum(), pl.col("carbohydrates_g").sum())
             .sort("local_date"))
    assert daily["local_date"].to_list() == [date(2026, 3, d) for d in (7, 8, 9, 10)]
    assert daily["entries"].to_list() == [3, 2, 2, 2]
    assert daily["known"].to_list() == [3, 1, 1, 2]
    assert daily["energy_kcal"].to_list() == pytest.approx([435.0, 309.0, 100.0, 470.0])
    assert daily["carbohydrates_g"].to_list() == pytest.approx([61.2, 0.0, 73.6, 7.0],
                                                               abs=1e-9)


def test_n_a_is_unknown_and_bad_numbers_are_flagged():
    frame = conform(loseit.read(FOOD_LOGS, TIMEZONE))
    salad = frame.filter(pl.col("source_row") == 6).row(0, named=True)
    assert (salad["energy_kcal"], salad["carbohydrates_g"], salad["parse_error"]) == (
        None, None, None)
    flagged = frame.filter(pl.col("parse_error").is_not_null())
    assert flagged.select("source_row", "parse_error").rows() == [
        (11, "Calories '3O0' is not a number")]


def test_unknown_deleted_value_is_flagged(tmp_path: Path):
    lines = FOOD_LOGS.read_text().splitlines()
    path = tmp_path / "food-logs.csv"
    path.write_text("\n".join([lines[0], lines[1].replace(",false,", ",maybe,")]) + "\n")
    frame = conform(loseit.read(path, TIMEZONE))
    assert frame["parse_error"].to_list() == ["Deleted 'maybe' is not true or false"]


def test_without_name_column_is_refused_in_one_line(tmp_path: Path):
    path = tmp_path / "food-logs.csv"
    path.write_text("Date,Meal,Quantity,Units,Calories\n03/07/2026,Lunch,1,Cup,100\n")
    with pytest.raises(BadFileError) as caught:
        loseit.read(path, TIMEZONE)
    assert str(caught.value).startswith("food-logs.csv, row 1, column 'Name': ")
    assert "\n" not in str(caught.value)
