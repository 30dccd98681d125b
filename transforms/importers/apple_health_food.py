"""Apple Health export, food side: dietary magnesium and energy records as food entries.

Quirks handled (formats.md): the export is one large XML (or `export.zip`), streamed by
`apple_health_xml`; magnesium is `HKQuantityTypeIdentifierDietaryMagnesium` (mg), energy
`HKQuantityTypeIdentifierDietaryEnergyConsumed` (kcal), each a record of its own; the food name,
when the logging app wrote one, is the `HKFoodType` metadata entry; dates carry their own offset.

Choices (documented in tests/fixtures/apple_health/README.md):
- One entry per food: a magnesium and an energy record from the same app with the same
  `startDate` and the same `HKFoodType` (or both without one) are one entry; when such a group
  holds several records of a type, the n-th magnesium pairs with the n-th energy record in file
  order (a food logged twice stays twice). A record without a partner is an entry of its own,
  its other nutrient null (unknown).
- `entry_type` is "food" when `HKFoodType` names the food. Without it the record is an amount
  an app logged for a meal or a log, not a food that could be looked up: "meal_total", named
  "<app> (no food name)" so it is never matched to a reference food.
- `local_ts` is the wall clock as written in `startDate` (its offset is the exporting phone's
  zone); `source_row` is the record's ordinal among the file's top-level records (for a pair,
  the first of the two).
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
    ImportedFile,
    blank_to_null,
    join_problems,
    problem,
    raw_record,
)

FORMAT = "apple_health_food"
KIND = "food"
LINE_ROWS = False  # source_row is not a line number: no cut-off-row check
MAGNESIUM = "HKQuantityTypeIdentifierDietaryMagnesium"
ENERGY = "HKQuantityTypeIdentifierDietaryEnergyConsumed"
ATTRIBUTES = ("type", "sourceName", "unit", "value", "startDate", "endDate")
METADATA = ("HKFoodType",)
# Units HealthKit may write for each nutrient, as factors to the canonical unit.
MAGNESIUM_TO_MG = {"mg": 1.0, "g": 1000.0, "mcg": 0.001, "µg": 0.001}
ENERGY_TO_KCAL = {"kcal": 1.0, "Cal": 1.0, "kJ": 1 / 4.184}
PAIR_KEY = ("sourceName", "startDate", "_food_key", "_occurrence")
RAW_COLUMNS = ("startDate", "endDate", "sourceName", "HKFoodType", "magnesium_value",
               "magnesium_unit", "energy_value", "energy_unit")


def detect(head: str) -> bool:
    return detect_head(head)


def detect_path(path: Path) -> bool:
    """An Apple Health `export.zip`: read whole from the archive, never expanded."""
    return detect_zip(path)


def _nutrient(records: pl.DataFrame, record_type: str, prefix: str) -> pl.DataFrame:
    """One nutrient's records, named `<prefix>_…`, keyed for pairing."""
    return records.filter(pl.col("type") == record_type).select(
        *PAIR_KEY, pl.col("endDate"), pl.col("HKFoodType"),
        pl.col("record").alias(f"{prefix}_record"),
        pl.col("value").alias(f"{prefix}_value"),
        pl.col("unit").alias(f"{prefix}_unit"),
    )


def _amount(value: str, unit: str, factors: dict[str, float]) -> pl.Expr:
    factor = pl.col(unit).str.strip_chars().replace_strict(factors, default=None,
                                                           return_dtype=pl.Float64)
    return blank_to_null(pl.col(value)).cast(pl.Float64, strict=False) * factor


def _unit_problem(unit: str, factors: dict[str, float], label: str) -> pl.Expr:
    known = pl.col(unit).str.strip_chars().is_in(list(factors))
    return (pl.when(pl.col(unit).is_not_null() & ~known)
            .then(pl.format("{} unit '{}' is not one of {}", pl.lit(label), pl.col(unit),
                            pl.lit(", ".join(factors)))))


def read(path: Path, timezone: str) -> ImportedFile:
    """Food entries of the export. `timezone` is not needed: dates carry their own offset and
    `local_ts` is their wall clock as written."""
    scan = scan_records(path, (MAGNESIUM, ENERGY), ATTRIBUTES, METADATA)
    food_type = blank_to_null(pl.col("HKFoodType"))
    records = scan.frame.with_columns(
        source_label(pl.col("sourceName")).alias("sourceName"),
        food_type.fill_null("").alias("_food_key"),
    ).with_columns(
        pl.int_range(pl.len()).over("type", "sourceName", "startDate", "_food_key")
          .alias("_occurrence"),
    )
    magnesium = _nutrient(records, MAGNESIUM, "magnesium")
    energy = _nutrient(records, ENERGY, "energy")
    entries = magnesium.join(energy, on=list(PAIR_KEY), how="full", coalesce=True,
                             nulls_equal=True, suffix="_energy")
    entries = entries.with_columns(
        pl.coalesce("endDate", "endDate_energy").alias("endDate"),
        pl.coalesce("HKFoodType", "HKFoodType_energy").alias("HKFoodType"),
        pl.min_horizontal("magnesium_record", "energy_record").alias("source_row"),
        pl.col("startDate").str.slice(0, 19).str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False)
          .alias("local_ts"),
        _amount("magnesium_value", "magnesium_unit", MAGNESIUM_TO_MG).alias("magnesium_mg"),
        _amount("energy_value", "energy_unit", ENERGY_TO_KCAL).alias("energy_kcal"),
    ).sort("source_row")
    named = blank_to_null(pl.col("HKFoodType"))
    staged = entries.with_columns(
        pl.col("local_ts").dt.date().alias("local_date"),
        pl.lit(None, dtype=pl.String).alias("meal"),
        pl.coalesce(named, pl.format("{} (no food name)", pl.col("sourceName")))
          .alias("food_name"),
        pl.lit(None, dtype=pl.Float64).alias("amount"),
        pl.lit(None, dtype=pl.String).alias("unit"),
        pl.lit(None, dtype=pl.Float64).alias("grams"),
        pl.lit(None, dtype=pl.Float64).alias("carbohydrates_g"),
        pl.lit(None, dtype=pl.String).alias("category"),
        pl.when(named.is_not_null()).then(pl.lit("food")).otherwise(pl.lit("meal_total"))
          .alias("entry_type"),
        join_problems(
            problem(pl.col("startDate"), pl.col("local_ts"), "startDate",
                    "a date-time like 2024-03-02 08:14:00 -0800"),
            problem(pl.col("magnesium_value"), blank_to_null(pl.col("magnesium_value"))
                    .cast(pl.Float64, strict=False), "magnesium value", "a number"),
            _unit_problem("magnesium_unit", MAGNESIUM_TO_MG, "magnesium"),
            problem(pl.col("energy_value"), blank_to_null(pl.col("energy_value"))
                    .cast(pl.Float64, strict=False), "energy value", "a number"),
            _unit_problem("energy_unit", ENERGY_TO_KCAL, "energy"),
        ),
        raw_record(RAW_COLUMNS),
    )
    return ImportedFile(format=FORMAT, kind=KIND, frame=staged, rows_read=scan.records_read,
                        rows_skipped=scan.records_read - scan.frame.height)
