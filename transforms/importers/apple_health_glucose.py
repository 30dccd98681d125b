"""Apple Health export, glucose side: `HKQuantityTypeIdentifierBloodGlucose` records.

Quirks handled (formats.md, glucose-metrics.md): the export is one large XML (or
`export.zip`), streamed by `apple_health_xml`; the unit is `mg/dL` or
`mmol<180.1558800000541>/L` (× 18.0156); `startDate` carries its own offset, so `ts_utc` comes
from it directly and a repeated wall-clock hour at the end of DST stays two distinct instants;
`HKBloodGlucoseMealTime` metadata is ignored. Apple Health has no Low/High values, so
`out_of_range` is always null.

Choices (documented in tests/fixtures/apple_health/README.md):
- `kind` is "sensor" when the writing app or its device is a CGM (`CGM_PATTERN` matched in
  `sourceName` or in the record's `device` description, e.g. Dexcom, Libre, Eversense, xDrip,
  Loop) unless the record says it was entered by hand (`HKWasUserEntered` = 1); everything
  else (meters, manual entries in Health, Cronometer…) is "fingerstick".
- `device` is the `sourceName` (`apple_health_xml.source_label`: an iPhone's owner name and
  serial-looking words removed). The `device` attribute, a serialised HKDevice with names and
  versions, is only matched against `CGM_PATTERN` and never stored.
- `local_ts` is the wall clock as written in `startDate`, the same clock the food side of the
  export uses, so meals and readings of one export line up; `source_row` is the record's
  ordinal among the file's top-level records.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from transforms.importers.apple_health_xml import (
    detect_head,
    detect_zip,
    scan_records,
    source_label,
)
from transforms.importers.base import (
    MMOL_TO_MG_DL,
    ImportedFile,
    blank_to_null,
    join_problems,
    problem,
    raw_record,
)

FORMAT = "apple_health_glucose"
KIND = "glucose"
LINE_ROWS = False  # source_row is not a line number: no cut-off-row check
BLOOD_GLUCOSE = "HKQuantityTypeIdentifierBloodGlucose"
ATTRIBUTES = ("sourceName", "unit", "value", "startDate", "device")
METADATA = ("HKWasUserEntered",)
# Apps and devices that write continuous (sensor) glucose to Apple Health.
CGM_PATTERN = (r"(?i)\b(dexcom|stelo|libre\w*|lingo|eversense|guardian|simplera|xdrip|juggluco|"
               r"diabox|glucose ?direct|sugarmate|nightscout|loop|trio|iaps|cgm)")
RAW_COLUMNS = ("sourceName", "unit", "value", "startDate", "HKWasUserEntered")


def detect(head: str) -> bool:
    return detect_head(head)


def detect_path(path: Path) -> bool:
    """An Apple Health `export.zip`: read whole from the archive, never expanded."""
    return detect_zip(path)


def _to_mg_dl(unit: pl.Expr) -> pl.Expr:
    """mg/dL → 1; `mmol<180.1558800000541>/L` (or plain mmol/L) → 18.0156; else null."""
    text = unit.str.strip_chars()
    return (pl.when(text.str.to_lowercase() == "mg/dl").then(pl.lit(1.0))
            .when(text.str.contains(r"^mmol(<[0-9.]+>)?/L$")).then(pl.lit(MMOL_TO_MG_DL)))


def read(path: Path, timezone: str) -> ImportedFile:
    """Glucose readings of the export. `timezone` is not needed: each `startDate` carries its
    own offset, which gives `ts_utc`, and `local_ts` is its wall clock as written."""
    scan = scan_records(path, (BLOOD_GLUCOSE,), ATTRIBUTES, METADATA)
    frame = scan.frame
    number = blank_to_null(pl.col("value")).cast(pl.Float64, strict=False)
    cgm = pl.concat_str(pl.col("sourceName"), pl.col("device"), separator=" ",
                        ignore_nulls=True).str.contains(CGM_PATTERN)
    by_hand = pl.col("HKWasUserEntered").str.strip_chars() == "1"
    staged = frame.with_columns(
        pl.col("record").alias("source_row"),
        pl.col("startDate").str.strip_chars()
          .str.to_datetime("%Y-%m-%d %H:%M:%S %z", strict=False).alias("ts_utc"),
        pl.col("startDate").str.strip_chars().str.slice(0, 19)
          .str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False).alias("local_ts"),
        (number * _to_mg_dl(pl.col("unit"))).alias("glucose_mg_dl"),
        pl.lit(None, dtype=pl.String).alias("out_of_range"),
        pl.when(cgm & by_hand.fill_null(False).not_()).then(pl.lit("sensor"))
          .otherwise(pl.lit("fingerstick")).alias("kind"),
        source_label(pl.col("sourceName")).alias("sourceName"),
    ).drop("device").with_columns(
        pl.col("sourceName").alias("device"),
        pl.col("local_ts").dt.date().alias("local_date"),
    )
    staged = staged.with_columns(
        join_problems(
            problem(pl.col("startDate"), pl.col("ts_utc"), "startDate",
                    "a date-time with offset like 2024-03-02 08:14:00 -0800"),
            problem(pl.col("value"), number, "value", "a number"),
            pl.when(pl.col("unit").is_null() | _to_mg_dl(pl.col("unit")).is_null())
              .then(pl.format("unit '{}' is not mg/dL or mmol/L",
                              pl.col("unit").fill_null(""))),
        ),
        raw_record(RAW_COLUMNS),
    )
    return ImportedFile(format=FORMAT, kind=KIND, frame=staged, rows_read=scan.records_read,
                        rows_skipped=scan.records_read - frame.height)
