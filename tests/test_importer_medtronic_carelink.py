"""Medtronic CareLink CSV importer; expected values from tests/fixtures/carelink/README.md."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import FIXTURES, fixtures_outside
from transforms.importers import conform, medtronic_carelink
from transforms.importers.base import BadFileError, ImportedFile, read_head

TIMEZONE = "Europe/Berlin"
CARELINK = FIXTURES / "carelink"
EXPORT = CARELINK / "carelink_export.csv"
MMOL = CARELINK / "carelink_mmol.csv"
MALFORMED = CARELINK / "carelink_no_section_header.csv"
PERSONAL = ("Testfirst", "Testlast", "NG1234567H", "BG9876543", "05.05.1975")


def imported_and_staged(path: Path) -> tuple[ImportedFile, pl.DataFrame]:
    imported = medtronic_carelink.read(path, TIMEZONE)
    return imported, conform(imported)


def test_counts_per_kind_and_device():
    imported, frame = imported_and_staged(EXPORT)
    assert (imported.format, imported.kind) == ("medtronic_carelink", "glucose")
    assert (imported.rows_read, imported.rows_skipped) == (16, 5)
    assert frame["source_row"].to_list() == [9, 10, 12, 15, 19, 20, 21, 22, 24, 25, 26]
    sensor = frame.filter(pl.col("kind") == "sensor")
    fingerstick = frame.filter(pl.col("kind") == "fingerstick")
    assert (sensor.height, fingerstick.height) == (7, 4)
    assert set(sensor["device"]) == {"Medtronic sensor"}
    assert set(fingerstick["device"]) == {"Medtronic pump"}
    assert fingerstick["glucose_mg_dl"].to_list() == [104.0, 104.0, 98.0, 112.0]
    assert sensor["glucose_mg_dl"].sum() == 704 + 119
    assert frame["out_of_range"].null_count() == 11


def test_newest_first_order_and_first_last_timestamps():
    _, frame = imported_and_staged(EXPORT)
    first, last = frame.row(0, named=True), frame.row(-1, named=True)
    assert (first["ts_utc"], first["local_ts"]) == (datetime(2026, 3, 3, 11, 5, 12, tzinfo=UTC),
                                                    datetime(2026, 3, 3, 12, 5, 12))
    assert (last["ts_utc"], last["local_ts"]) == (datetime(2026, 3, 2, 5, 0, 4, tzinfo=UTC),
                                                  datetime(2026, 3, 2, 6, 0, 4))
    assert frame["ts_utc"].min() == datetime(2026, 3, 2, 5, 0, 4, tzinfo=UTC)
    assert frame["ts_utc"].max() == datetime(2026, 3, 3, 11, 5, 12, tzinfo=UTC)
    assert frame["local_ts"].min() == datetime(2026, 3, 2, 6, 0, 4)
    assert frame["local_ts"].max() == datetime(2026, 3, 3, 12, 5, 12)


def test_duplicate_rows_are_kept_as_written():
    _, frame = imported_and_staged(EXPORT)
    placed = frame.filter(pl.col("ts_utc").is_not_null())
    assert placed.height == 10
    assert placed.select("device", "ts_utc", "kind").n_unique() == 8
    twins = frame.filter(pl.col("source_row").is_in([20, 21]))
    assert twins["ts_utc"].to_list() == [datetime(2026, 3, 3, 11, 0, tzinfo=UTC)] * 2


def test_bad_date_is_flagged_and_decimal_commas_kept_as_written():
    _, frame = imported_and_staged(EXPORT)
    flagged = frame.filter(pl.col("parse_error").is_not_null())
    assert flagged["source_row"].to_list() == [24]
    assert flagged["parse_error"][0] == "Date '2026/02/30' is not a date YYYY/MM/DD"
    assert flagged["glucose_mg_dl"][0] == 119.0
    raw = frame.filter(pl.col("source_row") == 19)["raw_record"][0]
    assert '"Index":"8,00000"' in raw and '"ISIG Value":"24,65"' in raw


def test_personal_data_never_reaches_any_column():
    imported, frame = imported_and_staged(EXPORT)
    for text in (imported.frame.write_csv(), frame.write_csv()):
        for personal in PERSONAL:
            assert personal not in text


def test_mmol_headers_decimal_commas_and_dst_change():
    imported, frame = imported_and_staged(MMOL)
    assert (imported.rows_read, imported.rows_skipped) == (4, 0)
    assert frame.select("source_row", "kind", "device").rows() == [
        (8, "fingerstick", "Medtronic pump"), (12, "sensor", "Medtronic sensor"),
        (13, "sensor", "Medtronic sensor"), (14, "sensor", "Medtronic sensor")]
    assert frame["glucose_mg_dl"].to_list() == pytest.approx(
        [104.49048, 131.51388, 124.30764, 39.63432], abs=1e-9)
    assert frame["ts_utc"].to_list() == [
        datetime(2026, 10, 25, 7, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 2, 5, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # 02:30 happens twice: the earlier instant
        datetime(2026, 10, 24, 23, 55, tzinfo=UTC),
    ]
    assert frame["local_date"].unique().to_list() == [datetime(2026, 10, 25).date()]
    assert frame["parse_error"].null_count() == 4
    assert not any(p in frame.write_csv() for p in PERSONAL)


def test_file_without_any_section_is_refused_in_one_line():
    with pytest.raises(BadFileError) as caught:
        medtronic_carelink.read(MALFORMED, TIMEZONE)
    message = str(caught.value)
    assert message.startswith("carelink_no_section_header.csv: no CareLink section found")
    assert "\n" not in message
    assert not any(p in message for p in PERSONAL)


def test_section_line_without_its_header_row_is_refused(tmp_path: Path):
    lines = EXPORT.read_text(encoding="utf-8-sig").splitlines()
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines[:6] + lines[7:]) + "\n", encoding="utf-8")  # no line 7
    with pytest.raises(BadFileError) as caught:
        medtronic_carelink.read(path, TIMEZONE)
    assert str(caught.value) == ("export.csv, row 7: section 'Pump' has no header row "
                                 "(expected 'Index;Date;Time;…')")


def test_us_comma_variant_and_an_empty_section(tmp_path: Path):
    header = "Index,Date,Time,New Device Time,BG Reading (mg/dL),Sensor Glucose (mg/dL),ISIG Value"
    path = tmp_path / "us.csv"
    path.write_text("\n".join([
        "Last Name,First Name,Patient ID,System ID,Start Date,End Date,Device,MiniMed 770G",
        '"Testlast","Testfirst","","","7/9/26 12:00:00 AM","7/10/26 12:00:00 AM",'
        '"Serial Number",NG1234567H',
        "",
        "-------,MiniMed 770G,Pump,NG1234567H,------- ",
        "-------,MiniMed 770G,Sensor,NG1234567H,------- ",
        header,
        "0.00000,2026/07/10,08:00:00,,,101,18.20",
        "1.00000,2026/07/10,07:55:00,,,99.5,17.90",
    ]) + "\n")
    imported = medtronic_carelink.read(path, "America/New_York")
    frame = conform(imported)
    assert (imported.rows_read, imported.rows_skipped) == (2, 0)
    assert frame.select("source_row", "glucose_mg_dl", "ts_utc", "device").rows() == [
        (7, 101.0, datetime(2026, 7, 10, 12, 0, tzinfo=UTC), "Medtronic sensor"),
        (8, 99.5, datetime(2026, 7, 10, 11, 55, tzinfo=UTC), "Medtronic sensor"),
    ]


@pytest.mark.parametrize("path", [EXPORT, MMOL, MALFORMED])
def test_detects_its_own_fixtures(path: Path):
    assert medtronic_carelink.detect(read_head(path))


@pytest.mark.parametrize("path", fixtures_outside(CARELINK),
                         ids=lambda p: str(p.relative_to(FIXTURES)))
def test_does_not_detect_other_fixtures(path: Path):
    assert not medtronic_carelink.detect(read_head(path))
