"""Nightscout entries.json importer; expected values from tests/fixtures/nightscout/README.md."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import FIXTURES, TIMEZONE
from transforms.importers import (
    conform,
    cronometer_servings,
    dexcom_clarity,
    nightscout,
    nightscout_csv,
)
from transforms.importers.base import BadFileError, read_head

NIGHTSCOUT = FIXTURES / "nightscout"
ENTRIES = NIGHTSCOUT / "entries.json"


def staged(path: Path = ENTRIES) -> pl.DataFrame:
    return conform(nightscout.read(path, TIMEZONE))


def row(frame: pl.DataFrame, source_row: int) -> dict:
    return frame.filter(pl.col("source_row") == source_row).row(0, named=True)


def test_counts_kinds_and_skipped_records():
    imported = nightscout.read(ENTRIES, TIMEZONE)
    frame = conform(imported)
    assert (imported.format, imported.kind) == ("nightscout_entries", "glucose")
    assert (imported.rows_read, imported.rows_skipped) == (11, 2)  # cal (2) + error code 5 (4)
    assert frame["source_row"].to_list() == [1, 3, 5, 6, 7, 8, 9, 10, 11]
    assert frame.filter(pl.col("kind") == "sensor").height == 8
    assert frame.filter(pl.col("kind") == "fingerstick")["source_row"].to_list() == [5]
    assert frame["out_of_range"].null_count() == frame.height


def test_first_and_last_reading_times_newest_first():
    frame = staged()
    first, last = row(frame, 1), row(frame, 11)
    assert first["ts_utc"] == datetime(2026, 3, 8, 7, 10, tzinfo=UTC)
    assert first["local_ts"] == datetime(2026, 3, 8, 3, 10)  # EDT, after the jump
    assert last["ts_utc"] == datetime(2026, 3, 8, 2, 30, tzinfo=UTC)
    assert last["local_ts"] == datetime(2026, 3, 7, 21, 30)  # EST, the day before in UTC terms
    assert last["local_date"] == date(2026, 3, 7)


def test_local_wall_clock_across_the_dst_jump():
    frame = staged()
    assert row(frame, 3)["local_ts"] == datetime(2026, 3, 8, 3, 5)
    assert row(frame, 5)["local_ts"] == datetime(2026, 3, 8, 1, 58, 30)
    assert row(frame, 5)["ts_utc"] == datetime(2026, 3, 8, 6, 58, 30, tzinfo=UTC)


def test_values_string_sgv_real_low_and_fingerstick():
    frame = staged()
    assert row(frame, 1)["glucose_mg_dl"] == 35.0  # real low: kept, not an error code
    assert row(frame, 3)["glucose_mg_dl"] == 123.0  # written as the string "123"
    meter = row(frame, 5)
    assert (meter["kind"], meter["glucose_mg_dl"], meter["device"]) == (
        "fingerstick", 104.0, "Contour Next One")
    clean = frame.filter(pl.col("parse_error").is_null())
    assert clean.height == 7
    assert clean["glucose_mg_dl"].mean() == pytest.approx(698 / 7)
    assert 5.0 not in frame["glucose_mg_dl"].to_list()


def test_duplicate_object_is_kept_for_the_warehouse_to_merge():
    frame = staged()
    six, seven = row(frame, 6), row(frame, 7)
    assert {k: v for k, v in six.items() if k != "source_row"} == \
        {k: v for k, v in seven.items() if k != "source_row"}


def test_bad_rows_are_flagged_not_dropped():
    frame = staged()
    errors = frame.filter(pl.col("parse_error").is_not_null())
    assert errors["source_row"].to_list() == [8, 9]
    assert errors["parse_error"].to_list() == ["sgv 'abc' is not a number", "date is missing"]
    assert row(frame, 9)["ts_utc"] is None


def test_serials_and_personal_fields_never_reach_the_frame():
    frame = staged()
    assert row(frame, 10)["device"] == "[masked]"
    assert row(frame, 11)["device"] == "Dexcom G6 ([masked])"
    text = frame.write_csv()
    for personal in ("SM12345678", "8G1234", "Testfirst", "enteredBy"):
        assert personal not in text
    raw = json.loads(row(frame, 3)["raw_record"])
    assert (raw["sgv"], raw["type"], raw["date"]) == ("123", "sgv", "1772953500000")


def test_detect_sniffs_content():
    assert nightscout.detect(read_head(ENTRIES))
    assert nightscout.detect("\ufeff  \n[{\"sgv\": 120, \"date\": 1772952900000, \"type")  # cut off
    assert not nightscout.detect(read_head(NIGHTSCOUT / "not_a_list.json"))
    assert not nightscout.detect('[{"eventType": "Meal Bolus", "created_at": "2026-03-08"}]')
    for path in (*(FIXTURES / "cronometer").glob("*.csv"), *(FIXTURES / "dexcom").glob("*.csv")):
        assert not nightscout.detect(read_head(path)), path
    head = read_head(ENTRIES)
    assert not cronometer_servings.detect(head) and not dexcom_clarity.detect(head)


@pytest.mark.parametrize(("name", "message"), [
    ("not_a_list.json",
     "not_a_list.json: expected a JSON list of Nightscout entries, found a JSON object"),
    ("invalid.json", "invalid.json: not valid JSON: Expecting ',' delimiter at line 3, column 1"),
])
def test_wrong_shapes_are_refused_in_one_line(name: str, message: str):
    with pytest.raises(BadFileError) as caught:
        nightscout.read(NIGHTSCOUT / name, TIMEZONE)
    assert str(caught.value) == message


def test_a_list_of_non_objects_is_refused(tmp_path: Path):
    path = tmp_path / "numbers.json"
    path.write_text("[120, 118]")
    with pytest.raises(BadFileError, match=r"row 1: item 1 of the list is not a JSON object"):
        nightscout.read(path, TIMEZONE)


def test_utf16_with_bom_and_an_empty_list(tmp_path: Path):
    wide = tmp_path / "wide.json"
    wide.write_bytes(ENTRIES.read_text(encoding="utf-8").encode("utf-16"))
    assert nightscout.detect(read_head(wide))
    assert staged(wide).height == 9
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    imported = nightscout.read(empty, TIMEZONE)
    assert (imported.rows_read, imported.rows_skipped, conform(imported).height) == (0, 0, 0)


def test_error_code_boundaries_and_dates_in_seconds(tmp_path: Path):
    entries = [{"type": "sgv", "sgv": value, "date": 1772952900000 - i * 300_000}
               for i, value in enumerate([0, 12, "5", 13, 39, 40])]
    entries.append({"type": "sgv", "sgv": 110, "date": 1772952900})  # seconds, not ms
    path = tmp_path / "codes.json"
    path.write_text(json.dumps(entries))
    imported = nightscout.read(path, TIMEZONE)
    frame = conform(imported)
    assert imported.rows_skipped == 3  # 0, 12 and "5": error codes
    assert frame["glucose_mg_dl"].to_list() == [13.0, 39.0, 40.0, 110.0]
    assert frame["device"].unique().to_list() == ["Nightscout"]
    assert frame["parse_error"].to_list()[-1] == (
        "date '1772952900' is not epoch milliseconds (2000–2099)")


EXPORTER = NIGHTSCOUT / "exporter.csv"


def test_exporter_csv_counts_times_and_bad_rows():
    imported = nightscout_csv.read(EXPORTER, TIMEZONE)
    frame = conform(imported)
    assert (imported.format, imported.rows_read, imported.rows_skipped) == ("nightscout_csv", 12, 4)
    assert frame["source_row"].to_list() == [3, 4, 6, 7, 9, 10, 11, 12]
    assert frame.filter(pl.col("kind") == "fingerstick")["source_row"].to_list() == [6]
    assert row(frame, 3)["ts_utc"] == datetime(2026, 3, 8, 7, 10, tzinfo=UTC)
    assert (row(frame, 3)["glucose_mg_dl"], row(frame, 4)["glucose_mg_dl"]) == (35.0, 123.0)
    assert row(frame, 4)["ts_utc"] == datetime(2026, 3, 8, 7, 5, tzinfo=UTC)  # U+202F before AM
    assert row(frame, 6)["ts_utc"] == datetime(2026, 3, 8, 6, 58, 30, tzinfo=UTC)
    assert row(frame, 10)["ts_utc"] == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # earlier of two
    last = row(frame, 11)
    assert (last["ts_utc"], last["local_ts"], last["local_date"]) == (
        datetime(2026, 3, 8, 2, 30, tzinfo=UTC), datetime(2026, 3, 7, 21, 30), date(2026, 3, 7))
    errors = frame.filter(pl.col("parse_error").is_not_null())
    assert errors["source_row"].to_list() == [9, 12]
    assert errors["parse_error"].to_list() == [
        "local time 2026-03-08 02:30:00 does not exist in America/New_York (clocks went forward)",
        "Glucose (mg/dL) 'abc' is not a number"]
    assert (row(frame, 7)["device"], last["device"]) == ("[masked]", "Dexcom G6 ([masked])")
    text = frame.write_csv()
    for personal in ("SM12345678", "8G1234", "Testfirst", "dinner"):
        assert personal not in text


def test_exporter_csv_detection_and_day_first_locale(tmp_path: Path):
    assert nightscout_csv.detect(read_head(EXPORTER))
    assert not nightscout.detect(read_head(EXPORTER))
    assert not nightscout_csv.detect(read_head(ENTRIES))
    for path in (*(FIXTURES / "cronometer").glob("*.csv"), *(FIXTURES / "dexcom").glob("*.csv")):
        assert not nightscout_csv.detect(read_head(path)), path
    german = tmp_path / "export.csv"
    german.write_text('# CGM ENTRIES\nDate,Time,Glucose (mg/dL),Type,Device,Trend,ID\n'
                      '"31.3.2026","19:51:03","202","sgv","","4","a"\n'
                      '"1.4.2026","07:05:00","98","sgv","","4","b"\n')
    frame = conform(nightscout_csv.read(german, TIMEZONE))
    assert frame["local_ts"].to_list() == [datetime(2026, 3, 31, 19, 51, 3),
                                           datetime(2026, 4, 1, 7, 5)]
    assert frame["device"].to_list() == ["Nightscout", "Nightscout"]


def test_exporter_csv_without_entries_is_refused(tmp_path: Path):
    path = tmp_path / "treatments_only.csv"
    path.write_text("# CGM ENTRIES\n\n# TREATMENTS\nDate,Time,Event Type\n\"3/7/2026\",\"8:00 PM\","
                    "\"Note\"\n")
    with pytest.raises(BadFileError, match="no '# CGM ENTRIES' section with a header and rows"):
        nightscout_csv.read(path, TIMEZONE)
