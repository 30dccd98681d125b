"""Benchmark: writing one monthly report from a warehouse holding a year of data (issue goal:
< 3 s per monthly report), against a baseline measured in the same run.

Data, generated with fixed seeds and imported through the real pipeline (`import_and_file`,
then `rebuild_marts`; both timed once, as set-up, not part of the report):

- CGM: `bench/import_year.py`'s Dexcom Clarity generator, 365 days × 288 readings;
- food: a Cronometer servings.csv of 365 days × 8 entries with times of day (breakfast, lunch,
  snack, dinner, a supplement), so the report's meal responses have meals to work on; one
  food has no magnesium value, as in real exports.

Timed, median of N interleaved repeats (default 5), for the month 2025-06 (data before and
after it, so the previous-month comparison and 28-day rolling means have data):

- report: `write_period_report` end to end (open the warehouse, `load_report_input`,
  `render_report`, atomic write, index refresh) — what `glucomag report --month` runs after
  rebuilding the marts;
- its parts: `load_report_input`, `render_report`, `write_report` (one connection each);
- baseline: open the warehouse and load the month's CGM readings and food entries into polars
  (`SELECT *` over the month, via Arrow) — the least any report of the month must do.

Run: python bench/report_month.py [--repeats 5]  → prints Markdown and writes
bench/report_month_results.md
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import TypeVar

import numpy as np

from glucomag.settings import load_settings
from reports.data import load_report_input, month_bounds, write_period_report
from reports.render import render_report, write_report
from transforms.pipeline import import_and_file, rebuild_marts, warehouse
from transforms.warehouse import query_frame

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "report_month_results.md"
TIMEZONE = "America/New_York"
MONTH = date(2025, 6, 1)
GOAL_S = 3.0
T = TypeVar("T")


def _import_year():
    """bench/import_year.py as a module (bench/ is not a package): its CGM generator."""
    spec = importlib.util.spec_from_file_location("import_year", HERE / "import_year.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# (group, time, food name, amount, magnesium mg or None when the export has no value)
MEALS = (
    ("Breakfast", "07:30", "Oatmeal, cooked with water", "1.00 cup", 63.18),
    ("Breakfast", "07:32", "Bananas, raw", "1.00 medium", 31.86),
    ("Lunch", "12:30", "Quinoa, cooked", "1.00 cup", 118.4),
    ("Lunch", "12:31", "Office cafeteria salad bowl", "1.00 serving", None),
    ("Snacks", "15:40", "Nuts, almonds", "28.00 g", 75.6),
    ("Dinner", "19:05", "Spinach, raw", "1.00 cup", 23.7),
    ("Dinner", "19:06", "Coffee, brewed", "1.00 cup", 7.11),
    ("Supplements", "21:30", "Magnesium Glycinate 200 mg", "1.00 capsule", 200.0),
)


def write_timed_servings(path: Path, start: datetime, days: int,
                         rng: np.random.Generator) -> int:
    """Cronometer servings.csv with times of day (±20 min jitter per meal and day)."""
    rows = []
    for day in range(days):
        local_day = (start + timedelta(days=day)).date()
        jitter = {group: int(rng.integers(-20, 21)) for group, *_ in MEALS}
        for group, clock, name, amount, mg in MEALS:
            hour, minute = map(int, clock.split(":"))
            at = datetime.combine(local_day, datetime.min.time()) + timedelta(
                hours=hour, minutes=minute + jitter[group])
            rows.append([local_day.isoformat(), at.strftime("%H:%M"), group, name, amount,
                         "100", "" if mg is None else f"{mg:.2f}",
                         "Supplements" if group == "Supplements" else "Foods"])
    return _import_year().write_servings_rows(path, rows)


def timed(function: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def machine() -> str:
    memory = ""
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        memory = f", {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB"
    return (f"{platform.machine()}, nproc {os.cpu_count()}{memory}, "
            f"{platform.system()} {platform.release()}")


def times_baseline(seconds: float, baseline: float) -> str:
    ratio = seconds / baseline
    return f"{ratio:.1f}×" if ratio >= 0.1 else f"{ratio:.2f}×"


def load_average() -> str:
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    start, end = month_bounds(MONTH)
    label = start.strftime("%Y-%m")
    title = f"glucomag monthly report — {label}"
    load_at_start = load_average()
    generator = _import_year()

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        clarity, servings = root / "clarity.csv", root / "servings.csv"
        readings = generator.write_clarity(clarity, np.random.default_rng(20261125))
        entries = write_timed_servings(servings, generator.START, generator.DAYS,
                                       np.random.default_rng(20261126))
        settings = load_settings(root / "home", timezone=TIMEZONE, subject_id="me")
        settings.create_folders()

        def import_both() -> list:
            return [summary for path in (servings, clarity)
                    for summary in import_and_file(settings, path, keep_original=True)]

        import_s, summaries = timed(import_both)
        assert {summary.status for summary in summaries} == {"stored"}, summaries
        marts_s, _ = timed(lambda: rebuild_marts(settings))

        def baseline() -> int:
            with warehouse(settings) as con:
                params = {"start": start, "end": end}
                glucose = query_frame(con, "SELECT * FROM glucose_readings WHERE local_date "
                                           "BETWEEN $start AND $end", params)
                food = query_frame(con, "SELECT * FROM food_entries WHERE local_date "
                                        "BETWEEN $start AND $end", params)
            return glucose.height + food.height


        def load():
            with warehouse(settings) as con:
                return load_report_input(con, settings, start, end, title, "monthly")

        def report() -> Path:
            return write_period_report(settings, start, end, "monthly", label)

        times: dict[str, list[float]] = {k: [] for k in
                                         ("baseline", "report", "load", "render", "write")}
        # One untimed round first: Python imports, DuckDB's and polars' first-use set-up.
        timed(baseline)
        timed(report)
        for _ in range(repeats):  # interleaved: machine noise hits every measure alike
            seconds, month_rows = timed(baseline)
            times["baseline"].append(seconds)
            seconds, path = timed(report)
            times["report"].append(seconds)
            seconds, data = timed(load)
            times["load"].append(seconds)
            seconds, html = timed(partial(render_report, data))
            times["render"].append(seconds)
            seconds, _ = timed(partial(write_report, html, root / "parts.html"))
            times["write"].append(seconds)
        report_html = path.read_text(encoding="utf-8")

    median = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    ratio = median["report"] / median["baseline"]
    charts = len(re.findall(r"<svg\b", report_html))
    verdict = "meets" if median["report"] < GOAL_S else "does **not** meet"
    versions = ", ".join(f"{name} {metadata.version(name)}"
                         for name in ("polars", "duckdb", "jinja2", "matplotlib"))
    lines = [
        "# Monthly report from a year of data (goal: < 3 s per monthly report)",
        "",
        "`python bench/report_month.py`",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}; load average (1-min) at start {load_at_start}, "
        f"at end {load_average()}",
        f"- Python: {platform.python_implementation()} {platform.python_version()}; "
        f"{versions}",
        f"- data: {readings:,} CGM readings (5-min, one year) + {entries:,} food entries "
        f"with times of day, imported in {import_s:.1f} s, marts rebuilt in "
        f"{marts_s:.1f} s (set-up, not timed below)",
        f"- month: {label} ({month_rows:,} readings + entries in it); report "
        f"{len(report_html.encode()) / 1024:.0f} KiB, {charts} inline SVG charts",
        "",
        f"Seconds are wall-clock, median and best of {repeats} interleaved repeats after one "
        "untimed warm-up round. Ratio = time / baseline median.",
        "",
        "| step | median s | best s | vs baseline |",
        "|---|---|---|---|",
        f"| baseline: open warehouse + month's readings and entries into polars | "
        f"{median['baseline']:.3f} | {best['baseline']:.3f} | 1.0× |",
        f"| **monthly report: `write_period_report` end to end** | **{median['report']:.3f}** | "
        f"{best['report']:.3f} | **{ratio:.1f}×** |",
        f"| part: `load_report_input` (with opening the warehouse) | {median['load']:.3f} | "
        f"{best['load']:.3f} | {times_baseline(median['load'], median['baseline'])} |",
        f"| part: `render_report` (summary figures, charts, template) | "
        f"{median['render']:.3f} | {best['render']:.3f} | "
        f"{times_baseline(median['render'], median['baseline'])} |",
        f"| part: `write_report` (atomic write, fsync) | {median['write']:.3f} | "
        f"{best['write']:.3f} | {times_baseline(median['write'], median['baseline'])} |",
        "",
        f"The monthly report takes {median['report']:.2f} s (median): it {verdict} the "
        f"< {GOAL_S:g} s goal, {ratio:.1f}× the baseline. `glucomag report --month` also "
        "rebuilds the marts first (the set-up time above), which this goal does not cover.",
        "",
        "Runs: " + "; ".join(f"{k} " + ", ".join(f"{s:.3f}" for s in v)
                             for k, v in times.items()),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
