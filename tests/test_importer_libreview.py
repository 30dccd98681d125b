"""LibreView importer on hand-made fixtures.

Expected values come from the hand computation in tests/fixtures/libreview/README.md.
"""

from __future__ import annotations

import codecs
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import FIXTURES
from transforms.importers import conform, libreview
from transforms.importers.base import BadFileError, ImportedFile, read_head

LIBRE = FIXTURES / "libreview"
NEW_YORK, BERLIN = "America/New_York", "Europe/Berlin"
MMOL = 18.0156
PERSONAL = ("Testfirst", "Testlast", "Testdoctor", "1970", "a1b2c3d4-0000-4000-8000-5e71a1000001",
            "MXGT0A1B2C3", "3MH00ABCDEF", "JGMA12345678")
READABLE = [("us_mgdl.csv", NEW_YORK), ("eu_mmol_utf16.csv", BERLIN), ("de_mgdl.csv", BERLIN),
            ("fr_mgdl.csv", BERLIN), ("clinic_pro_two_preambles.csv", NEW_YORK),
            ("bad_rows.csv", NEW_YORK)]
HEADER = ("Device,Serial Number,Device Timestamp,Record Type,Historic Glucose mg/dL,"
          "Scan Glucose mg/dL,Notes,Strip Glucose mg/dL")


def imported(name: str, timezone: str) -> tuple[ImportedFile, pl.DataFrame]:
    result = libreview.read(LIBRE / name, timezone)
    return result, conform(result)


def kinds(frame: pl.DataFrame) -> dict[str, int]:
    return dict(frame.group_by("kind").len().iter_rows())


def by_row(frame: pl.DataFrame, source_row: int) -> dict:
    return frame.filter(pl.col("source_row") == source_row).row(0, named=True)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_us_mgdl_counts_order_duplicates_and_twelve_hour_clock():
    result, frame = imported("us_mgdl.csv", NEW_YORK)
    assert (result.rows_read, result.rows_skipped) == (13, 2)  # insulin (4) and note (6)
    assert kinds(frame) == {"sensor": 8, "scan": 2, "fingerstick": 1}
    assert frame["source_row"].to_list() == list(range(3, 14))  # file order, not sorted
    assert frame["parse_error"].null_count() == frame.height
    assert frame.filter(pl.col("local_ts") == datetime(2026, 3, 14, 8, 30)).height == 2
    assert libreview.date_order(pl.Series(["03-14-2026 08:15 AM"])) == "month_first"
    first = frame.sort("ts_utc").row(0, named=True)
    assert (first["source_row"], first["ts_utc"]) == (8, utc(2026, 3, 14, 3, 45))
    assert (first["local_ts"], first["local_date"]) == (datetime(2026, 3, 13, 23, 45),
                                                        date(2026, 3, 13))
    last = frame.sort("ts_utc").row(-1, named=True)
    assert (last["source_row"], last["ts_utc"]) == (10, utc(2026, 3, 15, 4, 10))
    assert last["local_ts"] == datetime(2026, 3, 15, 0, 10)  # 12:10 AM
    assert by_row(frame, 9)["local_ts"] == datetime(2026, 3, 14, 12, 5)  # 12:05 PM
    assert by_row(frame, 12)["local_ts"] == datetime(2026, 3, 14, 13, 30)  # 01:30 PM
    sensor = frame.filter(pl.col("kind") == "sensor")
    assert sensor["glucose_mg_dl"].mean() == pytest.approx(737 / 6)
    assert by_row(frame, 11)["glucose_mg_dl"] == 106.0  # scan value from the Scan column
    assert by_row(frame, 13)["glucose_mg_dl"] == 99.0  # strip value from the Strip column
    assert set(frame["device"]) == {"FreeStyle LibreLink"}


def test_hi_and_lo_are_flags_with_null_values():
    _, frame = imported("us_mgdl.csv", NEW_YORK)
    flagged = frame.filter(pl.col("out_of_range").is_not_null()).sort("source_row")
    assert flagged.select("source_row", "out_of_range", "glucose_mg_dl").rows() == [
        (7, "above_range", None), (8, "below_range", None)]


def test_european_mmol_utf16_day_first_with_dst_gap():
    result, frame = imported("eu_mmol_utf16.csv", BERLIN)
    assert (result.rows_read, result.rows_skipped) == (10, 1)
    assert kinds(frame) == {"sensor": 7, "scan": 1, "fingerstick": 1}
    values = dict(zip(frame["source_row"], frame["glucose_mg_dl"], strict=True))
    expected = {3: 104.49048, 4: 99.0858, 5: 75.66552, 6: 109.89516, 7: 115.29984,
                8: 70.26084, 9: 126.1092, 10: 95.48268}
    assert {row: values[row] for row in expected} == pytest.approx(expected, abs=1e-9)
    assert values[12] is None and by_row(frame, 12)["out_of_range"] == "above_range"
    assert by_row(frame, 3)["local_ts"] == datetime(2026, 3, 13, 8, 5)  # 13-03 = 13 March
    gap = by_row(frame, 6)
    assert gap["local_ts"] == datetime(2026, 3, 29, 2, 30) and gap["ts_utc"] is None
    assert gap["parse_error"] == ("local time 2026-03-29 02:30:00 does not exist in "
                                  "Europe/Berlin (clocks went forward)")
    assert frame.filter(pl.col("parse_error").is_not_null())["source_row"].to_list() == [6]
    assert by_row(frame, 8)["ts_utc"] == utc(2026, 3, 29, 0, 55)  # CET, before the jump
    assert by_row(frame, 7)["ts_utc"] == utc(2026, 3, 29, 1, 0)  # CEST, after it
    times = frame["ts_utc"].drop_nulls()
    assert (times.min(), times.max()) == (utc(2026, 3, 12, 22, 55), utc(2026, 3, 30, 5, 0))
    assert by_row(frame, 5)["local_ts"] == datetime(2026, 3, 12, 23, 55)
    assert by_row(frame, 12)["local_ts"] == datetime(2026, 3, 30, 7, 0)


def test_german_headers_and_undecidable_dates_fall_back_to_day_first():
    result, frame = imported("de_mgdl.csv", BERLIN)
    assert (result.rows_read, result.rows_skipped) == (5, 1)
    assert kinds(frame) == {"sensor": 2, "scan": 1, "fingerstick": 1}
    assert libreview.date_order(pl.read_csv(LIBRE / "de_mgdl.csv", skip_rows=1,
                                            infer_schema=False)["Gerätezeitstempel"]) \
        == "day_first"
    ordered = frame.sort("ts_utc")
    assert ordered["ts_utc"].to_list()[0] == utc(2026, 3, 5, 13, 15)
    assert ordered["ts_utc"].to_list()[-1] == utc(2026, 3, 6, 6, 0)
    assert ordered["local_ts"].to_list()[-1] == datetime(2026, 3, 6, 7, 0)
    assert by_row(frame, 6)["glucose_mg_dl"] == 92.0 and by_row(frame, 6)["kind"] == "fingerstick"
    assert by_row(frame, 5)["kind"] == "scan" and by_row(frame, 5)["glucose_mg_dl"] == 138.0


def test_french_headers_with_bom_and_crlf():
    result, frame = imported("fr_mgdl.csv", BERLIN)
    assert (result.rows_read, result.rows_skipped) == (4, 1)
    assert kinds(frame) == {"sensor": 2, "scan": 1}
    ordered = frame.sort("ts_utc")
    assert ordered["ts_utc"].to_list() == [utc(2026, 3, 21, 8, 45), utc(2026, 3, 21, 9, 0),
                                           utc(2026, 3, 21, 9, 5)]
    assert ordered["local_ts"].to_list()[0] == datetime(2026, 3, 21, 9, 45)
    assert ordered["glucose_mg_dl"].to_list() == [112.0, 118.0, 121.0]


def test_clinic_report_with_two_preamble_lines():
    result, frame = imported("clinic_pro_two_preambles.csv", NEW_YORK)
    assert (result.rows_read, result.rows_skipped) == (4, 0)
    assert kinds(frame) == {"sensor": 4}
    assert frame["source_row"].to_list() == [4, 5, 6, 7]  # header is line 3
    ordered = frame.sort("ts_utc")
    assert (ordered["source_row"][0], ordered["ts_utc"][0]) == (7, utc(2026, 3, 19, 3, 30))
    assert ordered["local_ts"][0] == datetime(2026, 3, 18, 23, 30)
    assert (ordered["source_row"][-1], ordered["ts_utc"][-1]) == (6, utc(2026, 3, 19, 4, 15))
    assert frame["device"].to_list() == ["FreeStyle Libre Pro", "FreeStyle Libre Pro",
                                         "FreeStyle Libre", "FreeStyle Libre Pro"]


def test_bad_rows_are_flagged_not_dropped():
    result, frame = imported("bad_rows.csv", NEW_YORK)
    assert (result.rows_read, result.rows_skipped, frame.height) == (6, 0, 6)
    errors = dict(zip(frame["source_row"], frame["parse_error"], strict=True))
    assert errors == {
        3: None,
        4: "Historic Glucose mg/dL 'abc' is not a number, HI or LO",
        5: ("Device Timestamp '03-14-2026 13:30 PM' is not a timestamp "
            "MM-DD-YYYY hh:mm AM/PM"),
        6: "Scan Glucose mg/dL is blank",
        7: "Record Type 'x' is not a record type 0–6",
        8: None,
    }
    assert by_row(frame, 7)["kind"] is None


def test_missing_timestamp_column_is_refused_in_one_line():
    path = LIBRE / "no_timestamp_column.csv"
    assert libreview.detect(read_head(path))  # recognised, so the user is told what is missing
    with pytest.raises(BadFileError) as caught:
        libreview.read(path, NEW_YORK)
    message = str(caught.value)
    assert message.startswith("no_timestamp_column.csv, row 2, column 'Device Timestamp': ")
    assert "required column missing" in message and "\n" not in message


@pytest.mark.parametrize(("name", "timezone"), READABLE)
def test_personal_data_never_reaches_any_column(name: str, timezone: str):
    result, frame = imported(name, timezone)
    for text in (result.frame.write_csv(), frame.write_csv()):
        for personal in PERSONAL:
            assert personal not in text
    assert not any("serial" in column.lower() for column in result.frame.columns)


@pytest.mark.parametrize("name", [name for name, _ in READABLE] + ["no_timestamp_column.csv"])
def test_detects_every_variant(name: str):
    assert libreview.detect(read_head(LIBRE / name))


def test_does_not_detect_other_formats():
    others = [path for path in FIXTURES.glob("*/*")
              if path.parent.name != "libreview" and path.suffix != ".md" and path.is_file()]
    assert any(path.parent.name == "dexcom" for path in others)
    assert any(path.parent.name == "cronometer" for path in others)
    for path in others:
        assert not libreview.detect(read_head(path)), path


@pytest.mark.parametrize(("header", "expected"), [
    ("Historic Glucose mg/dL", ("Historic Glucose", "mg/dl")),
    ("historic glucose MMOL/L", ("Historic Glucose", "mmol/l")),
    ("Glukosewert-Verlauf mmol/L", ("Historic Glucose", "mmol/l")),
    ("Glukose-Teststreifen mg/dL", ("Strip Glucose", "mg/dl")),
    ("Historique de la glycémie mg/dL", ("Historic Glucose", "mg/dl")),
    ("Type d’enregistrement", ("Record Type", None)),
    ("Sello de tiempo del dispositivo", ("Device Timestamp", None)),
    ("Escaneo de glucosa mg/dL", ("Scan Glucose", "mg/dl")),
    ("Tira reactiva para glucosa mg/dL", ("Strip Glucose", "mg/dl")),
    ("Timestamp del dispositivo", ("Device Timestamp", None)),
    ("Storico del glucosio mg/dL", ("Historic Glucose", "mg/dl")),
    ("Tijdstempel apparaat", ("Device Timestamp", None)),
    ("Historische glucose mmol/l", ("Historic Glucose", "mmol/l")),
    ("Ketone mmol/L", None),
    ("Long-Acting Insulin Value (units)", None),
])
def test_header_names_map_by_name_in_every_language(header: str, expected):
    assert libreview.canonical_column(header) == expected


@pytest.mark.parametrize(("timestamps", "order"), [
    (["03-04-2026 08:00 AM", "03-04-2026 09:00 PM"], "month_first"),  # undecidable, AM/PM = US
    (["03-04-2026 08:00", "03-04-2026 21:00"], "day_first"),  # undecidable, 24-hour
    (["03-04-2026 08:00", "03-13-2026 08:00"], "month_first"),  # one row decides
    (["03-04-2026 08:00 AM", "13-04-2026 08:00 AM"], "day_first"),  # evidence beats AM/PM
])
def test_date_order_is_decided_from_the_whole_column(timestamps: list[str], order: str):
    assert libreview.date_order(pl.Series(timestamps)) == order


def test_mixed_date_orders_refuse_the_file(tmp_path: Path):
    path = tmp_path / "mixed.csv"
    path.write_text(f"Glucose Data,Generated on,x,Generated by,Testfirst Testlast\n{HEADER}\n"
                    "FreeStyle LibreLink,SN1,13-03-2026 08:00,0,100,,,\n"
                    "FreeStyle LibreLink,SN1,03-14-2026 08:00,0,101,,,\n")
    with pytest.raises(BadFileError, match="both day-first and month-first") as caught:
        libreview.read(path, BERLIN)
    assert caught.value.column == "Device Timestamp"


def test_serial_looking_devices_are_masked(tmp_path: Path):
    path = tmp_path / "serial_device.csv"
    path.write_text(f"Glucose Data,Generated on,x,Generated by,Testfirst Testlast\n{HEADER}\n"
                    "MXGT0A1B2C3,MXGT0A1B2C3,03-14-2026 08:00 AM,0,100,,,\n"
                    "e0e0e0e0-1111-4222-8333-444455556666,x,03-14-2026 08:15 AM,0,101,,,\n"
                    "Reader 7Q,Reader 7Q,03-14-2026 08:30 AM,0,102,,,\n")
    result = libreview.read(path, NEW_YORK)
    frame = conform(result)
    assert set(frame["device"]) == {"FreeStyle Libre"}
    text = result.frame.write_csv()
    for serial in ("MXGT0A1B2C3", "e0e0e0e0-1111", "Reader 7Q"):
        assert serial not in text


def test_utf16_big_endian_and_plain_utf8_read_the_same(tmp_path: Path):
    text = (LIBRE / "eu_mmol_utf16.csv").read_bytes().decode("utf-16")
    for name, data in [("be.csv", codecs.BOM_UTF16_BE + text.encode("utf-16-be")),
                       ("plain.csv", text.encode("utf-8"))]:
        path = tmp_path / name
        path.write_bytes(data)
        assert libreview.detect(read_head(path))
        assert conform(libreview.read(path, BERLIN)).equals(
            conform(libreview.read(LIBRE / "eu_mmol_utf16.csv", BERLIN)))


def test_undecodable_bytes_are_refused(tmp_path: Path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(f"Glucose Data,x\n{HEADER}\n".encode() + b"Ger\xe4t,,,0,100,,,\n")
    with pytest.raises(BadFileError, match="not UTF-8 or UTF-16 text"):
        libreview.read(path, BERLIN)
