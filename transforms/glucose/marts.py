"""The glucose marts, computed in polars from the public views and stored by `build_marts`."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import polars as pl

from schemas.canonical import (
    AGP_PROFILE,
    ASSOCIATIONS,
    DAILY_GLUCOSE_METRICS,
    MEAL_RESPONSES,
    PERIOD_GLUCOSE_METRICS,
    TableSpec,
)
from transforms.glucose.agp import agp_profile
from transforms.glucose.associations import daily_associations, meal_associations
from transforms.glucose.meals import meal_responses
from transforms.glucose.metrics import Period, glucose_metrics
from transforms.glucose.series import with_intervals
from transforms.warehouse import query_frame, run

SENSOR_READINGS_SQL = """
SELECT subject_id, device, ts_utc, local_ts, local_date, glucose_mg_dl, out_of_range
FROM glucose_readings
WHERE kind = 'sensor'
  AND ($start::DATE IS NULL OR local_date >= $start::DATE - INTERVAL 1 DAY)
  AND ($end::DATE IS NULL OR local_date <= $end::DATE)
  AND ($subject_id::VARCHAR IS NULL OR subject_id = $subject_id::VARCHAR)
ORDER BY subject_id, ts_utc
"""


def sensor_readings(con: duckdb.DuckDBPyConnection, start: date | None = None,
                    end: date | None = None, subject_id: str | None = None) -> pl.DataFrame:
    """CGM readings (Low/High included, scans and fingersticks left out), with the day before
    `start` for the 24-hour lag of MODD."""
    return query_frame(con, SENSOR_READINGS_SQL,
                       {"start": start, "end": end, "subject_id": subject_id})


def _shaped(*marts: tuple[TableSpec, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Each mart's frame with exactly its spec's columns, in order and type, by table name."""
    return {spec.name: frame.select(pl.col(c.name).cast(c.polars_type) for c in spec.columns)
            for spec, frame in marts}


def glucose_marts(readings: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Daily, weekly and monthly metrics and the monthly AGP, shaped as their specs."""
    daily = glucose_metrics(readings, by="day").rename({"period_start": "local_date"})
    periods = pl.concat([
        glucose_metrics(readings, by=kind).with_columns(period=pl.lit(kind))
        for kind in ("week", "month")
    ])
    months = readings.with_columns(
        period_start=pl.col("local_date").dt.truncate("1mo"),
        period_end=pl.col("local_date").dt.month_end(),
    )
    agp = agp_profile(months, ["subject_id", "period_start", "period_end"])
    return _shaped((DAILY_GLUCOSE_METRICS, daily), (PERIOD_GLUCOSE_METRICS, periods),
                   (AGP_PROFILE, agp))


DEFAULT_DAYS = 14  # the consensus minimum for a period summary (Battelino 2019)


def period_metrics(con: duckdb.DuckDBPyConnection, start: date | None, end: date | None,
                   by: Period, by_time_of_day: bool = False) -> pl.DataFrame:
    """Metrics for any range, computed now from the stored readings.

    Without `start`/`end`: the last 14 days up to the last sensor reading.
    """
    if end is None:
        end = run(con, "SELECT max(local_date) FROM glucose_readings WHERE kind = 'sensor'")[0][0]
        if end is None:
            return pl.DataFrame()
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    readings = sensor_readings(con, start, end)
    if readings.is_empty():
        return pl.DataFrame()
    return glucose_metrics(readings, by=by, start=start, end=end, by_time_of_day=by_time_of_day)


# One row per subject and day with food or glucose: the inputs of the daily associations
# (read inside the rebuild, after daily_summary and daily_glucose_metrics are filled).
DAILY_ASSOCIATION_SQL = """
SELECT s.subject_id, s.local_date,
       CASE WHEN s.food_entries > 0 THEN s.magnesium_known_mg END AS magnesium_known_mg,
       CASE WHEN s.food_entries > 0
            THEN 100.0 * s.entries_with_magnesium / s.food_entries END AS magnesium_coverage_pct,
       g.wear_pct, g.mean_mg_dl, g.cv_pct, g.tir_70_180_pct
FROM daily_summary AS s
LEFT JOIN daily_glucose_metrics AS g USING (subject_id, local_date)
ORDER BY s.subject_id, s.local_date
"""

MEAL_ENTRIES_SQL = """
SELECT subject_id, entry_id, local_date, local_ts, meal, food_name, magnesium_mg,
       carbohydrates_g, energy_kcal, entry_type
FROM core_food_entries
ORDER BY subject_id, local_date, local_ts NULLS LAST, entry_id
"""


def analysis_marts(con: duckdb.DuckDBPyConnection,
                   readings: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Meal responses and magnesium–glucose associations (daily and meal level), shaped as
    their specs. Reads daily_summary and daily_glucose_metrics: call after they are built."""
    meals = meal_responses(query_frame(con, MEAL_ENTRIES_SQL), with_intervals(readings))
    associations = pl.concat(
        [daily_associations(query_frame(con, DAILY_ASSOCIATION_SQL)), meal_associations(meals)],
        how="diagonal_relaxed")
    return _shaped((MEAL_RESPONSES, meals), (ASSOCIATIONS, associations))
