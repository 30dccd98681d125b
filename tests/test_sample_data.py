"""The shipped sample data is exactly what its generator makes, and its truth is consistent."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl

from tests.conftest import SAMPLE_DATA

GENERATED = ("cronometer/servings.csv", "dexcom/clarity_export.csv", "ground_truth/daily.csv",
             "ground_truth/summary.json")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_generator_reproduces_the_shipped_files_byte_for_byte(tmp_path: Path):
    shutil.copy2(SAMPLE_DATA / "generate.py", tmp_path / "generate.py")
    subprocess.run([sys.executable, str(tmp_path / "generate.py")], check=True,
                   capture_output=True, timeout=300)
    for name in GENERATED:
        assert sha256(tmp_path / name) == sha256(SAMPLE_DATA / name), name


def test_ground_truth_totals_agree_with_the_daily_truth():
    summary = json.loads((SAMPLE_DATA / "ground_truth" / "summary.json").read_text())
    daily = pl.read_csv(SAMPLE_DATA / "ground_truth" / "daily.csv")
    assert daily.height == summary["date_range"]["days"] >= 60
    assert daily["food_entries"].sum() == summary["cronometer"]["food_rows"]
    assert daily["entries_with_magnesium"].sum() == summary["cronometer"]["rows_with_magnesium"]
    assert daily["sensor_readings"].sum() == summary["dexcom"]["egv_rows"]
    assert round(daily["magnesium_known_mg"].sum(), 2) == float(
        summary["cronometer"]["magnesium_known_mg_total"])
