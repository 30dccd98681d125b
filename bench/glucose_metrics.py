"""Benchmark: glucomag's glucose metrics and AGP against the Python peers, in one run (issue
goal: ≥ 20× faster than the best peer on the consensus metrics + AGP).

Data, generated with a fixed seed (daily curve with a dawn rise, three meals a day with
random time and size, occasional lows, AR(1) physiological drift, sensor noise; whole mg/dL
clipped to 40–400; 5-minute readings with a per-subject clock offset; short dropouts of
5–40 min and a few sensor gaps of 1–8 h):

- scenario A: 1 subject × 365 days;
- scenario B: 100 subjects × 90 days.

Timed in one process, each implementation from its own in-memory input (a polars frame for
glucomag, pandas frames for the peers, built beforehand and not timed):

- glucomag: `glucose_metrics(by="range", variability=False)` + `agp_profile`, all subjects
  at once; and `glucose_metrics(variability=True)` (adds MODD, CONGA(1), MAGE);
- iglu-python 0.4.3: its consensus functions (mean_glu, sd_glu, cv_glu, gmi, ea1c,
  in_range_percent, below_percent, above_percent, active_percent, lbgi, hbgi, j_index) once
  on the multi-subject frame and, separately, in a loop over per-subject frames (the faster
  counts); modd, conga(n=1), mage for the full set. iglu-python has no AGP function: its AGP
  is the usual pandas way (15-minute time-of-day bin, `groupby(...).quantile(...)`);
- cgmquantify 0.5 (per subject; its API takes one subject's frame): downloaded at run time
  into bench/.cache/ (its sdist cannot be pip-installed), checked by sha256, imported from
  the extracted folder; its consensus-like functions + the same pandas AGP; MODD, CONGA24.

Checks (assertions, the bench stops if one fails): glucomag's consensus metrics equal
iglu's within 1e-6 on scenario A (and B), so the comparison is like for like.

Run: python bench/glucose_metrics.py [--repeats 5] [--slow-repeats 1] [--subset 10]
     [--no-cgmquantify]  → prints Markdown and writes bench/glucose_metrics_results.md
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import importlib.util
import io
import os
import platform
import statistics
import sys
import tarfile
import time
import types
import urllib.request
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
from scipy.signal import lfilter

from transforms.glucose import mage as mage_module
from transforms.glucose.agp import agp_profile
from transforms.glucose.mage import mage_by
from transforms.glucose.metrics import (
    CONSENSUS,
    _risk_f,
    _with_periods,
    consensus,
    glucose_metrics,
    hbgi,
    lbgi,
)
from transforms.glucose.series import device_intervals, glucose_grid, lagged_pairs

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "glucose_metrics_results.md"
CACHE = BENCH / ".cache"
CGMQ_URL = ("https://files.pythonhosted.org/packages/74/89/"
            "5be76d8113cc12bb1c997023cae8fde50dc92d522656f529456d14667076/cgmquantify-0.5.tar.gz")
CGMQ_SHA256 = "06951bfb070e25865dcad65d1c8de0bf570842a3e1a1c51c463d8e65b83acd81"
SEED = 20261126
START = dt.datetime(2025, 1, 6)
STEP_MIN = 5
PER_DAY = 1440 // STEP_MIN
TOLERANCE = 1e-6
GOAL = 20.0
AGP_Q = (0.05, 0.25, 0.5, 0.75, 0.95)
LOAD_AT_START = os.getloadavg()  # other work on the machine skews seconds, less so ratios


@dataclass(frozen=True)
class Scenario:
    key: str
    subjects: int
    days: int

    @property
    def title(self) -> str:
        return f"{self.subjects} subject{'s' if self.subjects > 1 else ''} × {self.days} days"


SCENARIOS = (Scenario("A", 1, 365), Scenario("B", 100, 90))


# ---------------------------------------------------------------- data


def subject_trace(rng: np.random.Generator, days: int) -> tuple[np.ndarray, np.ndarray]:
    """One subject's 5-minute trace: (UTC datetime64[us] without zone, mg/dL)."""
    n = days * PER_DAY
    minutes = np.arange(n, dtype=float) * STEP_MIN
    day = np.arange(n) // PER_DAY
    tod = minutes % 1440
    swing = rng.uniform(0.6, 2.0)  # from near-normal to type-1-like variability
    value = rng.uniform(105, 145) + 12 * swing * np.sin(2 * np.pi * (tod - 5 * 60) / 1440)
    for meal_min, height in ((7.5 * 60, 55.0), (12.5 * 60, 50.0), (19 * 60, 65.0)):
        since = tod - (meal_min + rng.normal(0, 40, days))[day]
        size = (swing * height * rng.lognormal(0, 0.4, days))[day]
        value += np.where(since > 0, size * (since / 50) * np.exp(1 - since / 50), 0.0)
    for centre in rng.integers(0, n, rng.poisson(0.5 * swing * days)):  # lows
        lo, hi = max(centre - 36, 0), min(centre + 36, n)
        value[lo:hi] -= rng.uniform(25, 75) * np.exp(-(((np.arange(lo, hi) - centre) / 9) ** 2))
    value += lfilter([1.0], [1.0, -0.98], rng.normal(0, 3.5 * swing, n))  # drift, SD 18 × swing
    value = np.clip(np.round(value + rng.normal(0, 2.5, n)), 40, 400)
    keep = np.ones(n, dtype=bool)
    for start in rng.integers(PER_DAY, n - PER_DAY, days // 2):  # dropouts of 5–40 min
        keep[start:start + rng.integers(1, 9)] = False
    for start in rng.integers(PER_DAY, n - PER_DAY, max(days // 30, 1)):  # gaps of 1–8 h
        keep[start:start + rng.integers(12, 97)] = False
    offset_s = int(rng.integers(0, STEP_MIN * 60))
    ts = (np.datetime64(START, "us") + np.timedelta64(offset_s, "s")
          + (minutes * 60).astype("timedelta64[s]"))
    return ts[keep], value[keep]


@dataclass
class Data:
    readings: pl.DataFrame  # glucomag's input: the warehouse's sensor-readings shape
    iglu: pd.DataFrame  # id, time, gl: all subjects
    iglu_subjects: list[pd.DataFrame]  # one frame per subject
    cgmq_subjects: list[pd.DataFrame]  # Time, Glucose, Day: one frame per subject
    split_s: float = 0.0


def make_data(scenario: Scenario, seed: int) -> Data:
    rng = np.random.default_rng([seed, ord(scenario.key)])
    ids, times, values = [], [], []
    for i in range(scenario.subjects):
        ts, gl = subject_trace(rng, scenario.days)
        ids.append(np.full(len(gl), f"s{i:03d}"))
        times.append(ts)
        values.append(gl)
    subject, ts_naive, gl = np.concatenate(ids), np.concatenate(times), np.concatenate(values)
    local = pl.Series("local_ts", ts_naive)  # local clock = UTC, as iglu sees naive times
    readings = pl.DataFrame({
        "subject_id": subject,
        "device": "dexcom_g7",
        "ts_utc": local.dt.replace_time_zone("UTC"),
        "local_ts": local,
        "local_date": local.dt.date(),
        "glucose_mg_dl": gl,
        "out_of_range": pl.Series([None] * len(gl), dtype=pl.String),
    })
    iglu = pd.DataFrame({"id": subject, "time": ts_naive, "gl": gl})
    started = time.perf_counter()
    iglu_subjects = [part.reset_index(drop=True) for _, part in iglu.groupby("id", sort=False)]
    split_s = time.perf_counter() - started
    cgmq_subjects = []
    for part in iglu_subjects:
        frame = pd.DataFrame({"Time": part["time"], "Glucose": part["gl"]})
        frame["Day"] = frame["Time"].dt.date
        cgmq_subjects.append(frame)
    return Data(readings, iglu, iglu_subjects, cgmq_subjects, split_s)


# ---------------------------------------------------------------- timing


@dataclass
class Timing:
    """Seconds per part, one list entry per repeat; `outputs` from the last repeat."""
    label: str
    how: str
    repeats: int
    parts: dict[str, list[float]] = field(default_factory=dict)
    outputs: dict[str, object] = field(default_factory=dict)
    scale: float = 1.0  # measured on a subset of subjects: × subjects / subset
    note: str = ""

    def part(self, name: str) -> float:
        return statistics.median(self.parts[name]) * self.scale

    def median_sum(self, names: list[str]) -> float:
        """Median over repeats of the time the named parts took together."""
        per_repeat = [sum(times) for times in zip(*(self.parts[n] for n in names), strict=True)]
        return statistics.median(per_repeat) * self.scale

    @property
    def total(self) -> float:
        return self.median_sum(list(self.parts))

    @property
    def best(self) -> float:
        """Fastest repeat (least disturbed by other work on the machine)."""
        return min(sum(times) for times in zip(*self.parts.values(), strict=True)) * self.scale

    @property
    def metrics(self) -> float:
        """Everything but the AGP."""
        return self.median_sum([name for name in self.parts if name != "agp"])


Parts = list[tuple[str, Callable[[], object]]]


def run(label: str, how: str, parts: Parts, repeats: int, scale: float = 1.0,
        note: str = "") -> Timing:
    return run_interleaved([(Timing(label, how, repeats, scale=scale, note=note), parts)],
                           repeats)[0]


def run_interleaved(specs: list[tuple[Timing, Parts]], repeats: int) -> list[Timing]:
    """Repeat r of every implementation runs before repeat r + 1 of any, so a change in
    machine load during the run hits them alike."""
    for timing, parts in specs:
        timing.parts = {name: [] for name, _ in parts}
    for _ in range(repeats):
        for timing, parts in specs:
            for name, fn in parts:
                started = time.perf_counter()
                out = fn()
                timing.parts[name].append(time.perf_counter() - started)
                timing.outputs[name] = out
    for timing, _ in specs:
        print(f"  {timing.label} [{timing.how}]: {timing.total:.3f} s", file=sys.stderr,
              flush=True)
    return [timing for timing, _ in specs]


def quiet(fn: Callable[[], object]) -> Callable[[], object]:
    """Peers print and warn as they go; keep the bench output to its tables."""
    def call() -> object:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            return fn()
    return call


# ---------------------------------------------------------------- glucomag


def glucomag_parts(readings: pl.DataFrame, variability: bool, with_agp: bool) -> Parts:
    parts = [("metrics", lambda: glucose_metrics(readings, by="range",
                                                 variability=variability))]
    if with_agp:
        parts.append(("agp", lambda: agp_profile(readings, keys=["subject_id"])))
    return parts


def glucomag_stages(readings: pl.DataFrame, repeats: int) -> list[tuple[str, float]]:
    """Where glucomag's time goes: its steps called one by one (median of `repeats`)."""
    keys = ["subject_id", "period_start", "period_end"]
    start, end = readings["local_date"].min(), readings["local_date"].max()
    intervals = device_intervals(readings)
    periods = _with_periods(readings, "range", start, end, False)
    with_risk = periods.with_columns(_risk=_risk_f())
    grid = glucose_grid(readings, intervals)
    grid_periods = _with_periods(grid, "range", start, end, False)
    steps: list[tuple[str, Callable[[], object]]] = [
        ("series.device_intervals (per-device median gap, an aggregation)",
         lambda: device_intervals(readings)),
        ("metrics.consensus (f(g) column, one group_by/agg, derived metrics, wear minutes)",
         lambda: consensus(periods, keys, intervals)),
        ("metrics: … of which the group_by/agg alone (12 aggregations)",
         lambda: with_risk.group_by("subject_id").agg(metric() for metric in CONSENSUS)),
        ("metrics: … of which f(g) = 1.509 × ((ln g)^1.084 − 5.381) per reading",
         lambda: periods.with_columns(_risk=_risk_f())),
        ("metrics: … of which lbgi + hbgi aggregations alone",
         lambda: with_risk.group_by("subject_id").agg(lbgi(), hbgi())),
        ("metrics: group_by(subject).len() alone (floor of one pass over the readings)",
         lambda: readings.group_by("subject_id").len()),
        ("agp.agp_profile", lambda: agp_profile(readings, keys=["subject_id"])),
        ("series.glucose_grid (5-min grid, 2 × join_asof)",
         lambda: glucose_grid(readings, intervals)),
        ("series.lagged_pairs, 1 day (MODD; row shift)",
         lambda: lagged_pairs(grid, dt.timedelta(days=1))),
        ("series.lagged_pairs, 1 hour (CONGA; row shift)",
         lambda: lagged_pairs(grid, dt.timedelta(hours=1))),
        ("mage.mage_by", lambda: mage_by(grid_periods, keys)),
    ]
    times: dict[str, list[float]] = {name: [] for name, _ in steps}
    inner = {"_extrema": [], "_excursions": []}
    for _ in range(repeats):
        for name, fn in steps:
            spent = dict.fromkeys(inner, 0.0)
            originals = {attr: getattr(mage_module, attr) for attr in inner}

            def timed(attr: str, spent: dict[str, float] = spent,
                      originals: dict[str, Callable] = originals) -> Callable:
                def call(*args: object, **kwargs: object) -> object:
                    started = time.perf_counter()
                    try:
                        return originals[attr](*args, **kwargs)
                    finally:
                        spent[attr] += time.perf_counter() - started
                return call

            if name == "mage.mage_by":
                for attr in inner:
                    setattr(mage_module, attr, timed(attr))
            try:
                started = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - started)
            finally:
                for attr, original in originals.items():
                    setattr(mage_module, attr, original)
            if name == "mage.mage_by":
                for attr in inner:
                    inner[attr].append(spent[attr])
    out = [(name, statistics.median(values)) for name, values in times.items()]
    out += [(f"mage: … of which `{attr}` (loop per turning point)",
             statistics.median(values)) for attr, values in inner.items()]
    return out


# ---------------------------------------------------------------- pandas AGP (peers)


def pandas_agp(frame: pd.DataFrame, time_col: str, value_col: str, keys: list[str]
               ) -> pd.DataFrame:
    """The usual pandas AGP: 15-minute time-of-day bin, five quantiles (linear, type 7)."""
    clock = frame[time_col].dt
    minute_bin = ((clock.hour * 60 + clock.minute) // 15).rename("bin")
    return (frame.groupby([*(frame[k] for k in keys), minute_bin])[value_col]
            .quantile(list(AGP_Q)).unstack())


# ---------------------------------------------------------------- iglu-python


def iglu_consensus(ig: types.ModuleType, days: int) -> list[tuple[str, Callable]]:
    return [
        ("mean_glu", ig.mean_glu), ("sd_glu", ig.sd_glu), ("cv_glu", ig.cv_glu),
        ("gmi", ig.gmi), ("ea1c", ig.ea1c),
        ("in_range_percent", lambda d: ig.in_range_percent(d, target_ranges=[[70, 180],
                                                                            [70, 140]])),
        ("below_percent", lambda d: ig.below_percent(d, targets_below=[54, 70])),
        ("above_percent", lambda d: ig.above_percent(d, targets_above=[180, 250])),
        ("active_percent", lambda d: ig.active_percent(d, range_type="manual", ndays=days)),
        ("lbgi", ig.lbgi), ("hbgi", ig.hbgi), ("j_index", ig.j_index),
    ]


def iglu_variability(ig: types.ModuleType) -> list[tuple[str, Callable]]:
    return [("modd", ig.modd), ("conga", lambda d: ig.conga(d, n=1)), ("mage", ig.mage)]


def multi(fn: Callable, frame: pd.DataFrame) -> Callable[[], object]:
    return quiet(lambda: fn(frame))


def per_subject(fn: Callable, frames: list[pd.DataFrame]) -> Callable[[], object]:
    return quiet(lambda: pd.concat([fn(frame) for frame in frames], ignore_index=True))


IGLU_COLUMNS = {  # glucomag column: (iglu part, iglu column)
    "mean_mg_dl": ("mean_glu", "mean"), "sd_mg_dl": ("sd_glu", "SD"),
    "cv_pct": ("cv_glu", "CV"), "gmi_pct": ("gmi", "GMI"), "ea1c_pct": ("ea1c", "eA1C"),
    "tir_70_180_pct": ("in_range_percent", "in_range_70_180"),
    "titr_70_140_pct": ("in_range_percent", "in_range_70_140"),
    "tbr_below_70_pct": ("below_percent", "below_70"),
    "tbr_below_54_pct": ("below_percent", "below_54"),
    "tar_above_180_pct": ("above_percent", "above_180"),
    "tar_above_250_pct": ("above_percent", "above_250"),
    "wear_pct": ("active_percent", "active_percent"),
    "lbgi": ("lbgi", "LBGI"), "hbgi": ("hbgi", "HBGI"), "j_index": ("j_index", "J_index"),
}
IGLU_VARIABILITY = {"modd_mg_dl": ("modd", "MODD"), "conga1_mg_dl": ("conga", "CONGA"),
                    "mage_mg_dl": ("mage", "MAGE")}


def max_abs_diffs(ours: pl.DataFrame, outputs: dict[str, object],
                  columns: dict[str, tuple[str, str]]) -> dict[str, float]:
    """Per glucomag column: max |glucomag − iglu| over the subjects iglu returned."""
    mine = ours.to_pandas().set_index("subject_id")
    diffs = {}
    for column, (part, theirs) in columns.items():
        frame = outputs[part]
        values = frame.set_index(frame["id"].astype(str))[theirs].astype(float)
        diffs[column] = float((mine.loc[values.index, column] - values).abs().max())
    return diffs


# ---------------------------------------------------------------- cgmquantify


def load_cgmquantify() -> tuple[types.ModuleType | None, str]:
    """Fetch the sdist into bench/.cache/, check its sha256, import the module from it."""
    CACHE.mkdir(exist_ok=True)
    ignore = CACHE / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# created by bench/glucose_metrics.py: nothing here goes to git\n*\n")
    archive = CACHE / "cgmquantify-0.5.tar.gz"
    if not archive.exists():
        try:
            with urllib.request.urlopen(CGMQ_URL, timeout=30) as response:
                payload = response.read()
        except OSError as error:
            return None, f"cgmquantify skipped: download failed (offline?): {error}"
        if hashlib.sha256(payload).hexdigest() != CGMQ_SHA256:
            return None, "cgmquantify skipped: the download's sha256 does not match"
        archive.write_bytes(payload)
    if hashlib.sha256(archive.read_bytes()).hexdigest() != CGMQ_SHA256:
        return None, f"cgmquantify skipped: sha256 mismatch for {archive} (delete it to refetch)"
    source = CACHE / "cgmquantify-0.5" / "cgmquantify" / "__init__.py"
    if not source.exists():
        with tarfile.open(archive) as tar:
            tar.extractall(CACHE, filter="data")
    notes = []
    os.environ.setdefault("MPLBACKEND", "Agg")
    # cgmquantify imports statsmodels' lowess at module level for one plot function
    # (plotglucosesmooth), not used here; stub it if statsmodels is not installed.
    if importlib.util.find_spec("statsmodels") is None:
        stub = types.ModuleType("statsmodels.nonparametric.smoothers_lowess")

        def lowess(*_args: object, **_kwargs: object) -> None:
            raise NotImplementedError("statsmodels is not installed (bench stub)")

        stub.lowess = lowess  # type: ignore[attr-defined]
        sys.modules.setdefault("statsmodels", types.ModuleType("statsmodels"))
        sys.modules.setdefault("statsmodels.nonparametric",
                               types.ModuleType("statsmodels.nonparametric"))
        sys.modules["statsmodels.nonparametric.smoothers_lowess"] = stub
        notes.append("statsmodels is not installed: its `lowess` (used only by the plot "
                     "`plotglucosesmooth`) is stubbed")
    spec = importlib.util.spec_from_file_location("cgmquantify", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, "; ".join(notes)


CGMQ_CONSENSUS = ("summary", "interdaysd", "interdaycv", "TIR", "TOR", "POR", "GMI", "eA1c",
                  "J_index", "LBGI_HBGI")
CGMQ_OTHER = ("MGE", "MGN", "ADRR", "intradaycv", "intradaysd", "MODD", "CONGA24", "MAGE")


def probe_cgmquantify(cq: types.ModuleType, frame: pd.DataFrame) -> dict[str, str]:
    """Which functions run on pandas 3 (on a 2-day frame): name → '' or the error."""
    small = frame.iloc[:2 * PER_DAY].copy()
    status = {}
    for name in (*CGMQ_CONSENSUS, *CGMQ_OTHER):
        try:
            quiet(lambda name=name: getattr(cq, name)(small.copy()))()
            status[name] = ""
        except Exception as error:
            status[name] = f"{type(error).__name__}: {str(error).splitlines()[0][:90]}"
    return status


def cgmq_loop(cq: types.ModuleType, name: str, frames: list[pd.DataFrame]
              ) -> Callable[[], object]:
    fn = getattr(cq, name)
    return quiet(lambda: [fn(frame) for frame in frames])


def cgmq_mage_scaling(cq: types.ModuleType, frame: pd.DataFrame, days: tuple[int, ...]
                      ) -> list[tuple[int, float]]:
    out = []
    for n_days in days:
        part = frame.iloc[:n_days * PER_DAY].reset_index(drop=True)
        started = time.perf_counter()
        quiet(lambda part=part: cq.MAGE(part))()
        out.append((n_days, time.perf_counter() - started))
        print(f"  cgmquantify MAGE on {n_days} days: {out[-1][1]:.1f} s", file=sys.stderr)
    return out


# ---------------------------------------------------------------- report


def fmt_s(seconds: float) -> str:
    return f"{seconds:,.3f}" if seconds < 100 else f"{seconds:,.0f}"


def ratio(peer: float, ours: float) -> str:
    return f"{peer / ours:,.1f}×"


def machine_info() -> list[str]:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        with open("/proc/meminfo") as handle:
            mem_gib = int(handle.readline().split()[1]) / 2**20
        memory = f", {mem_gib:.0f} GiB RAM"
    except OSError:
        memory = ""
    versions = ", ".join(f"{name} {metadata.version(name)}"
                         for name in ("polars", "pandas", "numpy", "iglu-python"))
    return [f"- date: {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
            f"- machine: {platform.machine()}, nproc {cpus}{memory}, "
            f"{platform.system()} {platform.release()}; load average at start "
            f"{LOAD_AT_START[0]:.2f}, at end {os.getloadavg()[0]:.2f} (1-min)",
            f"- Python: {platform.python_implementation()} {platform.python_version()}; "
            f"{versions}; polars threads {pl.thread_pool_size()}"]


# ---------------------------------------------------------------- scenarios


def bench_scenario(scenario: Scenario, data: Data, args: argparse.Namespace,
                   ig: types.ModuleType, cq: types.ModuleType | None,
                   cq_status: dict[str, str]) -> list[str]:
    rows = data.readings.height
    print(f"scenario {scenario.key}: {scenario.title}, {rows:,} readings", file=sys.stderr)
    out = [f"## Scenario {scenario.key}: {scenario.title} ({rows:,} readings)", ""]
    reps, slow = args.repeats, args.slow_repeats

    # -- consensus + AGP, repeats interleaved
    specs = [(Timing("glucomag", "all subjects at once", reps),
              glucomag_parts(data.readings, False, True))]
    consensus = [(name, multi(fn, data.iglu)) for name, fn in iglu_consensus(ig, scenario.days)]
    specs.append((Timing("iglu-python", "one call per metric, multi-subject frame", reps),
                  [*consensus, ("agp", quiet(lambda: pandas_agp(data.iglu, "time", "gl",
                                                                ["id"])))]))
    if scenario.subjects > 1:
        looped = [(name, per_subject(fn, data.iglu_subjects))
                  for name, fn in iglu_consensus(ig, scenario.days)]
        looped.append(("agp", quiet(lambda: [pandas_agp(f, "time", "gl", [])
                                             for f in data.iglu_subjects])))
        specs.append((Timing("iglu-python", "loop over subjects", reps), looped))
    if cq is not None:
        usable = [name for name in CGMQ_CONSENSUS if not cq_status.get(name)]
        parts = [(name, cgmq_loop(cq, name, data.cgmq_subjects)) for name in usable]
        parts.append(("agp", quiet(lambda: [pandas_agp(f, "Time", "Glucose", [])
                                            for f in data.cgmq_subjects])))
        specs.append((Timing("cgmquantify", "loop over subjects", reps), parts))
    gm, *peers = run_interleaved(specs, reps)

    ours = gm.outputs["metrics"]
    assert isinstance(ours, pl.DataFrame)
    iglu_multi = peers[0]
    diffs = max_abs_diffs(ours, iglu_multi.outputs, IGLU_COLUMNS)
    worst = max(diffs, key=diffs.__getitem__)
    assert diffs[worst] <= TOLERANCE, f"glucomag ≠ iglu on {worst}: {diffs[worst]}"

    best = min(peers, key=lambda t: t.total)
    out += ["### Consensus metrics + AGP", "",
            f"glucomag: `glucose_metrics(by=\"range\", variability=False)` + `agp_profile` "
            f"(AGP: 96 bins × 5 percentiles, raw and smoothed). Median of {reps} repeats. "
            "Ratio = peer time / glucomag time (goal: ≥ 20× vs the best peer), on the "
            "medians and on the fastest repeats.", "",
            "| implementation | how called | repeats | metrics s | AGP s | total s (median) | "
            "total s (best) | peer / glucomag (median) | peer / glucomag (best) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for timing in (gm, *peers):
        ratios = ("1.0× (reference) | 1.0× (reference)" if timing is gm else
                  f"{ratio(timing.total, gm.total)} | {ratio(timing.best, gm.best)}")
        out.append(f"| {timing.label} | {timing.how} | {timing.repeats} | "
                   f"{fmt_s(timing.metrics)} | {fmt_s(timing.part('agp'))} | "
                   f"{fmt_s(timing.total)} | {fmt_s(timing.best)} | {ratios} |")
    alike = min((t for t in peers if t.label == "iglu-python"), key=lambda t: t.total)

    def verdict(peer: Timing) -> str:
        met = "meets" if peer.total / gm.total >= GOAL else "does **not** meet"
        return (f"{peer.label} ({peer.how}), {fmt_s(peer.total)} s → glucomag "
                f"**{ratio(peer.total, gm.total)}** as fast (best repeats: "
                f"{ratio(peer.best, gm.best)}): {met} the ≥ {GOAL:.0f}× goal")

    out += ["", f"- Best peer: {verdict(best)}."]
    if alike is not best:
        out.append(f"- Like-for-like peer (same metric set): {verdict(alike)}. cgmquantify's "
                   "set is lighter: ten whole-series numpy reductions, no TIR 70–180, TBR or "
                   "TAR, no wear.")
    out += [f"- glucomag alone: metrics {fmt_s(gm.part('metrics'))} s, AGP "
            f"{fmt_s(gm.part('agp'))} s.",
            "- Slowest part per peer: " + "; ".join(
                f"{t.label} ({t.how}): `{name}` {fmt_s(t.part(name))} s"
                for t in peers for name in [max(t.parts, key=t.part)]) + ".", ""]
    if scenario.subjects > 1:
        out += [f"Per-subject frames for the loops are split beforehand (not timed; the split "
                f"took {data.split_s:.2f} s).", ""]
    out += [f"Check: glucomag's consensus metrics equal iglu-python's within {TOLERANCE:g} "
            f"for all {scenario.subjects} subject(s) (max abs diff {diffs[worst]:.1e}, "
            f"on `{worst}`).", ""]
    if scenario.key == "A":
        agp_ours = agp_profile(data.readings, keys=["subject_id"])
        agp_peer = peers[0].outputs["agp"]
        assert isinstance(agp_peer, pd.DataFrame)
        agp_diff = max(float(np.nanmax(np.abs(
            agp_ours[f"p{round(q * 100)}_mg_dl"].to_numpy() - agp_peer[q].to_numpy())))
            for q in AGP_Q)
        out += [f"AGP check: glucomag's raw percentiles equal the pandas AGP within "
                f"{agp_diff:.1e} mg/dL (all 96 bins × 5 percentiles).", ""]

    # -- full set with MODD, CONGA, MAGE (informational)
    gm_full = run("glucomag", "all subjects at once", glucomag_parts(data.readings, True, False),
                  reps)
    subset = min(args.subset, scenario.subjects)
    scale = scenario.subjects / subset
    sub_note = ("" if subset == scenario.subjects else
                f"measured on {subset} of {scenario.subjects} subjects, × {scale:g}")
    iglu_var = run("iglu-python", "loop over subjects",
                   [(name, per_subject(fn, data.iglu_subjects[:subset]))
                    for name, fn in iglu_variability(ig)], slow, scale=scale, note=sub_note)
    iglu_best_metrics = min(t.metrics for t in peers if t.label == "iglu-python")
    out += ["### Full set incl. MODD, CONGA(1), MAGE (informational)", "",
            "glucomag: `glucose_metrics(by=\"range\", variability=True)` (consensus + "
            "variability in one call). Peers: their consensus time from above (metrics only, "
            "fastest way of calling) + their variability functions.", "",
            "| implementation | variability functions | repeats | consensus s | MODD s | "
            "CONGA s | MAGE s | total s | peer / glucomag |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| glucomag | MODD, CONGA(1), MAGE (moving averages) | {reps} | "
            f"{fmt_s(gm.part('metrics'))} | | | "
            f"{fmt_s(gm_full.total - gm.part('metrics'))} (all three) | {fmt_s(gm_full.total)} | "
            "1.0× (reference) |"]
    total = iglu_best_metrics + iglu_var.total
    out.append(f"| iglu-python | modd, conga(n=1), mage(ma){'; ' + sub_note if sub_note else ''}"
               f" | {slow} | {fmt_s(iglu_best_metrics)} | {fmt_s(iglu_var.part('modd'))} | "
               f"{fmt_s(iglu_var.part('conga'))} | {fmt_s(iglu_var.part('mage'))} | "
               f"{fmt_s(total)} | {ratio(total, gm_full.total)} |")
    notes = []
    if cq is not None:
        usable = [name for name in ("MODD", "CONGA24") if not cq_status.get(name)]
        cq_var = run("cgmquantify", "loop over subjects",
                     [(name, cgmq_loop(cq, name, data.cgmq_subjects[:subset]))
                      for name in usable], slow, scale=scale, note=sub_note)
        cq_metrics = peers[-1].metrics
        total = cq_metrics + cq_var.total
        cells = [fmt_s(cq_var.part(n)) if n in usable else "fails" for n in ("MODD", "CONGA24")]
        out.append(f"| cgmquantify | MODD, CONGA24 (not CONGA(1)); MAGE left out, see below"
                   f"{'; ' + sub_note if sub_note else ''} | {slow} | {fmt_s(cq_metrics)} | "
                   f"{cells[0]} | {cells[1]} | not timed | {fmt_s(total)} (no MAGE) | "
                   f"≥ {ratio(total, gm_full.total)} |")
        if scenario.key == "A" and not cq_status.get("MAGE"):
            scaling = cgmq_mage_scaling(cq, data.cgmq_subjects[0], args.cgmq_mage_days)
            (d0, t0), (d1, t1) = scaling[0], scaling[-1]
            exponent = np.log(t1 / t0) / np.log(d1 / d0) if d1 != d0 else 2.0
            est = t1 * (scenario.days / d1) ** exponent
            notes.append(
                "cgmquantify `MAGE` grows faster than linearly (it appends every turning point "
                "to a DataFrame with `.loc[k] = ...`): measured " + ", ".join(
                    f"{t:.1f} s on {d} days" for d, t in scaling)
                + f" of this subject (time ∝ days^{exponent:.1f}), so {scenario.days} days "
                f"would take about {est / 3600:,.1f} h (extrapolated, not measured); it is "
                "not timed in full, and its ratio above is a lower bound.")
    if sub_note:
        notes.append(f"Peers' variability functions on scenario {scenario.key}: {sub_note} "
                     f"(linear extrapolation: each subject is computed independently), "
                     f"{slow} repeat(s).")
    if scenario.key == "A":
        var_diffs = max_abs_diffs(gm_full.outputs["metrics"], iglu_var.outputs,
                                  IGLU_VARIABILITY)
        notes.append("Values vs iglu-python (not asserted): " + ", ".join(
            f"{k} differs by {v:.3g} mg/dL" for k, v in var_diffs.items()) + ". By design, "
            "glucomag's grid never bridges gaps over 1.5 sensor intervals; iglu interpolates "
            "across gaps up to 45 min, and this data has dropouts of 5–40 min.")
    out += ["", *notes, ""]

    # -- glucomag's own steps
    stages = glucomag_stages(data.readings, reps)
    out += ["### Where glucomag's time goes", "",
            f"Its steps called one by one on the same data (median of {reps}); compare with "
            f"the whole calls above: consensus + AGP {fmt_s(gm.total)} s, full set "
            f"{fmt_s(gm_full.total)} s.", "", "| step | seconds |", "|---|---|",
            *(f"| {name} | {fmt_s(seconds)} |" for name, seconds in stages), ""]
    return out


def cgmq_value_notes(cq: types.ModuleType, data: Data, status: dict[str, str]) -> list[str]:
    """cgmquantify's values next to glucomag's on scenario A (informational)."""
    frame = data.cgmq_subjects[0]
    ours = glucose_metrics(data.readings, by="range", variability=False).row(0, named=True)
    lines = ["| metric | glucomag | cgmquantify | why they differ |", "|---|---|---|---|"]

    def row(name: str, mine: float, theirs: float, why: str) -> None:
        lines.append(f"| {name} | {mine:.6f} | {theirs:.6f} | {why} |")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not status.get("summary"):
            row("mean", ours["mean_mg_dl"], float(cq.summary(frame)[0]), "—")
        if not status.get("interdaysd"):
            row("SD", ours["sd_mg_dl"], float(cq.interdaysd(frame)), "np.std: n, not n − 1")
        if not status.get("GMI"):
            row("GMI %", ours["gmi_pct"], float(cq.GMI(frame)), "—")
        if not status.get("eA1c"):
            row("eA1c %", ours["ea1c_pct"], float(cq.eA1c(frame)), "—")
        if not status.get("J_index"):
            row("J-index", ours["j_index"], float(cq.J_index(frame)), "SD with n")
        if not status.get("LBGI_HBGI"):
            low, high, *_ = cq.LBGI_HBGI(frame)
            why = "constant 22.77 for 10 × 1.509² = 22.7708"
            row("LBGI", ours["lbgi"], float(low), why)
            row("HBGI", ours["hbgi"], float(high), why)
        if not status.get("TIR"):
            lines.append(f"| TIR | {ours['tir_70_180_pct']:.2f} % (70–180) | "
                         f"{cq.TIR(frame):,} min (mean ± 1 SD) | not the consensus TIR |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5,
                        help="repeats for glucomag and the peers' consensus + AGP (median)")
    parser.add_argument("--slow-repeats", type=int, default=1,
                        help="repeats for the peers' MODD/CONGA/MAGE (slow)")
    parser.add_argument("--subset", type=int, default=10,
                        help="subjects the peers' variability functions run on in scenario B "
                             "(extrapolated linearly to all)")
    parser.add_argument("--cgmq-mage-days", type=int, nargs="+", default=[7, 28],
                        help="trace lengths (days) cgmquantify's MAGE is timed on")
    parser.add_argument("--scenario", choices=["A", "B", "both"], default="both")
    parser.add_argument("--no-cgmquantify", action="store_true",
                        help="skip cgmquantify (it is downloaded at run time)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="Markdown results file (overwritten)")
    args = parser.parse_args()
    args.cgmq_mage_days = tuple(sorted(args.cgmq_mage_days))
    started = time.perf_counter()

    import iglu_python as ig

    ig.utils.set_local_tz("UTC")
    cq, cq_note, cq_status = None, "cgmquantify skipped (--no-cgmquantify)", {}
    if not args.no_cgmquantify:
        cq, cq_note = load_cgmquantify()

    chosen = [s for s in SCENARIOS if args.scenario in ("both", s.key)]
    datasets = {s.key: make_data(s, args.seed) for s in chosen}
    if cq is not None:
        cq_status = probe_cgmquantify(cq, next(iter(datasets.values())).cgmq_subjects[0])

    lines = ["# Glucose metrics: glucomag vs iglu-python and cgmquantify", "",
             "`" + " ".join(["python bench/glucose_metrics.py", *sys.argv[1:]]) + "`",
             "", *machine_info(), "",
             "Seconds are wall-clock. polars runs on every core, the peers (pandas) on one, so "
             "other work on the machine slows glucomag more than the peers: read the load "
             "average above, and prefer the best-repeat ratios when it is high.", ""]
    body = []
    for scenario in chosen:
        body += bench_scenario(scenario, datasets[scenario.key], args, ig, cq, cq_status)

    lines += ["## Peers", "",
              "- iglu-python 0.4.3: `ig.utils.set_local_tz(\"UTC\")`; input `id, time, gl` "
              "(naive UTC times). No AGP function: the peer AGP is pandas "
              "`groupby(15-min time-of-day bin).quantile([.05, .25, .5, .75, .95])`, "
              "timed with it."]
    if cq is None:
        lines.append(f"- cgmquantify 0.5: not run — {cq_note}.")
    else:
        works = [n for n in CGMQ_CONSENSUS if not cq_status[n]]
        broken = [f"`{n}` ({e})" for n, e in cq_status.items() if e]
        lines += ["- cgmquantify 0.5: sdist fetched into `bench/.cache/` (sha256 checked), "
                  "`cgmquantify/__init__.py` imported with importlib; input `Time, Glucose, "
                  "Day`, one frame per subject. Timed (its consensus-like set): "
                  + ", ".join(f"`{n}`" for n in works) + " + the same pandas AGP. It has no "
                  "TIR 70–180 / TBR / TAR: its `TIR`/`TOR`/`POR` are time within / outside "
                  "mean ± 1 SD." + (f" {cq_note}." if cq_note else ""),
                  "- cgmquantify on pandas " + pd.__version__ + ": "
                  + ("; ".join(broken) if broken else "every function runs")
                  + ". (`MGE`, `MGN`, `intradaysd` take np.mean/np.std of the whole frame, "
                  "Time column included.) Its `MODD`/`CONGA24` also set `MODD_n[False]` — the "
                  "first time-of-day value — to NaN (a list, not an array): values off, timing "
                  "unaffected."]
    lines += ["", *body]
    if cq is not None and "A" in datasets:
        lines += ["## cgmquantify's values next to glucomag's (scenario A, informational)", "",
                  *cgmq_value_notes(cq, datasets["A"], cq_status), ""]
    lines += [f"Whole bench run: {time.perf_counter() - started:,.0f} s.", ""]
    text = "\n".join(lines)
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
