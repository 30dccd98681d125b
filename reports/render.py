"""Render a `ReportInput` to one self-contained HTML file (inline CSS and SVG, no scripts, no URLs).

The renderer is pure: it reads only the bundle, computes the summary figures with polars, and
fills `templates/report.html.j2` with autoescaping on. Only the chart SVG from `reports.charts`
is marked safe. Wording follows `report-wording.md`: describe, never prescribe; every figure
carries its n / coverage; below the minimum data a section says "not enough data yet".

Period glucose figures are weighted by each day's number of sensor readings (not an average
of daily means). The share 70–180 mg/dL is then exact, because the daily share is computed over
all sensor readings including Low/High; the mean is close but not exact on days with Low/High
readings, which have no numeric value. The report says so.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from reports import charts, sections
from reports.fmt import count, plural, reference_number, rounded, text, utc
from reports.model import DAILY_SCHEMA, ReportInput

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "report.html.j2"

# Minimum data for a statement (below it the report says "not enough data yet").
# Days with food entries for the magnesium average and chart; at least one entry in the period
# must also have a known value (an average of "at least 0 mg" would say nothing).
MIN_FOOD_DAYS = 1


def render_report(data: ReportInput) -> str:
    """Return the complete report as an HTML string."""
    daily = _checked_daily(data)
    context = {
        "title": data.title,
        "period_start": data.period_start.isoformat(),
        "period_end": data.period_end.isoformat(),
        "days_in_period": daily.height,
        "timezone": data.timezone,
        "generated_at": utc(data.generated_at_utc),
        "kind": data.kind,
        "summary": sections.summary_section(data, daily),
        "magnesium": _magnesium_section(data, daily),
        "glucose": _glucose_section(data, daily),
        "meals": sections.meals_section(data),
        "associations": sections.associations_section(data),
        "quality": _quality_section(data, daily),
        "colours": charts.GLUCOSE_COLOURS,
    }
    return _environment().get_template(TEMPLATE_NAME).render(**context)


def write_report(html: str, path: Path) -> Path:
    """Write ``html`` to ``path`` atomically (temp file in the same folder, then os.replace).

    Creates missing parent folders. The file is readable by its owner only (mode 0600, as
    tempfile creates it): a report holds personal health figures.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(html)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


# --- sections ------------------------------------------------------------------------------


def _magnesium_section(data: ReportInput, daily: pl.DataFrame) -> dict[str, Any]:
    food = daily.filter(pl.col("food_entries") > 0)
    n_days = food.height
    entries = int(food["food_entries"].sum())
    known = int(food["entries_with_magnesium"].sum())
    rows = [
        {
            "date": r["local_date"].isoformat(),
            "entries": count(r["food_entries"]),
            "amount": _daily_amount(r),
            "coverage": _daily_coverage(r),
        }
        for r in daily.select(
            "local_date", "food_entries", "entries_with_magnesium", "magnesium_known_mg"
        ).iter_rows(named=True)
    ]
    section: dict[str, Any] = {
        "rows": rows,
        "days_with_food": n_days,
        "enough": n_days >= MIN_FOOD_DAYS and known > 0,
        "entries": count(entries),
        "known_entries": count(known),
        "known_pct": rounded(100 * known / entries) if entries else None,
        "reference_intakes": [
            {"label": r.label, "mg": reference_number(r.mg_per_day)} for r in data.reference_intakes
        ],
    }
    extras = sections.magnesium_extras(data, food)
    rolling = extras.pop("rolling_frame")
    section |= extras
    if not section["enough"]:
        section["missing"] = (
            "there are no days with food entries in this period, so there is no magnesium "
            "average or chart to show. A food log covering these dates is needed."
            if n_days < MIN_FOOD_DAYS
            else f"none of the {count(entries)} food entries in this period has a known "
            "magnesium value, so there is no magnesium average or chart to show. Magnesium "
            "values in the export, custom foods or a reference-table match are needed."
        )
        return section
    # Known part only: a day whose entries all lack a value contributes 0 to this lower bound.
    average = float(food["magnesium_known_mg"].fill_null(0.0).mean())
    section["average_mg"] = rounded(average)
    section["comparisons"] = [
        {
            "label": r.label,
            "mg": reference_number(r.mg_per_day),
            "pct": rounded(100 * average / r.mg_per_day) if r.mg_per_day > 0 else "n/a",
        }
        for r in data.reference_intakes
    ]
    section["chart"] = Markup(charts.magnesium_daily_svg(daily, data.reference_intakes, rolling))
    section["supplements"] = _supplement_facts(food, data.supplement_upper_level_mg)
    return section


def _supplement_facts(food: pl.DataFrame, upper_level_mg: float) -> dict[str, Any] | None:
    """Supplemental intake against the supplemental upper level, as a fact (no advice)."""
    with_supplements = food.filter(pl.col("magnesium_supplement_mg") > 0)
    if with_supplements.is_empty():
        return None
    return {
        "days": with_supplements.height,
        "days_with_food": food.height,
        "average_mg": rounded(float(with_supplements["magnesium_supplement_mg"].mean())),
        "upper_level_mg": reference_number(upper_level_mg),
        "days_above": int((with_supplements["magnesium_supplement_mg"] > upper_level_mg).sum()),
    }


def _glucose_section(data: ReportInput, daily: pl.DataFrame) -> dict[str, Any]:
    with_readings = daily.filter(pl.col("glucose_readings") > 0)
    section: dict[str, Any] = {"any": with_readings.height > 0,
                               "days_with_readings": with_readings.height}
    if not section["any"]:
        return section
    per_day = sections.daily_glucose_rows(data)
    section["readings"] = int(with_readings["glucose_readings"].sum())
    section["rows"] = [
        {
            "date": r["local_date"].isoformat(),
            "readings": count(r["glucose_readings"]),
            "wear": per_day.get(r["local_date"], {}).get("wear", "—"),
            "mean": (
                "—"
                if r["glucose_mean_mg_dl"] is None
                else f"{rounded(r['glucose_mean_mg_dl'])} mg/dL"
            ),
            "in_range": (
                "—"
                if r["glucose_in_range_share"] is None
                else f"{rounded(100 * r['glucose_in_range_share'])} %"
            ),
        }
        for r in daily.select(
            "local_date", "glucose_readings", "glucose_mean_mg_dl", "glucose_in_range_share"
        ).iter_rows(named=True)
    ]
    has_mean = daily["glucose_mean_mg_dl"].is_not_null().any()
    section["mean_chart"] = Markup(charts.glucose_daily_svg(daily)) if has_mean else None
    section["metrics"] = sections.glucose_metrics_section(data)
    return section


def _quality_section(data: ReportInput, daily: pl.DataFrame) -> dict[str, Any]:
    has_food = pl.col("food_entries") > 0
    has_glucose = pl.col("glucose_readings") > 0
    counts = daily.select(
        food=has_food.sum(),
        glucose=has_glucose.sum(),
        both=(has_food & has_glucose).sum(),
        neither=(~has_food & ~has_glucose).sum(),
    ).row(0, named=True)
    batches = _formatted(data.batches, {
        "file_name": text, "format": text, "rows_read": count, "rows_stored": count,
        "rows_duplicate": count, "rows_quarantined": count, "finished_at": utc, "status": text,
    })
    quarantine = _formatted(data.quarantine, {
        "file_name": text, "rule": text, "reason": text, "rows": count})
    validation = _formatted(data.validation, {
        "stage": text, "suite": text, "success": bool, "expectations": count, "failed": count,
        "run_at": utc,
    })
    gaps = data.sensor_gaps
    sensor = {
        "gaps": gaps.height,
        "gap_hours": rounded(float(gaps["hours"].sum()), 1) if gaps.height else "0",
        "longest": [{"from": r["from_local"].strftime("%Y-%m-%d %H:%M"),
                     "to": r["to_local"].strftime("%Y-%m-%d %H:%M"),
                     "hours": rounded(r["hours"], 1)}
                    for r in gaps.head(5).iter_rows(named=True)],
        "wear": (rounded(float(data.glucose_period["wear_pct"][0]))
                 if not data.glucose_period.is_empty() else None),
    }
    quarantined_rows = (
        int(data.quarantine["rows"].fill_null(0).sum()) if "rows" in data.quarantine.columns else 0
    )
    return {
        "days_in_period": daily.height,
        "days_with_food": int(counts["food"]),
        "days_with_glucose": int(counts["glucose"]),
        "days_with_both": int(counts["both"]),
        "days_without_data": int(counts["neither"]),
        "sensor": sensor,
        "batches": batches,
        "quarantine": quarantine,
        "quarantined_rows": quarantined_rows,
        "validation": validation,
        "validation_passed": sum(v["success"] for v in validation),
        "versions": list(data.versions.items()),
        "notes": list(data.notes),
    }


# --- checks and formatting -----------------------------------------------------------------


def _formatted(frame: pl.DataFrame, formatters: dict[str, Any]) -> list[dict[str, Any]]:
    """Each row of `frame` as text for the template: column → its formatter's result (a
    column the frame lacks is formatted from None)."""
    return [{name: format_(row.get(name)) for name, format_ in formatters.items()}
            for row in frame.iter_rows(named=True)]


def _checked_daily(data: ReportInput) -> pl.DataFrame:
    """The daily frame in the contract's types, or ValueError if it breaks the contract."""
    if data.period_end < data.period_start:
        raise ValueError(f"period_end {data.period_end} is before period_start {data.period_start}")
    missing = [c for c in DAILY_SCHEMA.names() if c not in data.daily.columns]
    if missing:
        raise ValueError(f"daily frame lacks columns: {', '.join(missing)}")
    daily = data.daily.select([pl.col(name).cast(dtype) for name, dtype in DAILY_SCHEMA.items()])
    expected = pl.date_range(data.period_start, data.period_end, interval="1d", eager=True)
    if daily.height != expected.len() or not (daily["local_date"] == expected).all():
        raise ValueError(
            "daily frame must have exactly one row per local_date from "
            f"{data.period_start} to {data.period_end}, ascending"
        )
    return daily


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(
            enabled_extensions=("html", "j2"), default_for_string=True, default=True
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["plural"] = plural
    return env


def _daily_amount(r: dict[str, Any]) -> str:
    if not r["food_entries"]:
        return "—"
    if not r["entries_with_magnesium"]:
        return "no known value"
    return f"at least {rounded(r['magnesium_known_mg'] or 0.0)} mg"


def _daily_coverage(r: dict[str, Any]) -> str:
    entries = r["food_entries"] or 0
    if entries == 0:
        return "no food entries"
    noun = "entry" if entries == 1 else "entries"
    known = count(r["entries_with_magnesium"] or 0)
    return f"known for {known} of {count(entries)} {noun}"
