"""Cronometer `biometrics.csv`: blood glucose entered by hand, one metric per row.

Quirks handled (formats.md): the file is tidy (`Day,Time,Metric,Unit,Amount`) and mixes every
metric the user tracks — only `Blood Glucose` rows are readings, the others (weight, blood
pressure, body fat…) are counted as skipped; the unit is per row (`mg/dL` or `mmol/L`), so each
row is converted on its own; the shape varies (`Date` instead of `Day`, an extra `Group`, no
`Time` column at all). A glucose reading without a time cannot be placed on the glucose
curve, and guessing noon would invent meal responses, so such a row keeps its day but gets a
parse_error and is quarantined.

The date/time helpers here are shared with the other food-log importers (dailysummary,
MyFitnessPal, Lose It!) because `base.py` has none; they belong in `base.py` eventually.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from transforms.importers.base import (
    MMOL_TO_MG_DL,
    BadFileError,
    ImportedFile,
    blank_to_null,
    header_fields,
    join_problems,
    localise,
    nonexistent_time_problem,
    optional_column,
    parse_local_date,
    parse_time_of_day,
    problem,
    raw_record,
    read_csv_text,
    require_columns,
    to_number,
)

FORMAT = "cronometer_biometrics"
KIND = "glucose"
DEVICE = "Cronometer"
GLUCOSE_METRIC = "blood glucose"
TO_MG_DL = {"mg/dl": 1.0, "mmol/l": MMOL_TO_MG_DL}
DAY_COLUMNS = ("Day", "Date")  # newer exports write `Day`; some tools and re-saves `Date`
REQUIRED = ("Metric", "Unit", "Amount")
MISSING_TIME = "Time is missing: a glucose reading needs a time"


def detect(head: str) -> bool:
    fields = set(header_fields(head))
    return fields >= set(REQUIRED) and not fields.isdisjoint(DAY_COLUMNS)


def read(path: Path, timezone: str) -> ImportedFile:
    frame = read_csv_text(path)
    day_column = next((c for c in DAY_COLUMNS if c in frame.columns), None)
    if day_column is None:
        raise BadFileError(path, "required column missing", row=1, column="Day")
    require_columns(frame, path, REQUIRED)
    time = optional_column(frame, "Time")
    readings = frame.filter(
        pl.col("Metric").str.strip_chars().str.to_lowercase() == GLUCOSE_METRIC)
    unit = blank_to_null(pl.col("Unit")).str.to_lowercase()
    staged = readings.with_columns(
        parse_local_date(pl.col(day_column)).alias("local_date"),
        parse_time_of_day(time).alias("_time"),
        to_number(pl.col("Amount")).alias("_amount"),
        unit.replace_strict(TO_MG_DL, default=None, return_dtype=pl.Float64).alias("_to_mg_dl"),
    ).with_columns(
        pl.col("local_date").dt.combine(pl.col("_time")).alias("local_ts"),
        (pl.col("_amount") * pl.col("_to_mg_dl")).alias("glucose_mg_dl"),
        pl.lit(None, dtype=pl.String).alias("out_of_range"),  # hand-entered: always a number
        pl.lit("fingerstick").alias("kind"),
        pl.lit(DEVICE).alias("device"),
    ).with_columns(localise(pl.col("local_ts"), timezone).alias("ts_utc"))
    staged = staged.with_columns(
        join_problems(
            problem(pl.col(day_column), pl.col("local_date"), day_column, "a date"),
            pl.when(blank_to_null(time).is_null()).then(pl.lit(MISSING_TIME)),
            problem(time, pl.col("_time"), "Time", "a time of day"),
            nonexistent_time_problem(pl.col("local_ts"), pl.col("ts_utc"), timezone),
            pl.when(pl.col("_to_mg_dl").is_null())
              .then(pl.format("Unit '{}' is not mg/dL or mmol/L",
                              pl.col("Unit").fill_null(""))),
            pl.when(blank_to_null(pl.col("Amount")).is_null())
              .then(pl.lit("Amount is missing: a glucose reading needs a value")),
            problem(pl.col("Amount"), pl.col("_amount"), "Amount", "a number"),
        ),
        raw_record([c for c in frame.columns if c != "source_row"]),
    )
    return ImportedFile(format=FORMAT, kind=KIND, frame=staged, rows_read=frame.height,
                        rows_skipped=frame.height - readings.height)
