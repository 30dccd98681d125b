"""Build a report's data bundle from the warehouse and write the report file."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl

from glucomag import __version__
from glucomag.settings import Settings
from reports.intake import reference_intakes, supplement_upper_level_mg
from reports.model import (
    BATCHES_SCHEMA,
    DAILY_SCHEMA,
    QUARANTINE_SCHEMA,
    VALIDATION_SCHEMA,
    ReportInput,
)
from reports.render import render_report, write_report
from transforms.pipeline import warehouse
from transforms.warehouse import query_frame, run

VERSIONS = {
    "glucomag": __version__,
    "metric definitions": "glucomag-metrics v1: mean of sensor readings; time 70–180 mg/dL "
    "inclusive as share of readings (Battelino et al., Diabetes Care 2019)",
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


def month_bounds(first: date) -> tuple[date, date]:
    """First and last day of the month of `first`."""
    return first.replace(day=1), first.replace(day=calendar.monthrange(first.year, first.month)[1])


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


def load_report_input(
    con: duckdb.DuckDBPyConnection, settings: Settings, start: date, end: date, title: str
) -> ReportInput:
    params = {"start": start, "end": end, "subject_id": settings.subject_id}
    batches = query_frame(con, BATCHES_SQL, params)
    batch_ids = {"batch_ids": batches["batch_id"].to_list()}
    return ReportInput(
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


def write_period_report(settings: Settings, start: date, end: date, kind: str, label: str) -> Path:
    """Render the report for [start, end] to reports/<kind>/<label>.html, replacing atomically."""
    title = (
        f"glucomag {kind} report — {label}"
        if kind == "monthly"
        else f"glucomag {kind} report — {(end - start).days + 1} days to {end.isoformat()}"
    )
    with warehouse(settings) as con:
        data = load_report_input(con, settings, start, end, title)
    return write_report(render_report(data), settings.reports / kind / f"{label}.html")
