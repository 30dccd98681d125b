"""Logged magnesium vs glucose: associations with block-bootstrap CIs and a minimum-data gate.

What is estimated
-----------------
* **Daily** (`daily_associations`): per subject, the OLS slope of a daily glucose outcome
  (mean glucose, CV, time in range 70–180 mg/dL) on the day's logged magnesium, expressed per
  100 mg, for the same day (lag 0) and the next calendar day (lag 1), with Pearson's r
  (Pearson 1895). Only *qualifying* days enter: a food day with ≥ 80 % of entries carrying a
  known magnesium value, paired with a glucose day with ≥ 70 % CGM wear.
* **Meal** (`meal_associations`): per subject, the OLS slope of a meal's glucose response
  (iAUC, peak rise) on the meal's logged magnesium per 100 mg, adjusted for the meal's
  carbohydrates when carbohydrates are known for ≥ 80 % of usable meals; r is then the partial
  correlation given carbohydrates (Frisch–Waugh–Lovell: both series residualised on carbs).

Uncertainty
-----------
* Days are autocorrelated, so the daily CI is a 95 % percentile interval from a **moving-block
  bootstrap** (Künsch, Ann. Stat. 1989): blocks of ℓ consecutive qualifying day-pairs (in date
  order; a calendar gap between two qualifying pairs does not break a block) are drawn with
  replacement and concatenated to length n. Default ℓ = max(3, round(n^(1/3))) — the n^(1/3)
  order is the MSE-optimal rate for block-bootstrap variance estimates (Hall, Horowitz & Jing,
  Biometrika 1995); the floor of 3 keeps day-to-day dependence in short series.
* Meals of one day share that day's sensor, food log and routine, so the meal CI comes from a
  **cluster bootstrap over days** (Davison & Hinkley 1997, §3.8): days are drawn with
  replacement and every meal of a drawn day comes along (`block_days` = 1 day).
* All resamples are solved at once: each resample is a row of counts (how often each
  observation was drawn), and slopes come from weighted centred sums computed by one matrix
  product — no Python loop over resamples or rows. Resamples where magnesium (or the outcome,
  for r) has no spread give NaN and are left out of the percentiles.

Minimum data (`GATE`)
---------------------
`../shared/reference/glucose-metrics.md`, "How much data an association needs": detecting r at
80 % power needs about 30 days for r = 0.5, 85 for r = 0.3, 194 for r = 0.2; below about 28
paired days with ≥ 70 % wear and known magnesium for most entries, say "not enough data yet"
and how many more days are needed. `days_needed` turns the user's own variance into that
number (see its docstring for δ, the CI half-width worth reporting).

Wording (`../shared/reference/report-wording.md`): messages describe associations only
("days with more logged magnesium had …"), always with n, the CI and coverage, and never use
causal or prescriptive language.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Final

import numpy as np
import polars as pl

from schemas.canonical import ASSOCIATIONS

GATE: Final[dict[str, float]] = {
    "min_paired_days": 28,
    "min_wear_pct": 70.0,
    "min_magnesium_coverage_pct": 80.0,
}

EXPOSURE: Final = "magnesium_known_mg"
DAILY_OUTCOMES: Final = ("mean_mg_dl", "cv_pct", "tir_70_180_pct")
MEAL_OUTCOMES: Final = ("iauc_mg_dl_min", "peak_rise_mg_dl")
LAGS: Final = (0, 1)
PER_MG: Final = 100.0  # slopes are reported per 100 mg of logged magnesium
CARB_ADJUST_MIN_PCT: Final = 80.0  # share of usable meals with carbs needed to adjust for them
MIN_DAYS_FOR_PROJECTION: Final = 5  # fewer qualifying days give no usable variance estimate
Z_95: Final = 1.959963984540054  # standard normal 97.5th percentile
RHO_MAX: Final = 0.9  # lag-1 autocorrelation is clipped to [0, 0.9] for the design effect
DEGENERATE_REL_TOL: Final = 1e-10  # a resample's spread below this share of the sample's is zero

# δ: the 95 % CI half-width (per 100 mg magnesium) at which a slope says something worth
# reporting. Chosen as differences a person could notice in their own CGM summaries:
# 5 mg/dL mean glucose, 2 percentage points of CV, 5 percentage points of time in range,
# 5 mg/dL peak rise, and 300 mg/dL·min iAUC (a 5 mg/dL rise over a 2-hour window, as a
# triangle: 5 × 120 / 2).
DELTA_PER_100MG: Final[dict[str, float]] = {
    "mean_mg_dl": 5.0,
    "cv_pct": 2.0,
    "tir_70_180_pct": 5.0,
    "iauc_mg_dl_min": 300.0,
    "peak_rise_mg_dl": 5.0,
}

# Plain-language label, unit and decimals of each outcome, for messages.
OUTCOME_WORDS: Final[dict[str, tuple[str, str, int]]] = {
    "mean_mg_dl": ("a mean glucose", "mg/dL", 1),
    "cv_pct": ("a glucose CV", "percentage points", 1),
    "tir_70_180_pct": ("a time in range (70–180 mg/dL)", "percentage points", 1),
    "iauc_mg_dl_min": ("a glucose iAUC", "mg/dL·min", 0),
    "peak_rise_mg_dl": ("a peak glucose rise", "mg/dL", 1),
}

# Meal rows fill every column of the mart; daily rows all but `meals`.
MEAL_ASSOCIATION_SCHEMA: Final[dict[str, pl.DataType]] = dict(ASSOCIATIONS.polars_schema())
ASSOCIATION_SCHEMA: Final[dict[str, pl.DataType]] = {
    name: dtype for name, dtype in MEAL_ASSOCIATION_SCHEMA.items() if name != "meals"}

DAILY_INPUT: Final = ("subject_id", "local_date", "magnesium_known_mg", "magnesium_coverage_pct",
                      "wear_pct", *DAILY_OUTCOMES)
MEAL_INPUT: Final = ("subject_id", "meal_id", "local_date", "usable", "magnesium_known_mg",
                     "magnesium_coverage_pct", "carbohydrates_g", *MEAL_OUTCOMES)


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Moments:
    """Weighted centred sums of one (x, y) pair, one entry per weight row (resample).

    `x_flat`/`y_flat` mark rows where the series has (numerically) no spread.
    """

    sxx: np.ndarray
    syy: np.ndarray
    sxy: np.ndarray
    x_flat: np.ndarray
    y_flat: np.ndarray


def centred_moments(weights: np.ndarray, x: np.ndarray, y: np.ndarray,
                    c: np.ndarray | None = None) -> Moments:
    """Weighted centred sums of squares and products for every row of `weights` (B × n).

    S_w = Σ w,  m_u = Σ w·u / S_w,  S_uv = Σ w·u·v − S_w·m_u·m_v  (u, v ∈ {x, y, c}).
    With a covariate c, x and y are residualised on it (Frisch–Waugh–Lovell):
    S_xx·c = S_xx − S_xc²/S_cc,  S_yy·c = S_yy − S_yc²/S_cc,  S_xy·c = S_xy − S_xc·S_yc/S_cc.
    """
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    columns = [x, y] if c is None else [x, y, c]
    values = np.column_stack(columns).astype(np.float64)
    # Centring on the full-sample means first keeps Σw·u² − S_w·m² free of cancellation.
    values = values - values.mean(axis=0)
    k = values.shape[1]
    sw = w.sum(axis=1)
    means = (w @ values) / sw[:, None]
    products = (values[:, :, None] * values[:, None, :]).reshape(len(values), k * k)
    raw = (w @ products).reshape(len(w), k, k)
    s = raw - sw[:, None, None] * means[:, :, None] * means[:, None, :]
    sxx, syy, sxy = s[:, 0, 0], s[:, 1, 1], s[:, 0, 1]
    if c is not None:
        scc = s[:, 2, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            sxx = sxx - s[:, 0, 2] ** 2 / scc
            syy = syy - s[:, 1, 2] ** 2 / scc
            sxy = sxy - s[:, 0, 2] * s[:, 1, 2] / scc
        # A resample without carb spread cannot separate magnesium from carbs.
        c_flat = scc <= DEGENERATE_REL_TOL * sw * np.mean(values[:, 2] ** 2)
        sxx = np.where(c_flat, np.nan, sxx)
    # "No spread" is judged against the full sample's spread, scaled to the resample's weight.
    x_flat = ~(sxx > DEGENERATE_REL_TOL * sw * np.mean(values[:, 0] ** 2))
    y_flat = ~(syy > DEGENERATE_REL_TOL * sw * np.mean(values[:, 1] ** 2))
    return Moments(sxx=sxx, syy=syy, sxy=sxy, x_flat=x_flat, y_flat=y_flat)


def ols_slope(m: Moments) -> np.ndarray:
    """OLS slope of y on x (per unit x): b = S_xy / S_xx; NaN where x has no spread."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(m.x_flat, np.nan, m.sxy / m.sxx)


def pearson_r(m: Moments) -> np.ndarray:
    """Pearson (1895) correlation r = S_xy / √(S_xx·S_yy) (partial r when a covariate was
    given); NaN where either series has no spread."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = m.sxy / np.sqrt(m.sxx * m.syy)
    return np.where(m.x_flat | m.y_flat, np.nan, np.clip(r, -1.0, 1.0))


def percentile_ci(values: np.ndarray, level: float = 95.0) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval (Efron & Tibshirani 1993, §13.3): the (100−level)/2 and
    (100+level)/2 percentiles of the finite resample values (degenerate resamples left out)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None, None
    tail = (100.0 - level) / 2.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return float(low), float(high)


def block_length(n: int) -> int:
    """Moving-block length ℓ = max(3, round(n^(1/3))), never more than n.

    n^(1/3) is the MSE-optimal order for block-bootstrap variance (Hall, Horowitz & Jing 1995);
    120 qualifying days give ℓ = 5, 28 give ℓ = 3.
    """
    return max(1, min(n, max(3, round(n ** (1.0 / 3.0)))))


def row_counts(index: np.ndarray, n: int) -> np.ndarray:
    """Counts[b, i] = #{j : index[b, j] = i} for every row b, as one flat bincount."""
    rows = index.shape[0]
    flat = (index + n * np.arange(rows)[:, None]).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n)


def moving_block_counts(n: int, block: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Moving-block bootstrap (Künsch 1989) as counts: (n_boot × n), each row summing to n.

    Per resample, k = ⌈n/ℓ⌉ block starts s ~ U{0, …, n−ℓ}; the index matrix s + (0, …, ℓ−1)
    is concatenated and cut to n, then turned into how often each observation was drawn.
    """
    k = -(-n // block)
    starts = rng.integers(0, n - block + 1, size=(n_boot, k))
    index = (starts[:, :, None] + np.arange(block)).reshape(n_boot, k * block)[:, :n]
    return row_counts(index, n)


def cluster_counts(cluster_of: np.ndarray, n_clusters: int, n_boot: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Cluster bootstrap weights (n_boot × observations): draw n_clusters clusters (days) with
    replacement; each observation (meal) weighs as often as its cluster was drawn."""
    draws = rng.integers(0, n_clusters, size=(n_boot, n_clusters))
    return row_counts(draws, n_clusters)[:, cluster_of]


def residuals(x: np.ndarray, y: np.ndarray, c: np.ndarray | None = None) -> np.ndarray:
    """OLS residuals e = y − X·β̂ with X = [1, x] or [1, x, c] (in the order given)."""
    design = np.column_stack([np.ones_like(x), x] if c is None else [np.ones_like(x), x, c])
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    return y - design @ beta


def residual_sd(e: np.ndarray, parameters: int) -> float:
    """σ_resid = √(Σ e² / (n − p)), p = fitted parameters (2, or 3 with a covariate)."""
    dof = len(e) - parameters
    return float(math.sqrt(np.sum(e**2) / dof)) if dof > 0 else math.nan


def exposure_sd(x: np.ndarray, c: np.ndarray | None = None) -> float:
    """Population SD of x (of x residualised on c when given): σ_x = √(S_xx / n).

    With ddof = 0, σ_resid / (σ_x·√n) is exactly the OLS standard error of the slope at the
    current n, so projecting to more days starts from the user's own SE.
    """
    xr = x - x.mean() if c is None else residuals(c, x)
    return float(math.sqrt(np.mean(xr**2)))


def lag1_autocorrelation(e: np.ndarray) -> float:
    """Lag-1 autocorrelation of a series in time order: ρ̂ = Σ e_t·e_{t+1} / Σ e_t² (e centred)."""
    e = e - e.mean()
    denominator = float(np.sum(e**2))
    if len(e) < 3 or denominator == 0.0:
        return 0.0
    return float(np.sum(e[:-1] * e[1:]) / denominator)


def design_effect(rho: float) -> float:
    """Variance inflation for AR(1) errors: (1 + ρ) / (1 − ρ), with ρ clipped to [0, 0.9]."""
    rho = min(max(rho, 0.0), RHO_MAX)
    return (1.0 + rho) / (1.0 - rho)


def days_needed(*, qualifying_days: int, sigma_resid: float | None = None,
                sigma_x: float | None = None, rho: float = 0.0,
                delta_per_100mg: float | None = None,
                min_days: int = int(GATE["min_paired_days"]), units_per_day: float = 1.0,
                z: float = Z_95) -> int:
    """How many MORE qualifying days are needed: max(gate need, precision need).

    gate need = max(0, min_days − q).
    precision need (only when σ_resid, σ_x > 0 and δ are given — the caller passes them once
    ≥ 5 qualifying days exist): the slope's SE with N units is about
        SE(b) ≈ σ_resid · √deff / (σ_x · √N),  deff = (1 + ρ)/(1 − ρ), ρ clipped to [0, 0.9],
    and the 95 % CI half-width z·SE falls to h = δ / 100 (δ is per 100 mg, b is per mg) when
        N ≥ deff · (z · σ_resid / (σ_x · h))².
    Units are days for daily analyses and meals for meal analyses (`units_per_day` = meals per
    qualifying day converts), so precision need = max(0, ⌈⌈N⌉ / units_per_day⌉ − q).
    Without spread in magnesium (σ_x = 0) no number of such days narrows the slope, so only
    the gate need is returned.
    """
    gate_need = max(0, min_days - qualifying_days)
    if (sigma_resid is None or sigma_x is None or delta_per_100mg is None
            or not math.isfinite(sigma_resid) or not sigma_x > 0 or not delta_per_100mg > 0):
        return gate_need
    half_width = delta_per_100mg / PER_MG
    units = design_effect(rho) * (z * sigma_resid / (sigma_x * half_width)) ** 2
    # Tiny float noise must not push an exact N (e.g. 184.0000000001) to the next integer.
    days = math.ceil(round(math.ceil(round(units, 9)) / units_per_day, 9))
    return max(gate_need, days - qualifying_days)


# --------------------------------------------------------------------------- one analysis


@dataclass(frozen=True)
class Fit:
    """Point estimates (slope per 100 mg, r) and their bootstrap percentile intervals."""

    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    r: float | None
    r_ci_low: float | None
    r_ci_high: float | None


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def bootstrap_fit(x: np.ndarray, y: np.ndarray, c: np.ndarray | None,
                  counts: np.ndarray) -> Fit:
    """Slope (per 100 mg) and r on the sample, CIs from the resample counts (B × n)."""
    point = centred_moments(np.ones((1, len(x))), x, y, c)
    boot = centred_moments(counts, x, y, c)
    slope_ci = percentile_ci(PER_MG * ols_slope(boot))
    r_ci = percentile_ci(pearson_r(boot))
    return Fit(_finite(PER_MG * ols_slope(point)[0]), *slope_ci,
               _finite(pearson_r(point)[0]), *r_ci)


def _projection(x: np.ndarray, y: np.ndarray, c: np.ndarray | None,
                days: int) -> tuple[float | None, float | None, float]:
    """σ_resid, σ_x and residual ρ for `days_needed`, or (None, None, 0) below 5 days."""
    parameters = 2 if c is None else 3
    if days < MIN_DAYS_FOR_PROJECTION or len(x) <= parameters:
        return None, None, 0.0
    e = residuals(x, y) if c is None else residuals(x, y, c)
    return residual_sd(e, parameters), exposure_sd(x, c), lag1_autocorrelation(e)


def _rng(seed: int, *keys: str | int) -> np.random.Generator:
    """A stream per (seed, subject, outcome, lag): a subject's CIs do not depend on which other
    subjects are in the frame, and the same seed always gives the same intervals."""
    words = [k if isinstance(k, int) else zlib.crc32(k.encode()) for k in keys]
    return np.random.default_rng(np.random.SeedSequence([seed, *words]))


# --------------------------------------------------------------------------- messages


def _num(value: float, decimals: int) -> str:
    """Rounded number with a typographic minus; never '−0.0'."""
    text = f"{value:,.{decimals}f}"
    if float(text.replace(",", "")) == 0.0:
        text = text.lstrip("-")
    return text.replace("-", "−")


def _change(outcome: str, estimate: float) -> str:
    label, unit, decimals = OUTCOME_WORDS[outcome]
    size = _num(abs(estimate), decimals)
    if float(size.replace(",", "")) == 0.0:
        return f"about the same {label.removeprefix('a ')} (0 {unit} per 100 mg)"
    direction = "higher" if estimate > 0 else "lower"
    return f"{label} {size} {unit} {direction} per 100 mg"


def _interval_clause(fit: Fit, outcome: str) -> str:
    decimals = OUTCOME_WORDS[outcome][2]
    r_text = "" if fit.r is None else f"; r = {_num(fit.r, 2)}"
    if fit.ci_low is None or fit.ci_high is None:
        return (f" (no bootstrap interval could be formed{r_text}); without an interval, no "
                "association can be told apart from chance.")
    ci = f"95 % CI {_num(fit.ci_low, decimals)} to {_num(fit.ci_high, decimals)}{r_text}"
    if fit.ci_low <= 0.0 <= fit.ci_high:
        return (f" ({ci}); the interval includes zero, so no association can be told apart "
                "from chance.")
    # An interval away from zero is still only an association: say so in the same sentence.
    return (f" ({ci}); the interval excludes zero. This describes an association in these "
            "records only; other differences between the days or meals compared can produce "
            "it.")


def _daily_estimated_message(outcome: str, lag: int, qualifying: int, paired: int,
                             wear: float | None, coverage: float | None, fit: Fit) -> str:
    if fit.estimate is None:
        raise ValueError("an estimated row needs an estimate")
    coverage_text = _coverage_text(wear, coverage)
    unit = "days" if lag == 0 else "day-pairs"
    subject = ("days with more logged magnesium had" if lag == 0
               else "days with more logged magnesium were followed by a next day with")
    return (f"Across {qualifying} qualifying {unit} ({paired} with both logs{coverage_text}), "
            f"{subject} {_change(outcome, fit.estimate)}{_interval_clause(fit, outcome)}")


def _coverage_text(wear: float | None, coverage: float | None) -> str:
    parts = []
    if wear is not None:
        parts.append(f"mean CGM wear {_num(wear, 0)} %")
    if coverage is not None:
        parts.append(f"magnesium known for {_num(coverage, 0)} % of food entries")
    return "; " + ", ".join(parts) if parts else ""


def _precision_note(outcome: str, need: int, gate_need: int) -> str:
    if need <= gate_need:
        return ""
    _, unit, decimals = OUTCOME_WORDS[outcome]
    delta = _num(DELTA_PER_100MG[outcome], decimals)
    return (f" The spread in these records so far means that many are needed for a 95 % CI no "
            f"wider than ±{delta} {unit} per 100 mg.")


def _daily_not_enough_message(outcome: str, lag: int, qualifying: int, paired: int,
                              need: int) -> str:
    wear = _num(GATE["min_wear_pct"], 0)
    coverage = _num(GATE["min_magnesium_coverage_pct"], 0)
    minimum = int(GATE["min_paired_days"])
    if lag == 0:
        what = (f"days with ≥ {wear} % CGM wear and ≥ {coverage} % of entries with a known "
                "magnesium value")
    else:
        what = (f"day-pairs (a day with ≥ {coverage} % of entries with a known magnesium value "
                f"followed by a day with ≥ {wear} % CGM wear)")
    gate_need = max(0, minimum - qualifying)
    return (f"Not enough data yet — about {need} more {what} are needed ({qualifying} of "
            f"{paired} paired {'days' if lag == 0 else 'day-pairs'} qualify so far; the "
            f"minimum is {minimum})."
            f"{_precision_note(outcome, need, gate_need)}")


def _flat_message(qualifying: int, unit: str, adjusted: bool = False) -> str:
    if adjusted:
        return (f"Across {qualifying} qualifying {unit}, logged magnesium moved in step with "
                "logged carbohydrates, so the two cannot be told apart and no slope is "
                "estimated.")
    return (f"Logged magnesium was the same on all {qualifying} qualifying {unit}, so no slope "
            "can be estimated yet; days with different logged magnesium amounts are needed.")


def _missing_message(no_glucose: bool, no_food: bool) -> str:
    if no_glucose and no_food:
        return ("No CGM glucose and no food entries with a known magnesium value in these "
                "records; no association is estimated.")
    if no_glucose:
        return ("No CGM glucose in these records, so only magnesium trends can be shown; no "
                "association with glucose is estimated.")
    return ("No food entries with a known magnesium value in these records, so only glucose "
            "can be shown; no association with magnesium is estimated.")


# --------------------------------------------------------------------------- inputs


def _check_columns(frame: pl.DataFrame, required: tuple[str, ...], name: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing columns: {', '.join(missing)}")


def _check_bootstrap_args(n_boot: int, seed: int, block_days: int | None = None) -> None:
    if n_boot < 1:
        raise ValueError("n_boot must be at least 1")
    if seed < 0:
        raise ValueError("seed must be non-negative")
    if block_days is not None and block_days < 1:
        raise ValueError("block_days must be at least 1")


def _clean_floats(frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    """Floats as Float64 with NaN read as missing (a NaN is never a measured value)."""
    return frame.with_columns(pl.col(c).cast(pl.Float64).fill_nan(None) for c in columns)


def _prepare_daily(daily: pl.DataFrame) -> pl.DataFrame:
    _check_columns(daily, DAILY_INPUT, "daily")
    frame = _clean_floats(
        daily.select(DAILY_INPUT).with_columns(pl.col("subject_id").cast(pl.String),
                                                pl.col("local_date").cast(pl.Date)),
        DAILY_INPUT[2:],
    )
    if frame.select(pl.struct("subject_id", "local_date").is_duplicated().any()).item():
        raise ValueError("daily has more than one row for a subject and local_date")
    return frame


def _daily_pairs(frame: pl.DataFrame, outcome: str, lag: int) -> pl.DataFrame:
    """Day d's magnesium with day d + lag's outcome, joined on the calendar (gaps stay gaps).

    Kept: pairs with both values present. `qualifies`: coverage(d) ≥ 80 % and wear(d + lag)
    ≥ 70 %; a missing wear counts as 0 (no wear figure, no proof of wear).
    """
    exposure = frame.select("subject_id", "local_date", EXPOSURE, "magnesium_coverage_pct")
    response = frame.select(
        "subject_id",
        (pl.col("local_date") - pl.duration(days=lag)).alias("local_date"),
        pl.col(outcome).alias("y"),
        pl.col("wear_pct").fill_null(0.0).alias("wear"),
    )
    return (
        exposure.join(response, on=["subject_id", "local_date"], how="inner")
        .filter(pl.col(EXPOSURE).is_not_null() & pl.col("y").is_not_null())
        .with_columns(qualifies=(
            (pl.col("magnesium_coverage_pct") >= GATE["min_magnesium_coverage_pct"])
            .fill_null(False)
            & (pl.col("wear") >= GATE["min_wear_pct"])
        ))
        .sort("subject_id", "local_date")
    )


def _base_row(subject: str, analysis: str, outcome: str, lag: int) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(MEAL_ASSOCIATION_SCHEMA)
    row.update(subject_id=subject, analysis=analysis, exposure=EXPOSURE, outcome=outcome,
               lag_days=lag, adjusted_for="", paired_days=0, qualifying_days=0)
    return row


def _mean_or_none(series: pl.Series) -> float | None:
    values = series.drop_nulls().cast(pl.Float64).to_numpy()
    return float(values.mean()) if values.size else None


def _fit_columns(fit: Fit) -> dict[str, object]:
    return {"estimate": fit.estimate, "ci_low": fit.ci_low, "ci_high": fit.ci_high, "r": fit.r,
            "r_ci_low": fit.r_ci_low, "r_ci_high": fit.r_ci_high}


def _x_is_flat(x: np.ndarray, y: np.ndarray, c: np.ndarray | None) -> bool:
    """True when magnesium (after carbs, if adjusting) has no spread: no slope exists."""
    return bool(centred_moments(np.ones((1, len(x))), x, y, c).x_flat[0])


# --------------------------------------------------------------------------- daily


def daily_associations(daily: pl.DataFrame, *, n_boot: int = 2000, seed: int = 20261125,
                       block_days: int | None = None) -> pl.DataFrame:
    """Per subject × outcome × lag (0, 1): slope per 100 mg and r of a daily glucose outcome on
    logged magnesium, with moving-block bootstrap CIs, on days passing `GATE`.

    `block_days` None → ℓ = max(3, round(n^(1/3))) (see `block_length`); the ℓ used is
    returned. Status: 'estimated'; 'not_enough_data' (qualifying < 28, or no magnesium spread);
    'no_glucose' (no glucose outcome on any day — takes precedence); 'no_food' (no day with a
    known magnesium value). Columns and dtypes: `ASSOCIATION_SCHEMA`.
    """
    _check_bootstrap_args(n_boot, seed, block_days)
    frame = _prepare_daily(daily)
    presence = frame.group_by("subject_id").agg(
        has_glucose=pl.any_horizontal(pl.col(o).is_not_null() for o in DAILY_OUTCOMES).any(),
        has_food=pl.col(EXPOSURE).is_not_null().any(),
    ).sort("subject_id")
    pairs = {(outcome, lag): _daily_pairs(frame, outcome, lag)
             for outcome in DAILY_OUTCOMES for lag in LAGS}
    by_subject = {key: p.partition_by("subject_id", as_dict=True) for key, p in pairs.items()}
    rows = [
        _daily_row(subject, outcome, lag,
                   by_subject[outcome, lag].get((subject,), pairs[outcome, lag].clear()),
                   has_glucose=has_glucose, has_food=has_food, n_boot=n_boot, seed=seed,
                   block_days=block_days)
        for subject, has_glucose, has_food in presence.iter_rows()
        for outcome in DAILY_OUTCOMES
        for lag in LAGS
    ]
    return pl.DataFrame([{k: r[k] for k in ASSOCIATION_SCHEMA} for r in rows],
                        schema=ASSOCIATION_SCHEMA)


def _daily_row(subject: str, outcome: str, lag: int, pairs: pl.DataFrame, *, has_glucose: bool,
               has_food: bool, n_boot: int, seed: int, block_days: int | None
               ) -> dict[str, object]:
    row = _base_row(subject, "daily", outcome, lag)
    qualifying = pairs.filter("qualifies")
    q = qualifying.height
    coverage = _mean_or_none(pairs["magnesium_coverage_pct"])
    wear = _mean_or_none(pairs["wear"])
    unit = "days" if lag == 0 else "day-pairs"
    row.update(paired_days=pairs.height, qualifying_days=q, magnesium_coverage_pct=coverage,
               glucose_wear_pct=wear)
    if not (has_glucose and has_food):
        row.update(status="no_glucose" if not has_glucose else "no_food",
                   message=_missing_message(not has_glucose, not has_food))
        return row
    x = qualifying[EXPOSURE].to_numpy().astype(np.float64)
    y = qualifying["y"].to_numpy().astype(np.float64)
    minimum = int(GATE["min_paired_days"])
    if q < minimum:
        sigma_resid, sigma_x, rho = _projection(x, y, None, q)
        need = days_needed(qualifying_days=q, sigma_resid=sigma_resid, sigma_x=sigma_x, rho=rho,
                           delta_per_100mg=DELTA_PER_100MG[outcome], min_days=minimum)
        row.update(status="not_enough_data", days_needed=need,
                   message=_daily_not_enough_message(outcome, lag, q, pairs.height, need))
        return row
    if _x_is_flat(x, y, None):
        row.update(status="not_enough_data", message=_flat_message(q, unit))
        return row
    block = block_length(q) if block_days is None else min(block_days, q)
    counts = moving_block_counts(q, block, n_boot, _rng(seed, subject, outcome, lag))
    fit = bootstrap_fit(x, y, None, counts)
    row.update(_fit_columns(fit))
    row.update(n_boot=n_boot, block_days=block, seed=seed, status="estimated", days_needed=0,
               message=_daily_estimated_message(outcome, lag, q, pairs.height, wear, coverage,
                                                fit))
    return row


# --------------------------------------------------------------------------- meals


def _prepare_meals(meals: pl.DataFrame) -> pl.DataFrame:
    _check_columns(meals, MEAL_INPUT, "meals")
    frame = meals.select(MEAL_INPUT).with_columns(
        pl.col("subject_id").cast(pl.String),
        pl.col("meal_id").cast(pl.String),
        pl.col("local_date").cast(pl.Date),
        pl.col("usable").cast(pl.Boolean).fill_null(False),
    )
    # Time order for the residual autocorrelation: by day, then meal id (no meal time here).
    return _clean_floats(frame, MEAL_INPUT[4:]).sort("subject_id", "local_date", "meal_id")


def meal_associations(meals: pl.DataFrame, *, n_boot: int = 2000,
                      seed: int = 20261125) -> pl.DataFrame:
    """Per subject × outcome (iAUC, peak rise): slope per 100 mg and r of a meal's glucose
    response on its logged magnesium, with a cluster (day) bootstrap CI.

    Adjusted for carbohydrates_g when ≥ 80 % of the subject's usable meals have carbs
    (`adjusted_for` = 'carbohydrates_g'; meals without carbs are then dropped, r is partial).
    A meal qualifies when usable, with magnesium, the outcome and ≥ 80 % magnesium coverage;
    estimated from ≥ 28 days with a qualifying meal. `paired_days`: days with a usable meal
    that has both magnesium and the outcome; `meals`: meals used (the qualifying ones). Meal
    input carries no wear (the `usable` flag is the glucose-side gate), so `glucose_wear_pct`
    is null. Columns and dtypes: `MEAL_ASSOCIATION_SCHEMA`.
    """
    _check_bootstrap_args(n_boot, seed)
    frame = _prepare_meals(meals)
    per_subject = frame.partition_by("subject_id", as_dict=True, maintain_order=True)
    rows = [
        _meal_row(subject, outcome, subject_meals, n_boot=n_boot, seed=seed)
        for (subject,), subject_meals in sorted(per_subject.items())
        for outcome in MEAL_OUTCOMES
    ]
    return pl.DataFrame([{k: r[k] for k in MEAL_ASSOCIATION_SCHEMA} for r in rows],
                        schema=MEAL_ASSOCIATION_SCHEMA)


def _carbs_adjusted(subject_meals: pl.DataFrame) -> bool:
    """Adjust when ≥ 80 % of the usable meals have a carbohydrate value."""
    usable = subject_meals.filter("usable")
    if usable.height == 0:
        return False
    share = 100.0 * usable["carbohydrates_g"].is_not_null().sum() / usable.height
    return share >= CARB_ADJUST_MIN_PCT


def _meal_row(subject: str, outcome: str, subject_meals: pl.DataFrame, *, n_boot: int,
              seed: int) -> dict[str, object]:
    row = _base_row(subject, "meal", outcome, 0)
    has_glucose = bool(subject_meals.select(
        pl.any_horizontal(pl.col(o).is_not_null() for o in MEAL_OUTCOMES).any()).item())
    has_food = bool(subject_meals[EXPOSURE].is_not_null().any())
    adjusted = _carbs_adjusted(subject_meals)
    paired = subject_meals.filter(pl.col("usable") & pl.col(EXPOSURE).is_not_null()
                                  & pl.col(outcome).is_not_null())
    qualifying = paired.filter(
        (pl.col("magnesium_coverage_pct") >= GATE["min_magnesium_coverage_pct"]).fill_null(False)
    )
    if adjusted:
        qualifying = qualifying.filter(pl.col("carbohydrates_g").is_not_null())
    q_days = qualifying["local_date"].n_unique()
    coverage = _mean_or_none(paired["magnesium_coverage_pct"])
    row.update(adjusted_for="carbohydrates_g" if adjusted else "",
               paired_days=paired["local_date"].n_unique(), meals=qualifying.height,
               qualifying_days=q_days, magnesium_coverage_pct=coverage)
    if not (has_glucose and has_food):
        row.update(status="no_glucose" if not has_glucose else "no_food",
                   message=_missing_message(not has_glucose, not has_food))
        return row
    x = qualifying[EXPOSURE].to_numpy().astype(np.float64)
    y = qualifying[outcome].to_numpy().astype(np.float64)
    c = qualifying["carbohydrates_g"].to_numpy().astype(np.float64) if adjusted else None
    minimum = int(GATE["min_paired_days"])
    if q_days < minimum:
        sigma_resid, sigma_x, rho = _projection(x, y, c, q_days)
        need = days_needed(qualifying_days=q_days, sigma_resid=sigma_resid, sigma_x=sigma_x,
                           rho=rho, delta_per_100mg=DELTA_PER_100MG[outcome], min_days=minimum,
                           units_per_day=max(len(x) / q_days, 1.0) if q_days else 1.0)
        row.update(status="not_enough_data", days_needed=need,
                   message=_meal_not_enough_message(outcome, q_days, len(x), need))
        return row
    if _x_is_flat(x, y, c):
        row.update(status="not_enough_data", message=_flat_message(q_days, "days", adjusted))
        return row
    day_index = qualifying["local_date"].rank("dense").to_numpy().astype(np.int64) - 1
    counts = cluster_counts(day_index, q_days, n_boot, _rng(seed, subject, "meal", outcome))
    fit = bootstrap_fit(x, y, c, counts)
    row.update(_fit_columns(fit))
    row.update(n_boot=n_boot, block_days=1, seed=seed, status="estimated", days_needed=0,
               message=_meal_estimated_message(outcome, q_days, len(x), adjusted, coverage, fit))
    return row


def _meal_estimated_message(outcome: str, days: int, meals: int, adjusted: bool,
                            coverage: float | None, fit: Fit) -> str:
    if fit.estimate is None:
        raise ValueError("an estimated row needs an estimate")
    coverage_text = ("" if coverage is None
                     else f" (magnesium known for {_num(coverage, 0)} % of their food entries)")
    held = " comparing meals with the same logged carbohydrates," if adjusted else ""
    return (f"Across {meals} meals on {days} days{coverage_text},{held} meals with more logged "
            f"magnesium had {_change(outcome, fit.estimate)}{_interval_clause(fit, outcome)}")


def _meal_not_enough_message(outcome: str, days: int, meals: int, need: int) -> str:
    coverage = _num(GATE["min_magnesium_coverage_pct"], 0)
    minimum = int(GATE["min_paired_days"])
    gate_need = max(0, minimum - days)
    return (f"Not enough data yet — about {need} more days with usable meal glucose responses "
            f"and ≥ {coverage} % of each meal's entries with a known magnesium value are needed "
            f"({days} such days and {meals} meals so far; the minimum is {minimum} days)."
            f"{_precision_note(outcome, need, gate_need)}")
