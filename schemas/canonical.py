"""Canonical tables: the one place where columns, types and row rules are declared.

Importers return frames in the *staged* shape (`FOOD_ENTRY`, `GLUCOSE_READING`); the
warehouse stores them with the batch and enrichment columns added (`STORED_*`); marts are
checked against their own specs (`DAILY_SUMMARY`). Units and time zones are in the names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class Column:
    """One column: its types in polars and DuckDB, and the row rules it must satisfy."""

    name: str
    polars_type: pl.DataType
    duckdb_type: str
    description: str
    nullable: bool = True
    min_value: float | None = None
    max_value: float | None = None
    allowed: tuple[str, ...] | None = None
    non_empty: bool = False
    # The column may be null only where this other column is not null (e.g. a glucose value
    # may be missing only when the sensor said Low/High).
    required_unless: str | None = None
    must_be_null: bool = False


@dataclass(frozen=True)
class TableSpec:
    name: str
    description: str
    columns: tuple[Column, ...]
    unique_key: tuple[str, ...] = field(default=())

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def polars_schema(self) -> pl.Schema:
        return pl.Schema({c.name: c.polars_type for c in self.columns})


UTC_TS = pl.Datetime("us", "UTC")
LOCAL_TS = pl.Datetime("us")

SOURCE_ROW = Column(
    "source_row", pl.Int64(), "BIGINT", "line number in the source file (header = 1)",
    nullable=False, min_value=1,
)
PARSE_ERROR = Column(
    "parse_error", pl.String(), "VARCHAR",
    "cells the importer could not parse, in words; a row with any is quarantined",
    must_be_null=True,
)
RAW_RECORD = Column(
    "raw_record", pl.String(), "VARCHAR",
    "the row's fields as read (JSON), personal columns never included", nullable=False,
)

FOOD_ENTRY = TableSpec(
    name="staged_food_entries",
    description="One logged food or supplement, as an importer returns it.",
    columns=(
        SOURCE_ROW,
        Column("local_date", pl.Date(), "DATE", "day as logged, local wall-clock", nullable=False),
        Column("local_ts", LOCAL_TS, "TIMESTAMP", "local wall-clock time; null when not logged"),
        Column("meal", pl.String(), "VARCHAR", "meal or group as written (Breakfast, Snacks…)"),
        Column("food_name", pl.String(), "VARCHAR", "food name as written",
               nullable=False, non_empty=True),
        Column("amount", pl.Float64(), "DOUBLE", "amount as written", min_value=0),
        Column("unit", pl.String(), "VARCHAR", "unit as written (cup, g, large…)"),
        Column("grams", pl.Float64(), "DOUBLE", "portion weight in grams when known",
               min_value=0, max_value=10_000),
        Column("magnesium_mg", pl.Float64(), "DOUBLE",
               "magnesium in the export; null = unknown, never zero", min_value=0,
               max_value=5_000),
        Column("energy_kcal", pl.Float64(), "DOUBLE", "energy in the export", min_value=0,
               max_value=20_000),
        Column("carbohydrates_g", pl.Float64(), "DOUBLE", "carbohydrates in the export",
               min_value=0, max_value=2_000),
        Column("category", pl.String(), "VARCHAR", "food category in the export"),
        PARSE_ERROR,
        RAW_RECORD,
    ),
)

GLUCOSE_KINDS = ("sensor", "scan", "fingerstick")
OUT_OF_RANGE_FLAGS = ("below_range", "above_range")

GLUCOSE_READING = TableSpec(
    name="staged_glucose_readings",
    description="One glucose reading, as an importer returns it.",
    columns=(
        SOURCE_ROW,
        Column("device", pl.String(), "VARCHAR", "device or app that recorded it (no serials)",
               nullable=False),
        Column("ts_utc", UTC_TS, "TIMESTAMPTZ", "instant of the reading, UTC", nullable=False),
        Column("local_ts", LOCAL_TS, "TIMESTAMP", "local wall-clock time as written",
               nullable=False),
        Column("local_date", pl.Date(), "DATE", "local day of the reading", nullable=False),
        Column("glucose_mg_dl", pl.Float64(), "DOUBLE",
               "glucose in mg/dL; null only for Low/High sensor values",
               min_value=10, max_value=1_000, required_unless="out_of_range"),
        Column("out_of_range", pl.String(), "VARCHAR",
               "below_range / above_range when the device reported Low / High",
               allowed=OUT_OF_RANGE_FLAGS),
        Column("kind", pl.String(), "VARCHAR", "sensor, scan or fingerstick",
               nullable=False, allowed=GLUCOSE_KINDS),
        PARSE_ERROR,
        RAW_RECORD,
    ),
)

STAGED = {"food": FOOD_ENTRY, "glucose": GLUCOSE_READING}

# Columns the warehouse adds to every stored row.
BATCH_COLUMNS = (
    Column("entry_id", pl.String(), "VARCHAR",
           "stable id: hash of the natural key", nullable=False),
    Column("subject_id", pl.String(), "VARCHAR", "whose data (one user = one subject)",
           nullable=False),
    Column("source", pl.String(), "VARCHAR", "export format the row came from", nullable=False),
    Column("batch_id", pl.Int64(), "BIGINT", "import batch that stored the row", nullable=False),
)
ENRICHMENT_COLUMNS = (
    Column("magnesium_source", pl.String(), "VARCHAR",
           "export / custom / supplement / usda / unknown", nullable=False,
           allowed=("export", "custom", "supplement", "usda", "unknown")),
    Column("match_food_id", pl.String(), "VARCHAR", "reference food the value came from"),
    Column("match_confidence", pl.Float64(), "DOUBLE", "0–1 confidence of the match",
           min_value=0, max_value=1),
)


def _stored(spec: TableSpec, name: str, extra: tuple[Column, ...],
            key: tuple[str, ...]) -> TableSpec:
    own = tuple(c for c in spec.columns if c not in (PARSE_ERROR, RAW_RECORD))
    return TableSpec(name=name, description=spec.description, columns=BATCH_COLUMNS + own + extra,
                     unique_key=key)


STORED_FOOD_ENTRY = _stored(FOOD_ENTRY, "core_food_entries", ENRICHMENT_COLUMNS, ("entry_id",))
STORED_GLUCOSE_READING = _stored(GLUCOSE_READING, "core_glucose_readings", (), ("entry_id",))

# The natural keys that recognise a row already stored, whatever file it came in.
# `occurrence` numbers identical rows within one file, so a food really eaten twice stays twice.
FOOD_NATURAL_KEY = ("subject_id", "source", "local_date", "local_ts", "meal", "food_name",
                    "amount", "unit", "occurrence")
GLUCOSE_NATURAL_KEY = ("subject_id", "source", "device", "ts_utc", "kind")

DAILY_SUMMARY = TableSpec(
    name="daily_summary",
    description="One row per subject and local day with food or glucose data.",
    columns=(
        Column("subject_id", pl.String(), "VARCHAR", "whose data", nullable=False),
        Column("local_date", pl.Date(), "DATE", "local day", nullable=False),
        Column("food_entries", pl.Int64(), "BIGINT", "food entries that day", nullable=False,
               min_value=0),
        Column("entries_with_magnesium", pl.Int64(), "BIGINT",
               "entries with a known magnesium value", nullable=False, min_value=0),
        Column("entries_without_magnesium", pl.Int64(), "BIGINT",
               "entries whose magnesium is unknown", nullable=False, min_value=0),
        Column("magnesium_known_mg", pl.Float64(), "DOUBLE",
               "sum of known magnesium (a lower bound); null without food entries",
               min_value=0, max_value=20_000),
        Column("glucose_readings", pl.Int64(), "BIGINT",
               "sensor readings that day, Low/High included", nullable=False, min_value=0),
        Column("glucose_mean_mg_dl", pl.Float64(), "DOUBLE",
               "mean of numeric sensor readings (Low/High excluded)", min_value=10,
               max_value=1_000),
        Column("glucose_in_range_share", pl.Float64(), "DOUBLE",
               "share of sensor readings 70–180 mg/dL inclusive (Low/High count as out)",
               min_value=0, max_value=1),
    ),
    unique_key=("subject_id", "local_date"),
)

IMPORT_BATCHES = TableSpec(
    name="core_import_batches",
    description="One row per file whose import was attempted.",
    columns=(
        Column("batch_id", pl.Int64(), "BIGINT", "batch number", nullable=False),
        Column("file_name", pl.String(), "VARCHAR", "file name as given (no folder)",
               nullable=False),
        Column("sha256", pl.String(), "VARCHAR", "content hash of the file", nullable=False),
        Column("format", pl.String(), "VARCHAR", "detected export format"),
        Column("rows_read", pl.Int64(), "BIGINT", "data rows read", min_value=0),
        Column("rows_stored", pl.Int64(), "BIGINT", "rows newly stored", min_value=0),
        Column("rows_duplicate", pl.Int64(), "BIGINT", "rows already stored before",
               min_value=0),
        Column("rows_quarantined", pl.Int64(), "BIGINT", "rows failing a row rule",
               min_value=0),
        Column("rows_skipped", pl.Int64(), "BIGINT",
               "rows that are not entries (metadata, alerts, events)", min_value=0),
        Column("started_at", UTC_TS, "TIMESTAMPTZ", "import start", nullable=False),
        Column("finished_at", UTC_TS, "TIMESTAMPTZ", "import end"),
        Column("status", pl.String(), "VARCHAR", "stored or failed", nullable=False,
               allowed=("stored", "failed")),
        Column("message", pl.String(), "VARCHAR", "why it failed"),
    ),
    unique_key=("batch_id",),
)

QUARANTINED_ROWS = TableSpec(
    name="quarantined_rows",
    description="Rows that failed a row rule, kept with the rule and the reason.",
    columns=(
        Column("batch_id", pl.Int64(), "BIGINT", "import batch", nullable=False),
        Column("file_name", pl.String(), "VARCHAR", "source file", nullable=False),
        Column("source_row", pl.Int64(), "BIGINT", "line number in the file", nullable=False),
        Column("kind", pl.String(), "VARCHAR", "food or glucose", nullable=False),
        Column("rule", pl.String(), "VARCHAR", "expectation(s) failed", nullable=False),
        Column("reason", pl.String(), "VARCHAR", "what was wrong, in words", nullable=False),
        Column("raw_record", pl.String(), "VARCHAR", "the row as read (JSON)", nullable=False),
    ),
)

VALIDATION_RUNS = TableSpec(
    name="validation_runs",
    description="Every Great Expectations validation run, per stage.",
    columns=(
        Column("run_at", UTC_TS, "TIMESTAMPTZ", "when it ran", nullable=False),
        Column("stage", pl.String(), "VARCHAR", "staged rows or mart", nullable=False),
        Column("suite", pl.String(), "VARCHAR", "expectation suite name", nullable=False),
        Column("batch_id", pl.Int64(), "BIGINT", "import batch, for staged rows"),
        Column("success", pl.Boolean(), "BOOLEAN", "all expectations met", nullable=False),
        Column("expectations", pl.Int64(), "BIGINT", "expectations evaluated", nullable=False),
        Column("failed", pl.Int64(), "BIGINT", "expectations not met", nullable=False),
        Column("rows_checked", pl.Int64(), "BIGINT", "rows validated", nullable=False),
        Column("rows_failed", pl.Int64(), "BIGINT", "rows breaking a row rule", nullable=False),
        Column("details", pl.String(), "VARCHAR", "failed expectations (JSON)"),
    ),
)

WAREHOUSE_TABLES = (STORED_FOOD_ENTRY, STORED_GLUCOSE_READING, IMPORT_BATCHES, QUARANTINED_ROWS,
                    VALIDATION_RUNS)

MART_TABLES = (DAILY_SUMMARY,)
