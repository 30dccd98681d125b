"""MyFitnessPal `Nutrition-Summary-*.csv`: one row per meal, no food names, no magnesium.

The export gives meal totals only, so each row becomes a `meal_total` entry with magnesium
unknown (null): nothing can be enriched from a meal name, and the user is told so
(`USER_NOTICE`) instead of being shown invented values. Quirks handled (formats.md): `Time`
and `Note` columns are optional (a `Time` gives the meal its local_ts); a UTF-8 BOM occurs;
meals can be user-named (`Post-Workout`) and are kept as written; a blank cell is unknown.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from transforms.importers.base import (
    ImportedFile,
    blank_to_null,
    header_fields,
    join_problems,
    optional_column,
    parse_local_date,
    parse_time_of_day,
    problem,
    raw_record,
    read_csv_text,
    require_columns,
    to_number,
)

FORMAT = "myfitnesspal_nutrition"
KIND = "food"
USER_NOTICE = ("MyFitnessPal's export has no food names and no magnesium: magnesium for "
               "these days cannot be derived and is shown as unknown.")
REQUIRED = ("Date", "Meal")
SIGNATURE = {"Date", "Meal", "Calories", "Carbohydrates (g)"}
FOOD_LEVEL_COLUMNS = {"Food Name", "Name"}  # Cronometer / Lose It! logs one row per food
NUTRIENTS = {"Calories": "energy_kcal", "Carbohydrates (g)": "carbohydrates_g"}


def detect(head: str) -> bool:
    fields = set(header_fields(head))
    return fields >= SIGNATURE and fields.isdisjoint(FOOD_LEVEL_COLUMNS)


def read(path: Path, timezone: str) -> ImportedFile:
    """Read one entry per meal; local_ts stays wall-clock, so `timezone` is not needed."""
    frame = read_csv_text(path)
    require_columns(frame, path, REQUIRED)
    time = optional_column(frame, "Time")
    meal = blank_to_null(pl.col("Meal"))
    staged = frame.with_columns(
        parse_local_date(pl.col("Date")).alias("local_date"),
        parse_time_of_day(time).alias("_time"),
        *(to_number(optional_column(frame, column)).alias(name)
          for column, name in NUTRIENTS.items()),
    ).with_columns(
        pl.col("local_date").dt.combine(pl.col("_time")).alias("local_ts"),
        meal.alias("meal"),
        # A blank meal leaves food_name null, so the not-null rule quarantines the row.
        pl.format("{} (MyFitnessPal meal total)", meal).alias("food_name"),
        pl.lit(None, dtype=pl.Float64).alias("amount"),
        pl.lit(None, dtype=pl.String).alias("unit"),
        pl.lit(None, dtype=pl.Float64).alias("grams"),
        pl.lit(None, dtype=pl.Float64).alias("magnesium_mg"),
        pl.lit(None, dtype=pl.String).alias("category"),
        pl.lit("meal_total").alias("entry_type"),
        join_problems(
            problem(pl.col("Date"), pl.col("local_date"), "Date", "a date"),
            problem(time, pl.col("_time"), "Time", "a time of day"),
            *(problem(optional_column(frame, column), pl.col(name), column, "a number")
              for column, name in NUTRIENTS.items()),
        ),
        raw_record([c for c in frame.columns if c != "source_row"]),
    )
    return ImportedFile(format=FORMAT, kind=KIND, frame=staged, rows_read=frame.height,
                        rows_skipped=0)
