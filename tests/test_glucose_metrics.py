"""Glucose metrics against iglu-python (the reference implementation) and hand-computed traces.

Where glucomag's definition differs from iglu's, the test says how and checks the hand value.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import polars as pl
import pytest

from transforms.glucose.agp import agp_profile
from transforms.glucose.mage import mage_ma
from transforms.glucose.metrics import glucose_metrics
from transforms.glucose.series import with_intervals

ig = pytest.importorskip("iglu_python")
ig.utils.set_local_tz("UTC")

TOLERANCE = 1e-6


def readings_frame(subject: str, times: list[datetime], values: list[float | None],
                   flags: list[str | None] | None = None, device: str = "cgm") -> pl.DataFrame:
    """Readings in the warehouse's shape; local clock = UTC (as iglu sees naive times)."""
    n = len(times)
    return pl.DataFrame({
        "subject_id": [subject] * n,
        "device": [device] * n,
        "ts_utc": pl.Series(times, dtype=pl.Datetime("us")).dt.replace_time_zone("UTC"),
        "local_ts": pl.Series(times, dtype=pl.Datetime("us")),
        "local_date": pl.Series(times, dtype=pl.Datetime("us")).dt.date(),
        "glucose_mg_dl": pl.Series(values, dtype=pl.Float64),
        "out_of_range": pl.Series(flags or [None] * n, dtype=pl.String),
    })


def synthetic_trace(seed: int, days: int, step_min: int, start: datetime
                    ) -> tuple[list[datetime], np.ndarray]:
    """A plausible CGM day shape with meal bumps and random-walk noise, 40–400 mg/dL."""
    rng = np.random.default_rng(seed)
    n = days * 1440 // step_min
    minutes = np.arange(n) * step_min
    day_shape = 25 * np.sin(2 * np.pi * (minutes % 1440) / 1440)
    meals = sum(60 * np.exp(-(((minutes - m) % 1440) / 45.0)) * (((minutes - m) % 1440) < 240)
                for m in (7 * 60 + 30, 12 * 60 + 30, 19 * 60))
    walk = np.cumsum(rng.normal(0, 2.5, n))
    values = np.clip(115 + day_shape + meals + walk - walk.mean() + rng.normal(0, 6, n), 40, 400)
    return [start + timedelta(minutes=int(m)) for m in minutes], values


def iglu_frame(subject: str, times: list[datetime], values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"id": subject, "time": pd.to_datetime(times), "gl": values})


def iglu_value(function, frame: pd.DataFrame, column: str, **kwargs) -> float:
    return float(function(frame.copy(), **kwargs)[column].iloc[0])


@pytest.mark.parametrize(("step_min", "offset"), [(5, timedelta(minutes=2, seconds=13)),
                                                  (15, timedelta(minutes=7))])
def test_every_metric_matches_iglu_on_gap_free_data(step_min, offset):
    """5-minute Dexcom-like and 15-minute Libre-like traces, readings off the grid's marks."""
    times, values = synthetic_trace(seed=step_min, days=14, step_min=step_min,
                                    start=datetime(2026, 3, 2) + offset)
    ours = glucose_metrics(readings_frame("s1", times, values.tolist()), by="range").row(
        0, named=True)
    frame = iglu_frame("s1", times, values)
    expected = {
        "mean_mg_dl": iglu_value(ig.mean_glu, frame, "mean"),
        "sd_mg_dl": iglu_value(ig.sd_glu, frame, "SD"),
        "cv_pct": iglu_value(ig.cv_glu, frame, "CV"),
        "gmi_pct": iglu_value(ig.gmi, frame, "GMI"),
        "ea1c_pct": iglu_value(ig.ea1c, frame, "eA1C"),
        "tir_70_180_pct": iglu_value(ig.in_range_percent, frame, "in_range_70_180",
                                     target_ranges=[[70, 180]]),
        "titr_70_140_pct": iglu_value(ig.in_range_percent, frame, "in_range_70_140",
                                      target_ranges=[[70, 140]]),
        "tbr_below_70_pct": iglu_value(ig.below_percent, frame, "below_70", targets_below=[70]),
        "tbr_below_54_pct": iglu_value(ig.below_percent, frame, "below_54", targets_below=[54]),
        "tar_above_180_pct": iglu_value(ig.above_percent, frame, "above_180",
                                        targets_above=[180]),
        "tar_above_250_pct": iglu_value(ig.above_percent, frame, "above_250",
                                        targets_above=[250]),
        "lbgi": iglu_value(ig.lbgi, frame, "LBGI"),
        "hbgi": iglu_value(ig.hbgi, frame, "HBGI"),
        "j_index": iglu_value(ig.j_index, frame, "J_index"),
        "modd_mg_dl": iglu_value(ig.modd, frame, "MODD"),
        "conga1_mg_dl": iglu_value(ig.conga, frame, "CONGA", n=1),
        "mage_mg_dl": iglu_value(ig.mage, frame, "MAGE"),
        "wear_pct": iglu_value(ig.active_percent, frame, "active_percent",
                               range_type="manual", ndays=14),
    }
    assert ours["readings"] == len(values)
    assert ours["days_with_data"] == 14
    for name, value in expected.items():
        assert ours[name] == pytest.approx(value, abs=TOLERANCE), name
    # the trace is varied enough that the band checks are not trivially zero
    assert 0 < ours["tar_above_180_pct"] < 50 and 30 < ours["tir_70_180_pct"] < 100


def test_several_subjects_at_once_equal_each_alone():
    frames, alone = [], {}
    for i, subject in enumerate(("a", "b", "c")):
        times, values = synthetic_trace(seed=10 + i, days=3, step_min=5,
                                        start=datetime(2026, 5, 1, 0, 1))
        frame = readings_frame(subject, times, values.tolist())
        frames.append(frame)
        alone[subject] = glucose_metrics(frame, by="day")
    together = glucose_metrics(pl.concat(frames), by="day")
    for subject, expected in alone.items():
        mine = together.filter(pl.col("subject_id") == subject)
        assert mine.equals(expected)


def test_low_and_high_values_count_in_the_bands_not_in_the_mean():
    """Hand count over 8 readings: Low, 50, 60, 100, 190, 260, High, 120."""
    start = datetime(2026, 4, 1, 8)
    times = [start + timedelta(minutes=5 * i) for i in range(8)]
    values = [None, 50, 60, 100, 190, 260, None, 120]
    flags = ["below_range", None, None, None, None, None, "above_range", None]
    row = glucose_metrics(readings_frame("s", times, values, flags), by="day").row(0, named=True)
    assert row["readings"] == 8
    assert row["tbr_below_70_pct"] == pytest.approx(100 * 3 / 8)  # Low, 50, 60
    assert row["tbr_below_54_pct"] == pytest.approx(100 * 2 / 8)  # Low, 50
    assert row["tir_70_180_pct"] == pytest.approx(100 * 2 / 8)  # 100, 120
    assert row["titr_70_140_pct"] == pytest.approx(100 * 2 / 8)
    assert row["tar_above_180_pct"] == pytest.approx(100 * 3 / 8)  # 190, 260, High
    assert row["tar_above_250_pct"] == pytest.approx(100 * 2 / 8)  # 260, High
    assert row["mean_mg_dl"] == pytest.approx(780 / 6)  # 50+60+100+190+260+120
    # 8 readings × 5 min of a 1440-minute day
    assert row["wear_pct"] == pytest.approx(100 * 40 / 1440)


def test_band_edges_are_inclusive_for_range_and_strict_outside():
    times = [datetime(2026, 4, 1, 8) + timedelta(minutes=5 * i) for i in range(6)]
    values = [54.0, 70.0, 140.0, 180.0, 250.0, 69.99]
    row = glucose_metrics(readings_frame("s", times, values), by="day").row(0, named=True)
    assert row["tir_70_180_pct"] == pytest.approx(100 * 3 / 6)  # 70, 140, 180
    assert row["titr_70_140_pct"] == pytest.approx(100 * 2 / 6)  # 70, 140
    assert row["tbr_below_70_pct"] == pytest.approx(100 * 2 / 6)  # 54, 69.99
    assert row["tbr_below_54_pct"] == 0
    assert row["tar_above_180_pct"] == pytest.approx(100 * 1 / 6)  # 250
    assert row["tar_above_250_pct"] == 0


def test_gmi_ea1c_j_index_and_risk_indices_by_hand():
    times = [datetime(2026, 4, 1, 8) + timedelta(minutes=5 * i) for i in range(3)]
    row = glucose_metrics(readings_frame("s", times, [100.0, 150.0, 200.0]), by="day").row(
        0, named=True)
    assert row["mean_mg_dl"] == pytest.approx(150)
    assert row["sd_mg_dl"] == pytest.approx(50)  # sqrt((2500 + 0 + 2500) / 2)
    assert row["cv_pct"] == pytest.approx(100 * 50 / 150)
    assert row["gmi_pct"] == pytest.approx(3.31 + 0.02392 * 150)
    assert row["ea1c_pct"] == pytest.approx((150 + 46.7) / 28.7)
    assert row["j_index"] == pytest.approx(0.001 * 200 ** 2)

    def f(g: float) -> float:
        return 1.509 * (math.log(g) ** 1.084 - 5.381)

    # f(100) < 0 counts in LBGI; f(150) and f(200) > 0 in HBGI; both over n = 3
    assert row["lbgi"] == pytest.approx(10 * f(100) ** 2 / 3)
    assert row["hbgi"] == pytest.approx(10 * (f(150) ** 2 + f(200) ** 2) / 3)


def test_modd_keeps_the_reading_that_opens_a_gap_where_iglu_drops_it():
    """Day 1 00:00/05/10 = 100, 110, 120; day 2 the same times = 130, 100, 150.

    MODD by hand = (|130−100| + |100−110| + |150−120|) / 3 = 70/3. iglu's CGMS2DayByDay blanks
    the grid point of the reading that opens a gap longer than 45 min (day 1 00:10), so iglu
    gives (30 + 10) / 2 = 20 — a documented difference.
    """
    day1, day2 = datetime(2026, 4, 1), datetime(2026, 4, 2)
    times = [day1 + timedelta(minutes=m) for m in (0, 5, 10)] + [
        day2 + timedelta(minutes=m) for m in (0, 5, 10)]
    values = [100.0, 110.0, 120.0, 130.0, 100.0, 150.0]
    ours = glucose_metrics(readings_frame("s", times, values), by="range")
    assert ours["modd_mg_dl"][0] == pytest.approx(70 / 3)
    iglu = iglu_value(ig.modd, iglu_frame("s", times, np.array(values)), "MODD")
    assert iglu == pytest.approx(20)
    # by day, the first day has no day before it: no MODD; the second day carries the pairs
    by_day = glucose_metrics(readings_frame("s", times, values), by="day")
    assert by_day["modd_mg_dl"].to_list() == [None, pytest.approx(70 / 3)]


def test_conga_does_not_bridge_a_20_minute_gap():
    """Readings every 5 min, 00:00–02:00, g = k² at step k; steps 13–15 (01:05–01:15) missing.

    Pairs 1 h apart (12 steps) exist for k in {12, 16, …, 24}: differences k² − (k−12)²
    = 24k − 144, so CONGA = 24 × SD(k) with SD over those 10 values of k: mean 19.2,
    squared deviations sum to 117.6 → CONGA = 24 × sqrt(117.6 / 9). iglu interpolates across
    the 20-minute gap (up to 45 min) and so gets a different value.
    """
    steps = [k for k in range(25) if k not in (13, 14, 15)]
    times = [datetime(2026, 4, 1) + timedelta(minutes=5 * k) for k in steps]
    values = [float(k * k) for k in steps]
    ours = glucose_metrics(readings_frame("s", times, values), by="range")
    assert ours["conga1_mg_dl"][0] == pytest.approx(24 * math.sqrt(117.6 / 9))
    iglu = iglu_value(ig.conga, iglu_frame("s", times, np.array(values)), "CONGA", n=1)
    assert iglu != pytest.approx(ours["conga1_mg_dl"][0])


def test_mage_over_a_long_gap_is_the_duration_weighted_mean_of_its_segments():
    """A 4-hour gap splits the trace; iglu on each piece alone gives the segments' MAGE+/−."""
    first_times, first = synthetic_trace(seed=3, days=2, step_min=5, start=datetime(2026, 6, 1))
    second_start = first_times[-1] + timedelta(hours=4)
    second_times, second = synthetic_trace(seed=4, days=1, step_min=5, start=second_start)
    ours = glucose_metrics(
        readings_frame("s", first_times + second_times, [*first, *second]), by="range"
    )["mage_mg_dl"][0]
    pieces = []
    for times, values in ((first_times, first), (second_times, second)):
        frame = iglu_frame("s", times, values)
        plus = iglu_value(ig.mage, frame, "MAGE", direction="plus")
        minus = iglu_value(ig.mage, frame, "MAGE", direction="minus")
        duration = (times[-1] - times[0]).total_seconds()
        pieces.append((plus, minus, duration))
    total = sum(2 * d for _, _, d in pieces)
    expected = sum((p + m) * d for p, m, d in pieces) / total
    assert ours == pytest.approx(expected, abs=TOLERANCE)


def test_mage_of_a_square_wave_by_hand():
    """Alternating 6-hour plateaus at 100 and 200 mg/dL: every excursion is 100 mg/dL."""
    minutes = np.arange(0, 4 * 1440, 5)
    values = np.where((minutes // 360) % 2 == 0, 100.0, 200.0)
    assert mage_ma(minutes * 60.0, values) == pytest.approx(100.0)


def test_wear_by_hand_with_a_gap_and_a_partial_range():
    """One day of 5-min readings missing 02:00–05:59 (48 readings): 240 of 288 → 83.33 %."""
    day = datetime(2026, 7, 1)
    times = [day + timedelta(minutes=5 * i) for i in range(288) if not 24 <= i < 72]
    frame = readings_frame("s", times, [120.0] * len(times))
    row = glucose_metrics(frame, by="day").row(0, named=True)
    assert row["wear_pct"] == pytest.approx(100 * 240 / 288)
    # asked for three days, data on one: wear counts all three days
    three = glucose_metrics(frame, by="range", start=date(2026, 6, 30), end=date(2026, 7, 2))
    assert three["wear_pct"][0] == pytest.approx(100 * 240 / (3 * 288))
    assert three["days_with_data"][0] == 1


def test_sensor_interval_is_detected_per_device():
    day = datetime(2026, 7, 1)
    dexcom = readings_frame("s", [day + timedelta(minutes=5 * i) for i in range(20)],
                            [100.0] * 20, device="dexcom")
    libre = readings_frame("s", [day + timedelta(minutes=15 * i, seconds=40) for i in range(20)],
                           [100.0] * 20, device="libre")
    intervals = with_intervals(pl.concat([dexcom, libre])).group_by("device").agg(
        pl.col("interval_min").first())
    assert dict(intervals.iter_rows()) == {"dexcom": 5, "libre": 15}
    # a 15-minute day counts each reading as 15 minutes: 20 × 15 = 300 of 1440
    row = glucose_metrics(libre, by="day").row(0, named=True)
    assert row["wear_pct"] == pytest.approx(100 * 300 / 1440)


def test_weeks_start_on_monday_and_months_on_the_first():
    start = datetime(2026, 3, 29, 12)  # a Sunday
    times = [start + timedelta(days=d) for d in range(4)]
    frame = readings_frame("s", times, [100.0, 110.0, 120.0, 130.0])
    weeks = glucose_metrics(frame, by="week")
    assert weeks["period_start"].to_list() == [date(2026, 3, 23), date(2026, 3, 30)]
    assert weeks["period_end"].to_list() == [date(2026, 3, 29), date(2026, 4, 5)]
    assert weeks["readings"].to_list() == [1, 3]
    months = glucose_metrics(frame, by="month")
    assert months["period_start"].to_list() == [date(2026, 3, 1), date(2026, 4, 1)]
    assert months["period_end"].to_list() == [date(2026, 3, 31), date(2026, 4, 30)]
    # March 29–31: 100, 110, 120 → 110; April 1: 130
    assert months["readings"].to_list() == [3, 1]
    assert months["mean_mg_dl"].to_list() == [pytest.approx(110), pytest.approx(130)]


def test_time_of_day_buckets_split_at_six_hour_marks():
    day = datetime(2026, 7, 1)
    times = [day + timedelta(hours=h, minutes=m) for h, m in ((5, 59), (6, 0), (17, 59),
                                                              (18, 0), (23, 59))]
    frame = readings_frame("s", times, [60.0, 100.0, 200.0, 150.0, 150.0])
    rows = glucose_metrics(frame, by="day", by_time_of_day=True)
    assert rows["time_of_day"].cast(pl.String).to_list() == [
        "night", "morning", "afternoon", "evening"]
    assert rows["readings"].to_list() == [1, 1, 1, 2]
    assert rows["tbr_below_70_pct"].to_list() == [100, 0, 0, 0]


def test_agp_percentiles_match_numpy_and_smoothing_by_hand():
    rng = np.random.default_rng(7)
    day = datetime(2026, 8, 1)
    times = [day + timedelta(days=d, minutes=5 * i) for d in range(10) for i in range(288)]
    values = rng.normal(120, 25, len(times)).clip(40, 400)
    frame = readings_frame("s", times, values.tolist())
    agp = agp_profile(frame, ["subject_id"])
    assert agp.height == 96
    bins = (np.array([t.hour * 60 + t.minute for t in times]) // 15)
    for b in (0, 37, 95):
        expected = np.percentile(values[bins == b], [5, 25, 50, 75, 95])
        row = agp.row(b, named=True)
        got = [row[f"p{p}_mg_dl"] for p in (5, 25, 50, 75, 95)]
        assert got == pytest.approx(expected.tolist(), abs=1e-9)
        assert row["readings"] == 30 and row["days"] == 10
    raw = agp["p50_mg_dl"].to_list()
    # circular: bin 0's neighbours are bins 95 and 1
    assert agp["p50_smoothed_mg_dl"][0] == pytest.approx(0.25 * raw[95] + 0.5 * raw[0]
                                                         + 0.25 * raw[1])
    assert agp["p50_smoothed_mg_dl"][40] == pytest.approx(0.25 * raw[39] + 0.5 * raw[40]
                                                          + 0.25 * raw[41])


def test_agp_ranks_low_values_below_every_number():
    times = [datetime(2026, 8, 1, 0, 0) + timedelta(days=d) for d in range(5)]
    values = [None, None, None, 80.0, 90.0]
    flags = ["below_range"] * 3 + [None, None]
    row = agp_profile(readings_frame("s", times, values, flags), ["subject_id"]).row(
        0, named=True)
    # sorted: 40, 40, 40, 80, 90 → median 40 (the sensor limit), 95th = 88 by interpolation
    assert row["p50_mg_dl"] == 40
    assert row["p95_mg_dl"] == pytest.approx(80 + 0.8 * 10)


# ---- fast paths equal the previous (slower) definitions, bit for bit, on random data


def _extrema_by_loop(gl: np.ndarray, ids: np.ndarray, types: np.ndarray) -> np.ndarray:
    """The previous `mage._extrema`: nanargmax/nanargmin per stretch."""
    values = np.empty(len(ids) - 1)
    start = int(ids[0])
    for i in range(len(ids) - 1):
        stretch = gl[start:int(ids[i + 1]) + 1]
        pick = np.nanargmax if types[i] == 1 else np.nanargmin
        offset = int(pick(stretch)) if not np.all(np.isnan(stretch)) else 0
        values[i] = stretch[offset]
        start += offset
    return values


def _excursions_by_rescan(extremes: np.ndarray, sd: float, upward: bool) -> list[float]:
    """The previous `mage._excursions`: rises rescanned from the last excursion each step."""
    values = (1.0 if upward else -1.0) * extremes
    found: list[float] = []
    n = len(values)
    j = prev_j = 0
    while j < n:
        rises = values[j] - values[prev_j:j + 1]
        start = int(np.argmax(rises)) + prev_j
        if rises.max() <= sd:
            j += 1
            continue
        k = j
        while k < n:
            if values[k] >= values[j]:
                j = k
            if values[k] - values[j] < -sd or k == n - 1:
                found.append(float(values[j] - values[start]))
                prev_j = k if upward else j
                j = k
                break
            k += 1
    return found


@pytest.mark.parametrize("seed", range(6))
def test_mage_extrema_and_excursions_equal_the_loop_definitions(seed):
    from transforms.glucose import mage

    rng = np.random.default_rng(seed)
    _, values = synthetic_trace(seed=seed, days=3, step_min=5, start=datetime(2026, 1, 1))
    if seed % 2:  # whole mg/dL (ties between extremes) and short dropouts inside the segment
        values = np.round(values)
    gl = values.copy()
    for start in rng.integers(1, len(gl) - 40, 12):
        gl[start:start + rng.integers(1, 30)] = np.nan
    delta = mage._trailing_mean(gl, mage.SHORT_MA) - mage._trailing_mean(gl, mage.LONG_MA)
    ids, types = mage._crossings(delta)
    fast = mage._extrema(gl, ids, types)
    assert np.array_equal(fast, _extrema_by_loop(gl, ids, types), equal_nan=True)
    sd = float(np.nanstd(gl, ddof=1))
    for scale in (0.3, 1.0, 2.0):
        for upward in (True, False):
            assert mage._excursions(fast, sd * scale, upward) == _excursions_by_rescan(
                fast, sd * scale, upward)


def _mixed_readings(seed: int) -> pl.DataFrame:
    """Two subjects, 5- and 15-minute devices, gaps, Low/High flags, rows shuffled."""
    rng = np.random.default_rng(seed)
    frames = []
    for subject, step, device in (("a", 5, "dexcom"), ("a", 15, "libre"), ("b", 15, "libre"),
                                  ("c", 5, "dexcom")):
        start = datetime(2026, 3, 1) + timedelta(days=3 if device == "libre" else 0,
                                                 seconds=int(rng.integers(0, 300)))
        times, values = synthetic_trace(seed=seed, days=3, step_min=step, start=start)
        keep = rng.random(len(times)) > 0.05
        keep[rng.integers(0, len(times) - 30):][:24] = False  # a 2-hour gap
        flags = rng.choice([None, "below_range", "above_range"], len(times), p=[.96, .02, .02])
        frames.append(readings_frame(
            subject, [t for t, k in zip(times, keep, strict=True) if k],
            [None if f else v for v, f, k in zip(values, flags, keep, strict=True) if k],
            [f for f, k in zip(flags, keep, strict=True) if k], device=device))
    return pl.concat(frames).sample(fraction=1.0, shuffle=True, seed=seed)


@pytest.mark.parametrize("seed", range(3))
def test_device_intervals_and_lagged_pairs_equal_the_sort_and_join_definitions(seed):
    from transforms.glucose.series import device_intervals, glucose_grid, lagged_pairs

    readings = _mixed_readings(seed)
    # previous with_intervals: sort every reading, diff per device, median, join back
    gaps = (
        readings.sort("subject_id", "device", "ts_utc")
        .with_columns(gap_min=pl.col("ts_utc").diff().over("subject_id", "device")
                      .dt.total_seconds() / 60.0)
        .filter(pl.col("gap_min") > 0)
        .group_by("subject_id", "device")
        .agg(interval_min=pl.col("gap_min").median().round(0).cast(pl.Int64).clip(1, 60))
    )
    expected = readings.join(gaps, on=["subject_id", "device"], how="left").with_columns(
        pl.col("interval_min").fill_null(5))
    assert with_intervals(readings).equals(expected)
    grid = glucose_grid(readings, device_intervals(readings))
    assert grid.equals(glucose_grid(expected))
    on_step = grid.filter("on_step")
    for lag in (timedelta(days=1), timedelta(hours=1)):
        # previous lagged_pairs: self-join on (subject, time + lag)
        earlier = on_step.select("subject_id", grid_ts_utc=pl.col("grid_ts_utc") + lag,
                                 lagged_mg_dl="glucose_mg_dl")
        joined = on_step.join(earlier, on=["subject_id", "grid_ts_utc"]).filter(
            pl.col("glucose_mg_dl").is_not_null() & pl.col("lagged_mg_dl").is_not_null())
        keys = ["subject_id", "grid_ts_utc"]
        assert lagged_pairs(grid, lag).sort(keys).equals(joined.sort(keys))


@pytest.mark.parametrize("by", ["day", "week", "range"])
def test_one_device_shortcut_for_wear_equals_the_per_reading_sum(by):
    """Wear minutes as readings × interval (one device per subject) equal Σ interval."""
    readings = _mixed_readings(7).filter(pl.col("subject_id") != "a")
    ours = glucose_metrics(readings, by=by, variability=False)
    # subject c's third day under another device name (same 5-minute interval) makes c a
    # two-device subject, which takes the per-reading path; wear must not change
    relabeled = readings.with_columns(
        device=pl.when(pl.col("ts_utc").dt.day() > 2).then(pl.col("device") + "_2")
        .otherwise(pl.col("device")))
    from transforms.glucose.series import device_intervals

    assert not device_intervals(relabeled)["subject_id"].is_unique().all()
    assert device_intervals(readings)["subject_id"].is_unique().all()
    other = glucose_metrics(relabeled, by=by, variability=False)
    assert ours["wear_pct"].equals(other["wear_pct"])
    assert ours.drop("wear_pct").equals(other.drop("wear_pct"))
