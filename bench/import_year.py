"""Benchmark: importing a year of 5-minute CGM data plus a year of food logs (goal: within
5× of a bare `duckdb.read_csv` of the same files, measured in the same run).

Generates, with a fixed seed, a Dexcom Clarity CSV (365 days × 288 readings) and a
Cronometer servings.csv (365 days × 7 entries), then times in one process:

- baseline: DuckDB `read_csv` of both files into tables (no parsing rules, no validation);
- glucomag: `import_file` of both into a fresh warehouse — detect, parse, conform, GX
  validation, dedup by natural key, cross-source merge, enrichment, quarantine, batch log,
  one transaction each. Once-per-process start-up (creating the warehouse and loading the
  reference data, building the matching index, GX's first validation) is timed separately:
  a nightly run pays it once, not per file.

Run: python bench/import_year.py
"""

from __future__ import annotations

import csv
import platform
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np

from transforms.ingest import import_file
from transforms.magnesium.enrich import reference_index
from transforms.warehouse import connect

DAYS = 365
START = datetime(2025, 1, 1)
FOODS = [("Nuts, almonds", "28.00 g", 75.6), ("Spinach, raw", "1.00 cup", 23.7),
         ("Bananas, raw", "1.00 medium", 31.86), ("Quinoa, cooked", "1.00 cup", 118.4),
         ("Oatmeal, cooked with water", "1.00 cup", 63.18), ("Coffee, brewed", "1.00 cup", 7.11),
         ("Office cafeteria salad bowl", "1.00 serving", None)]
CLARITY_HEADER = ["Index", "Timestamp (YYYY-MM-DDThh:mm:ss)", "Event Type", "Event Subtype",
                  "Patient Info", "Device Info", "Source Device ID", "Glucose Value (mg/dL)",
                  "Insulin Value (u)", "Carb Value (grams)", "Duration (hh:mm:ss)",
                  "Glucose Rate of Change (mg/dL/min)", "Transmitter Time (Long Integer)",
                  "Transmitter ID"]


def write_clarity(path: Path, rng: np.random.Generator) -> int:
    n = DAYS * 288
    minutes = np.arange(n) * 5
    values = np.clip(105 + 25 * np.sin(minutes / 240) + rng.normal(0, 8, n), 40, 400).round()
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CLARITY_HEADER)
        writer.writerows(
            [i + 1, (START + timedelta(minutes=int(m), seconds=7)).isoformat(), "EGV", "", "", "",
             "iPhone G6", int(v), "", "", "", "", 1000 + i * 300, "8BENCH"]
            for i, (m, v) in enumerate(zip(minutes, values, strict=True)))
    return n


SERVINGS_HEADER = ["Day", "Time", "Group", "Food Name", "Amount", "Energy (kcal)",
                   "Magnesium (mg)", "Category"]


def write_servings_rows(path: Path, rows: list[list[str]]) -> int:
    """A Cronometer servings.csv with the columns of SERVINGS_HEADER."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(SERVINGS_HEADER)
        writer.writerows(rows)
    return len(rows)


def write_servings(path: Path) -> int:
    return write_servings_rows(path, [
        [(START + timedelta(days=d)).date().isoformat(), "", "Lunch", name, amount, "100",
         "" if mg is None else f"{mg:.2f}", "Foods"]
        for d in range(DAYS) for name, amount, mg in FOODS])


def warm_up_validation() -> None:
    """GX builds its metric registry on the first validation in a process."""
    import polars as pl

    from schemas.canonical import DAILY_SUMMARY
    from transforms.validate import validate_frame

    validate_frame(pl.DataFrame(schema=DAILY_SUMMARY.polars_schema()), DAILY_SUMMARY, "warm-up")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        clarity, servings = root / "clarity.csv", root / "servings.csv"
        readings = write_clarity(clarity, np.random.default_rng(20261125))
        entries = write_servings(servings)

        started = time.perf_counter()
        with duckdb.connect(str(root / "baseline.duckdb")) as con:
            con.execute("CREATE TABLE g AS SELECT * FROM read_csv($p)", {"p": str(clarity)})
            con.execute("CREATE TABLE f AS SELECT * FROM read_csv($p)", {"p": str(servings)})
        baseline_s = time.perf_counter() - started

        started = time.perf_counter()
        con = connect(root / "warehouse.duckdb")
        reference_index(con)
        warm_up_validation()
        startup_s = time.perf_counter() - started
        started = time.perf_counter()
        food = import_file(con, servings, "America/New_York", "me")
        glucose = import_file(con, clarity, "America/New_York", "me")
        glucomag_s = time.perf_counter() - started
        con.close()

    print(f"Machine: {platform.machine()}, CPython {platform.python_version()}; "
          f"{readings:,} CGM readings + {entries:,} food entries (one year)\n")
    print("| step | seconds | vs baseline |")
    print("|---|---|---|")
    print(f"| duckdb read_csv of both files (baseline) | {baseline_s:.3f} | 1.0× |")
    print(f"| glucomag import of both files | {glucomag_s:.3f} | "
          f"{glucomag_s / baseline_s:.1f}× |")
    print(f"| glucomag once-per-process start-up (not per file) | {startup_s:.3f} | |")
    print(f"\nstored: {glucose.rows_stored:,} readings, {food.rows_stored:,} entries; "
          f"quarantined: {glucose.rows_quarantined + food.rows_quarantined}")


if __name__ == "__main__":
    main()
