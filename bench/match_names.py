"""Benchmark: matching 10,000 distinct food names to the SR28 reference (issue: < 2 s).

Names are made from SR28 names the way people write them — words dropped and reordered,
typos, plurals, extra words — with a fixed seed. Measured in one run, on this machine:

- glucomag's vectorised matcher (`fuzzy_match`) on all 10,000 names, index built beforehand
  (building it is timed separately);
- the whole lookup through the warehouse (`lookup`: normalise in DuckDB, fuzzy-score, apply
  aliases, custom foods and portions in SQL) on the same 10,000 names, in a fresh warehouse;
- a baseline in the same run: rapidfuzz `process.extractOne` per name with `WRatio` (the
  usual one-liner), on a 500-name sample, scaled to 10,000.

Run: python bench/match_names.py  → prints a Markdown table; results go in bench/results.md.
"""

from __future__ import annotations

import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process

from transforms.magnesium.enrich import lookup, reference_index
from transforms.magnesium.matching import build_index, fuzzy_match
from transforms.warehouse import connect

DATA = Path(__file__).resolve().parent.parent / "transforms" / "magnesium" / "data"
N_NAMES = 10_000
BASELINE_SAMPLE = 500
SEED = 20261125


def normalise(names: pl.Series) -> pl.Series:
    return (names.str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}% ]", " ")
            .str.replace_all(r"\s+", " ").str.strip_chars())


def make_names(keys: list[str], rng: np.random.Generator) -> list[str]:
    extras = ["homemade", "organic", "fresh", "large", "bowl", "my", "with", "cup", "snack"]
    names: set[str] = set()
    while len(names) < N_NAMES:
        words = keys[rng.integers(len(keys))].split()
        words = list(rng.choice(words, size=min(len(words), int(rng.integers(1, 5))),
                                replace=False))
        if rng.random() < 0.3:
            i = int(rng.integers(len(words)))
            word = words[i]
            if len(word) > 3:
                j = int(rng.integers(1, len(word) - 1))
                words[i] = word[:j] + word[j + 1:]  # a dropped letter
        if rng.random() < 0.3:
            words.append(str(rng.choice(extras)))
        names.add(" ".join(words))
    return sorted(names)


def main() -> None:
    foods = pl.read_parquet(DATA / "sr28_foods.parquet").filter(
        pl.col("magnesium_mg_per_100g").is_not_null())
    foods = foods.with_columns(normalise(foods["food_name"]).alias("name_key"))
    names = make_names(foods["name_key"].to_list(), np.random.default_rng(SEED))

    started = time.perf_counter()
    index = build_index(foods)
    index_s = time.perf_counter() - started

    started = time.perf_counter()
    result = fuzzy_match(names, index)
    match_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as folder:
        con = connect(Path(folder) / "warehouse.duckdb")
        reference_index(con)  # built once per process, as in a long-running import
        started = time.perf_counter()
        looked_up = lookup(con, names, 100.0, "g", 100.0)
        lookup_s = time.perf_counter() - started
        con.close()

    sample = names[:BASELINE_SAMPLE]
    choices = foods["name_key"].to_list()
    started = time.perf_counter()
    for name in sample:
        process.extractOne(name, choices, scorer=fuzz.WRatio)
    baseline_s = (time.perf_counter() - started) * N_NAMES / BASELINE_SAMPLE

    accepted = int(result["accepted"].sum())
    valued = looked_up["magnesium_mg"].is_not_null().sum()
    print(f"Machine: {platform.machine()}, {platform.python_implementation()} "
          f"{platform.python_version()}, {len(choices):,} reference foods\n")
    print("| step | seconds | names/s | vs baseline |")
    print("|---|---|---|---|")
    print(f"| build index (once) | {index_s:.3f} | | |")
    print(f"| match {N_NAMES:,} names (glucomag) | {match_s:.3f} | {N_NAMES / match_s:,.0f} | "
          f"{baseline_s / match_s:.1f}× faster |")
    print(f"| lookup {N_NAMES:,} names through the warehouse (glucomag) | {lookup_s:.3f} | "
          f"{N_NAMES / lookup_s:,.0f} | {baseline_s / lookup_s:.1f}× faster |")
    print(f"| extractOne + WRatio per name (baseline, scaled from {BASELINE_SAMPLE}) | "
          f"{baseline_s:.3f} | {N_NAMES / baseline_s:,.0f} | 1.0× |")
    print(f"\naccepted at confidence ≥ 0.90: {accepted:,} of {N_NAMES:,} "
          f"({100 * accepted / N_NAMES:.1f} %); the rest stay unknown with their candidates")
    print(f"with a value through the warehouse (aliases + fuzzy, 100 g): {valued:,}")


if __name__ == "__main__":
    main()
