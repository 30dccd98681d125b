"""MacroFactor importer on hand-made CSV and XLSX exports; expected values from
tests/fixtures/macrofactor/README.md."""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import FIXTURES, TIMEZONE
from transforms.importers import conform, macrofactor
from transforms.importers.base import BadFileError, read_head

MACROFACTOR = FIXTURES / "macrofactor"
CSV = MACROFACTOR / "food_log.csv"
XLSX = MACROFACTOR / "food_log.xlsx"
# Every other format's fixture (exports, archives, reference tables): none may look like ours.
OTHERS = sorted(path for path in FIXTURES.glob("*/*")
                if path.parent.name != "macrofactor" and path.suffix not in {".md", ".py", ".toml"})


def staged(path: Path) -> pl.DataFrame:
    return conform(macrofactor.read(path, TIMEZONE))


def row(frame: pl.DataFrame, source_row: int) -> dict:
    return frame.filter(pl.col("source_row") == source_row).row(0, named=True)


def test_csv_reads_every_row_with_counts():
    imported = macrofactor.read(CSV, TIMEZONE)
    assert (imported.format, imported.kind) == ("macrofactor", "food")
    assert (imported.rows_read, imported.rows_skipped) == (9, 0)
    frame = conform(imported)
    assert frame["source_row"].to_list() == list(range(2, 11))
    assert set(frame["entry_type"]) == {"food"}
    assert frame["meal"].null_count() == 9


def test_csv_values_units_and_grams_as_written():
    frame = staged(CSV)
    oats = row(frame, 2)
    assert (oats["food_name"], oats["amount"], oats["unit"]) == ("Oats, rolled", 0.5, "cup")
    assert (oats["grams"], oats["magnesium_mg"]) == (40.0, 55.2)
    assert (oats["energy_kcal"], oats["carbohydrates_g"]) == (150.0, 27.0)
    assert oats["local_date"] == date(2026, 3, 1)
    assert frame["grams"].to_list() == [40.0, 244.0, 520.0, 28.0, 150.0, 118.0, None, 60.0,
                                        None]
    bowl = row(frame, 4)
    assert bowl["food_name"] == 'Chicken burrito bowl ("large")'
    assert bowl["magnesium_mg"] is None  # blank = unknown, never zero
    assert bowl["energy_kcal"] == 780.0
    supplement = row(frame, 8)
    assert (supplement["amount"], supplement["unit"], supplement["grams"]) == (2.0, "capsule",
                                                                               None)
    assert supplement["magnesium_mg"] == 200.0 and supplement["local_ts"] is None


def test_csv_times_twelve_and_twenty_four_hour():
    frame = staged(CSV)
    assert frame["local_ts"].null_count() == 1  # line 8
    assert row(frame, 2)["local_ts"] == datetime(2026, 3, 1, 8, 15)
    assert row(frame, 5)["local_ts"] == datetime(2026, 3, 1, 15, 5)
    assert row(frame, 6)["local_ts"] == datetime(2026, 3, 1, 19, 30)
    assert row(frame, 10)["local_ts"] == datetime(2026, 3, 2, 18, 0)
    assert frame["local_ts"].min() == datetime(2026, 3, 1, 8, 15)
    assert frame["local_ts"].max() == datetime(2026, 3, 2, 18, 0)


def test_csv_bad_row_is_flagged_with_its_column():
    frame = staged(CSV)
    errors = frame.filter(pl.col("parse_error").is_not_null())
    assert errors["source_row"].to_list() == [10]
    assert errors["parse_error"][0] == "Serving Weight (g) 'one cup' is not a number"
    assert errors["grams"][0] is None


def test_csv_daily_magnesium_matches_hand_sums():
    daily = (staged(CSV).filter(pl.col("parse_error").is_null())
             .group_by("local_date")
             .agg(pl.len().alias("entries"), pl.col("magnesium_mg").count().alias("known"),
                  pl.col("magnesium_mg").sum().alias("mg"))
             .sort("local_date"))
    assert daily["local_date"].to_list() == [date(2026, 3, 1), date(2026, 3, 2)]
    assert daily["entries"].to_list() == [5, 3]
    assert daily["known"].to_list() == [4, 3]
    assert daily["mg"].to_list() == pytest.approx([202.6, 279.26], abs=1e-9)


def test_xlsx_finds_the_food_log_sheet_after_the_summary():
    imported = macrofactor.read(XLSX, TIMEZONE)
    assert (imported.rows_read, imported.rows_skipped) == (5, 1)  # row 4 is empty
    frame = conform(imported)
    assert frame["source_row"].to_list() == [2, 3, 5, 6]
    assert frame["parse_error"].null_count() == 4
    assert frame["food_name"].to_list() == ["Greek yogurt, plain", "Quinoa, cooked",
                                            "Dark chocolate 70-85%", "Pumpkin seeds"]
    assert frame["local_ts"].to_list() == [datetime(2026, 3, 7, 8, 0),
                                           datetime(2026, 3, 7, 12, 30),
                                           datetime(2026, 3, 8, 19, 45), None]
    assert frame["local_date"].to_list() == [date(2026, 3, 7)] * 2 + [date(2026, 3, 8)] * 2
    assert frame["amount"].to_list() == [170.0, 1.0, 28.0, 1.0]
    assert frame["unit"].to_list() == ["g", "cup", "g", "oz"]
    assert frame["grams"].to_list() == [170.0, 185.0, 28.0, 28.35]  # weight cell, not 1 oz
    assert frame["magnesium_mg"].to_list() == [18.7, None, 63.84, 165.76]
    assert frame["energy_kcal"].to_list() == [100.0, 222.0, 170.0, 158.0]
    assert frame["carbohydrates_g"].to_list() == [6.1, 39.4, 13.0, 3.3]


def test_xlsx_summary_sheet_never_reaches_the_frame():
    text = macrofactor.read(XLSX, TIMEZONE).frame.write_csv()
    for summary_only in ("Trend Weight", "71.3", "71.2", "71.8", "70.9"):
        assert summary_only not in text


def test_alternative_column_names_map_to_the_same_fields(tmp_path: Path):
    lines = CSV.read_text(encoding="utf-8-sig").splitlines()
    header = (lines[0].replace("Food Name", "Name").replace("Serving Qty", "Servings")
              .replace("Serving Weight (g)", "Weight (g)").replace("Calories", "Energy")
              .replace("Magnesium (mg)", "\"Magnesium, Mg (mg)\""))
    renamed = tmp_path / "older.csv"
    renamed.write_text("\n".join([header, *lines[1:]]) + "\n", encoding="utf-8")
    older = staged(renamed)
    assert older.drop("raw_record", "parse_error").equals(
        staged(CSV).drop("raw_record", "parse_error"))
    assert older["parse_error"].drop_nulls().to_list() == ["Weight (g) 'one cup' is not a number"]


def test_detect_own_files_and_not_the_others():
    assert macrofactor.detect(read_head(CSV))
    assert macrofactor.detect_path(CSV) and macrofactor.detect_path(XLSX)
    for other in OTHERS:
        assert not macrofactor.detect(read_head(other)), other.name
        assert not macrofactor.detect_path(other), other.name


def test_detect_path_is_false_for_foreign_or_broken_zips(tmp_path: Path):
    foreign = tmp_path / "export.zip"
    with zipfile.ZipFile(foreign, "w") as archive:
        archive.writestr("servings.csv", CSV.read_text(encoding="utf-8-sig"))
    assert not macrofactor.detect_path(foreign)
    with pytest.raises(BadFileError) as caught:
        macrofactor.read(foreign, TIMEZONE)
    assert str(caught.value).startswith("export.zip: not a readable workbook")
    assert "\n" not in str(caught.value)


def test_workbook_without_a_food_log_is_refused_in_one_line(tmp_path: Path):
    pytest.importorskip("xlsxwriter")  # polars writes workbooks through it (test extra)
    summary_only = tmp_path / "summary.xlsx"
    pl.DataFrame({"Date": ["2026-03-07"], "Calories (kcal)": [322]}).write_excel(
        summary_only, worksheet="Quick Export")
    assert not macrofactor.detect_path(summary_only)
    with pytest.raises(BadFileError) as caught:
        macrofactor.read(summary_only, TIMEZONE)
    assert str(caught.value) == ("summary.xlsx: no food log sheet (a header with Date and "
                                 "Food Name); sheets: Quick Export")


def test_csv_without_food_name_is_refused_naming_the_column(tmp_path: Path):
    path = tmp_path / "no_name.csv"
    path.write_text("Date,Serving Qty,Serving Weight (g)\n2026-03-01,1,40\n")
    with pytest.raises(BadFileError) as caught:
        macrofactor.read(path, TIMEZONE)
    message = str(caught.value)
    assert message == ("no_name.csv, row 1, column 'Food Name': required column missing "
                       "(also accepted: Name; found: Date, Serving Qty, Serving Weight (g))")
