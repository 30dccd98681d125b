"""Meals from the food log and their postprandial glucose responses, in polars, vectorised.

Definitions follow `../shared/reference/glucose-metrics.md` ("Meal responses"). There is no
single standard for meal responses, so every parameter is explicit, has a default in
`MEAL_PARAMETERS`, and is stored with each result row (`param_*` columns):

* `meal_gap_min` = 30: food entries of one subject are chained into one meal while each is at
  most 30 min after the previous one; the meal time is the earliest entry's time.
* `baseline_min` = 30: the baseline is the mean of the numeric readings in the 30 min before
  the meal, [t − 30 min, t). This is glucomag's choice: iglu's `meal_metrics` (Broll et al.
  2021) uses the hour before, Levels uses the single pre-meal value; a 30-min mean is less
  noisy than one reading and less contaminated by an earlier meal than an hour.
* `window_min` = 120: the response window is [t, t + 120 min], both ends included (3 h is
  also common).
* `return_margin_mg_dl` = 10: back to baseline = first reading after the peak within +10 mg/dL
  of the baseline.
* `max_missing_pct` = 20: a window with more than 20 % of its expected readings missing is
  marked `incomplete_window`, not silently used.

Incremental AUC (iAUC) is the trapezoidal area above the baseline counting positive parts
only (Wolever & Jenkins, Am J Clin Nutr 1986; Wolever, Br J Nutr 2004; the method of ISO
26642 glycaemic-index testing), in mg/dL·min. Two consecutive readings more than 1.5 sensor
intervals apart are never bridged (as in `transforms.glucose.series`): such a pair adds no area.

Window completeness = 100 × readings in the window / (⌊window_min / interval_min⌋ + 1), capped
at 100, where `interval_min` is the sensor interval of most readings around the meal (5 min:
25 expected readings; 15 min: 9). Area is only counted between readings: nothing is
extrapolated from t to the first window reading or from the last one to t + window_min.

Sensor Low/High values (`glucose_mg_dl` NULL, `out_of_range` set) count as readings that are
present but unusable: they count in `baseline_readings`, `window_readings` and so in window
completeness (the sensor was working), but never in a value (baseline, peak, iAUC, return).
Since iAUC pairs consecutive numeric readings, the two numeric readings around a Low/High
value are usually more than 1.5 intervals apart and add no area: no area is invented for a
value the sensor did not give.

Meals without a time of day (Cronometer often leaves `Time` blank) are kept, one row per
subject, day and meal label, with status `no_time`: they count in daily totals but can have no
meal response. Status, first that applies: `no_time`, `no_glucose`, `no_baseline`,
`incomplete_window`, `overlaps_next_meal`, `ok`; `usable` = status is `ok`.

Everything is polars expressions and joins (meals to readings: an equi-join on subject and a
time bucket, then a filter on the exact window); there is no Python loop over meals or rows.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import duckdb
import polars as pl

from schemas.canonical import MEAL_COLUMNS, RESPONSE_COLUMNS

MEAL_PARAMETERS: Final[dict[str, int | float]] = {
    "baseline_min": 30,
    "window_min": 120,
    "meal_gap_min": 30,
    "return_margin_mg_dl": 10.0,
    "max_missing_pct": 20.0,
}

# A reading stands for at most its own interval; the extra half absorbs sensor clock jitter.
MAX_BRIDGE_INTERVALS: Final = 1.5


ENTRY_COLUMNS: Final = ("subject_id", "entry_id", "local_date", "local_ts", "meal", "food_name",
                        "magnesium_mg", "carbohydrates_g", "energy_kcal", "entry_type")
READING_COLUMNS: Final = ("subject_id", "local_ts", "glucose_mg_dl", "interval_min")

MEAL_SCHEMA: Final = pl.Schema({c.name: c.polars_type for c in MEAL_COLUMNS})
RESPONSE_SCHEMA: Final = pl.Schema({c.name: c.polars_type for c in RESPONSE_COLUMNS})

SPREAD_SCHEMA: Final = pl.Schema({
    "subject_id": pl.String(),
    "food_keys": pl.String(),
    "foods": pl.String(),
    "meals": pl.Int64(),
    "iauc_mean": pl.Float64(),
    "iauc_sd": pl.Float64(),
    "iauc_min": pl.Float64(),
    "iauc_max": pl.Float64(),
    "peak_rise_mean": pl.Float64(),
    "peak_rise_sd": pl.Float64(),
})

_glucose = pl.col("glucose_mg_dl")
_after_meal = pl.col("minute")  # minutes after the meal time


def _check_columns(frame: pl.DataFrame, required: tuple[str, ...], name: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks columns: {', '.join(missing)}")


# --------------------------------------------------------------------------- grouping


def food_key() -> pl.Expr:
    """One food's repeat-meal key: name trimmed, lower-cased, inner whitespace runs → one space."""
    return (pl.col("food_name").str.strip_chars().str.to_lowercase()
            .str.replace_all(r"\s+", " "))


def meal_food_keys() -> pl.Expr:
    """Repeat-meal signature: the meal's distinct food keys, sorted, joined with "|"."""
    key = food_key()
    return key.filter(key.is_not_null() & (key != "")).unique().sort().str.join("|")


def known_sum(column: str) -> pl.Expr:
    """Sum of the known values; NULL when no entry has one (unknown is not zero)."""
    return pl.when(pl.col(column).is_not_null().any()).then(pl.col(column).sum())


def _meal_aggregates() -> list[pl.Expr]:
    return [
        pl.col("food_name").str.strip_chars().str.join("; ").alias("foods"),
        pl.len().cast(pl.Int64).alias("food_entries"),
        # Only known values add up; the coverage next to it says how much is unknown.
        pl.col("magnesium_mg").sum().alias("magnesium_known_mg"),
        (100.0 * pl.col("magnesium_mg").is_not_null().sum() / pl.len())
        .alias("magnesium_coverage_pct"),
        known_sum("carbohydrates_g").alias("carbohydrates_g"),
        known_sum("energy_kcal").alias("energy_kcal"),
        meal_food_keys().alias("food_keys"),
    ]


def _with_meal_ids(meals: pl.DataFrame) -> pl.DataFrame:
    """`meal_id` = md5 of "subject|timed|meal time" or "subject|untimed|date|=label".

    md5 in DuckDB, as the warehouse keys its entries, because polars' `hash` may change
    between polars versions and meal ids are stored.
    """
    key = (
        pl.when(pl.col("meal_local_ts").is_not_null())
        .then(pl.concat_str(pl.col("subject_id"), pl.lit("timed"),
                            pl.col("meal_local_ts").dt.strftime("%Y-%m-%dT%H:%M:%S"),
                            separator="|"))
        .otherwise(pl.concat_str(pl.col("subject_id"), pl.lit("untimed"),
                                 pl.col("local_date").cast(pl.String).fill_null(""),
                                 # "=" keeps an empty label apart from a missing one
                                 pl.concat_str(pl.lit("="), pl.col("meal")).fill_null(""),
                                 separator="|"))
    )
    meals = meals.with_columns(_key=key)
    keys = meals.select(pl.col("_key").unique())
    with duckdb.connect() as con:
        con.register("meal_keys", keys)
        hashed = pl.from_arrow(
            con.sql("SELECT _key, md5(_key) AS meal_id FROM meal_keys").to_arrow_table())
    assert isinstance(hashed, pl.DataFrame)
    return meals.join(hashed, on="_key", how="left", maintain_order="left").drop("_key")


def group_meals(entries: pl.DataFrame, meal_gap_min: int = 30) -> pl.DataFrame:
    """One row per meal: timed food entries chained by gaps ≤ `meal_gap_min`, untimed ones by
    (subject, local_date, meal label).

    Only `entry_type = 'food'` rows count. Timed entries of a subject, sorted by time, start a
    new meal when the gap to the previous entry is > `meal_gap_min` minutes; the meal time
    (`meal_local_ts`) is the earliest entry's time and `local_date` that entry's day. Untimed
    entries are never dropped: they form one row per subject, day and label with
    `meal_local_ts` NULL (status `no_time` in `meal_responses`). `meal` = first non-null
    label; `foods` = names joined with "; " in entry order (time, then input order);
    `magnesium_known_mg` = sum of known values (0.0 when none is known; see
    `magnesium_coverage_pct` = 100 × entries with known magnesium / entries);
    `carbohydrates_g`, `energy_kcal` = sums, NULL when no entry has a value; `food_keys` = the
    repeat-meal signature (`meal_food_keys`). Columns and dtypes: `MEAL_SCHEMA`; rows sorted by
    subject, day, meal time (untimed last), label.
    """
    _check_columns(entries, ENTRY_COLUMNS, "entries")
    food = (
        entries.with_row_index("_row")
        .filter(pl.col("entry_type") == "food")
        .with_columns(pl.col("subject_id").cast(pl.String),
                      pl.col("local_ts").cast(pl.Datetime("us")),
                      pl.col("local_date").cast(pl.Date),
                      *(pl.col(c).cast(pl.Float64)
                        for c in ("magnesium_mg", "carbohydrates_g", "energy_kcal")))
    )
    gap_min = pl.col("local_ts").diff().over("subject_id").dt.total_seconds(fractional=True) / 60
    timed = (
        food.filter(pl.col("local_ts").is_not_null())
        .sort("subject_id", "local_ts", "_row")
        .with_columns(
            _meal_no=(gap_min.is_null() | (gap_min > meal_gap_min)).cum_sum().over("subject_id"))
        .group_by("subject_id", "_meal_no", maintain_order=True)
        .agg(pl.col("local_date").first(),
             pl.col("local_ts").min().alias("meal_local_ts"),
             pl.col("meal").drop_nulls().first(),
             *_meal_aggregates())
        .drop("_meal_no")
    )
    untimed = (
        food.filter(pl.col("local_ts").is_null())
        .sort("_row")
        .group_by("subject_id", "local_date", "meal", maintain_order=True)
        .agg(pl.lit(None, pl.Datetime("us")).alias("meal_local_ts"), *_meal_aggregates())
    )
    meals = pl.concat([timed, untimed], how="diagonal_relaxed").select(
        pl.col(n).cast(t) for n, t in MEAL_SCHEMA.items() if n != "meal_id")
    return _with_meal_ids(meals).select(MEAL_SCHEMA.names()).sort(
        "subject_id", "local_date", "meal_local_ts", "meal", "meal_id", nulls_last=True)


# --------------------------------------------------------------------------- responses


def iauc_segment(y1: pl.Expr, y2: pl.Expr, dt: pl.Expr) -> pl.Expr:
    """Wolever positive area between two readings, y = glucose − baseline, dt in minutes.

    Both y ≥ 0: (y1 + y2) / 2 · dt; both y ≤ 0: 0; sign change: only the positive triangle,
    y_pos² / (|y1| + |y2|) · dt / 2 (the line crosses zero at |y1| / (|y1| + |y2|) of dt).
    """
    return (
        pl.when((y1 >= 0) & (y2 >= 0)).then((y1 + y2) / 2 * dt)
        .when((y1 <= 0) & (y2 <= 0)).then(pl.lit(0.0))
        .otherwise(pl.max_horizontal(y1, y2) ** 2 / (y1.abs() + y2.abs()) * dt / 2)
    )


def baseline_mean() -> pl.Expr:
    """Baseline, mg/dL: mean of the numeric readings in [t − baseline_min, t)."""
    return _glucose.mean().alias("baseline_mg_dl")


def peak_glucose() -> pl.Expr:
    """Peak, mg/dL: highest numeric reading in [t, t + window_min]."""
    return _glucose.max().alias("peak_mg_dl")


def time_to_peak() -> pl.Expr:
    """Minutes from the meal time to the first reading that reaches the peak."""
    return _after_meal.filter(_glucose == _glucose.max()).min().alias("time_to_peak_min")


def return_to_baseline(margin_mg_dl: float) -> pl.Expr:
    """Minutes from the meal time to the first reading after the peak with
    glucose ≤ baseline + margin; NULL if none in the window."""
    after_peak = _after_meal > _after_meal.filter(_glucose == _glucose.max()).min()
    back = _glucose <= pl.col("baseline_mg_dl") + margin_mg_dl
    return _after_meal.filter(after_peak & back).min().alias("return_to_baseline_min")


def incremental_auc(max_bridge_min: pl.Expr) -> pl.Expr:
    """iAUC, mg/dL·min: Σ `iauc_segment` over consecutive numeric window readings, leaving out
    pairs more than `max_bridge_min` (1.5 sensor intervals) apart. Needs rows sorted by time."""
    y = _glucose - pl.col("baseline_mg_dl")
    dt = _after_meal.diff()
    bridged = dt <= max_bridge_min
    return (pl.when(bridged).then(iauc_segment(y.shift(1), y, dt)).otherwise(0.0).sum()
            .alias("iauc_mg_dl_min"))


def window_completeness(window_min: int) -> pl.Expr:
    """Window completeness, %: 100 × window readings / (⌊window_min / interval_min⌋ + 1),
    capped at 100 (readings of two overlapping devices cannot make it more than complete)."""
    expected = pl.lit(window_min) // pl.col("interval_min") + 1
    return (pl.when(pl.col("window_readings") == 0).then(pl.lit(0.0))
            .otherwise((100.0 * pl.col("window_readings") / expected).clip(upper_bound=100.0))
            .alias("window_completeness_pct"))


def _parameters(overrides: dict[str, int | float]) -> dict[str, int | float]:
    unknown = sorted(set(overrides) - set(MEAL_PARAMETERS))
    if unknown:
        raise TypeError(f"unknown meal parameters: {', '.join(unknown)}")
    parameters = {**MEAL_PARAMETERS, **overrides}
    for name in ("baseline_min", "window_min", "meal_gap_min"):
        if int(parameters[name]) != parameters[name] or parameters[name] <= 0:
            raise ValueError(f"{name} must be a positive whole number of minutes")
        parameters[name] = int(parameters[name])
    for name in ("return_margin_mg_dl", "max_missing_pct"):
        parameters[name] = float(parameters[name])
    return parameters


def _meal_readings(timed: pl.DataFrame, readings: pl.DataFrame, baseline_min: int,
                   window_min: int) -> pl.DataFrame:
    """Each timed meal's readings in [t − baseline_min, t + window_min], with `minute` after t.

    A range join done as an equi-join on (subject, time bucket) then a filter: buckets are as
    long as the whole span, so a meal touches at most two and a subject's readings are not
    crossed with all of its meals.
    """
    span_s = (baseline_min + window_min) * 60
    start = pl.col("t") - timedelta(minutes=baseline_min)
    end = pl.col("t") + timedelta(minutes=window_min)
    meal_buckets = timed.select(
        "_meal", "subject_id", "t",
        _bucket=pl.int_ranges(start.dt.epoch("s") // span_s, end.dt.epoch("s") // span_s + 1),
    ).explode("_bucket")
    return (
        meal_buckets.join(
            readings.with_columns(_bucket=pl.col("local_ts").dt.epoch("s") // span_s),
            on=["subject_id", "_bucket"], how="inner")
        .filter(pl.col("local_ts").is_between(start, end, closed="both"))
        .with_columns(
            minute=(pl.col("local_ts") - pl.col("t")).dt.total_seconds(fractional=True) / 60)
        .sort("_meal", "local_ts")
    )


def _response_aggregates(near: pl.DataFrame, params: dict[str, int | float]) -> pl.DataFrame:
    baseline = near.filter(_after_meal < 0).group_by("_meal").agg(
        pl.len().cast(pl.Int64).alias("baseline_readings"), baseline_mean())
    counts = near.group_by("_meal").agg(
        # The device interval most readings around the meal have; ties → the shorter one.
        pl.col("interval_min").mode().min().cast(pl.Int64).alias("interval_min"),
        (_after_meal >= 0).sum().cast(pl.Int64).alias("window_readings"))
    max_bridge_min = MAX_BRIDGE_INTERVALS * pl.max_horizontal(
        pl.col("interval_min"), pl.col("interval_min").shift(1))
    window = (
        near.filter((_after_meal >= 0) & _glucose.is_not_null())
        # Row order matters: iAUC pairs each reading with the one before it.
        .join(baseline.select("_meal", "baseline_mg_dl"), on="_meal", how="left",
              maintain_order="left")
        .group_by("_meal")
        .agg(pl.len().cast(pl.Int64).alias("_numeric_window"), peak_glucose(), time_to_peak(),
             incremental_auc(max_bridge_min),
             return_to_baseline(float(params["return_margin_mg_dl"])))
    )
    return counts.join(baseline, on="_meal", how="left").join(window, on="_meal", how="left")


def status_expr(max_missing_pct: float) -> pl.Expr:
    """The first that applies: no_time, no_glucose, no_baseline, incomplete_window,
    overlaps_next_meal, ok."""
    return (
        pl.when(pl.col("meal_local_ts").is_null()).then(pl.lit("no_time"))
        .when((pl.col("window_readings") == 0) & (pl.col("baseline_readings") == 0))
        .then(pl.lit("no_glucose"))
        .when(pl.col("baseline_mg_dl").is_null()).then(pl.lit("no_baseline"))
        .when(100.0 - pl.col("window_completeness_pct") > max_missing_pct)
        .then(pl.lit("incomplete_window"))
        .when(pl.col("_next_overlaps")).then(pl.lit("overlaps_next_meal"))
        .otherwise(pl.lit("ok"))
        .alias("status")
    )


def meal_responses(entries: pl.DataFrame, readings: pl.DataFrame,
                   **parameters: int | float) -> pl.DataFrame:
    """`group_meals` rows with each meal's glucose response, one row per meal, none dropped.

    For a timed meal at t: `baseline_mg_dl` (`baseline_mean`), `peak_mg_dl`,
    `peak_rise_mg_dl` = peak − baseline, `time_to_peak_min`, `iauc_mg_dl_min`
    (`incremental_auc`), `return_to_baseline_min`, `window_completeness_pct`
    (`window_completeness`), `baseline_readings` and `window_readings` (sensor readings in the
    baseline and in the window, Low/High included as present-but-unusable), `interval_min`
    (the device interval the completeness expects). The response numbers are computed whenever
    there is a baseline and ≥ 2 numeric window readings, whatever the status, so a report can
    show them; `usable` says whether the meal may be used (status `ok`). A meal overlaps the
    next when the next timed meal of the subject starts before t + window_min + baseline_min,
    i.e. that meal's baseline falls in this window. `parameters` override `MEAL_PARAMETERS`
    and are stored as `param_*` columns. Readings need `subject_id, local_ts, glucose_mg_dl,
    interval_min` (`transforms.glucose.series.with_intervals` adds the last).
    Columns: `MEAL_SCHEMA` + `RESPONSE_SCHEMA`.
    """
    params = _parameters(parameters)
    baseline_min, window_min = int(params["baseline_min"]), int(params["window_min"])
    _check_columns(readings, READING_COLUMNS, "readings")
    meals = group_meals(entries, int(params["meal_gap_min"])).with_row_index("_meal")
    readings = readings.select(
        pl.col("subject_id").cast(pl.String), pl.col("local_ts").cast(pl.Datetime("us")),
        pl.col("glucose_mg_dl").cast(pl.Float64), pl.col("interval_min").cast(pl.Int64),
    ).filter(pl.col("local_ts").is_not_null())

    next_start = pl.col("t").shift(-1).over("subject_id")
    timed = (
        meals.filter(pl.col("meal_local_ts").is_not_null())
        .select("_meal", "subject_id", t="meal_local_ts")
        .sort("subject_id", "t")
        .with_columns(_next_overlaps=(
            next_start < pl.col("t") + timedelta(minutes=window_min + baseline_min)
        ).fill_null(False))
    )
    near = _meal_readings(timed, readings, baseline_min, window_min)
    responses = timed.select("_meal", "_next_overlaps").join(
        _response_aggregates(near, params), on="_meal", how="left"
    ).with_columns(pl.col("baseline_readings", "window_readings").fill_null(0))

    computed = pl.col("baseline_mg_dl").is_not_null() & (pl.col("_numeric_window") >= 2)
    numbers = ("peak_mg_dl", "time_to_peak_min", "iauc_mg_dl_min", "return_to_baseline_min")
    return (
        meals.join(responses, on="_meal", how="left", maintain_order="left")
        .with_columns(window_completeness(window_min),
                      *(pl.when(computed).then(pl.col(c)).alias(c) for c in numbers))
        .with_columns(peak_rise_mg_dl=pl.col("peak_mg_dl") - pl.col("baseline_mg_dl"),
                      status=status_expr(float(params["max_missing_pct"])))
        .with_columns(
            usable=pl.col("status") == "ok",
            **{f"param_{name}": pl.lit(value) for name, value in params.items()},
        )
        .select(pl.col(n).cast(t) for n, t in (MEAL_SCHEMA | RESPONSE_SCHEMA).items())
    )


# --------------------------------------------------------------------------- repeats


def repeat_meal_spread(responses: pl.DataFrame, min_repeats: int = 2) -> pl.DataFrame:
    """How much the response to the same meal varies: per subject and `food_keys` with at
    least `min_repeats` usable meals that have an iAUC, the number of meals, mean, sample SD
    (n − 1) and range of the iAUC, and mean and SD (n − 1) of the peak rise. `foods` = the
    earliest such meal's food list. Sorted by meals, most first. Columns: `SPREAD_SCHEMA`.
    """
    needed = ("subject_id", "food_keys", "foods", "meal_local_ts", "usable", "iauc_mg_dl_min",
              "peak_rise_mg_dl")
    if responses.is_empty() and not set(needed) <= set(responses.columns):
        return pl.DataFrame(schema=SPREAD_SCHEMA)
    _check_columns(responses, needed, "responses")
    iauc, rise = pl.col("iauc_mg_dl_min"), pl.col("peak_rise_mg_dl")
    return (
        responses.filter(pl.col("usable") & iauc.is_not_null()
                         & pl.col("food_keys").is_not_null() & (pl.col("food_keys") != ""))
        .sort("subject_id", "meal_local_ts")
        .group_by("subject_id", "food_keys", maintain_order=True)
        .agg(pl.col("foods").first(), pl.len().cast(pl.Int64).alias("meals"),
             iauc.mean().alias("iauc_mean"), iauc.std(ddof=1).alias("iauc_sd"),
             iauc.min().alias("iauc_min"), iauc.max().alias("iauc_max"),
             rise.mean().alias("peak_rise_mean"), rise.std(ddof=1).alias("peak_rise_sd"))
        .filter(pl.col("meals") >= min_repeats)
        .sort(["meals", "subject_id", "food_keys"], descending=[True, False, False])
        .select(pl.col(n).cast(t) for n, t in SPREAD_SCHEMA.items())
    )
