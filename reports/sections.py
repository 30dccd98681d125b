"""Report sections built on the glucose analytics: summary and changes, glucose metrics with
targets and charts, meal responses, and magnesium next to glucose.

Each function returns a plain dict for the template. Wording follows report-wording.md:
figures carry their n and coverage; below a minimum the section says "not enough data yet"
and what is missing, and draws nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
from markupsafe import Markup

from reports import charts
from reports.fmt import count, optional, plural, rounded
from reports.model import ReportInput
from transforms.glucose.meals import MEAL_PARAMETERS

# Consensus (Battelino et al. 2019): a period summary needs ≥ 14 days and ≥ 70 % wear.
MIN_GLUCOSE_DAYS = 14
MIN_WEAR_PCT = 70.0
MIN_USABLE_MEALS = 5  # below this, a list of "smallest and largest" responses says little
MEALS_LISTED = 5
# A rolling mean is drawn only where its window has enough days with food.
ROLLING_MIN_DAYS = {"mean_7d_mg": 4, "mean_28d_mg": 14}

# (column, label, unit, places, target for adults with diabetes — consensus, or "")
METRIC_ROWS = (
    ("days_with_data", "Days with sensor data", "", 0, "≥ 14 days"),
    ("wear_pct", "Sensor wear (time with readings)", " %", 0, "≥ 70 %"),
    ("readings", "Readings (n)", "", 0, ""),
    ("mean_mg_dl", "Mean glucose", " mg/dL", 0, ""),
    ("gmi_pct", "Glucose management indicator (GMI)", " %", 1, ""),
    ("sd_mg_dl", "Standard deviation", " mg/dL", 0, ""),
    ("cv_pct", "Coefficient of variation (CV)", " %", 1, "≤ 36 %"),
    ("tir_70_180_pct", "Time in range 70–180 mg/dL", " %", 1, "> 70 %"),
    ("titr_70_140_pct", "Time in tight range 70–140 mg/dL", " %", 1, ""),
    ("tbr_below_70_pct", "Time below 70 mg/dL (includes below 54)", " %", 1, "< 4 %"),
    ("tbr_below_54_pct", "Time below 54 mg/dL", " %", 1, "< 1 %"),
    ("tar_above_180_pct", "Time above 180 mg/dL (includes above 250)", " %", 1, "< 25 %"),
    ("tar_above_250_pct", "Time above 250 mg/dL", " %", 1, "< 5 %"),
    ("mage_mg_dl", "MAGE (mean amplitude of glycaemic excursions)", " mg/dL", 0, ""),
    ("modd_mg_dl", "MODD (mean of daily differences)", " mg/dL", 0, ""),
    ("conga1_mg_dl", "CONGA(1)", " mg/dL", 0, ""),
    ("lbgi", "Low blood glucose index (LBGI)", "", 2, ""),
    ("hbgi", "High blood glucose index (HBGI)", "", 2, ""),
    ("j_index", "J-index", "", 1, ""),
)

_BASELINE_MIN, _WINDOW_MIN = MEAL_PARAMETERS["baseline_min"], MEAL_PARAMETERS["window_min"]
MEAL_STATUS_WORDS = {
    "ok": "used",
    "no_time": "no time of day in the log (counted in daily totals only)",
    "no_glucose": "no sensor readings around the meal",
    "no_baseline": f"no reading in the {_BASELINE_MIN} minutes before the meal",
    "incomplete_window": f"more than {MEAL_PARAMETERS['max_missing_pct']:g} % of the "
                         f"{_WINDOW_MIN / 60:g}-hour window missing",
    "overlaps_next_meal": "the next meal started within "
                          f"{(_WINDOW_MIN + _BASELINE_MIN) / 60:g} hours",
}

OUTCOME_WORDS = {
    "mean_mg_dl": ("mean glucose", "mg/dL"),
    "cv_pct": ("glucose CV", "percentage points"),
    "tir_70_180_pct": ("time 70–180 mg/dL", "percentage points"),
    "iauc_mg_dl_min": ("2-hour incremental AUC", "mg/dL·min"),
    "peak_rise_mg_dl": ("peak rise", "mg/dL"),
}


# --- summary -------------------------------------------------------------------------------


def period_figures(daily: pl.DataFrame, glucose: dict[str, Any] | None) -> dict[str, str]:
    """The headline figures of one period, each with its n, as text for the summary table."""
    food = daily.filter(pl.col("food_entries") > 0) if not daily.is_empty() else daily
    entries = int(food["food_entries"].sum()) if food.height else 0
    known = int(food["entries_with_magnesium"].sum()) if food.height else 0
    figures = {
        "magnesium": (
            f"at least {rounded(float(food['magnesium_known_mg'].fill_null(0).mean()))} mg/day "
            f"(n = {plural(food.height, 'day')})" if known else "—"),
        "coverage": (f"{rounded(100 * known / entries)} % of {count(entries)} entries"
                     if entries else "—"),
    }
    if glucose:
        figures |= {
            "mean": f"{optional(glucose['mean_mg_dl'], 0, ' mg/dL')} "
                    f"(n = {plural(glucose['readings'], 'reading')})",
            "tir": f"{optional(glucose['tir_70_180_pct'], 1, ' %')}",
            "cv": f"{optional(glucose['cv_pct'], 1, ' %')}",
            "wear": f"{optional(glucose['wear_pct'], 0, ' %')} "
                    f"({plural(glucose['days_with_data'], 'day')})",
        }
    else:
        figures |= dict.fromkeys(("mean", "tir", "cv", "wear"), "no sensor data")
    return figures


def summary_section(data: ReportInput, daily: pl.DataFrame) -> dict[str, Any]:
    """Days covered, and the headline figures next to the period before (or, nightly, the
    last day next to the last 7 days and the 7 days before)."""
    glucose = _first_row(data.glucose_period)
    columns = []
    if data.kind == "nightly":
        last = daily.filter(pl.col("local_date") == data.period_end)
        day_glucose = _first_row(data.glucose_daily.filter(
            pl.col("period_start") == data.period_end)) if not data.glucose_daily.is_empty() \
            else None
        columns.append((f"{data.period_end.isoformat()} (last day)",
                        period_figures(last, day_glucose)))
        columns.append((f"last {daily.height} days", period_figures(daily, glucose)))
    else:
        columns.append((f"this period ({data.period_start.strftime('%Y-%m')})",
                        period_figures(daily, glucose)))
    if data.previous_label:
        columns.append((data.previous_label,
                        period_figures(data.previous_daily, _first_row(data.previous_glucose))))
    labels = (("magnesium", "Logged magnesium, mean of days with food (known part)"),
              ("coverage", "Food entries with a known magnesium value"),
              ("mean", "Mean glucose"), ("tir", "Time 70–180 mg/dL"),
              ("cv", "Glucose CV"), ("wear", "Sensor wear"))
    return {
        "headers": [label for label, _ in columns],
        "rows": [{"label": text, "values": [figures[key] for _, figures in columns]}
                 for key, text in labels],
        "days_with_food": int((daily["food_entries"] > 0).sum()),
        "days_with_glucose": int((daily["glucose_readings"] > 0).sum()),
    }


# --- glucose -------------------------------------------------------------------------------


def glucose_metrics_section(data: ReportInput) -> dict[str, Any]:
    """The consensus table with targets, the AGP, the overlay, the ranges and time of day."""
    period = _first_row(data.glucose_period)
    if period is None:
        return {"any": False}
    days_in_period = (data.period_end - data.period_start).days + 1
    min_days = min(MIN_GLUCOSE_DAYS, days_in_period)
    enough = period["days_with_data"] >= min_days and period["wear_pct"] >= MIN_WEAR_PCT
    section: dict[str, Any] = {
        "any": True,
        "enough": enough,
        "min_days": min_days,
        "min_wear": rounded(MIN_WEAR_PCT),
        "days_with_data": period["days_with_data"],
        "wear": rounded(period["wear_pct"]),
        "readings": period["readings"],
        "days_missing": max(0, min_days - period["days_with_data"]),
        "shorter_than_consensus": min_days < MIN_GLUCOSE_DAYS,
    }
    if not enough:
        return section
    section["metrics"] = [
        {"label": label, "value": optional(period[column], places, unit), "target": target}
        for column, label, unit, places, target in METRIC_ROWS
    ]
    section["ranges_chart"] = Markup(charts.period_ranges_svg(period))
    section["daily_ranges_chart"] = Markup(charts.time_in_ranges_svg(data.glucose_daily))
    section["overlay_chart"] = Markup(charts.overlay_svg(data.overlay))
    agp_days = period["days_with_data"]
    section["agp_chart"] = (Markup(charts.agp_svg(data.agp, agp_days))
                            if agp_days >= MIN_GLUCOSE_DAYS else None)
    section["agp_days_missing"] = max(0, MIN_GLUCOSE_DAYS - agp_days)
    section["time_of_day"] = [
        {
            "bucket": str(r["time_of_day"]),
            "readings": count(r["readings"]),
            "mean": optional(r["mean_mg_dl"], 0, " mg/dL"),
            "tir": optional(r["tir_70_180_pct"], 1, " %"),
            "tbr": optional(r["tbr_below_70_pct"], 1, " %"),
            "tar": optional(r["tar_above_180_pct"], 1, " %"),
        }
        for r in data.glucose_time_of_day.iter_rows(named=True)
    ]
    return section


def daily_glucose_rows(data: ReportInput) -> dict[date, dict[str, str]]:
    """Per-day wear and time in range, by date, for the daily table."""
    if data.glucose_daily.is_empty():
        return {}
    return {
        r["period_start"]: {"wear": optional(r["wear_pct"], 0, " %"),
                            "tir": optional(r["tir_70_180_pct"], 0, " %")}
        for r in data.glucose_daily.iter_rows(named=True)
    }


# --- meals ---------------------------------------------------------------------------------


def meals_section(data: ReportInput) -> dict[str, Any]:
    """How many meals could be used and why not; smallest and largest responses; repeats."""
    meals = data.meals
    if meals.is_empty():
        return {"any": False}
    status_counts = dict(meals.group_by("status").len().iter_rows())
    usable = meals.filter(pl.col("usable"))
    section: dict[str, Any] = {
        "any": True,
        "meals": meals.height,
        "usable": usable.height,
        "reasons": [{"words": MEAL_STATUS_WORDS.get(status, status), "meals": n}
                    for status, n in sorted(status_counts.items(), key=lambda kv: -kv[1])
                    if status != "ok"],
        "enough": usable.height >= MIN_USABLE_MEALS,
        "min_meals": MIN_USABLE_MEALS,
        "meals_missing": max(0, MIN_USABLE_MEALS - usable.height),
        "has_glucose": not data.glucose_period.is_empty(),
    }
    if section["enough"]:
        ordered = usable.sort("iauc_mg_dl_min", "meal_local_ts")
        section["smallest"] = _meal_rows(ordered.head(MEALS_LISTED))
        section["largest"] = _meal_rows(ordered.reverse().head(MEALS_LISTED))
    section["repeats"] = [
        {
            "foods": r["foods"],
            "meals": r["meals"],
            "iauc": f"{rounded(r['iauc_mean'])} ± {optional(r['iauc_sd'])}",
            "iauc_range": f"{rounded(r['iauc_min'])}–{rounded(r['iauc_max'])}",
            "peak": f"{rounded(r['peak_rise_mean'])} ± {optional(r['peak_rise_sd'])}",
        }
        for r in data.repeat_meals.head(10).iter_rows(named=True)
    ]
    return section


def _meal_rows(meals: pl.DataFrame) -> list[dict[str, str]]:
    return [
        {
            "when": r["meal_local_ts"].strftime("%Y-%m-%d %H:%M"),
            "foods": r["foods"],
            "magnesium": (f"≥ {rounded(r['magnesium_known_mg'])} mg "
                          f"({rounded(r['magnesium_coverage_pct'])} % known)"),
            "carbs": optional(r["carbohydrates_g"], 0, " g"),
            "baseline": optional(r["baseline_mg_dl"], 0),
            "rise": optional(r["peak_rise_mg_dl"], 0),
            "to_peak": optional(r["time_to_peak_min"], 0, " min"),
            "iauc": optional(r["iauc_mg_dl_min"], 0),
            "complete": optional(r["window_completeness_pct"], 0, " %"),
        }
        for r in meals.iter_rows(named=True)
    ]


# --- magnesium and glucose -----------------------------------------------------------------


def associations_section(data: ReportInput) -> dict[str, Any]:
    """Each association with its estimate, 95 % CI, n and coverage — or what is missing."""
    rows = []
    for r in data.associations.iter_rows(named=True):
        outcome, unit = OUTCOME_WORDS.get(r["outcome"], (r["outcome"], ""))
        when = ("same day" if r["lag_days"] == 0 else "next day") if r["analysis"] == "daily" \
            else "per meal"
        rows.append({
            "what": f"Logged magnesium and {outcome} ({when})"
                    + (f", adjusted for {r['adjusted_for'].replace('_g', '')}"
                       if r.get("adjusted_for") else ""),
            "estimated": r["status"] == "estimated",
            "estimate": (f"{optional(r['estimate'], 1)} {unit} per 100 mg "
                         f"(95 % CI {optional(r['ci_low'], 1)} to {optional(r['ci_high'], 1)})"
                         if r["status"] == "estimated" else "—"),
            "n": (f"{plural(r['paired_days'], 'day')}"
                  + (f", {plural(r['meals'], 'meal')}" if r.get("meals") else "")),
            "coverage": (f"magnesium known for {optional(r['magnesium_coverage_pct'], 0, ' %')}"
                         f" of entries; sensor wear {optional(r['glucose_wear_pct'], 0, ' %')}"),
            "message": r["message"],
        })
    return {"rows": rows, "any_estimated": any(row["estimated"] for row in rows),
            "has_glucose": not data.glucose_period.is_empty()}


# --- magnesium extras ----------------------------------------------------------------------


def rolling_means(data: ReportInput) -> pl.DataFrame | None:
    """The rolling means with windows that have too few days with food blanked out."""
    if data.magnesium_rolling.is_empty():
        return None
    return data.magnesium_rolling.with_columns(
        pl.when(pl.col(days_column) >= minimum).then(pl.col(column)).alias(column)
        for column, days_column, minimum in (
            ("mean_7d_mg", "days_7d", ROLLING_MIN_DAYS["mean_7d_mg"]),
            ("mean_28d_mg", "days_28d", ROLLING_MIN_DAYS["mean_28d_mg"]),
        )
    )


def magnesium_extras(data: ReportInput, food_days: pl.DataFrame) -> dict[str, Any]:
    """Rolling means at the period's end, days reaching each reference, top sources,
    supplements next to food, and the unmatched foods that matter most."""
    rolling = rolling_means(data)
    last = rolling.row(-1, named=True) if rolling is not None and rolling.height else None
    known = food_days["magnesium_known_mg"].fill_null(0)
    total = float(known.sum())
    supplements = float(food_days["magnesium_supplement_mg"].fill_null(0).sum())
    return {
        "rolling": None if last is None else {
            "date": last["local_date"].isoformat(),
            "mean_7d": optional(last["mean_7d_mg"]), "days_7d": last["days_7d"],
            "mean_28d": optional(last["mean_28d_mg"]), "days_28d": last["days_28d"],
            "min_7d": ROLLING_MIN_DAYS["mean_7d_mg"], "min_28d": ROLLING_MIN_DAYS["mean_28d_mg"],
        },
        "rolling_frame": rolling,
        "reaching": [
            {"label": ref.label, "mg": rounded(ref.mg_per_day),
             "days": int((known >= ref.mg_per_day).sum()), "of": food_days.height,
             "pct": rounded(100 * float((known >= ref.mg_per_day).mean()))}
            for ref in data.reference_intakes
        ] if food_days.height else [],
        "sources": [
            {"food": r["food_name"], "entries": count(r["entries"]),
             "mg": rounded(r["magnesium_mg"]), "share": rounded(r["share_pct"]),
             "supplement": bool(r["supplement"])}
            for r in data.top_sources.iter_rows(named=True)
        ],
        "supplement_split": None if total <= 0 else {
            "food_mg": rounded(total - supplements), "supplement_mg": rounded(supplements),
            "supplement_pct": rounded(100 * supplements / total),
        },
        "unmatched": [
            {"food": r["food_name"], "entries": count(r["entries"]),
             "grams": optional(r["grams"], 0, " g"), "reason": r["reason"] or "—"}
            for r in data.unmatched.iter_rows(named=True)
        ],
    }


def _first_row(frame: pl.DataFrame) -> dict[str, Any] | None:
    return frame.row(0, named=True) if not frame.is_empty() else None
