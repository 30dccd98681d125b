"""Lose It! `food-logs.csv`: one row per logged food, without magnesium.

Magnesium stays null (unknown) so enrichment can look it up by name + quantity + units.
Quirks handled (formats.md): `Date` is `MM/DD/YYYY` (ISO accepted too); rows the user
removed stay in the file with `Deleted` set (`true`/`TRUE`/`1`/`yes`) and are skipped, not
imported; `n/a` in a number cell means "not given" and becomes null without an error, while
other unparseable numbers are flagged; `Quantity` and `Units` are separate cells, and mass
units (`Grams`, `Ounces`) give grams directly while household units (`Cup`, `Each`) wait for
the portion table.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from transforms.importers.base import (
    ImportedFile,
    blank_to_null,
    header_fields,
    join_problems,
    mass_grams,
    optional_column,
    parse_local_date,
    problem,
    raw_record,
    read_csv_text,
    require_columns,
    to_number,
)

FORMAT = "loseit_food_logs"
KIND = "food"
REQUIRED = ("Date", "Name")
SIGNATURE = {"Date", "Name", "Meal", "Quantity", "Units", "Calories"}
DELETED = ("true", "1", "yes")
NOT_DELETED = ("false", "0", "no")
NUMBERS = {"Quantity": "amount", "Calories": "energy_kcal",
           "Carbohydrates (g)": "carbohydrates_g"}


def detect(head: str) -> bool:
    return set(header_fields(head)) >= SIGNATURE


def _without_na(text: pl.Expr) -> pl.Expr:
    """Text with `n/a` (Lose It!'s "not given") and blanks as null: unknown, not an error."""
    cell = blank_to_null(text)
    return pl.when(cell.str.to_lowercase() == "n/a").then(None).otherwise(cell)


def read(path: Path, timezone: str) -> ImportedFile:
    """Read the foods not marked deleted; `timezone` is unused because the file has no times."""
    frame = read_csv_text(path)
    require_columns(frame, path, REQUIRED)
    deleted = blank_to_null(optional_column(frame, "Deleted")).str.to_lowercase()
    kept = frame.filter(deleted.is_in(DELETED).fill_null(False).not_())
    staged = kept.with_columns(
        parse_local_date(pl.col("Date")).alias("local_date"),
        *(to_number(_without_na(optional_column(frame, column))).alias(name)
          for column, name in NUMBERS.items()),
        blank_to_null(optional_column(frame, "Units")).alias("unit"),
    ).with_columns(
        pl.lit(None, dtype=pl.Datetime("us")).alias("local_ts"),
        blank_to_null(optional_column(frame, "Meal")).alias("meal"),
        blank_to_null(pl.col("Name")).alias("food_name"),
        mass_grams(pl.col("amount"), pl.col("unit")).alias("grams"),
        pl.lit(None, dtype=pl.Float64).alias("magnesium_mg"),
        pl.lit(None, dtype=pl.String).alias("category"),
        pl.lit("food").alias("entry_type"),
        join_problems(
            problem(pl.col("Date"), pl.col("local_date"), "Date", "a date MM/DD/YYYY"),
            pl.when(deleted.is_not_null() & deleted.is_in(NOT_DELETED).not_())
              .then(pl.format("Deleted '{}' is not true or false",
                              blank_to_null(optional_column(frame, "Deleted")))),
            *(problem(_without_na(optional_column(frame, column)), pl.col(name), column,
                      "a number")
              for column, name in NUMBERS.items()),
        ),
        raw_record([c for c in frame.columns if c != "source_row"]),
    )
    return ImportedFile(format=FORMAT, kind=KIND, frame=staged, rows_read=frame.height,
                        rows_skipped=frame.height - kept.height)
