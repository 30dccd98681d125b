"""Build a report's data bundle from the warehouse and write the report file."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from glucomag import __version__
from glucomag.settings import Settings
from reports.index import write_index
from reports.intake import reference_intakes, supplement_upper_level_mg
from reports.model import (
    BATCHES_SCHEMA,
    DAILY_SCHEMA,
    QUARANTINE_SCHEMA,
    VALIDATION_SCHEMA,
    ReportInput,
)
from reports.render import render_report, write_report
from transforms.glucose.agp import agp_profile
from transforms.glucose.marts import sensor_readings
from transforms.glucose.meals import MEAL_PARAMETERS, repeat_meal_spread
from transforms.glucose.metrics import METRICS_VERSION, glucose_metrics
from transforms.pipeline import warehouse
from transforms.runs import month_bounds
from transforms.warehouse import query_frame, run

NIGHTLY_DAYS = 7

VERSIONS = {
    "glucomag": __version__,
    "metric definitions": METRICS_VERSION,
    "meal responses": "baseline = mean of the {baseline_min} min before the meal; window "
    "{window_min} min; incremental AUC above baseline, positive parts only (Wolever); "
    "entries within {meal_gap_min} min form one meal; a meal is used only with ≤ "
    "{max_missing_pct:g} % of window readings missing and no overlap with the next meal"
    .format(**MEAL_PARAMETERS),
    "food reference": "exports' own values; custom foods and supplements; USDA SR28 "
                      "(public domain) via curated aliases and fuzzy matching "
                      "(confidence ≥ 0.90)",
}

DAILY_SQL = """
SELECT d.local_date::DATE AS local_date,
       coalesce(s.food_entries, 0) AS food_entries,
       coalesce(s.entries_with_magnesium, 0) AS entries_with_magnesium,
       coalesce(s.entries_without_magnesium, 0) AS entries_without_magnesium,
       s.magnesium_known_mg,
       s.magnesium_supplement_mg,
       coalesce(s.glucose_readings, 0) AS glucose_readings,
       s.glucose_mean_mg_dl,
       s.glucose_in_range_share
FROM range($start::DATE, $end::DATE + INTERVAL 1 DAY, INTERVAL 1 DAY) AS d(local_date)
LEFT JOIN daily_summary AS s
       ON s.local_date = d.local_date::DATE AND s.subject_id = $subject_id
ORDER BY 1
"""

# Files that fed the period: batches with rows dated in it, and every failed or quarantining
# import (their rows have no trustworthy date).
BATCHES_SQL = """
SELECT batch_id, file_name, format, rows_read, rows_stored, rows_duplicate, rows_quarantined,
       finished_at, status
FROM import_batches AS b
WHERE status = 'failed' OR rows_quarantined > 0
   OR EXISTS (SELECT 1 FROM core_food_entries f WHERE f.batch_id = b.batch_id
              AND f.local_date BETWEEN $start AND $end AND f.subject_id = $subject_id)
   OR EXISTS (SELECT 1 FROM core_glucose_readings g WHERE g.batch_id = b.batch_id
              AND g.local_date BETWEEN $start AND $end AND g.subject_id = $subject_id)
ORDER BY batch_id
"""

QUARANTINE_SQL = """
SELECT file_name, rule, reason, count(*) AS rows
FROM quarantined_rows
WHERE batch_id IN (SELECT unnest($batch_ids::BIGINT[]))
GROUP BY ALL
ORDER BY file_name, rows DESC
"""

# Staged-row suites summed over the period's batches; mart suites from their latest run.
VALIDATION_SQL = """
SELECT stage, suite, bool_and(success) AS success, max(expectations) AS expectations,
       sum(failed) AS failed, max(run_at) AS run_at
FROM validation_runs
WHERE batch_id IN (SELECT unnest($batch_ids::BIGINT[]))
GROUP BY stage, suite
UNION ALL
SELECT stage, suite, success, expectations, failed, run_at
FROM validation_runs
WHERE batch_id IS NULL
QUALIFY row_number() OVER (PARTITION BY stage, suite ORDER BY run_at DESC) = 1
ORDER BY stage
"""


MAGNESIUM_ROLLING_SQL = """
WITH days AS (
    SELECT d::DATE AS local_date
    FROM range($start::DATE - INTERVAL 27 DAY, $end::DATE + INTERVAL 1 DAY, INTERVAL 1 DAY)
         AS t(d)
),
per_day AS (
    SELECT days.local_date,
           CASE WHEN s.food_entries > 0 THEN s.magnesium_known_mg END AS known_mg
    FROM days
    LEFT JOIN daily_summary AS s
           ON s.local_date = days.local_date AND s.subject_id = $subject_id
)
SELECT local_date,
       avg(known_mg) OVER last_7 AS mean_7d_mg, count(known_mg) OVER last_7 AS days_7d,
       avg(known_mg) OVER last_28 AS mean_28d_mg, count(known_mg) OVER last_28 AS days_28d
FROM per_day
WINDOW last_7 AS (ORDER BY local_date ROWS BETWEEN 6 PRECEDING AND CURRENT ROW),
       last_28 AS (ORDER BY local_date ROWS BETWEEN 27 PRECEDING AND CURRENT ROW)
QUALIFY local_date >= $start
ORDER BY local_date
"""

# The same food under slightly different spellings is one source (name_key macro).
TOP_SOURCES_SQL = """
SELECT mode(food_name) AS food_name, count(*) AS entries, sum(magnesium_mg) AS magnesium_mg,
       100 * sum(magnesium_mg) / sum(sum(magnesium_mg)) OVER () AS share_pct,
       bool_or(magnesium_source = 'supplement' OR lower(category) LIKE '%supplement%')
           AS supplement
FROM core_food_entries
WHERE subject_id = $subject_id AND local_date BETWEEN $start AND $end
  AND magnesium_mg IS NOT NULL AND entry_type = 'food'
GROUP BY name_key(food_name)
ORDER BY magnesium_mg DESC, food_name
LIMIT 10
"""

UNMATCHED_SQL = """
SELECT mode(food_name) AS food_name, count(*) AS entries,
       sum(coalesce(grams, portion_grams)) AS grams, mode(unknown_reason) AS reason
FROM core_food_entries
WHERE subject_id = $subject_id AND local_date BETWEEN $start AND $end
  AND magnesium_mg IS NULL AND entry_type = 'food'
GROUP BY name_key(food_name)
ORDER BY entries DESC, grams DESC NULLS LAST, food_name
LIMIT 10
"""

MEALS_SQL = """
SELECT * FROM meal_responses
WHERE subject_id = $subject_id AND local_date <= $end
ORDER BY local_date, meal_local_ts NULLS LAST
"""

ASSOCIATIONS_SQL = """
SELECT * FROM associations
WHERE subject_id = $subject_id
ORDER BY analysis, outcome, lag_days
"""


def _frame(
    con: duckdb.DuckDBPyConnection, query: str, params: dict, schema: pl.Schema
) -> pl.DataFrame:
    frame = query_frame(con, query, params)
    return frame.select(pl.col(name).cast(dtype) for name, dtype in schema.items())


def _notes(con: duckdb.DuckDBPyConnection, params: dict) -> tuple[str, ...]:
    untimed, entries = run(
        con,
        "SELECT count(*) FILTER (WHERE local_ts IS NULL), count(*) FROM food_entries "
        "WHERE local_date BETWEEN $start AND $end AND subject_id = $subject_id",
        params,
    )[0]
    notes = []
    if entries:
        notes.append(
            f"{untimed} of {entries} food entries have no time of day; they count in "
            "daily totals only."
        )
        sources = dict(run(
            con,
            "SELECT match_method, count(*) FROM food_entries WHERE local_date BETWEEN $start "
            "AND $end AND subject_id = $subject_id AND magnesium_mg IS NOT NULL GROUP BY 1",
            params,
        ))
        unknown = entries - sum(sources.values())
        notes.append(
            "Where each entry's magnesium came from: "
            f"{sources.get('export', 0)} from the export, {sources.get('custom', 0)} from your "
            f"custom foods, {sources.get('supplement', 0)} from your supplements, "
            f"{sources.get('alias', 0) + sources.get('user_alias', 0)} from USDA SR28 by name, "
            f"{sources.get('fuzzy', 0)} from USDA SR28 by fuzzy match (each listed with its "
            f"score in the food_matches view); {unknown} unknown (not counted)."
        )
    notes.append(
        "Glucose figures use sensor (CGM) readings; Low/High sensor values count as "
        "readings outside 70–180 mg/dL and are left out of means."
    )
    return tuple(notes)


def previous_period(start: date, end: date, kind: str) -> tuple[date, date, str]:
    """The period before: the previous calendar month, or the same number of days before."""
    if kind == "monthly":
        first, last = month_bounds(start - timedelta(days=1))
        return first, last, first.strftime("%Y-%m")
    days = (end - start).days + 1
    first, last = start - timedelta(days=days), start - timedelta(days=1)
    return first, last, f"{first.isoformat()} to {last.isoformat()}"


GAP_MIN_MINUTES = 60  # a sensor gap worth listing: an hour without readings


def sensor_gaps(readings: pl.DataFrame, min_minutes: int = GAP_MIN_MINUTES) -> pl.DataFrame:
    """Stretches of more than `min_minutes` between consecutive sensor readings of a subject
    (any device): `from_local, to_local` (the readings around the gap) and `hours`, longest
    first."""
    gap = pl.col("ts_utc").diff().over("subject_id")
    return (
        readings.sort("subject_id", "ts_utc")
        .with_columns(hours=gap.dt.total_seconds() / 3600.0,
                      from_local=pl.col("local_ts").shift(1).over("subject_id"))
        .filter(pl.col("hours") > min_minutes / 60.0)
        .select("from_local", to_local="local_ts", hours="hours")
        .sort("hours", "from_local", descending=[True, False])
    )


def period_glucose(readings: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """Metrics for the whole period (one row), or an empty frame without readings in it."""
    if readings.filter(pl.col("local_date").is_between(start, end)).is_empty():
        return pl.DataFrame()
    return glucose_metrics(readings, by="range", start=start, end=end)


def glucose_parts(readings: pl.DataFrame, start: date, end: date) -> dict[str, pl.DataFrame]:
    """From sensor readings (`sensor_readings` columns, the day before `start` included for
    MODD): metrics for the period, each day and each time of day; the AGP; the overlay's
    readings. Empty when no reading falls in the period."""
    in_period = readings.filter(pl.col("local_date").is_between(start, end))
    if in_period.is_empty():
        return {}
    return {
        "glucose_period": glucose_metrics(readings, by="range", start=start, end=end),
        "glucose_daily": glucose_metrics(readings, by="day", start=start, end=end),
        "glucose_time_of_day": glucose_metrics(readings, by="range", start=start, end=end,
                                               by_time_of_day=True, variability=False),
        "agp": agp_profile(in_period, ["subject_id"]),
        "sensor_gaps": sensor_gaps(in_period),
        "overlay": in_period.filter(pl.col("glucose_mg_dl").is_not_null()).select(
            "local_date",
            hour=pl.col("local_ts").dt.hour() + pl.col("local_ts").dt.minute() / 60.0
            + pl.col("local_ts").dt.second() / 3600.0,
            glucose_mg_dl="glucose_mg_dl",
        ),
    }


def _meal_parts(con: duckdb.DuckDBPyConnection, params: dict) -> dict[str, pl.DataFrame]:
    """Meals in the period; the repeat-meal spread over all meals up to its end and the
    associations over all data (a month alone is too short for either)."""
    meals = query_frame(con, MEALS_SQL, {"subject_id": params["subject_id"],
                                         "end": params["end"]})
    return {
        "meals": meals.filter(pl.col("local_date") >= params["start"]),
        "repeat_meals": repeat_meal_spread(meals),
        "associations": query_frame(con, ASSOCIATIONS_SQL,
                                    {"subject_id": params["subject_id"]}),
    }


def load_report_input(
    con: duckdb.DuckDBPyConnection, settings: Settings, start: date, end: date, title: str,
    kind: str = "monthly",
) -> ReportInput:
    params = {"start": start, "end": end, "subject_id": settings.subject_id}
    batches = query_frame(con, BATCHES_SQL, params)
    batch_ids = {"batch_ids": batches["batch_id"].to_list()}
    before_start, before_end, before_label = previous_period(start, end, kind)
    before = {"start": before_start, "end": before_end, "subject_id": settings.subject_id}
    return ReportInput(
        kind=kind,
        **glucose_parts(sensor_readings(con, start, end, settings.subject_id), start, end),
        magnesium_rolling=query_frame(con, MAGNESIUM_ROLLING_SQL, params),
        top_sources=query_frame(con, TOP_SOURCES_SQL, params),
        unmatched=query_frame(con, UNMATCHED_SQL, params),
        **_meal_parts(con, params),
        previous_label=before_label,
        previous_daily=_frame(con, DAILY_SQL, before, DAILY_SCHEMA),
        previous_glucose=period_glucose(
            sensor_readings(con, before_start, before_end, settings.subject_id),
            before_start, before_end),
        title=title,
        period_start=start,
        period_end=end,
        timezone=settings.timezone,
        generated_at_utc=datetime.now(UTC),
        daily=_frame(con, DAILY_SQL, params, DAILY_SCHEMA),
        batches=batches.select(pl.col(n).cast(t) for n, t in BATCHES_SCHEMA.items()),
        quarantine=_frame(con, QUARANTINE_SQL, batch_ids, QUARANTINE_SCHEMA),
        validation=_frame(con, VALIDATION_SQL, batch_ids, VALIDATION_SCHEMA),
        reference_intakes=reference_intakes(settings.age, settings.sex, settings.life_stage),
        supplement_upper_level_mg=supplement_upper_level_mg(settings.age),
        versions=VERSIONS,
        notes=_notes(con, params),
    )


def report_path(settings: Settings, kind: str, label: str) -> Path:
    """Where the report of one period lives: reports/<kind>/<label>.html."""
    return settings.reports / kind / f"{label}.html"


def write_period_report(settings: Settings, start: date, end: date, kind: str, label: str) -> Path:
    """Render the report for [start, end] to reports/<kind>/<label>.html, replacing the same
    period's report atomically, then refresh reports/index.html."""
    title = (
        f"glucomag monthly report — {label}"
        if kind == "monthly"
        else f"glucomag nightly report — {end.isoformat()} and the {(end - start).days + 1} "
        "days to it"
    )
    with warehouse(settings) as con:
        data = load_report_input(con, settings, start, end, title, kind)
    path = write_report(render_report(data), report_path(settings, kind, label))
    write_index(settings.reports)
    return path
