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
    # False for bookkeeping columns built by the code itself (not data to check): they stay
    # out of the GX suites, which keeps validation of large files fast.
    validated: bool = True


@dataclass(frozen=True)
class TableSpec:
    name: str
    description: str
    columns: tuple[Column, ...]
    unique_key: tuple[str, ...] = field(default=())

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def validated_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.validated)

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
    validated=False,
)

ENTRY_TYPES = ("food", "meal_total", "daily_total")

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
        Column("entry_type", pl.String(), "VARCHAR",
               "food (one logged food), meal_total or daily_total (exports without food "
               "names: magnesium only if the export gives it)", nullable=False,
               allowed=ENTRY_TYPES),
        PARSE_ERROR,
        RAW_RECORD,
    ),
)

GLUCOSE_KINDS = ("sensor", "scan", "fingerstick")
# When two sources hold the same reading, the earlier one here is kept (configurable as
# `source_priority`): device makers' own exports first, then relays, then aggregators.
GLUCOSE_SOURCE_PRIORITY = ("dexcom_clarity", "libreview", "medtronic_carelink",
                           "nightscout_entries", "nightscout_csv", "xdrip_sidiary",
                           "apple_health_glucose", "cronometer_biometrics", "generic_csv")
CLOCK_SKEW_SECONDS = 150  # half a 5-minute sensor interval
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
MAGNESIUM_SOURCES = ("export", "custom", "supplement", "usda", "unknown")
MATCH_METHODS = ("export", "custom", "supplement", "user_alias", "alias", "fuzzy", "none")
ENRICHMENT_COLUMNS = (
    Column("export_magnesium_mg", pl.Float64(), "DOUBLE",
           "magnesium as the export gave it; null = the export had none", min_value=0),
    Column("magnesium_source", pl.String(), "VARCHAR",
           "export / custom / supplement / usda / unknown", nullable=False,
           allowed=MAGNESIUM_SOURCES),
    Column("match_method", pl.String(), "VARCHAR",
           "how the value was found: export, custom, supplement, user_alias, alias, fuzzy, none",
           nullable=False, allowed=MATCH_METHODS),
    Column("match_food_id", pl.String(), "VARCHAR", "reference food the value came from"),
    Column("match_food_name", pl.String(), "VARCHAR", "name of the matched food"),
    Column("match_confidence", pl.Float64(), "DOUBLE", "0–1 confidence of the match",
           min_value=0, max_value=1),
    Column("portion_grams", pl.Float64(), "DOUBLE",
           "grams from a household portion or a custom serving", min_value=0),
    Column("unknown_reason", pl.String(), "VARCHAR",
           "why magnesium is unknown: no match, no portion weight, no amount, "
           "reference has no magnesium value, no food names in export",
           required_unless="magnesium_mg"),
)


def _stored(spec: TableSpec, name: str, extra: tuple[Column, ...],
            key: tuple[str, ...]) -> TableSpec:
    own = tuple(c for c in spec.columns if c not in (PARSE_ERROR, RAW_RECORD))
    return TableSpec(name=name, description=spec.description, columns=BATCH_COLUMNS + own + extra,
                     unique_key=key)


STORED_FOOD_ENTRY = _stored(FOOD_ENTRY, "core_food_entries", ENRICHMENT_COLUMNS, ("entry_id",))
# What enrichment writes, checked after each import (a subset keeps validation quick).
ENRICHED_FOOD_ENTRY = TableSpec(
    name="enriched_food_entries",
    description="Each entry's magnesium as enrichment resolved it.",
    columns=(STORED_FOOD_ENTRY.column("entry_id"), STORED_FOOD_ENTRY.column("magnesium_mg"),
             *ENRICHMENT_COLUMNS),
)
MERGE_COLUMNS = (
    Column("superseded_by", pl.String(), "VARCHAR",
           "entry_id of the same reading from a preferred source or device (kept for "
           "lineage, left out of the public view)"),
)
STORED_GLUCOSE_READING = _stored(GLUCOSE_READING, "core_glucose_readings", MERGE_COLUMNS,
                                 ("entry_id",))

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
        Column("magnesium_supplement_mg", pl.Float64(), "DOUBLE",
               "known magnesium from supplements (part of the known total)", min_value=0,
               max_value=20_000),
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
        Column("rows_superseded", pl.Int64(), "BIGINT",
               "readings not kept: the same reading from a preferred source or device",
               min_value=0),
        Column("rows_replaced", pl.Int64(), "BIGINT",
               "readings stored before that this file's preferred source replaced",
               min_value=0),
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

# Reference and user food data, used by magnesium enrichment (transforms/magnesium/).
REF_FOODS = TableSpec(
    name="ref_foods",
    description="Reference foods (USDA SR28 shipped; FoodData Central imports) with magnesium.",
    columns=(
        Column("food_id", pl.String(), "VARCHAR", "sr28:NDB_No or fdc:fdc_id", nullable=False),
        Column("source", pl.String(), "VARCHAR", "sr28 or fdc", nullable=False),
        Column("food_name", pl.String(), "VARCHAR", "the reference's own name", nullable=False),
        Column("food_group", pl.String(), "VARCHAR", "food group / category"),
        Column("magnesium_mg_per_100g", pl.Float64(), "DOUBLE",
               "magnesium per 100 g edible portion; null = not analysed", min_value=0),
    ),
    unique_key=("food_id",),
)
REF_PORTIONS = TableSpec(
    name="ref_portions",
    description="Household portions of reference foods with their gram weights.",
    columns=(
        Column("food_id", pl.String(), "VARCHAR", "reference food", nullable=False),
        Column("portion_seq", pl.Int32(), "INTEGER", "order in the reference", nullable=False),
        Column("amount", pl.Float64(), "DOUBLE", "number of units weighed", nullable=False),
        Column("unit", pl.String(), "VARCHAR", "measure as written (cup, chopped)",
               nullable=False),
        Column("grams", pl.Float64(), "DOUBLE", "weight of amount × unit", nullable=False),
    ),
    unique_key=("food_id", "portion_seq"),
)
REF_ALIASES = TableSpec(
    name="ref_aliases",
    description="Curated common names → reference food (shipped).",
    columns=(
        Column("alias_key", pl.String(), "VARCHAR", "normalised alias", nullable=False),
        Column("food_id", pl.String(), "VARCHAR", "reference food", nullable=False),
        Column("note", pl.String(), "VARCHAR", "the food it means and why"),
    ),
    unique_key=("alias_key",),
)
USER_ALIASES = TableSpec(
    name="user_aliases",
    description="The user's own names → reference food (glucomag foods alias).",
    columns=(
        Column("alias_key", pl.String(), "VARCHAR", "normalised alias", nullable=False),
        Column("alias", pl.String(), "VARCHAR", "the name as the user gave it", nullable=False),
        Column("food_id", pl.String(), "VARCHAR", "reference food", nullable=False),
        Column("created_at", UTC_TS, "TIMESTAMPTZ", "when it was added", nullable=False),
    ),
    unique_key=("alias_key",),
)
CUSTOM_FOODS = TableSpec(
    name="custom_foods",
    description="The user's own foods (custom_foods.csv in the data folder).",
    columns=(
        Column("name_key", pl.String(), "VARCHAR", "normalised name", nullable=False),
        Column("name", pl.String(), "VARCHAR", "name as logged", nullable=False),
        Column("magnesium_mg_per_100g", pl.Float64(), "DOUBLE", "mg per 100 g", min_value=0),
        Column("magnesium_mg_per_serving", pl.Float64(), "DOUBLE", "mg per serving",
               min_value=0),
        Column("serving_grams", pl.Float64(), "DOUBLE", "grams per serving", min_value=0),
    ),
    unique_key=("name_key",),
)
SUPPLEMENTS = TableSpec(
    name="supplements",
    description="The user's supplements (supplements.csv in the data folder).",
    columns=(
        Column("name_key", pl.String(), "VARCHAR", "normalised product name", nullable=False),
        Column("product", pl.String(), "VARCHAR", "product as logged", nullable=False),
        Column("elemental_mg_per_unit", pl.Float64(), "DOUBLE",
               "elemental magnesium per unit (tablet, capsule, scoop…)", min_value=0),
        Column("compound", pl.String(), "VARCHAR", "compound, when only its weight is known"),
        Column("compound_mg_per_unit", pl.Float64(), "DOUBLE", "compound mg per unit",
               min_value=0),
    ),
    unique_key=("name_key",),
)
SUPPLEMENT_COMPOUNDS = TableSpec(
    name="supplement_compounds",
    description="Elemental magnesium mass fraction by compound (magnesium.md), with aliases.",
    columns=(
        Column("compound_key", pl.String(), "VARCHAR", "normalised compound name or alias",
               nullable=False),
        Column("elemental_fraction", pl.Float64(), "DOUBLE", "mass fraction of magnesium",
               nullable=False, min_value=0, max_value=1),
    ),
    unique_key=("compound_key",),
)
FOOD_NAME_MATCHES = TableSpec(
    name="food_name_matches",
    description="Fuzzy matching results per distinct food name, accepted or not, with scores.",
    columns=(
        Column("name_key", pl.String(), "VARCHAR", "normalised food name", nullable=False),
        Column("food_id", pl.String(), "VARCHAR", "best reference food"),
        Column("confidence", pl.Float64(), "DOUBLE", "0–1 score of the best candidate",
               min_value=0, max_value=1),
        Column("accepted", pl.Boolean(), "BOOLEAN", "confidence reached the threshold",
               nullable=False),
        Column("candidates", pl.String(), "VARCHAR",
               "best candidates as JSON [{food_id, food_name, score}]", nullable=False),
    ),
    unique_key=("name_key",),
)
REFERENCE_VERSIONS = TableSpec(
    name="reference_versions",
    description="Which reference files are loaded (by sha256).",
    columns=(
        Column("name", pl.String(), "VARCHAR", "reference file", nullable=False),
        Column("sha256", pl.String(), "VARCHAR", "its content hash", nullable=False),
        Column("loaded_at", UTC_TS, "TIMESTAMPTZ", "when it was loaded", nullable=False),
    ),
    unique_key=("name",),
)

FLOW_OUTCOMES = ("completed", "completed_with_errors", "failed")
FLOW_RUNS = TableSpec(
    name="flow_runs",
    description="One row per run of a glucomag flow (nightly, monthly_report, backfill).",
    columns=(
        Column("flow", pl.String(), "VARCHAR", "flow name", nullable=False),
        Column("flow_run_id", pl.String(), "VARCHAR", "Prefect's flow run id",
               nullable=False),
        Column("started_at_utc", UTC_TS, "TIMESTAMPTZ", "when the run started", nullable=False),
        Column("finished_at_utc", UTC_TS, "TIMESTAMPTZ", "when it finished", nullable=False),
        Column("files", pl.Int64(), "BIGINT", "inbox files handled", nullable=False,
               min_value=0),
        Column("rows_stored", pl.Int64(), "BIGINT", "rows newly stored", nullable=False,
               min_value=0),
        Column("outcome", pl.String(), "VARCHAR",
               "completed, completed_with_errors (a file or user file failed) or failed",
               nullable=False, allowed=FLOW_OUTCOMES),
        Column("message", pl.String(), "VARCHAR", "what went wrong, one line per problem"),
    ),
    unique_key=("flow_run_id",),
)


def _metric_columns() -> tuple[Column, ...]:
    """The glucose metrics of `glucose-metrics.md`, named as it asks, with their ranges."""

    def pct(name: str, what: str) -> Column:
        return Column(name, pl.Float64(), "DOUBLE", f"{what}, % of sensor readings",
                      nullable=False, min_value=0, max_value=100)

    def nonneg(name: str, what: str) -> Column:
        return Column(name, pl.Float64(), "DOUBLE", what, min_value=0)

    return (
        Column("days_with_data", pl.Int64(), "BIGINT", "local days with a sensor reading",
               nullable=False, min_value=1),
        Column("readings", pl.Int64(), "BIGINT", "sensor readings, Low/High included",
               nullable=False, min_value=1),
        Column("wear_pct", pl.Float64(), "DOUBLE",
               "minutes covered by readings (each counts its sensor interval) / minutes in "
               "the period, %", nullable=False, min_value=0, max_value=100),
        Column("mean_mg_dl", pl.Float64(), "DOUBLE", "mean of numeric readings",
               min_value=10, max_value=1_000),
        nonneg("sd_mg_dl", "sample SD (n − 1) of numeric readings, mg/dL"),
        nonneg("cv_pct", "100 × SD / mean"),
        Column("gmi_pct", pl.Float64(), "DOUBLE", "3.31 + 0.02392 × mean (Bergenstal 2018)",
               min_value=3, max_value=30),
        Column("ea1c_pct", pl.Float64(), "DOUBLE", "(mean + 46.7) / 28.7 (Nathan 2008)",
               min_value=1, max_value=40),
        pct("tir_70_180_pct", "70–180 mg/dL inclusive"),
        pct("titr_70_140_pct", "70–140 mg/dL inclusive"),
        pct("tbr_below_70_pct", "below 70 mg/dL or Low"),
        pct("tbr_below_54_pct", "below 54 mg/dL or Low"),
        pct("tar_above_180_pct", "above 180 mg/dL or High"),
        pct("tar_above_250_pct", "above 250 mg/dL or High"),
        nonneg("mage_mg_dl", "MAGE, moving-average algorithm (Fernandes 2022), mg/dL"),
        nonneg("modd_mg_dl", "mean |g(t) − g(t − 24 h)|, mg/dL"),
        nonneg("conga1_mg_dl", "SD of g(t) − g(t − 1 h), mg/dL"),
        nonneg("lbgi", "low blood glucose index (Kovatchev)"),
        nonneg("hbgi", "high blood glucose index (Kovatchev)"),
        nonneg("j_index", "0.001 × (mean + SD)²"),
    )


METRIC_COLUMNS = _metric_columns()
SUBJECT = Column("subject_id", pl.String(), "VARCHAR", "whose data", nullable=False)
PERIOD_KINDS = ("week", "month")

DAILY_GLUCOSE_METRICS = TableSpec(
    name="daily_glucose_metrics",
    description="Glucose metrics per subject and local day (sensor readings).",
    columns=(SUBJECT, Column("local_date", pl.Date(), "DATE", "local day", nullable=False),
             *METRIC_COLUMNS),
    unique_key=("subject_id", "local_date"),
)
PERIOD_GLUCOSE_METRICS = TableSpec(
    name="period_glucose_metrics",
    description="Glucose metrics per subject and ISO week or calendar month.",
    columns=(
        SUBJECT,
        Column("period", pl.String(), "VARCHAR", "week or month", nullable=False,
               allowed=PERIOD_KINDS),
        Column("period_start", pl.Date(), "DATE", "first local day", nullable=False),
        Column("period_end", pl.Date(), "DATE", "last local day", nullable=False),
        *METRIC_COLUMNS,
    ),
    unique_key=("subject_id", "period", "period_start"),
)
AGP_PROFILE = TableSpec(
    name="agp_profile",
    description="Ambulatory glucose profile per subject and calendar month: percentiles of "
                "glucose by 15-minute bin of the local clock.",
    columns=(
        SUBJECT,
        Column("period_start", pl.Date(), "DATE", "first day of the month", nullable=False),
        Column("period_end", pl.Date(), "DATE", "last day of the month", nullable=False),
        Column("bin", pl.Int32(), "INTEGER", "15-minute bin of the day, 0–95", nullable=False,
               min_value=0, max_value=95),
        Column("bin_start", pl.String(), "VARCHAR", "HH:MM the bin starts", nullable=False),
        Column("readings", pl.Int64(), "BIGINT", "readings in the bin", nullable=False,
               min_value=0),
        Column("days", pl.Int64(), "BIGINT", "days with a reading in the bin",
               nullable=False, min_value=0),
        *(Column(f"p{p}{kind}_mg_dl", pl.Float64(), "DOUBLE",
                 f"{p}th percentile{' smoothed (circular 1-2-1)' if kind else ''}",
                 min_value=10, max_value=1_000)
          for kind in ("", "_smoothed") for p in (5, 25, 50, 75, 95)),
    ),
    unique_key=("subject_id", "period_start", "bin"),
)


def _double(name: str, what: str, low: float | None = None, high: float | None = None,
            nullable: bool = True) -> Column:
    return Column(name, pl.Float64(), "DOUBLE", what, nullable=nullable, min_value=low,
                  max_value=high)


def _bigint(name: str, what: str, low: float | None = 0, nullable: bool = True) -> Column:
    return Column(name, pl.Int64(), "BIGINT", what, nullable=nullable, min_value=low)


def _text(name: str, what: str, nullable: bool = True,
          allowed: tuple[str, ...] | None = None) -> Column:
    return Column(name, pl.String(), "VARCHAR", what, nullable=nullable, allowed=allowed)


MEAL_STATUSES = ("no_time", "no_glucose", "no_baseline", "incomplete_window",
                 "overlaps_next_meal", "ok")
# A meal: food entries of one sitting (transforms.glucose.meals.group_meals).
MEAL_COLUMNS = (
    SUBJECT,
    _text("meal_id", "md5 of subject, meal time (or day and label when untimed)", False),
    Column("local_date", pl.Date(), "DATE", "local day", nullable=False),
    Column("meal_local_ts", pl.Datetime("us"), "TIMESTAMP", "earliest entry's local time; "
           "null when the export has no times"),
    _text("meal", "meal label from the export"),
    _text("foods", "food names, in order eaten"),
    _bigint("food_entries", "food entries in the meal", 1, False),
    _double("magnesium_known_mg", "sum of the known magnesium (a lower bound)", 0),
    _double("magnesium_coverage_pct", "entries with known magnesium, %", 0, 100),
    _double("carbohydrates_g", "sum of the known carbohydrates", 0),
    _double("energy_kcal", "sum of the known energy", 0),
    _text("food_keys", "repeat-meal signature: distinct normalised food names"),
)
# Its glucose response (transforms.glucose.meals.meal_responses) and the parameters used.
RESPONSE_COLUMNS = (
    _double("baseline_mg_dl", "mean of numeric readings in the baseline window", 10, 1_000),
    _bigint("baseline_readings", "sensor readings in the baseline window (timed meals)"),
    _bigint("window_readings", "sensor readings in the response window (timed meals)"),
    _bigint("interval_min", "sensor interval the completeness expects", 1),
    _double("window_completeness_pct", "window readings / expected, %", 0, 100),
    _double("peak_mg_dl", "highest numeric reading in the window", 10, 1_000),
    _double("peak_rise_mg_dl", "peak − baseline", -1_000, 1_000),
    _double("time_to_peak_min", "minutes from the meal to the peak", 0),
    _double("iauc_mg_dl_min", "incremental AUC above baseline, positive parts (Wolever)", 0),
    _double("return_to_baseline_min", "minutes to the first reading after the peak within "
            "the margin of the baseline", 0),
    _text("status", "why a meal is or is not usable", False, MEAL_STATUSES),
    Column("usable", pl.Boolean(), "BOOLEAN", "status is ok", nullable=False),
    _bigint("param_baseline_min", "baseline window, minutes", 1, False),
    _bigint("param_window_min", "response window, minutes", 1, False),
    _bigint("param_meal_gap_min", "entries this close form one meal, minutes", 0, False),
    _double("param_return_margin_mg_dl", "back-to-baseline margin", 0, nullable=False),
    _double("param_max_missing_pct", "window readings that may be missing, %", 0, 100, False),
)
MEAL_RESPONSES = TableSpec(
    name="meal_responses",
    description="One row per meal (timed or not) with its glucose response and status.",
    columns=MEAL_COLUMNS + RESPONSE_COLUMNS,
    unique_key=("meal_id",),
)

ASSOCIATION_ANALYSES = ("daily", "meal")
ASSOCIATION_STATUSES = ("estimated", "not_enough_data", "no_glucose", "no_food")
# Daily rows leave `meals` null (transforms.glucose.associations).
ASSOCIATIONS = TableSpec(
    name="associations",
    description="Logged magnesium vs glucose outcomes per subject, outcome and lag: slope per "
                "100 mg with a bootstrap CI, or why there is not enough data yet.",
    columns=(
        SUBJECT,
        _text("analysis", "daily or meal", False, ASSOCIATION_ANALYSES),
        _text("exposure", "magnesium column", False),
        _text("outcome", "glucose outcome column", False),
        _bigint("lag_days", "outcome day − magnesium day", 0, False),
        _text("adjusted_for", "covariate the slope is adjusted for"),
        _bigint("paired_days", "days with both series", 0, False),
        _bigint("meals", "meals used (meal analysis)", 0),
        _bigint("qualifying_days", "days passing the data gate", 0, False),
        _double("magnesium_coverage_pct", "mean magnesium coverage of the days used", 0, 100),
        _double("glucose_wear_pct", "mean CGM wear of the days used", 0, 100),
        _double("estimate", "slope per 100 mg logged magnesium"),
        _double("ci_low", "95 % bootstrap CI, low"),
        _double("ci_high", "95 % bootstrap CI, high"),
        _double("r", "Pearson (partial) correlation", -1, 1),
        _double("r_ci_low", "95 % bootstrap CI of r, low", -1, 1),
        _double("r_ci_high", "95 % bootstrap CI of r, high", -1, 1),
        _bigint("n_boot", "bootstrap resamples", 0),
        _bigint("block_days", "bootstrap block length, days", 1),
        _bigint("seed", "random seed of the bootstrap", None),
        _text("status", "estimated, or why not", False, ASSOCIATION_STATUSES),
        _bigint("days_needed", "more qualifying days needed for an estimate", 0),
        _text("message", "plain-language result with n, CI and coverage", False),
    ),
    unique_key=("subject_id", "analysis", "outcome", "lag_days"),
)

WAREHOUSE_TABLES = (STORED_FOOD_ENTRY, STORED_GLUCOSE_READING, IMPORT_BATCHES, QUARANTINED_ROWS,
                    VALIDATION_RUNS, REF_FOODS, REF_PORTIONS, REF_ALIASES, USER_ALIASES,
                    CUSTOM_FOODS, SUPPLEMENTS, SUPPLEMENT_COMPOUNDS, FOOD_NAME_MATCHES,
                    REFERENCE_VERSIONS, FLOW_RUNS)

# Marts built by SQL files (transforms/sql/marts/<name>.sql) and marts computed in polars.
SQL_MART_TABLES = (DAILY_SUMMARY,)
GLUCOSE_MART_TABLES = (DAILY_GLUCOSE_METRICS, PERIOD_GLUCOSE_METRICS, AGP_PROFILE)
# Built from the two above, in this order (associations read daily_glucose_metrics).
ANALYSIS_MART_TABLES = (MEAL_RESPONSES, ASSOCIATIONS)
MART_TABLES = SQL_MART_TABLES + GLUCOSE_MART_TABLES + ANALYSIS_MART_TABLES
