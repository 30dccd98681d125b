"""MAGE by the moving-average algorithm (Fernandes et al., J Diabetes Sci Technol 2022).

Mean Amplitude of Glycemic Excursions (Service et al., Diabetes 1970): the mean height of
excursions between turning points that exceed one SD. The moving-average version, iglu's
default (`mage(version="ma")`, short window 5 and long window 32 grid points, segments split
at gaps over 180 min, MAGE+ and MAGE− averaged weighted by segment duration), finds turning
points where a short and a long moving average cross, takes the extreme value between
crossings, and walks those extremes for excursions larger than the segment's SD.

This is a port of iglu-python 0.4.3's algorithm onto glucomag's grid (see `series.py`, which
never bridges gaps longer than 1.5 sensor intervals). Grid-level work (moving averages,
crossings) is vectorised with numpy; the extreme search and the excursion walk run over
turning points — a handful per hour, not readings — because each step depends on the
previous one (one argmax, or a few float comparisons, per turning point).
"""

from __future__ import annotations

import numpy as np
import polars as pl

SHORT_MA = 5
LONG_MA = 32
MAX_GAP_MIN = 180
MIN_POINTS = 7


def _trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the non-missing values in each trailing window (pandas rolling, min_periods=1)."""
    present = ~np.isnan(values)
    sums = np.concatenate(([0.0], np.cumsum(np.where(present, values, 0.0))))
    counts = np.concatenate(([0], np.cumsum(present)))
    upper = np.arange(1, len(values) + 1)
    lower = np.maximum(upper - window, 0)
    n = counts[upper] - counts[lower]
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (sums[upper] - sums[lower]) / n
    means[n == 0] = np.nan
    # iglu gives the first `window` points the value of the first full window
    means[:window] = means[min(window, len(values)) - 1]
    return means


def _crossings(delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indexes where short − long MA changes sign, with type (1 = peak follows, 0 = nadir).

    iglu records a crossing where the sign differs from the last non-missing delta; zero
    deltas count as missing. The first and last points always open and close the list.
    """
    first_type = int(delta[0] > 0)
    delta = np.where(delta == 0, np.nan, delta)
    positions = np.flatnonzero(~np.isnan(delta))
    signs = np.sign(delta[positions])
    inner = positions[1:][signs[1:] != signs[:-1]]
    ids = np.concatenate(([0], inner, [len(delta) - 1]))
    types = np.concatenate(([first_type], (delta[inner] > 0).astype(int),
                            [int(delta[-1] > 0)]))
    return ids, types


def _extrema(gl: np.ndarray, ids: np.ndarray, types: np.ndarray) -> np.ndarray:
    """The extreme value between consecutive crossings, each search starting at the last one.

    Missing values never win: the search runs on copies with NaN as −inf (peaks) or +inf
    (nadirs, as −inf of −gl), so a plain argmax gives nanargmax's first extreme; a stretch
    with no value keeps offset 0, as before. One argmax per turning point.
    """
    missing = np.isnan(gl)
    for_peaks = np.where(missing, -np.inf, gl)
    for_nadirs = np.where(missing, -np.inf, -gl)
    ends = (ids[1:] + 1).tolist()
    peak = (types[:-1] == 1).tolist()
    positions = np.empty(len(ends), dtype=np.int64)
    start = int(ids[0])
    for i, end in enumerate(ends):
        start += int((for_peaks if peak[i] else for_nadirs)[start:end].argmax())
        positions[i] = start
    return gl[positions]


def _excursions(extremes: np.ndarray, sd: float, upward: bool) -> list[float]:
    """Heights of the excursions beyond one SD, walking the turning points in order.

    Upward (MAGE+): from the lowest point since the last excursion to a peak that is then
    followed by a fall of more than one SD (or the end). Downward (MAGE−) mirrors it.
    The walk keeps the lowest value since the last excursion as it goes (the largest rise
    to the current point is current − lowest), and looks up where that lowest value first
    occurs only when an excursion is recorded. Turning points are never missing (each
    extreme is taken from a stretch that starts at the previous, present, extreme).
    """
    sign = 1.0 if upward else -1.0
    values = (sign * extremes).tolist()
    found: list[float] = []
    n = len(values)
    j = prev_j = 0
    low = values[0] if n else 0.0  # min(values[prev_j:j + 1])
    while j < n:
        if values[j] < low:
            low = values[j]
        # max(values[j] − values[prev_j:j + 1]) = values[j] − low (rounding is monotone)
        if not values[j] - low > sd:
            j += 1
            continue
        # first point of the largest rise, as np.argmax(values[j] − values[prev_j:j + 1])
        top = values[j]
        rise = top - low
        start = next(m for m in range(prev_j, j + 1) if top - values[m] == rise)
        k = j
        while k < n:
            if values[k] >= values[j]:
                j = k
            if values[k] - values[j] < -sd or k == n - 1:
                found.append(values[j] - values[start])
                prev_j = k if upward else j
                j = k
                low = min(values[prev_j:j + 1])
                break
            k += 1
    return found


def _segment_mage(gl: np.ndarray) -> tuple[float, float]:
    """MAGE+ and MAGE− of one gap-bounded segment (NaN where there is none)."""
    present = gl[~np.isnan(gl)]
    if len(gl) < MIN_POINTS or len(gl) < SHORT_MA or len(present) < 2 or np.std(
            present, ddof=1) < 1:
        return np.nan, np.nan
    delta = _trailing_mean(gl, SHORT_MA) - _trailing_mean(gl, LONG_MA)
    ids, types = _crossings(delta)
    extremes = _extrema(gl, ids, types)
    sd = float(np.std(present, ddof=1))
    plus = _excursions(extremes, sd, upward=True)
    minus = _excursions(extremes, sd, upward=False)
    return (float(np.mean(plus)) if plus else np.nan,
            float(np.mean(minus)) if minus else np.nan)


def _segments(grid_ts_s: np.ndarray, gl: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of stretches split where consecutive values are > 180 min apart."""
    present = np.flatnonzero(~np.isnan(gl))
    if len(present) == 0:
        return []
    breaks = np.flatnonzero(np.diff(grid_ts_s[present]) > MAX_GAP_MIN * 60)
    starts = np.concatenate(([present[0]], present[breaks + 1]))
    ends = np.concatenate((present[breaks], [present[-1]])) + 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def mage_ma(grid_ts_s: np.ndarray, gl: np.ndarray) -> float:
    """MAGE (mg/dL) of one subject's grid values: mean of MAGE+ and MAGE− over segments,
    weighted by segment duration (iglu `direction="avg"`).

    `grid_ts_s`: grid times in seconds (5-minute steps); `gl`: values, NaN in gaps.
    """
    heights, weights = [], []
    for start, end in _segments(grid_ts_s, gl):
        duration = grid_ts_s[end - 1] - grid_ts_s[start]
        for value in _segment_mage(gl[start:end]):
            if not np.isnan(value):
                heights.append(value)
                weights.append(duration)
    if not heights:
        return float("nan")
    w = np.asarray(weights, dtype=float)
    if w.sum() == 0:
        return float(np.mean(heights))
    return float(np.sum(np.asarray(heights) * w / w.sum()))


def mage_by(grid: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """MAGE per group of grid points (e.g. subject and period): `keys` + `mage_mg_dl`."""
    # only the keys and the two numeric columns are sorted and split (not the whole grid)
    ordered = grid.select(
        *keys, "grid_ts_utc",
        ts_s=pl.col("grid_ts_utc").dt.epoch("s").cast(pl.Float64),
        gl=pl.col("glucose_mg_dl").fill_null(float("nan")),
    ).sort([*keys, "grid_ts_utc"]).drop("grid_ts_utc")
    # groups are consecutive rows of the sorted frame: slice the numpy arrays, no copies
    bounds = ordered.with_row_index("_row").group_by(keys, maintain_order=True).agg(
        _first=pl.col("_row").first(), _end=pl.col("_row").last() + 1)
    ts_s, gl = ordered["ts_s"].to_numpy(), ordered["gl"].to_numpy()
    rows = []
    for *group_key, first, end in bounds.iter_rows():
        value = mage_ma(ts_s[first:end], gl[first:end])
        rows.append((*group_key, None if np.isnan(value) else value))
    schema = {k: grid.schema[k] for k in keys} | {"mage_mg_dl": pl.Float64}
    return pl.DataFrame(rows, schema=schema, orient="row")
