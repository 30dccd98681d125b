"""Property: overlapping exports (whole days, as apps export them) merge without duplicates.

Identical rows on one day are real repeats (a food eaten twice) and must stay; rows already
stored from an earlier export must not come back.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transforms.ingest import import_file
from transforms.warehouse import connect, run

HEADER = ["Day", "Time", "Group", "Food Name", "Amount", "Energy (kcal)", "Magnesium (mg)"]
DAYS = ["2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04"]

rows_strategy = st.lists(
    st.tuples(st.sampled_from(DAYS), st.sampled_from(["", "8:15 AM", "19:30"]),
              st.sampled_from(["Breakfast", "Snacks"]),
              st.sampled_from(["Nuts, almonds", "Spinach, raw", "Bananas, raw"]),
              st.sampled_from(["1.00 cup", "28.00 g"]), st.sampled_from(["", "75.60"])),
    min_size=1, max_size=30,
)


def write_export(path: Path, rows: list[tuple]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows([day, time, group, name, amount, "100", mg]
                         for day, time, group, name, amount, mg in rows)
    return path


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows_strategy, first_end=st.integers(1, 4), second_start=st.integers(0, 3))
def test_overlapping_exports_store_each_row_once(rows, first_end, second_start):
    rows = sorted(rows)
    second_start = min(second_start, first_end)  # the exports overlap or touch
    first = [r for r in rows if r[0] in DAYS[:first_end]]
    second = [r for r in rows if r[0] in DAYS[second_start:]]
    with tempfile.TemporaryDirectory() as folder:
        folder_path = Path(folder)
        with connect(folder_path / "warehouse.duckdb") as con:
            import_file(con, write_export(folder_path / "a.csv", first), "UTC", "me")
            import_file(con, write_export(folder_path / "b.csv", second), "UTC", "me")
            stored = run(con, "SELECT count(*), count(export_magnesium_mg) FROM food_entries")[0]
    union = [r for r in rows if r in first or r in second]
    assert stored == (len(union), sum(1 for r in union if r[5]))
