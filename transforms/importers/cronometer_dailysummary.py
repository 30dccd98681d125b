"""Cronometer `dailysummary.csv`: one row per day with the day's nutrient totals.

Users who export only the daily summary still give us the day's magnesium, so each day
becomes one `daily_total` entry (never matched by name: it has no food). Quirks handled
(formats.md): `Date` first, then the same ~80 nutrient columns as `servings.csv` in a
version-dependent set and order (mapped by name); a blank nutrient cell is unknown, never
zero; dates may be unpadded or re-saved as M/D/YYYY; a trailing `Completed` flag is kept only
in raw_record. Sniffing requires the absence of `Food Name`, so `servings.csv` (same nutrient
columns) is never taken for a summary.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from transforms.importers.base import (
    ImportedFile,
    header_fields,
    join_problems,
    optional_column,
    parse_local_date,
    problem,
    raw_record,
    read_csv_text,
    require_columns,
    to_number,
)

FORMAT = "cronometer_dailysummary"
KIND = "food"
FOOD_NAME = "Cronometer daily total"
REQUIRED = ("Date",)
SIGNATURE = {"Date", "Energy (kcal)", "Magnesium (mg)"}
NUTRIENTS = {"Magnesium (mg)": "magnesium_mg", "Energy (kcal)": "energy_kcal",
             "Carbs (g)": "carbohydrates_g"}


def detect(head: str) -> bool:
    fields = set(header_fields(head))
    return fields >= SIGNATURE and "Food Name" not in fields


def read(path: Path, timezone: str) -> ImportedFile:
    """Read one entry per day; `timezone` is unused because the file holds no times."""
    frame = read_csv_text(path)
    require_columns(frame, path, REQUIRED)
    staged = frame.with_columns(
        parse_local_date(pl.col("Date")).alias("local_date"),
        *(to_number(optional_column(frame, column)).alias(name)
          for column, name in NUTRIENTS.items()),
    ).with_columns(
        pl.lit(None, dtype=pl.Datetime("us")).alias("local_ts"),
        pl.lit(None, dtype=pl.String).alias("meal"),
        pl.lit(FOOD_NAME).alias("food_name"),
        pl.lit(None, dtype=pl.Float64).alias("amount"),
        pl.lit(None, dtype=pl.String).alias("unit"),
        pl.lit(None, dtype=pl.Float64).alias("grams"),
        pl.lit(None, dtype=pl.String).alias("category"),
        pl.lit("daily_total").alias("entry_type"),
        join_problems(
            problem(pl.col("Date"), pl.col("local_date"), "Date", "a date"),
            *(problem(optional_column(frame, column), pl.col(name), column, "a number")
              for column, name in NUTRIENTS.items()),
        ),
        raw_record([c for c in frame.columns if c != "source_row"]),
    )
    return ImportedFile(format=FORMAT, kind=KIND, frame=staged, rows_read=frame.height,
                        rows_skipped=0)
