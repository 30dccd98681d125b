"""The data bundle a report is rendered from.

`reports.data` builds a `ReportInput` from the warehouse; `reports.render` turns it into HTML
without touching the database, so the renderer can be tested with small hand-made frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import polars as pl


@dataclass(frozen=True)
class ReferenceIntake:
    """A published daily intake reference.

    Example: ``ReferenceIntake("Adult men 31+ (US RDA)", 420)``.
    """

    label: str
    mg_per_day: float


@dataclass(frozen=True)
class ReportInput:
    """Everything one report shows.

    ``daily`` has exactly one row per ``local_date`` in ``[period_start, period_end]``, ascending,
    with the columns in `DAILY_SCHEMA`. ``batches``, ``quarantine`` and ``validation`` may be
    empty (0 rows, same columns). Glucose may be absent (every ``glucose_readings`` is 0).
    """

    title: str
    period_start: date
    period_end: date  # inclusive
    timezone: str  # IANA name used for "days", e.g. "America/New_York"
    generated_at_utc: datetime
    daily: pl.DataFrame
    batches: pl.DataFrame
    quarantine: pl.DataFrame
    validation: pl.DataFrame
    reference_intakes: tuple[ReferenceIntake, ...]
    versions: dict[str, str]
    notes: tuple[str, ...] = ()
    supplement_upper_level_mg: float = 350.0  # supplemental UL for the profile (IOM)
    kind: str = "monthly"  # "monthly" (the full report) or "nightly" (last day, last 7 days)
    # Glucose metrics (transforms.glucose.metrics columns): one row for the whole period, one
    # per day, one per time-of-day bucket; the AGP (transforms.glucose.agp, 96 bins); the
    # readings for the daily overlay (`local_date, hour, glucose_mg_dl`). Empty = no CGM data.
    glucose_period: pl.DataFrame = field(default_factory=pl.DataFrame)
    glucose_daily: pl.DataFrame = field(default_factory=pl.DataFrame)
    glucose_time_of_day: pl.DataFrame = field(default_factory=pl.DataFrame)
    agp: pl.DataFrame = field(default_factory=pl.DataFrame)
    overlay: pl.DataFrame = field(default_factory=pl.DataFrame)
    # `from_local, to_local, hours`: gaps of over an hour between sensor readings in the period.
    sensor_gaps: pl.DataFrame = field(default_factory=pl.DataFrame)
    # `local_date, mean_7d_mg, days_7d, mean_28d_mg, days_28d` for each day of the period:
    # means of known daily magnesium over the days with food entries in the trailing window.
    magnesium_rolling: pl.DataFrame = field(default_factory=pl.DataFrame)
    # `food_name, entries, magnesium_mg, share_pct, supplement` (top known sources) and
    # `food_name, entries, grams, reason` (unmatched foods that matter most).
    top_sources: pl.DataFrame = field(default_factory=pl.DataFrame)
    unmatched: pl.DataFrame = field(default_factory=pl.DataFrame)
    # transforms.glucose.meals output for meals in the period, and the repeat-meal spread over
    # all meals up to the period's end.
    meals: pl.DataFrame = field(default_factory=pl.DataFrame)
    repeat_meals: pl.DataFrame = field(default_factory=pl.DataFrame)
    # transforms.glucose.associations output (daily and meal level), all days up to the end.
    associations: pl.DataFrame = field(default_factory=pl.DataFrame)
    # The period before (same length: last month, or the 7 days before), for "what changed".
    previous_label: str = ""
    previous_daily: pl.DataFrame = field(default_factory=pl.DataFrame)
    previous_glucose: pl.DataFrame = field(default_factory=pl.DataFrame)


# Column contracts of the frames above (the renderer checks `daily` against its schema).
DAILY_SCHEMA = pl.Schema(
    {
        "local_date": pl.Date(),
        "food_entries": pl.Int64(),  # 0 if none
        "entries_with_magnesium": pl.Int64(),
        "entries_without_magnesium": pl.Int64(),
        "magnesium_known_mg": pl.Float64(),  # known part (lower bound); null without food entries
        "magnesium_supplement_mg": pl.Float64(),  # known part from supplements; null without food
        "glucose_readings": pl.Int64(),  # sensor readings incl. Low/High; 0 if none
        "glucose_mean_mg_dl": pl.Float64(),  # mean of numeric readings; null if none
        "glucose_in_range_share": pl.Float64(),  # share of readings 70–180 incl., 0–1; null if none
    }
)

BATCHES_SCHEMA = pl.Schema(
    {
        "file_name": pl.String(),
        "format": pl.String(),
        "rows_read": pl.Int64(),
        "rows_stored": pl.Int64(),
        "rows_duplicate": pl.Int64(),
        "rows_quarantined": pl.Int64(),
        "finished_at": pl.Datetime("us", "UTC"),
        "status": pl.String(),
    }
)

QUARANTINE_SCHEMA = pl.Schema(
    {"file_name": pl.String(), "rule": pl.String(), "reason": pl.String(), "rows": pl.Int64()}
)

VALIDATION_SCHEMA = pl.Schema(
    {
        "stage": pl.String(),
        "suite": pl.String(),
        "success": pl.Boolean(),
        "expectations": pl.Int64(),
        "failed": pl.Int64(),
        "run_at": pl.Datetime("us", "UTC"),
    }
)
