"""Importers on trimmed real-shaped fixtures; expected values from tests/fixtures/EXPECTED.md."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from schemas.canonical import STAGED
from tests.conftest import FIXTURES, TIMEZONE
from transforms.importers import (
    IMPORTERS,
    conform,
    cronometer_servings,
    detect_format,
    dexcom_clarity,
    read_file,
)
from transforms.importers.base import BadFileError, ImportedFile

CRONOMETER = FIXTURES / "cronometer"
DEXCOM = FIXTURES / "dexcom"


def staged(path: Path) -> pl.DataFrame:
    return conform(read_file(path, TIMEZONE))


@pytest.mark.parametrize(("path", "module"), [
    (CRONOMETER / "servings_small.csv", cronometer_servings),
    (CRONOMETER / "servings_bad_rows.csv", cronometer_servings),
    (DEXCOM / "clarity_mgdl.csv", dexcom_clarity),
    (DEXCOM / "clarity_mmol_quoted.csv", dexcom_clarity),
])
def test_detection_is_by_content_not_name(path: Path, module, tmp_path: Path):
    disguised = tmp_path / "export.txt"
    disguised.write_bytes(path.read_bytes())
    assert detect_format(disguised) is module


def test_every_importer_declares_the_registry_contract():
    for module in IMPORTERS:
        assert module.KIND in STAGED
        assert callable(module.detect) and callable(module.read)
    assert len({m.FORMAT for m in IMPORTERS}) == len(IMPORTERS)


def test_cronometer_small_reads_every_row_as_written():
    frame = staged(CRONOMETER / "servings_small.csv")
    assert frame.height == 12
    assert frame["parse_error"].null_count() == 12
    assert frame["source_row"].to_list() == list(range(2, 14))
    assert frame["local_ts"].null_count() == 3  # lines 5, 7, 10 have no time
    chili = frame.filter(pl.col("source_row") == 4).row(0, named=True)
    assert chili["food_name"] == "<b>Mom's \"best\" chili, v2</b>"
    assert chili["magnesium_mg"] is None  # blank = unknown, never zero
    assert (chili["amount"], chili["unit"]) == (1.5, "serving")
    assert chili["local_ts"] == datetime(2026, 3, 1, 12, 5)
    supplement = frame.filter(pl.col("source_row") == 6).row(0, named=True)
    assert supplement["local_ts"] == datetime(2026, 3, 1, 20, 5)
    assert supplement["magnesium_mg"] == 150.0 and supplement["category"] == "Supplements"
    almonds = frame.filter(pl.col("source_row") == 5).row(0, named=True)
    assert (almonds["grams"], almonds["unit"]) == (28.0, "g")
    assert frame.filter(pl.col("unit") == "cup")["grams"].null_count() == 3  # no portion table yet


def test_cronometer_small_daily_magnesium_matches_hand_sums():
    daily = (staged(CRONOMETER / "servings_small.csv")
             .group_by("local_date")
             .agg(pl.len().alias("entries"), pl.col("magnesium_mg").count().alias("known"),
                  pl.col("magnesium_mg").sum().alias("mg"))
             .sort("local_date"))
    assert daily["local_date"].to_list() == [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]
    assert daily["entries"].to_list() == [5, 4, 3]
    assert daily["known"].to_list() == [4, 3, 3]
    assert daily["mg"].to_list() == pytest.approx([320.64, 184.50, 376.52], abs=1e-9)


def test_cronometer_bad_rows_are_flagged_with_the_column():
    frame = staged(CRONOMETER / "servings_bad_rows.csv")
    flagged = dict(zip(frame["source_row"], frame["parse_error"], strict=True))
    assert flagged[3] == "Day '2026-02-30' is not a date"
    assert frame.filter(pl.col("source_row") == 5)["food_name"].to_list() == [None]
    assert frame.filter(pl.col("source_row") == 6)["magnesium_mg"].to_list() == [-5.0]
    assert [row for row, error in flagged.items() if error] == [3]


def test_cronometer_without_day_column_is_refused_in_one_line():
    with pytest.raises(BadFileError) as caught:
        read_file(CRONOMETER / "servings_no_day_column.csv", TIMEZONE,
                  format_name="cronometer_servings")
    message = str(caught.value)
    assert message.startswith("servings_no_day_column.csv, row 1, column 'Day': ")
    assert "\n" not in message


def test_dexcom_mgdl_readings_low_high_and_calibration():
    imported = read_file(DEXCOM / "clarity_mgdl.csv", TIMEZONE)
    frame = conform(imported)
    assert (imported.rows_read, imported.rows_skipped) == (29, 8)  # 7 metadata + 1 insulin
    sensor = frame.filter(pl.col("kind") == "sensor")
    assert sensor.height == 20
    flagged = sensor.filter(pl.col("out_of_range").is_not_null()).sort("source_row")
    assert flagged.select("source_row", "out_of_range").rows() == [(9, "below_range"),
                                                                   (24, "above_range")]
    assert flagged["glucose_mg_dl"].null_count() == 2
    assert sensor["glucose_mg_dl"].mean() == pytest.approx(3469 / 18)
    in_range = sensor["glucose_mg_dl"].is_between(70, 180).fill_null(False).sum()
    assert in_range / sensor.height == pytest.approx(0.35)
    calibration = frame.filter(pl.col("kind") == "fingerstick").row(0, named=True)
    assert (calibration["source_row"], calibration["glucose_mg_dl"]) == (16, 104.0)
    first = sensor.filter(pl.col("source_row") == 9).row(0, named=True)
    assert first["ts_utc"] == datetime(2026, 3, 1, 12, 0, 12, tzinfo=UTC)
    assert first["local_ts"] == datetime(2026, 3, 1, 7, 0, 12)
    assert frame["parse_error"].null_count() == frame.height


def test_dexcom_never_reads_personal_columns():
    frame = staged(DEXCOM / "clarity_mgdl.csv")
    text = frame.write_csv()
    for personal in ("Testfirst", "Testlast", "1975-05-05", "8TEST9"):
        assert personal not in text
    assert 250.0 not in frame["glucose_mg_dl"].to_list()  # alert thresholds are not readings


def test_dexcom_mmol_quoted_older_layout_converts_to_mg_dl():
    frame = staged(DEXCOM / "clarity_mmol_quoted.csv")
    assert frame.height == 8
    values = frame.sort("source_row")["glucose_mg_dl"].to_list()
    expected = [100.88736, 109.89516, 133.31544, 183.75912, 158.53728, 113.49828, 79.26864]
    assert values[:7] == pytest.approx(expected, abs=1e-9)
    assert values[7] is None and frame["out_of_range"].to_list()[-1] == "below_range"
    assert frame["device"].unique().to_list() == ["android G6"]


def test_dexcom_bad_rows_are_flagged_not_dropped():
    frame = staged(DEXCOM / "clarity_bad_rows.csv")
    assert frame.height == 7
    errors = frame.filter(pl.col("parse_error").is_not_null())
    assert errors["source_row"].to_list() == [11, 13]
    assert errors["parse_error"][0] == ("Timestamp '2026-03-01T25:99:00' is not a timestamp "
                                        "YYYY-MM-DDThh:mm:ss")
    assert "'abc' is not a number, Low or High" in errors["parse_error"][1]


def test_receiver_serials_are_never_kept_as_device(tmp_path: Path):
    lines = (DEXCOM / "clarity_mgdl.csv").read_text(encoding="utf-8-sig").splitlines()
    lines = [line.replace("iPhone G6", "PL82501061") for line in lines]
    path = tmp_path / "receiver.csv"
    path.write_text("\n".join(lines) + "\n")
    frame = staged(path)
    assert set(frame["device"].to_list()) == {"Dexcom receiver"}
    assert "PL82501061" not in frame.write_csv()


@pytest.mark.parametrize(("local", "expected_utc"), [
    # 2026-11-01 01:30 happens twice in New York; the earlier (EDT, UTC-4) instant is taken.
    ("2026-11-01T01:30:00", datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
    # 2026-03-08 02:30 never happens (clocks jump 02:00 → 03:00): no instant, flagged.
    ("2026-03-08T02:30:00", None),
])
def test_dst_ambiguous_and_missing_local_times(local: str, expected_utc, tmp_path: Path):
    header = ("Index,Timestamp (YYYY-MM-DDThh:mm:ss),Event Type,Event Subtype,Patient Info,"
              "Device Info,Source Device ID,Glucose Value (mg/dL)")
    path = tmp_path / "dst.csv"
    path.write_text(f"{header}\n1,{local},EGV,,,,iPhone G6,120\n")
    row = staged(path).row(0, named=True)
    assert row["ts_utc"] == expected_utc
    assert (row["parse_error"] is None) == (expected_utc is not None)


@pytest.mark.parametrize("content", [b"", b"\x00\x01\x02garbage", b"just,some,columns\n1,2,3\n"])
def test_unrecognised_files_get_one_line_naming_the_formats(content: bytes, tmp_path: Path):
    path = tmp_path / "mystery.csv"
    path.write_bytes(content)
    with pytest.raises(BadFileError) as caught:
        read_file(path, TIMEZONE)
    assert "unrecognised export" in str(caught.value)
    assert "cronometer_servings, dexcom_clarity" in str(caught.value)


def test_conform_rejects_an_importer_that_drops_a_column():
    broken = ImportedFile(format="broken", kind="food",
                          frame=pl.DataFrame({"source_row": [2]}), rows_read=1, rows_skipped=0)
    with pytest.raises(TypeError, match="did not produce"):
        conform(broken)
