"""CGM metrics per subject and period, one polars expression per metric.

Definitions: `../shared/reference/glucose-metrics.md` — the international consensus (Battelino
et al., Diabetes Care 2019; Danne et al., Diabetes Care 2017) and the variability indices as
iglu implements them (Broll et al., PLOS ONE 2021). Version: `METRICS_VERSION`.

Weighting: every metric is **reading-weighted** — each sensor reading counts once (the share
of readings in a band stands for the share of time because readings are equally spaced within
a device). Wear is the exception: it counts each reading as its device's sensor interval, so a
15-minute Libre reading covers three times what a 5-minute Dexcom reading does, and no reading
ever stands for more than its own interval across a gap.

Low/High sensor values (no number, a flag) count as readings: below 70 and below 54, or above
180 and above 250. Means, SDs and indices built on values leave them out, since their value is
unknown. SDs use n − 1, as iglu does.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

import polars as pl

from transforms.glucose.mage import mage_by
from transforms.glucose.series import (
    GRID_MIN,
    device_intervals,
    glucose_grid,
    lagged_pairs,
    with_intervals,
)

METRICS_VERSION = (
    "glucomag-metrics v2: consensus CGM metrics (Battelino et al. 2019), GMI (Bergenstal et "
    "al. 2018), eA1c (Nathan et al. 2008), J-index, LBGI/HBGI (Kovatchev), MODD, CONGA(1) and "
    "MAGE (moving averages, Fernandes et al. 2022) as in iglu; reading-weighted; 5-minute "
    "grid, gaps over 1.5 sensor intervals never bridged"
)

Period = Literal["day", "week", "month", "range"]

G = pl.col("glucose_mg_dl")
RISK = pl.col("_risk")  # Kovatchev's f(g) per reading (`_risk_f`), computed once per call
MEAN = pl.col("mean_mg_dl")
SD = pl.col("sd_mg_dl")
LOW = pl.col("out_of_range") == "below_range"
HIGH = pl.col("out_of_range") == "above_range"

TIME_OF_DAY_BUCKETS = (("night", 0), ("morning", 6), ("afternoon", 12), ("evening", 18))
TIME_OF_DAY = pl.Enum([name for name, _ in TIME_OF_DAY_BUCKETS])  # sorts in clock order

METRIC_COLUMNS = (
    "days_with_data", "readings", "wear_pct", "mean_mg_dl", "sd_mg_dl", "cv_pct", "gmi_pct",
    "ea1c_pct", "tir_70_180_pct", "titr_70_140_pct", "tbr_below_70_pct", "tbr_below_54_pct",
    "tar_above_180_pct", "tar_above_250_pct", "mage_mg_dl", "modd_mg_dl", "conga1_mg_dl",
    "lbgi", "hbgi", "j_index",
)


def readings_count() -> pl.Expr:
    """Sensor readings, Low/High included."""
    return pl.len().alias("readings")


def days_with_data() -> pl.Expr:
    """Local days with at least one sensor reading."""
    return pl.col("local_date").n_unique().cast(pl.Int64).alias("days_with_data")


def covered_minutes() -> pl.Expr:
    """Minutes the readings stand for: each reading counts as its device's sensor interval
    (`interval_min` on each reading; with one device per subject, `consensus` takes the
    same sum as readings × interval)."""
    return pl.col("interval_min").sum().cast(pl.Float64).alias("covered_min")


def mean_glucose() -> pl.Expr:
    """Mean glucose, mg/dL: arithmetic mean of numeric readings (consensus; iglu `mean_glu`)."""
    return G.mean().alias("mean_mg_dl")


def sd_glucose() -> pl.Expr:
    """SD of glucose, mg/dL, sample SD (n − 1) as iglu `sd_glu`."""
    return G.std(ddof=1).alias("sd_mg_dl")


def cv_glucose() -> pl.Expr:
    """Coefficient of variation, %: 100 × SD / mean (Danne et al. 2017; target ≤ 36 %).
    From the aggregated `mean_mg_dl` and `sd_mg_dl` (see `DERIVED`)."""
    return (100 * SD / MEAN).alias("cv_pct")


def gmi() -> pl.Expr:
    """Glucose management indicator, %: 3.31 + 0.02392 × mean (Bergenstal et al. 2018).
    From the aggregated `mean_mg_dl`."""
    return (3.31 + 0.02392 * MEAN).alias("gmi_pct")


def ea1c() -> pl.Expr:
    """Estimated A1c, %: (mean + 46.7) / 28.7 (ADAG, Nathan et al., Diabetes Care 2008).
    From the aggregated `mean_mg_dl`."""
    return ((MEAN + 46.7) / 28.7).alias("ea1c_pct")


def share_pct(condition: pl.Expr, name: str) -> pl.Expr:
    """100 × readings meeting `condition` / all readings (Low/High included in both)."""
    return (100 * condition.fill_null(False).sum() / pl.len()).alias(name)


def tir_70_180() -> pl.Expr:
    """Time in range, %: readings 70–180 mg/dL inclusive (Battelino 2019; target > 70 %)."""
    return share_pct(G.is_between(70, 180), "tir_70_180_pct")


def titr_70_140() -> pl.Expr:
    """Time in tight range, %: readings 70–140 mg/dL inclusive (typical without diabetes)."""
    return share_pct(G.is_between(70, 140), "titr_70_140_pct")


def tbr_below_70() -> pl.Expr:
    """Time below range, %: readings < 70 mg/dL and Low values (levels 1+2; target < 4 %)."""
    return share_pct((G < 70) | LOW, "tbr_below_70_pct")


def tbr_below_54() -> pl.Expr:
    """Time below range level 2, %: readings < 54 mg/dL and Low values (target < 1 %)."""
    return share_pct((G < 54) | LOW, "tbr_below_54_pct")


def tar_above_180() -> pl.Expr:
    """Time above range, %: readings > 180 mg/dL and High values (levels 1+2; target < 25 %)."""
    return share_pct((G > 180) | HIGH, "tar_above_180_pct")


def tar_above_250() -> pl.Expr:
    """Time above range level 2, %: readings > 250 mg/dL and High values (target < 5 %)."""
    return share_pct((G > 250) | HIGH, "tar_above_250_pct")


def _risk_f() -> pl.Expr:
    """Kovatchev's symmetrised glucose scale: f(g) = 1.509 × ((ln g)^1.084 − 5.381).
    Added once per reading as `_risk` (the log and power are the costly part)."""
    return 1.509 * (G.log().pow(1.084) - 5.381)


def lbgi() -> pl.Expr:
    """Low blood glucose index: 10 × Σ f(g)² over readings with f < 0, divided by all numeric
    readings (Kovatchev et al., Diabetes Care 1998; iglu `lbgi`). f is the `_risk` column."""
    return (10 * pl.when(RISK < 0).then(RISK.pow(2)).otherwise(0.0).sum()
            / G.count()).alias("lbgi")


def hbgi() -> pl.Expr:
    """High blood glucose index: 10 × Σ f(g)² over readings with f > 0, divided by all numeric
    readings (Kovatchev et al. 1998; iglu `hbgi`). f is the `_risk` column."""
    return (10 * pl.when(RISK > 0).then(RISK.pow(2)).otherwise(0.0).sum()
            / G.count()).alias("hbgi")


def j_index() -> pl.Expr:
    """J-index: 0.001 × (mean + SD)², mg/dL (Wojcicki, Horm Metab Res 1995; iglu `j_index`).
    From the aggregated `mean_mg_dl` and `sd_mg_dl`."""
    return (0.001 * (MEAN + SD).pow(2)).alias("j_index")


# Aggregations over the readings of a group (the readings carry `_risk`, see `consensus`) ...
CONSENSUS = (readings_count, days_with_data, mean_glucose, sd_glucose, tir_70_180,
             titr_70_140, tbr_below_70, tbr_below_54, tar_above_180, tar_above_250, lbgi, hbgi)
# ... and metrics computed from those aggregates (mean and SD are taken once per group).
DERIVED = (cv_glucose, gmi, ea1c, j_index)


def consensus(periods: pl.DataFrame, keys: list[str], intervals: pl.DataFrame) -> pl.DataFrame:
    """The consensus metrics per group of readings (`keys`), with `covered_min` for wear.

    `intervals`: `series.device_intervals` of the readings' devices. `period_end` follows
    from `period_start` (and a whole-range period has one start), so the readings are grouped
    by the keys that vary, a varying `period_end` is carried along with `first()` and a
    constant one is added after: same groups, fewer columns to hash. (Constant columns are
    added as plain columns: a constant column flagged sorted makes polars divide by it as by
    a scalar, and wear's last bit would change.)
    """
    constant = [k for k in ("period_start", "period_end")
                if k in keys and periods[k].n_unique() == 1]
    by = [k for k in keys if k not in constant and k != "period_end"]
    carried = [pl.col(k).first() for k in keys if k not in by and k not in constant]
    single_device = intervals["subject_id"].is_unique().all()
    if not single_device:
        periods = with_intervals(periods, intervals)
    per_group = periods.with_columns(_risk=_risk_f()).group_by(by).agg(
        *carried, *(metric() for metric in CONSENSUS),
        *(() if single_device else (covered_minutes(),)),
    ).with_columns(metric() for metric in DERIVED)
    per_group = per_group.with_columns(
        pl.Series(k, [periods[k][0]] * per_group.height, dtype=periods.schema[k])
        for k in constant)
    if not single_device:
        return per_group
    # Σ over readings of their interval = readings × interval (integers, exact)
    interval = intervals.select("subject_id", interval_min=pl.when(
        pl.col("device").is_not_null()).then(pl.col("interval_min")).otherwise(GRID_MIN))
    return per_group.join(interval, on="subject_id", how="left", maintain_order="left").select(
        pl.exclude("interval_min"),
        covered_min=(pl.col("readings") * pl.col("interval_min").fill_null(GRID_MIN))
        .cast(pl.Float64))


def modd() -> pl.Expr:
    """MODD, mg/dL: mean |g(t) − g(t − 24 h)| over grid points where both exist
    (Molnar et al., Diabetologia 1972; iglu `modd`, lag 1 day)."""
    return (pl.col("glucose_mg_dl") - pl.col("lagged_mg_dl")).abs().mean().alias("modd_mg_dl")


def conga1() -> pl.Expr:
    """CONGA(1), mg/dL: sample SD of g(t) − g(t − 1 h) over grid points where both exist
    (McDonnell et al., Diabetes Technol Ther 2005; iglu `conga`, n = 1)."""
    return (pl.col("glucose_mg_dl") - pl.col("lagged_mg_dl")).std(ddof=1).alias("conga1_mg_dl")


def time_of_day_bucket(local_ts: pl.Expr) -> pl.Expr:
    """night 00–06, morning 06–12, afternoon 12–18, evening 18–24 (local clock)."""
    hour = local_ts.dt.hour()
    expr = pl.lit(TIME_OF_DAY_BUCKETS[0][0])
    for name, first_hour in TIME_OF_DAY_BUCKETS[1:]:
        expr = pl.when(hour >= first_hour).then(pl.lit(name)).otherwise(expr)
    return expr.cast(TIME_OF_DAY)


def _period_start(by: Period, start: date | None) -> pl.Expr:
    day = pl.col("local_date")
    if by == "day":
        return day
    if by == "week":
        return day.dt.truncate("1w")  # ISO weeks start on Monday
    if by == "month":
        return day.dt.truncate("1mo")
    return pl.lit(start, dtype=pl.Date)


def _period_end(by: Period, end: date | None) -> pl.Expr:
    begin = pl.col("period_start")
    if by == "day":
        return begin
    if by == "week":
        return begin + timedelta(days=6)
    if by == "month":
        return begin.dt.month_end()
    return pl.lit(end, dtype=pl.Date)


def _with_periods(frame: pl.DataFrame, by: Period, start: date | None, end: date | None,
                  by_time_of_day: bool) -> pl.DataFrame:
    if start is not None:
        frame = frame.filter(pl.col("local_date") >= start)
    if end is not None:
        frame = frame.filter(pl.col("local_date") <= end)
    frame = frame.with_columns(period_start=_period_start(by, start)).with_columns(
        period_end=_period_end(by, end))
    # a week or month cut by the requested range is reported as the part inside it
    if start is not None:
        frame = frame.with_columns(
            period_start=pl.max_horizontal("period_start", pl.lit(start, pl.Date)))
    if end is not None:
        frame = frame.with_columns(
            period_end=pl.min_horizontal("period_end", pl.lit(end, pl.Date)))
    if by_time_of_day:
        frame = frame.with_columns(time_of_day=time_of_day_bucket(pl.col("local_ts")))
    return frame


def _wear_pct(by_time_of_day: bool) -> pl.Expr:
    """Wear, %: 100 × minutes covered by readings / minutes in the period (capped at 100).

    Equals iglu's `active_percent` with `range_type="manual"` for a single 5-minute device:
    readings / (days × 288). Periods are already cut to the requested range.
    """
    minutes = ((pl.col("period_end") - pl.col("period_start")).dt.total_days() + 1) * 1440.0
    if by_time_of_day:
        minutes = minutes / len(TIME_OF_DAY_BUCKETS)
    return (100 * pl.col("covered_min") / minutes).clip(upper_bound=100.0).alias("wear_pct")


def _variability(sensor: pl.DataFrame, intervals: pl.DataFrame, keys: list[str], by: Period,
                 start: date | None, end: date | None,
                 by_time_of_day: bool) -> list[pl.DataFrame]:
    """MODD, CONGA(1) and (not per time of day) MAGE per group, from the 5-minute grid."""
    grid = glucose_grid(sensor, intervals)
    parts = [
        _with_periods(lagged_pairs(grid, timedelta(days=1)), by, start, end, by_time_of_day)
        .group_by(keys).agg(modd()),
        _with_periods(lagged_pairs(grid, timedelta(hours=1)), by, start, end, by_time_of_day)
        .group_by(keys).agg(conga1()),
    ]
    if not by_time_of_day:
        parts.append(mage_by(_with_periods(grid, by, start, end, False), keys))
    return parts


def glucose_metrics(
    readings: pl.DataFrame,
    *,
    by: Period = "day",
    start: date | None = None,
    end: date | None = None,
    by_time_of_day: bool = False,
    variability: bool = True,
) -> pl.DataFrame:
    """Every metric in `METRIC_COLUMNS` per subject and period (and time of day if asked).

    `readings`: sensor readings (`subject_id, device, ts_utc, local_ts, local_date,
    glucose_mg_dl, out_of_range`), e.g. the `glucose_readings` view with `kind = 'sensor'`.
    `by`: day, ISO week, calendar month or the whole `start`–`end` range. A day's MODD and
    CONGA may reach into the day before (their lag), so readings before `start` are used for
    those lags only. MAGE is per period, not per time of day (it follows whole excursions).
    `variability=False` leaves MODD, CONGA and MAGE null (the consensus set only).
    """
    keys = ["subject_id", "period_start", "period_end"] + (
        ["time_of_day"] if by_time_of_day else [])
    if by == "range":
        start = start or readings["local_date"].min()
        end = end or readings["local_date"].max()
    intervals = device_intervals(readings)
    sensor = readings
    if start is not None:  # the day before feeds MODD's 24-hour lag
        sensor = sensor.filter(pl.col("local_date") >= start - timedelta(days=1))
    if end is not None:
        sensor = sensor.filter(pl.col("local_date") <= end)
    periods = _with_periods(sensor, by, start, end, by_time_of_day)

    result = consensus(periods, keys, intervals)
    for part in (_variability(sensor, intervals, keys, by, start, end, by_time_of_day)
                 if variability else ()):
        result = result.join(part, on=keys, how="left", nulls_equal=True)
    result = result.with_columns(pl.lit(None, dtype=pl.Float64).alias(name)
                                 for name in ("modd_mg_dl", "conga1_mg_dl", "mage_mg_dl")
                                 if name not in result.columns)
    return (
        result.with_columns(_wear_pct(by_time_of_day))
        .select(*keys, *METRIC_COLUMNS)
        .sort(keys)
    )
