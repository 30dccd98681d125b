"""Sensor readings as time series: device interval, and a 5-minute grid that never bridges gaps.

Variability metrics that compare readings at fixed lags (MODD, CONGA) and the MAGE algorithm
need values at regular times. iglu (Broll et al. 2021, `CGMS2DayByDay`) interpolates linearly
onto a grid and bridges gaps of up to 45 minutes. glucomag interpolates linearly only between
two consecutive readings of one subject that are at most 1.5 sensor intervals apart (5-minute
devices: 7.5 min; 15-minute Libre history: 22.5 min); a grid point inside a longer gap stays
empty. On gap-free data both grids are the same, so the metrics agree with iglu there; across
gaps of 8–45 minutes glucomag reports fewer, never invented, values.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

GRID_MIN = 5
# A reading stands for at most its own interval; the extra half absorbs sensor clock jitter.
MAX_BRIDGE_INTERVALS = 1.5

READING_COLUMNS = ("subject_id", "device", "ts_utc", "local_ts", "local_date", "glucose_mg_dl",
                   "out_of_range")


def device_intervals(readings: pl.DataFrame) -> pl.DataFrame:
    """`subject_id, device, interval_min`: each device's sensor interval, from its own readings.

    The interval is the median gap between consecutive readings of one subject's device,
    rounded to whole minutes (as iglu's `active_percent` does); 5 for Dexcom, Libre 3 and
    Medtronic, 15 for Libre 2 history. A device with a single reading gets 5. One row per
    device (an aggregation; the readings themselves are neither sorted nor copied).
    """
    gap_min = pl.col("ts_utc").sort().diff().dt.total_seconds() / 60.0
    return readings.group_by("subject_id", "device").agg(
        interval_min=gap_min.filter(gap_min > 0).median().round(0).cast(pl.Int64).clip(1, 60)
    ).with_columns(pl.col("interval_min").fill_null(GRID_MIN))


def with_intervals(readings: pl.DataFrame,
                   intervals: pl.DataFrame | None = None) -> pl.DataFrame:
    """`readings` (same rows, same order) with `interval_min`, its device's sensor interval
    (`device_intervals`, or the `intervals` given)."""
    if intervals is None:
        intervals = device_intervals(readings)
    return readings.join(intervals, on=["subject_id", "device"], how="left",
                         maintain_order="left").with_columns(
        pl.col("interval_min").fill_null(GRID_MIN))


def glucose_grid(readings: pl.DataFrame,
                 intervals: pl.DataFrame | None = None) -> pl.DataFrame:
    """Numeric readings interpolated onto a UTC 5-minute grid, gaps left empty.

    Returns `subject_id, grid_ts_utc, local_ts, local_date, glucose_mg_dl, on_step` with one
    row per grid point from the first to the last reading of each subject; `glucose_mg_dl` is
    null where the grid point falls in a gap longer than 1.5 sensor intervals. `on_step` marks
    the points on the subject's own sensor interval (every third point for 15-minute
    devices), the grid iglu uses for MODD and CONGA. Value at grid time
    t between readings (t0, g0) and (t1, g1): g0 + (g1 − g0)·(t − t0)/(t1 − t0).
    Low/High sensor values have no number and are left out (they leave a gap). A grid point's
    local clock uses the UTC offset of the reading before it, as the device wrote it.
    `readings` carry `interval_min` (`with_intervals`), or `intervals` (`device_intervals`)
    is given. Rows come sorted by subject and time (`lagged_pairs` relies on it).
    """
    numeric = readings.filter(pl.col("glucose_mg_dl").is_not_null())
    if intervals is not None:
        numeric = with_intervals(numeric.select("subject_id", "device", "ts_utc", "local_ts",
                                                "glucose_mg_dl"), intervals)
    numeric = numeric.select(
        "subject_id", "ts_utc", "glucose_mg_dl", "interval_min",
        offset=pl.col("local_ts") - pl.col("ts_utc").dt.replace_time_zone(None),
    ).sort("subject_id", "ts_utc")
    step = timedelta(minutes=GRID_MIN)
    grid = (
        numeric.group_by("subject_id")
        .agg(first=pl.col("ts_utc").min().dt.truncate(step), last=pl.col("ts_utc").max())
        .select("subject_id", grid_ts_utc=pl.datetime_ranges("first", "last", step))
        .explode("grid_ts_utc")
        .sort("subject_id", "grid_ts_utc")
    )
    before = numeric.rename({"ts_utc": "t0", "glucose_mg_dl": "g0", "interval_min": "i0"})
    after = numeric.drop("offset").rename(
        {"ts_utc": "t1", "glucose_mg_dl": "g1", "interval_min": "i1"})
    joined = grid.join_asof(
        before, left_on="grid_ts_utc", right_on="t0", by="subject_id", strategy="backward",
        check_sortedness=False,
    ).join_asof(after, left_on="grid_ts_utc", right_on="t1", by="subject_id",
                strategy="forward", check_sortedness=False)
    span_s = (pl.col("t1") - pl.col("t0")).dt.total_seconds(fractional=True)
    offset_s = (pl.col("grid_ts_utc") - pl.col("t0")).dt.total_seconds(fractional=True)
    max_span_s = pl.max_horizontal("i0", "i1") * 60.0 * MAX_BRIDGE_INTERVALS
    value = (
        pl.when(span_s == 0)
        .then(pl.col("g0"))
        .when(span_s <= max_span_s)
        .then(pl.col("g0") + (pl.col("g1") - pl.col("g0")) * offset_s / span_s)
        .otherwise(None)
    )
    local = pl.col("grid_ts_utc").dt.replace_time_zone(None) + pl.col("offset")
    minute = pl.col("grid_ts_utc").dt.epoch("s") // 60
    # points before a subject's first reading have no value and no local clock
    joined = joined.filter(pl.col("t0").is_not_null())
    return joined.join(subject_interval(readings, intervals), on="subject_id",
                       maintain_order="left").select(
        "subject_id", "grid_ts_utc", local_ts=local, local_date=local.dt.date(),
        glucose_mg_dl=value, on_step=minute % pl.col("step_min") == 0,
    )


def subject_interval(readings: pl.DataFrame,
                     intervals: pl.DataFrame | None = None) -> pl.DataFrame:
    """`subject_id, step_min`: the sensor interval of most of each subject's readings
    (`interval_min` on the readings, or from `intervals`)."""
    if intervals is None:
        counts = readings.group_by("subject_id", "interval_min").len()
    else:
        counts = (
            readings.group_by("subject_id", "device").len()
            .join(intervals, on=["subject_id", "device"], how="left")
            .with_columns(pl.col("interval_min").fill_null(GRID_MIN))
            .group_by("subject_id", "interval_min").agg(pl.col("len").sum())
        )
    return (
        counts
        .sort("subject_id", "len", "interval_min", descending=[False, True, False])
        .group_by("subject_id", maintain_order=True)
        .agg(step_min=pl.col("interval_min").first())
    )


def lagged_pairs(grid: pl.DataFrame, lag: timedelta) -> pl.DataFrame:
    """Grid points on the sensor interval with the value `lag` earlier: `glucose_mg_dl` and
    `lagged_mg_dl`.

    Only pairs where both ends have a value and are on the sensor interval are kept; a pair
    belongs to the later point's local day (so a day's MODD compares it with the day before).
    `grid` is `glucose_grid`'s output: every 5-minute point of a subject, sorted by subject
    and time, so the point `lag` earlier is a fixed number of rows back; the shifted row is
    still checked to be that subject's point at t − lag.
    """
    rows_back = lag // timedelta(minutes=GRID_MIN)
    assert timedelta(minutes=GRID_MIN) * rows_back == lag, "lag must be a multiple of 5 min"
    earlier = pl.col("grid_ts_utc").shift(rows_back)
    return grid.with_columns(lagged_mg_dl=pl.col("glucose_mg_dl").shift(rows_back)).filter(
        pl.col("on_step") & pl.col("on_step").shift(rows_back)
        & (earlier == pl.col("grid_ts_utc") - lag)
        & (pl.col("subject_id").shift(rows_back) == pl.col("subject_id"))
        & pl.col("glucose_mg_dl").is_not_null() & pl.col("lagged_mg_dl").is_not_null()
    )
