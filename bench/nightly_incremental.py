"""Benchmark: an incremental nightly run — one new day of CGM and food data on top of a year
already stored (goal: < 2 s of glucomag's own work) — and what Prefect adds to it.

The year and the new day come from `bench/import_year.py`'s generators (fixed seed). The
year is imported once into a warehouse; each measured run starts from a fresh copy of it
with the new day's two exports in the inbox, in one process:

- own work: the nightly steps as plain functions (`transforms.pipeline`: refresh
  enrichment, import and archive each inbox file, rebuild and validate the marts, write the
  nightly report) — what a run costs without any orchestration;
- flow: the same through the `nightly` Prefect flow in local ephemeral mode (tasks, states,
  retries configured, run history, `flow_runs` row).

Both are timed after one untimed warm-up of each (the warehouse's reference index, GX's
metric registry and Prefect's ephemeral server start once per process; a scheduled
`glucomag serve` pays them once, not per run). The ephemeral server's start is reported
on its own. Runs alternate and the median of REPEATS is reported, with the overhead as
the ratio flow / own work of the same run pair.

Run: python bench/nightly_incremental.py  (writes bench/nightly_incremental_results.md)
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

import import_year  # bench/import_year.py, beside this script (bench/ is not a package)
import numpy as np

from glucomag.runtime import configure_prefect

REPEATS = 5
TIMEZONE = "America/New_York"
NEW_DAY = import_year.START + timedelta(days=import_year.DAYS)
RESULTS = Path(__file__).with_name("nightly_incremental_results.md")


@contextmanager
def generator_period(start: datetime, days: int) -> Iterator[None]:
    """import_year's generators cover DAYS days from START (module constants): point them at
    another period for the block."""
    saved = import_year.START, import_year.DAYS
    import_year.START, import_year.DAYS = start, days
    try:
        yield
    finally:
        import_year.START, import_year.DAYS = saved


def write_exports(folder: Path, start: datetime, days: int, seed: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    clarity, servings = folder / "clarity.csv", folder / "servings.csv"
    with generator_period(start, days):
        import_year.write_clarity(clarity, np.random.default_rng(seed))
        import_year.write_servings(servings)
    return [clarity, servings]


def own_work(settings) -> dict[str, float]:
    """The nightly steps as plain functions; seconds per step."""
    from reports.data import write_period_report
    from transforms import pipeline

    steps: dict[str, float] = {}
    started = time.perf_counter()
    pipeline.refresh_enrichment(settings)
    steps["refresh enrichment"] = time.perf_counter() - started
    started = time.perf_counter()
    for path in pipeline.inbox_files(settings):
        pipeline.import_inbox_file(settings, path)
    steps["import + archive 2 files"] = time.perf_counter() - started
    started = time.perf_counter()
    pipeline.rebuild_marts(settings)
    steps["rebuild + validate marts"] = time.perf_counter() - started
    started = time.perf_counter()
    start, end = pipeline.nightly_period(settings, NEW_DAY.date())
    write_period_report(settings, start, end, kind="nightly", label=end.isoformat())
    steps["nightly report"] = time.perf_counter() - started
    return steps


def flow_run(settings) -> float:
    from flows.nightly import nightly

    started = time.perf_counter()
    result = nightly(home=str(settings.home), today=NEW_DAY.date())
    elapsed = time.perf_counter() - started
    assert [s["status"] for s in result["imports"]] == ["stored", "stored"], result["imports"]
    return elapsed


def fresh_home(root: Path, year_warehouse: Path, new_day: list[Path], name: str):
    from glucomag.settings import load_settings

    home = root / name
    (home / "inbox").mkdir(parents=True)
    # No settle wait: the exports are complete (a real inbox file that old is not waited for
    # either; the wait is for files still being written).
    (home / "config.toml").write_text(f'timezone = "{TIMEZONE}"\ninbox_settle_seconds = 0\n')
    shutil.copy2(year_warehouse, home / "warehouse.duckdb")
    for path in new_day:
        shutil.copy2(path, home / "inbox" / path.name)
    return load_settings(home)


def main() -> None:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        configure_prefect(root / ".prefect")
        from glucomag.settings import load_settings
        from transforms.pipeline import import_inbox_file, rebuild_marts

        year = load_settings(root / "year", timezone=TIMEZONE)
        year.create_folders()
        (year.home / "config.toml").write_text(f'timezone = "{TIMEZONE}"\n'
                                               "inbox_settle_seconds = 0\n")
        year = load_settings(year.home)
        for path in write_exports(year.inbox, import_year.START, import_year.DAYS, 20261125):
            import_inbox_file(year, path)
        rebuild_marts(year)
        new_day = write_exports(root / "new_day", NEW_DAY, 1, 20261126)
        readings = sum(1 for _ in new_day[0].open()) - 1
        entries = sum(1 for _ in new_day[1].open()) - 1

        own_work(fresh_home(root, year.warehouse, new_day, "warm-own"))
        started = time.perf_counter()
        flow_run(fresh_home(root, year.warehouse, new_day, "warm-flow"))
        first_flow_s = time.perf_counter() - started

        own_runs, flow_runs, ratios = [], [], []
        for i in range(REPEATS):
            steps = own_work(fresh_home(root, year.warehouse, new_day, f"own-{i}"))
            own_runs.append(steps)
            flow_runs.append(flow_run(fresh_home(root, year.warehouse, new_day, f"flow-{i}")))
            ratios.append(flow_runs[-1] / sum(steps.values()))

    own_totals = [sum(steps.values()) for steps in own_runs]
    own_s, flow_s = statistics.median(own_totals), statistics.median(flow_runs)
    lines = [
        "# Incremental nightly run: own work vs the Prefect flow",
        "",
        f"`python bench/nightly_incremental.py` — {date.today().isoformat()}; "
        f"{platform.machine()}, CPython {platform.python_version()}, {os.cpu_count()} cores, "
        f"load average {load_before:.1f} before / {os.getloadavg()[0]:.1f} after (other work "
        f"on the machine slows every figure alike); {REPEATS} alternating runs, medians.",
        "",
        f"One new day ({NEW_DAY:%Y-%m-%d}: {readings} CGM readings, {entries} food entries, two "
        f"files) on top of a year ({import_year.DAYS} days × 288 readings + "
        f"{import_year.DAYS} × {len(import_year.FOODS)} entries). Goal: < 2 s of own work.",
        "",
        "| run | seconds |",
        "|---|---|",
        *[f"| own work: {name} | {statistics.median(s[name] for s in own_runs):.3f} |"
          for name in own_runs[0]],
        f"| **own work, total** (plain functions) | **{own_s:.3f}** |",
        f"| **`nightly` Prefect flow** (ephemeral), total | **{flow_s:.3f}** |",
        f"| Prefect overhead (flow − own work) | {flow_s - own_s:.3f} |",
        f"| Prefect overhead as a ratio, flow / own work of the same run pair | "
        f"{statistics.median(ratios):.2f}× (range {min(ratios):.2f}–{max(ratios):.2f}×) |",
        f"| first flow call in the process (starts the ephemeral server; once per process) | "
        f"{first_flow_s:.3f} |",
        "",
        f"Own-work totals: {', '.join(f'{s:.3f}' for s in own_totals)}; flow totals: "
        f"{', '.join(f'{s:.3f}' for s in flow_runs)}. Goal < 2 s of own work: "
        f"{'met' if own_s < 2 else 'NOT met'}.",
        "",
        "Where the own work goes (cProfile of one run): every nightly run rebuilds all marts "
        "from the whole year — the per-day glucose metrics (MAGE for 365 days) — and validates "
        "each mart and each staged batch with its GX suite (~0.3–2 s per validation, mostly "
        "GX's per-expectation set-up, not the data); the report draws its charts with "
        "matplotlib. Meeting the goal needs incremental marts (recompute only the days and "
        "months a run touched) and lighter mart validation; the Prefect flow itself adds "
        "little on top.",
    ]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
