"""Cronometer `servings.csv`: one row per logged food, magnesium in `Magnesium (mg)`.

Quirks handled (formats.md): `Time` may be blank, `8:15 AM` or `20:05`, or the column may be
missing; `Group` may be missing or user-named; `Amount` holds number and unit in one cell;
a blank nutrient cell is unknown, never zero; dates may be unpadded or re-saved as M/D/YYYY.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from transforms.importers.base import (
    ImportedFile,
    amount_and_unit,
    header_fields,
    join_problems,
    mass_grams,
    optional_column,
    parse_local_date,
    parse_time_of_day,
    problem,
    raw_record,
    read_csv_text,
    require_columns,
    to_number,
)

FORMAT = "cronometer_servings"
KIND = "food"
REQUIRED = ("Day", "Food Name", "Amount")
# Sniffed without `Day`, so a damaged servings file is recognised and told what it lacks.
SIGNATURE = {"Food Name", "Amount", "Energy (kcal)"}


def detect(head: str) -> bool:
    return set(header_fields(head)) >= SIGNATURE


def read(path: Path, timezone: str) -> ImportedFile:
    frame = read_csv_text(path)
    require_columns(frame, path, REQUIRED)
    amount, unit = amount_and_unit(pl.col("Amount"))
    staged = frame.with_columns(
        parse_local_date(pl.col("Day")).alias("local_date"),
        parse_time_of_day(optional_column(frame, "Time")).alias("_time"),
        amount.alias("amount"),
        unit.alias("unit"),
        to_number(optional_column(frame, "Magnesium (mg)")).alias("magnesium_mg"),
        to_number(optional_column(frame, "Energy (kcal)")).alias("energy_kcal"),
        to_number(optional_column(frame, "Carbs (g)")).alias("carbohydrates_g"),
    )
    staged = staged.with_columns(
        pl.col("local_date").dt.combine(pl.col("_time")).alias("local_ts"),
        optional_column(frame, "Group").str.strip_chars().alias("meal"),
        pl.col("Food Name").str.strip_chars().alias("food_name"),
        mass_grams(pl.col("amount"), pl.col("unit")).alias("grams"),
        optional_column(frame, "Category").str.strip_chars().alias("category"),
        pl.lit("food").alias("entry_type"),
        join_problems(
            problem(pl.col("Day"), pl.col("local_date"), "Day", "a date"),
            problem(optional_column(frame, "Time"), pl.col("_time"), "Time", "a time of day"),
            problem(pl.col("Amount"), pl.col("amount"), "Amount", "a number and unit"),
            problem(optional_column(frame, "Magnesium (mg)"), pl.col("magnesium_mg"),
                    "Magnesium (mg)", "a number"),
            problem(optional_column(frame, "Energy (kcal)"), pl.col("energy_kcal"),
                    "Energy (kcal)", "a number"),
            problem(optional_column(frame, "Carbs (g)"), pl.col("carbohydrates_g"),
                    "Carbs (g)", "a number"),
        ),
        raw_record([c for c in frame.columns if c != "source_row"]),
    )
    return ImportedFile(format=FORMAT, kind=KIND, frame=staged, rows_read=frame.height,
                        rows_skipped=0)
