"""Zip archives: members routed to their importers; bombs and nesting refused in one line."""

from __future__ import annotations

import zipfile
from pathlib import Path

from tests.conftest import FIXTURES
from transforms.pipeline import import_and_file
from transforms.warehouse import connect, run

MFP = FIXTURES / "myfitnesspal" / "Nutrition-Summary-2026-03-01-to-2026-03-03.csv"
LOSEIT = FIXTURES / "loseit" / "food-logs.csv"


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_members_are_routed_and_unknown_ones_reported(settings, tmp_path):
    bundle = make_zip(tmp_path / "export.zip", {
        "File-Export/Nutrition-Summary.csv": MFP.read_bytes(),
        "food-logs.csv": LOSEIT.read_bytes(),
        "Exercise-Summary.csv": b"Date,Exercise,Calories\n2026-03-01,Walk,120\n",
        "__MACOSX/._food-logs.csv": b"\x00\x05junk",
    })
    summaries = import_and_file(settings, bundle, keep_original=True)
    by_name = {s.file_name: s for s in summaries}
    assert set(by_name) == {"export.zip/Nutrition-Summary.csv", "export.zip/food-logs.csv",
                            "export.zip/Exercise-Summary.csv"}
    assert by_name["export.zip/Nutrition-Summary.csv"].format == "myfitnesspal_nutrition"
    assert by_name["export.zip/food-logs.csv"].format == "loseit_food_logs"
    assert by_name["export.zip/Exercise-Summary.csv"].status == "failed"
    assert "unrecognised export" in by_name["export.zip/Exercise-Summary.csv"].message
    assert "MyFitnessPal's export has no food names" in \
        by_name["export.zip/Nutrition-Summary.csv"].line()
    assert len(list(settings.archive.iterdir())) == 1  # the archive is kept, once
    assert list(settings.quarantine.iterdir()) == []
    with connect(settings.warehouse) as con:
        files = run(con, "SELECT DISTINCT file_name FROM import_batches WHERE status = 'stored' "
                         "ORDER BY 1")
    assert files == [("export.zip/Nutrition-Summary.csv",), ("export.zip/food-logs.csv",)]
    again = import_and_file(settings, bundle, keep_original=True)
    assert {s.file_name: s.status for s in again} == {
        "export.zip/Nutrition-Summary.csv": "already_imported",
        "export.zip/food-logs.csv": "already_imported",
        "export.zip/Exercise-Summary.csv": "failed"}


def test_a_zip_bomb_is_refused_in_one_line_and_quarantined(settings, tmp_path):
    bomb = make_zip(tmp_path / "bomb.zip", {"big.csv": b"0" * (50 << 20)})  # ~1000× ratio
    (summary,) = import_and_file(settings, bomb, keep_original=True)
    assert summary.status == "failed"
    assert summary.message.startswith("bomb.zip: member 'big.csv' expands")
    assert "\n" not in summary.message
    assert sorted(p.name for p in settings.quarantine.iterdir())[0].endswith("bomb.zip")


def test_nested_archives_are_not_opened(settings, tmp_path):
    inner = make_zip(tmp_path / "inner.zip", {"food-logs.csv": LOSEIT.read_bytes()})
    outer = make_zip(tmp_path / "outer.zip", {"inner.zip": inner.read_bytes()})
    (summary,) = import_and_file(settings, outer, keep_original=True)
    assert summary.status == "failed" and summary.file_name == "outer.zip/inner.zip"
    with connect(settings.warehouse) as con:
        assert run(con, "SELECT count(*) FROM food_entries")[0][0] == 0
