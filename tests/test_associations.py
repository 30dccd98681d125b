"""Magnesium vs glucose associations: planted effects, no effect, the data gate, calendar
pairing, independent references (numpy.polyfit, scipy.stats.pearsonr, numpy.linalg.lstsq),
the days-needed arithmetic, carbohydrate confounding and the wording rules.

All data are synthetic with fixed seeds; nothing is mocked.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from scipy import stats

from transforms.glucose.associations import (
    ASSOCIATION_SCHEMA,
    GATE,
    MEAL_ASSOCIATION_SCHEMA,
    centred_moments,
    daily_associations,
    days_needed,
    meal_associations,
    moving_block_counts,
    ols_slope,
    percentile_ci,
)

START = date(2025, 1, 1)
N_BOOT = 1000  # enough for stable 95 % percentiles, keeps the suite fast
BANNED = ("caus", "because", "should", "you need", "improv", "lower your", "raise your", "take ")


def ar1(rng: np.random.Generator, n: int, rho: float, sd: float) -> np.ndarray:
    """AR(1) noise e_t = ρ·e_{t−1} + u_t, u ~ N(0, sd²), started from its stationary law."""
    e = np.empty(n)
    e[0] = rng.normal(0.0, sd / math.sqrt(1 - rho**2))
    for t in range(1, n):
        e[t] = rho * e[t - 1] + rng.normal(0.0, sd)
    return e


def daily_frame(magnesium, mean, *, subject: str = "s1", dates=None, coverage=95.0, wear=90.0,
                cv=None, tir=None) -> pl.DataFrame:
    n = len(magnesium)
    dates = dates if dates is not None else [START + timedelta(days=i) for i in range(n)]

    def column(value):
        return list(value) if isinstance(value, list | np.ndarray) else [value] * n

    return pl.DataFrame({
        "subject_id": [subject] * n,
        "local_date": pl.Series(dates, dtype=pl.Date),
        "magnesium_known_mg": pl.Series(column(magnesium), dtype=pl.Float64),
        "magnesium_coverage_pct": pl.Series(column(coverage), dtype=pl.Float64),
        "wear_pct": pl.Series(column(wear), dtype=pl.Float64),
        "mean_mg_dl": pl.Series(column(mean), dtype=pl.Float64),
        "cv_pct": pl.Series(column(cv if cv is not None else 25.0), dtype=pl.Float64),
        "tir_70_180_pct": pl.Series(column(tir if tir is not None else 90.0), dtype=pl.Float64),
    })


def planted_daily(seed: int = 7, n: int = 120) -> pl.DataFrame:
    """Mean glucose = 110 − 4 × (Mg / 100) + AR(1) noise (ρ = 0.5, innovation SD 2 mg/dL)."""
    rng = np.random.default_rng(seed)
    magnesium = rng.normal(300.0, 80.0, n).clip(50.0)
    mean = 110.0 - 4.0 * magnesium / 100.0 + ar1(rng, n, 0.5, 2.0)
    return daily_frame(magnesium, mean, cv=rng.normal(25, 3, n), tir=rng.normal(85, 6, n))


def null_daily(seed: int = 11, n: int = 120) -> pl.DataFrame:
    """Magnesium and glucose drawn independently (each autocorrelated)."""
    rng = np.random.default_rng(seed)
    magnesium = 300.0 + 60.0 * ar1(rng, n, 0.3, 1.0)
    mean = 110.0 + ar1(rng, n, 0.5, 3.0)
    return daily_frame(magnesium, mean, cv=rng.normal(25, 3, n), tir=rng.normal(85, 6, n))


def row(out: pl.DataFrame, outcome: str = "mean_mg_dl", lag: int = 0) -> dict:
    rows = out.filter((pl.col("outcome") == outcome) & (pl.col("lag_days") == lag)).to_dicts()
    assert len(rows) == 1
    return rows[0]


def confounded_meals(seed: int = 3, days: int = 60, per_day: int = 3) -> pl.DataFrame:
    """Carbs drive iAUC (40 mg/dL·min per g) and logged magnesium rises with carbs (2 mg/g);
    magnesium itself plays no part in iAUC. A day effect makes meals of one day alike."""
    rng = np.random.default_rng(seed)
    n = days * per_day
    day = np.repeat(np.arange(days), per_day)
    carbs = rng.normal(50.0, 15.0, n).clip(5.0)
    magnesium = 2.0 * carbs + rng.normal(0.0, 15.0, n) + 20.0
    iauc = 40.0 * carbs + rng.normal(0.0, 150.0, days)[day] + rng.normal(0.0, 250.0, n)
    peak = 0.6 * carbs + rng.normal(0.0, 6.0, n)
    return pl.DataFrame({
        "subject_id": ["m1"] * n,
        "meal_id": [f"meal-{i:04d}" for i in range(n)],
        "local_date": pl.Series([START + timedelta(days=int(d)) for d in day], dtype=pl.Date),
        "usable": [True] * n,
        "magnesium_known_mg": magnesium,
        "magnesium_coverage_pct": [100.0] * n,
        "carbohydrates_g": carbs,
        "iauc_mg_dl_min": iauc,
        "peak_rise_mg_dl": peak,
    })


@pytest.fixture(scope="module")
def planted() -> pl.DataFrame:
    return daily_associations(planted_daily(), n_boot=N_BOOT)


@pytest.fixture(scope="module")
def null_effect() -> pl.DataFrame:
    return daily_associations(null_daily(), n_boot=N_BOOT)


# --------------------------------------------------------------------------- daily


def test_planted_effect_is_recovered(planted: pl.DataFrame) -> None:
    r = row(planted)
    assert r["status"] == "estimated"
    assert r["qualifying_days"] == r["paired_days"] == 120
    assert r["ci_low"] <= -4.0 <= r["ci_high"]
    assert r["ci_high"] < 0.0
    assert r["r"] < 0.0 and r["r_ci_high"] < 0.0
    assert r["days_needed"] == 0
    assert r["block_days"] == 5  # max(3, round(120^(1/3) = 4.93))
    assert (r["n_boot"], r["seed"]) == (N_BOOT, 20261125)
    assert "lower per 100 mg" in r["message"] and "excludes zero" in r["message"]
    assert "Across 120 qualifying days" in r["message"]


def test_output_shape_and_dtypes(planted: pl.DataFrame) -> None:
    assert planted.schema == pl.Schema(ASSOCIATION_SCHEMA)
    assert planted.height == 6  # 3 outcomes × 2 lags
    assert set(planted["analysis"]) == {"daily"}
    assert set(planted["adjusted_for"]) == {""}
    assert planted.select("outcome", "lag_days").rows() == [
        ("mean_mg_dl", 0), ("mean_mg_dl", 1), ("cv_pct", 0), ("cv_pct", 1),
        ("tir_70_180_pct", 0), ("tir_70_180_pct", 1)]
    assert row(planted, lag=1)["paired_days"] == 119  # the last day has no next day


def test_no_effect_interval_includes_zero(null_effect: pl.DataFrame) -> None:
    r = row(null_effect)
    assert r["status"] == "estimated"
    assert r["ci_low"] <= 0.0 <= r["ci_high"]
    assert r["r_ci_low"] <= 0.0 <= r["r_ci_high"]
    assert "the interval includes zero, so no association can be told apart from chance" \
        in r["message"]
    assert "excludes" not in r["message"]


def test_slope_and_r_match_independent_references() -> None:
    frame = planted_daily(seed=21, n=60)
    # Non-qualifying days with extreme glucose must not enter the statistics.
    bad = daily_frame([900.0] * 10, [300.0] * 10, wear=30.0,
                      dates=[START + timedelta(days=100 + i) for i in range(10)])
    out = daily_associations(pl.concat([frame, bad]), n_boot=200)
    r = row(out)
    assert (r["paired_days"], r["qualifying_days"]) == (70, 60)
    x = frame["magnesium_known_mg"].to_numpy()
    y = frame["mean_mg_dl"].to_numpy()
    assert r["estimate"] == pytest.approx(np.polyfit(x, y, 1)[0] * 100.0, abs=1e-9)
    assert r["r"] == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-9)
    # Next day: day d's magnesium with day d+1's glucose.
    r1 = row(out, lag=1)
    assert r1["estimate"] == pytest.approx(np.polyfit(x[:-1], y[1:], 1)[0] * 100.0, abs=1e-9)
    assert r1["r"] == pytest.approx(stats.pearsonr(x[:-1], y[1:]).statistic, abs=1e-9)


def test_gate_counts_only_days_with_enough_wear_and_coverage() -> None:
    rng = np.random.default_rng(5)
    good = daily_frame(rng.normal(300, 60, 20), rng.normal(110, 5, 20))
    low_wear = daily_frame(rng.normal(300, 60, 10), rng.normal(110, 5, 10), wear=50.0,
                           dates=[START + timedelta(days=30 + i) for i in range(10)])
    low_cov = daily_frame(rng.normal(300, 60, 10), rng.normal(110, 5, 10), coverage=60.0,
                          dates=[START + timedelta(days=50 + i) for i in range(10)])
    out = daily_associations(pl.concat([good, low_wear, low_cov]), n_boot=200)
    r = row(out)
    assert r["paired_days"] == 40
    assert r["qualifying_days"] == 20
    assert r["status"] == "not_enough_data"
    assert r["days_needed"] >= 8
    assert all(r[k] is None for k in ("estimate", "ci_low", "ci_high", "r", "r_ci_low",
                                      "r_ci_high", "n_boot", "block_days", "seed"))
    assert r["message"].startswith(f"Not enough data yet — about {r['days_needed']} more days")
    assert r["magnesium_coverage_pct"] == pytest.approx((30 * 95.0 + 10 * 60.0) / 40)
    assert r["glucose_wear_pct"] == pytest.approx((30 * 90.0 + 10 * 50.0) / 40)


def test_gate_thresholds_are_inclusive() -> None:
    rng = np.random.default_rng(8)
    out = daily_associations(
        daily_frame(rng.normal(300, 60, 30), rng.normal(110, 5, 30), wear=70.0, coverage=80.0),
        n_boot=200)
    assert row(out)["qualifying_days"] == 30
    assert row(out)["status"] == "estimated"


def test_next_day_pairing_follows_the_calendar_not_row_order() -> None:
    # Days 1, 2, 4, 5 January (the 3rd is missing). Same day: 4 pairs. Next day:
    # 1→2 and 4→5 only (2→3 and 5→6 have no glucose day); row order would wrongly give 3.
    # Wear on the 2nd is 50 %: same-day, the 2nd fails (3 qualify); next-day, 1→2 fails
    # because the glucose day is the 2nd (1 qualifies: 4→5).
    dates = [date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 4), date(2025, 1, 5)]
    frame = daily_frame([200.0, 300.0, 250.0, 350.0], [100.0, 104.0, 98.0, 101.0],
                        dates=dates, wear=[90.0, 50.0, 90.0, 90.0])
    out = daily_associations(frame.sample(fraction=1.0, shuffle=True, seed=1), n_boot=50)
    same, nxt = row(out, lag=0), row(out, lag=1)
    assert (same["paired_days"], same["qualifying_days"]) == (4, 3)
    assert (nxt["paired_days"], nxt["qualifying_days"]) == (2, 1)
    assert nxt["glucose_wear_pct"] == pytest.approx((50.0 + 90.0) / 2)  # wear of 2nd and 5th
    assert nxt["status"] == "not_enough_data" and nxt["days_needed"] == 27


def test_days_missing_a_series_are_not_paired() -> None:
    frame = daily_frame([200.0, None, 250.0], [100.0, 104.0, None])
    assert row(daily_associations(frame, n_boot=50))["paired_days"] == 1


def test_no_glucose_and_no_food() -> None:
    no_glucose = daily_frame([300.0] * 40, [None] * 40, wear=None, cv=[None] * 40,
                             tir=[None] * 40, subject="g0")
    no_food = daily_frame([None] * 40, list(np.linspace(95, 120, 40)), coverage=None,
                          subject="f0")
    out = daily_associations(pl.concat([no_glucose, no_food]), n_boot=50)
    assert out.height == 12
    glucose_rows = out.filter(pl.col("subject_id") == "g0")
    assert set(glucose_rows["status"]) == {"no_glucose"}
    assert glucose_rows["estimate"].null_count() == 6
    assert all("only magnesium trends" in m for m in glucose_rows["message"])
    assert set(out.filter(pl.col("subject_id") == "f0")["status"]) == {"no_food"}


def test_flat_magnesium_gives_no_slope() -> None:
    out = daily_associations(daily_frame([300.0] * 30, list(np.linspace(95, 120, 30))),
                             n_boot=50)
    r = row(out)
    assert r["status"] == "not_enough_data" and r["estimate"] is None
    assert "the same on all 30 qualifying days" in r["message"]


def test_determinism_and_subject_independence() -> None:
    frame = null_daily(seed=13, n=60)
    first = daily_associations(frame, n_boot=300, seed=42)
    second = daily_associations(frame, n_boot=300, seed=42)
    assert first.equals(second)
    other_seed = daily_associations(frame, n_boot=300, seed=43)
    assert not first["ci_low"].equals(other_seed["ci_low"])
    # Adding another subject leaves this subject's intervals unchanged.
    both = daily_associations(pl.concat([frame, planted_daily().with_columns(
        subject_id=pl.lit("s0"))]), n_boot=300, seed=42)
    assert both.filter(pl.col("subject_id") == "s1").equals(first)


def test_block_days_override_is_reported() -> None:
    out = daily_associations(null_daily(n=40), n_boot=100, block_days=7)
    assert set(out["block_days"]) == {7}
    with pytest.raises(ValueError, match="block_days"):
        daily_associations(null_daily(n=40), block_days=0)


def test_duplicate_days_are_rejected() -> None:
    frame = daily_frame([300.0, 310.0], [100.0, 101.0], dates=[START, START])
    with pytest.raises(ValueError, match="more than one row"):
        daily_associations(frame)


# --------------------------------------------------------------------------- days needed


def test_days_needed_hand_computed() -> None:
    # q = 20 days, σ_resid = 10 mg/dL, σ_x = 50 mg, ρ = 0.5, δ = 5 mg/dL per 100 mg:
    #   deff = (1 + 0.5)/(1 − 0.5) = 3;  h = δ/100 = 0.05 mg/dL per mg
    #   N = deff · (z·σ_resid/(σ_x·h))² = 3 · 1.959964² · (10/(50·0.05))² = 3 · 3.841459 · 16
    #     = 184.39 → 185 days; more = 185 − 20 = 165 (> gate need 28 − 20 = 8).
    assert days_needed(qualifying_days=20, sigma_resid=10.0, sigma_x=50.0, rho=0.5,
                       delta_per_100mg=5.0) == 165
    # σ_resid = 1: N = 3 · 3.841459 · (1/2.5)² = 1.84 → 2 days; the gate need (8) wins.
    assert days_needed(qualifying_days=20, sigma_resid=1.0, sigma_x=50.0, rho=0.5,
                       delta_per_100mg=5.0) == 8
    # ρ = 0.95 is clipped to 0.9: deff = 1.9/0.1 = 19; N = 19 · 3.841459 · 16 = 1167.8 → 1168.
    assert days_needed(qualifying_days=20, sigma_resid=10.0, sigma_x=50.0, rho=0.95,
                       delta_per_100mg=5.0) == 1148
    # Negative ρ is clipped to 0: deff = 1; N = 3.841459 · 16 = 61.46 → 62; more = 42.
    assert days_needed(qualifying_days=20, sigma_resid=10.0, sigma_x=50.0, rho=-0.4,
                       delta_per_100mg=5.0) == 42
    # Meals: the 185 units are meals; at 3 meals a day that is ⌈185/3⌉ = 62 days; more = 42.
    assert days_needed(qualifying_days=20, sigma_resid=10.0, sigma_x=50.0, rho=0.5,
                       delta_per_100mg=5.0, units_per_day=3.0) == 42
    # Under 5 days (no σ given) or no magnesium spread: the gate need alone.
    assert days_needed(qualifying_days=3) == 25
    assert days_needed(qualifying_days=20, sigma_resid=10.0, sigma_x=0.0,
                       delta_per_100mg=5.0) == 8
    assert days_needed(qualifying_days=40) == 0


def test_days_needed_column_uses_the_users_own_variance() -> None:
    # Very noisy glucose: the precision need exceeds the gate need. Recompute its inputs with
    # numpy directly (polyfit residuals, ddof 2; population SD of magnesium; lag-1 ACF).
    rng = np.random.default_rng(17)
    x = rng.normal(300, 40, 20)
    y = 110 + ar1(rng, 20, 0.6, 12.0)
    r = row(daily_associations(daily_frame(x, y), n_boot=50))
    slope, intercept = np.polyfit(x, y, 1)
    e = y - (slope * x + intercept)
    ec = e - e.mean()
    rho = float(np.sum(ec[:-1] * ec[1:]) / np.sum(ec**2))
    expected = days_needed(qualifying_days=20, sigma_resid=float(np.sqrt(np.sum(e**2) / 18)),
                           sigma_x=float(np.std(x)), rho=rho, delta_per_100mg=5.0)
    assert r["days_needed"] == expected > 8
    assert "95 % CI no wider than ±5.0 mg/dL per 100 mg" in r["message"]


# --------------------------------------------------------------------------- bootstrap parts


def test_block_counts_and_degenerate_resamples() -> None:
    counts = moving_block_counts(50, 4, 300, np.random.default_rng(0))
    assert counts.shape == (300, 50)
    assert (counts.sum(axis=1) == 50).all()
    x = np.array([1.0, 2.0, 3.0, 4.0])
    y = np.array([2.0, 1.0, 4.0, 3.0])
    # Second resample draws one observation four times: no spread in x → NaN slope.
    weights = np.array([[1, 1, 1, 1], [0, 4, 0, 0]])
    slopes = ols_slope(centred_moments(weights, x, y))
    assert slopes[0] == pytest.approx(np.polyfit(x, y, 1)[0], abs=1e-12)
    assert np.isnan(slopes[1])
    assert percentile_ci(np.array([np.nan, 1.0, 2.0, 3.0])) == pytest.approx((1.05, 2.95))
    assert percentile_ci(np.array([np.nan])) == (None, None)


# --------------------------------------------------------------------------- meals


@pytest.fixture(scope="module")
def confounded() -> pl.DataFrame:
    return confounded_meals()


def test_carbohydrate_confounding_is_adjusted_away(confounded: pl.DataFrame) -> None:
    out = meal_associations(confounded, n_boot=N_BOOT)
    assert out.schema == pl.Schema(MEAL_ASSOCIATION_SCHEMA)
    r = row(out, "iauc_mg_dl_min")
    assert r["analysis"] == "meal" and r["adjusted_for"] == "carbohydrates_g"
    assert (r["meals"], r["paired_days"], r["qualifying_days"]) == (180, 60, 60)
    assert r["status"] == "estimated" and r["block_days"] == 1
    assert r["ci_low"] <= 0.0 <= r["ci_high"]
    # Independent reference: least squares on [1, magnesium, carbs].
    x, c, y = (confounded[k].to_numpy() for k in
               ("magnesium_known_mg", "carbohydrates_g", "iauc_mg_dl_min"))
    beta = np.linalg.lstsq(np.column_stack([np.ones_like(x), x, c]), y, rcond=None)[0]
    assert r["estimate"] == pytest.approx(beta[1] * 100.0, abs=1e-9)
    # Partial r equals the correlation of both series residualised on carbs.
    rx = x - np.polyval(np.polyfit(c, x, 1), c)
    ry = y - np.polyval(np.polyfit(c, y, 1), c)
    assert r["r"] == pytest.approx(stats.pearsonr(rx, ry).statistic, abs=1e-9)
    assert "comparing meals with the same logged carbohydrates" in r["message"]
    # The unadjusted slope is large: magnesium stands in for carbs (≈ 40·2·225/1125 = 16/mg).
    unadjusted = np.polyfit(x, y, 1)[0] * 100.0
    assert unadjusted > 1000.0


def test_meals_without_enough_carbs_are_unadjusted(confounded: pl.DataFrame) -> None:
    # Carbs known for 70 % of usable meals (< 80 %): no adjustment, every meal kept.
    n = confounded.height
    frame = confounded.with_columns(
        carbohydrates_g=pl.when(pl.int_range(n) % 10 < 7).then(pl.col("carbohydrates_g")))
    r = row(meal_associations(frame, n_boot=N_BOOT), "iauc_mg_dl_min")
    assert r["adjusted_for"] == "" and r["meals"] == n
    x, y = frame["magnesium_known_mg"].to_numpy(), frame["iauc_mg_dl_min"].to_numpy()
    assert r["estimate"] == pytest.approx(np.polyfit(x, y, 1)[0] * 100.0, abs=1e-9)
    assert r["r"] == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-9)
    assert r["ci_low"] > 0.0
    assert "excludes zero" in r["message"]


def test_meal_gate_and_statuses(confounded: pl.DataFrame) -> None:
    frame = confounded.with_columns(
        # days 0–19 low coverage, days 20–24 unusable: 35 of 60 days qualify → estimated
        magnesium_coverage_pct=pl.when(pl.col("local_date") < START + timedelta(days=20))
        .then(60.0).otherwise(pl.col("magnesium_coverage_pct")),
        usable=~pl.col("local_date").is_between(START + timedelta(days=20),
                                                START + timedelta(days=24)),
    )
    r = row(meal_associations(frame, n_boot=200), "peak_rise_mg_dl")
    assert (r["paired_days"], r["qualifying_days"], r["meals"]) == (55, 35, 105)
    assert r["status"] == "estimated"
    short = meal_associations(frame.filter(pl.col("local_date") < START + timedelta(days=40)),
                              n_boot=200)
    s = row(short, "peak_rise_mg_dl")
    assert (s["qualifying_days"], s["status"]) == (15, "not_enough_data")
    assert s["days_needed"] >= 13 and s["estimate"] is None
    no_glucose = confounded.with_columns(iauc_mg_dl_min=None, peak_rise_mg_dl=None,
                                         usable=False)
    assert set(meal_associations(no_glucose)["status"]) == {"no_glucose"}


# --------------------------------------------------------------------------- wording


def test_no_message_uses_causal_or_prescriptive_words(planted, null_effect, confounded) -> None:
    rng = np.random.default_rng(2)
    frames = [
        planted, null_effect,
        daily_associations(daily_frame(rng.normal(300, 60, 12), rng.normal(110, 15, 12)),
                           n_boot=50),
        daily_associations(daily_frame([300.0] * 30, list(np.linspace(95, 120, 30))), n_boot=50),
        daily_associations(pl.concat([
            daily_frame([300.0] * 5, [None] * 5, wear=None, cv=[None] * 5, tir=[None] * 5,
                        subject="g"),
            daily_frame([None] * 5, [100.0] * 5, coverage=None, subject="f"),
            daily_frame([None] * 5, [None] * 5, coverage=None, wear=None, cv=[None] * 5,
                        tir=[None] * 5, subject="n"),
        ]), n_boot=50),
        # a positive planted effect, for "higher" wording
        daily_associations(planted_daily().with_columns(mean_mg_dl=220 - pl.col("mean_mg_dl")),
                           n_boot=50),
        meal_associations(confounded, n_boot=50),
        meal_associations(confounded.filter(pl.col("local_date") < START + timedelta(days=10)),
                          n_boot=50),
    ]
    messages = [m for frame in frames for m in frame["message"]]
    assert len(messages) > 40 and all(messages)
    for message in messages:
        lowered = message.lower()
        assert not [w for w in BANNED if w in lowered], message
    assert any("higher per 100 mg" in m for m in messages)
    assert any("not enough data yet" in m.lower() for m in messages)


def test_gate_constants() -> None:
    assert GATE == {"min_paired_days": 28, "min_wear_pct": 70.0,
                    "min_magnesium_coverage_pct": 80.0}
