"""Ambulatory glucose profile: percentiles by time of day, all days of a period overlaid.

Consensus AGP (Battelino et al., Diabetes Care 2019; Mazze et al. 1987, IDC AGP v4): the
5th, 25th, 50th, 75th and 95th percentiles of glucose by time of day. glucomag puts readings
into 15-minute bins of the local clock (96 bins), takes each bin's percentiles (linear
interpolation between order statistics — numpy's default, Hyndman & Fan type 7), and smooths
each curve with a circular 1-2-1 weighted moving average over neighbouring bins (the curve
wraps from 23:45 to 00:00), as the AGP draws smoothed bands. Raw and smoothed values are both
kept. Low/High sensor values enter at the sensor's limits (40 and 400 mg/dL) so their rank
counts; the curves never go beyond those limits anyway.
"""

from __future__ import annotations

import polars as pl

BIN_MIN = 15
BINS_PER_DAY = 24 * 60 // BIN_MIN
PERCENTILES = (5, 25, 50, 75, 95)
SENSOR_LOW_MG_DL = 40.0
SENSOR_HIGH_MG_DL = 400.0
SMOOTHING_WEIGHTS = (0.25, 0.5, 0.25)

AGP_COLUMNS = ("bin", "bin_start", "readings", "days", *(f"p{p}_mg_dl" for p in PERCENTILES),
               *(f"p{p}_smoothed_mg_dl" for p in PERCENTILES))


def ranked_value() -> pl.Expr:
    """Glucose with Low/High at the sensor limits, so percentiles keep their rank."""
    return (
        pl.when(pl.col("out_of_range") == "below_range").then(SENSOR_LOW_MG_DL)
        .when(pl.col("out_of_range") == "above_range").then(SENSOR_HIGH_MG_DL)
        .otherwise(pl.col("glucose_mg_dl"))
    )


US_PER_DAY = 86_400_000_000


def time_bin(local_ts: pl.Expr) -> pl.Expr:
    """0–95: the 15-minute bin of the local clock, (microseconds since local midnight) // 15 min.

    Integer arithmetic on the timestamp (floor modulo a day), the same bin as
    (hour × 60 + minute) // 15 without extracting hour and minute.
    """
    since_midnight = local_ts.dt.epoch("us") % US_PER_DAY
    return (since_midnight // (BIN_MIN * 60_000_000)).cast(pl.Int32)


def smoothed(column: str, keys: list[str]) -> pl.Expr:
    """Circular 1-2-1 moving average over bins within each group (bins must be complete)."""
    previous = pl.col(column).shift(1).over(keys)
    following = pl.col(column).shift(-1).over(keys)
    first = pl.col(column).first().over(keys)
    last = pl.col(column).last().over(keys)
    w_prev, w_here, w_next = SMOOTHING_WEIGHTS
    return (w_prev * previous.fill_null(last) + w_here * pl.col(column)
            + w_next * following.fill_null(first))


def agp_profile(readings: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """AGP per group (`keys`, e.g. subject and period): one row per 15-minute bin.

    Every group gets all 96 bins; a bin without readings has null percentiles and is
    smoothed from its neighbours' raw values only where they exist (nulls propagate).
    """
    value = ranked_value()
    per_bin = (
        readings.with_columns(bin=time_bin(pl.col("local_ts")), _value=value)
        .filter(pl.col("_value").is_not_null())
        .group_by([*keys, "bin"])
        .agg(
            pl.len().alias("readings"),
            pl.col("local_date").n_unique().cast(pl.Int64).alias("days"),
            *(pl.col("_value").quantile(p / 100, interpolation="linear").alias(f"p{p}_mg_dl")
              for p in PERCENTILES),
        )
    )
    all_bins = (
        per_bin.select(keys).unique()
        .join(pl.DataFrame({"bin": pl.int_range(0, BINS_PER_DAY, dtype=pl.Int32,
                                                eager=True)}), how="cross")
    )
    complete = (
        all_bins.join(per_bin, on=[*keys, "bin"], how="left", nulls_equal=True)
        .with_columns(pl.col("readings", "days").fill_null(0))
        .sort([*keys, "bin"])
    )
    return complete.with_columns(
        bin_start=pl.format("{}:{}", (pl.col("bin") * BIN_MIN // 60).cast(pl.String)
                            .str.zfill(2), (pl.col("bin") * BIN_MIN % 60).cast(pl.String)
                            .str.zfill(2)),
        **{f"p{p}_smoothed_mg_dl": smoothed(f"p{p}_mg_dl", keys) for p in PERCENTILES},
    ).select(*keys, *AGP_COLUMNS)
