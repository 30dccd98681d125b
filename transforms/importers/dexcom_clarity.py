"""Dexcom Clarity CSV export: EGV readings (sensor) and calibrations (fingerstick).

Quirks handled (formats.md): the first rows carry no timestamp and hold personal data
(`FirstName`, `LastName`, `DateOfBirth`) — the `Patient Info` and `Transmitter ID` columns are
never read into a frame; `Alert` rows hold thresholds, not readings; values are numbers or
`Low` / `High`; mg/dL or mmol/L by header; 12- or 14-column layouts; quoted or not; BOM.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from transforms.importers.base import (
    MMOL_TO_MG_DL,
    BadFileError,
    ImportedFile,
    blank_to_null,
    find_column,
    header_fields,
    join_problems,
    localise,
    nonexistent_time_problem,
    problem,
    raw_record,
    read_csv_text,
    to_number,
)

FORMAT = "dexcom_clarity"
KIND = "glucose"
PERSONAL_COLUMNS = ("Patient Info", "Transmitter ID")
READING_KINDS = {"EGV": "sensor", "Calibration": "fingerstick"}
# A receiver's Source Device ID is its serial number; it is replaced, never stored.
SERIAL_PATTERN = r"^[A-Z]{0,3}[0-9][A-Z0-9]{5,}$"


def detect(head: str) -> bool:
    fields = header_fields(head)
    return ("Event Type" in fields and find_column(fields, "Timestamp (") is not None
            and find_column(fields, "Glucose Value (") is not None)


def read(path: Path, timezone: str) -> ImportedFile:
    frame = read_csv_text(path).drop(PERSONAL_COLUMNS, strict=False)
    timestamp = find_column(frame.columns, "Timestamp")
    value = find_column(frame.columns, "Glucose Value (")
    if timestamp is None or value is None or "Event Type" not in frame.columns:
        missing = "Timestamp" if timestamp is None else "Glucose Value" if value is None \
            else "Event Type"
        raise BadFileError(path, "required column missing", row=1, column=missing)
    to_mg_dl = MMOL_TO_MG_DL if "mmol" in value else 1.0

    if "Source Device ID" in frame.columns:  # mask serials before anything else sees them
        device = blank_to_null(pl.col("Source Device ID"))
        frame = frame.with_columns(
            pl.when(device.str.contains(SERIAL_PATTERN)).then(pl.lit("Dexcom receiver"))
              .otherwise(device).alias("Source Device ID"))
    readings = frame.filter(pl.col("Event Type").str.strip_chars().is_in(list(READING_KINDS)))
    text_value = blank_to_null(pl.col(value)).str.to_lowercase()
    device = pl.col("Source Device ID") if "Source Device ID" in frame.columns \
        else pl.lit(None, dtype=pl.String)
    staged = readings.with_columns(
        pl.col(timestamp).str.strip_chars().str.to_datetime(
            "%Y-%m-%dT%H:%M:%S", strict=False).alias("local_ts"),
        (to_number(pl.col(value)) * to_mg_dl).alias("glucose_mg_dl"),
        pl.when(text_value == "low").then(pl.lit("below_range"))
          .when(text_value == "high").then(pl.lit("above_range")).alias("out_of_range"),
        pl.col("Event Type").str.strip_chars().replace_strict(READING_KINDS).alias("kind"),
        device.fill_null("Dexcom").alias("device"),
    ).with_columns(
        localise(pl.col("local_ts"), timezone).alias("ts_utc"),
        pl.col("local_ts").dt.date().alias("local_date"),
    )
    staged = staged.with_columns(
        join_problems(
            problem(pl.col(timestamp), pl.col("local_ts"), "Timestamp",
                    "a timestamp YYYY-MM-DDThh:mm:ss"),
            nonexistent_time_problem(pl.col("local_ts"), pl.col("ts_utc"), timezone),
            pl.when(pl.col("glucose_mg_dl").is_null() & pl.col("out_of_range").is_null())
              .then(pl.format("{} '{}' is not a number, Low or High", pl.lit(value),
                              pl.col(value))),
        ),
        raw_record([c for c in frame.columns if c != "source_row"]),
    )
    return ImportedFile(format=FORMAT, kind=KIND, frame=staged, rows_read=frame.height,
                        rows_skipped=frame.height - readings.height)
