"""Apple Health export importers; expected values from tests/fixtures/apple_health/README.md."""

from __future__ import annotations

import time
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import FIXTURES, TIMEZONE
from transforms.importers import apple_health_food as food
from transforms.importers import apple_health_glucose as glucose
from transforms.importers import conform
from transforms.importers.apple_health_xml import source_label
from transforms.importers.base import BadFileError, read_head

APPLE = FIXTURES / "apple_health"
EXPORT = APPLE / "export.xml"
PERSONAL = ("Testfirst", "1980-01-01", "HKBiologicalSexFemale", "HKDevice", "8TEST9",
            "5TST12345", "0x302a8c1e0")


def staged(module, path: Path = EXPORT) -> pl.DataFrame:
    return conform(module.read(path, TIMEZONE)).sort("source_row")


def food_row(frame: pl.DataFrame, source_row: int) -> dict:
    return frame.filter(pl.col("source_row") == source_row).row(0, named=True)


@pytest.mark.parametrize("module", [food, glucose])
@pytest.mark.parametrize("name", ["export.xml", "billion_laughs.xml", "external_entity.xml"])
def test_detects_apple_health_exports_by_content(module, name: str, tmp_path: Path):
    disguised = tmp_path / "data.bin"
    disguised.write_bytes((APPLE / name).read_bytes())
    assert module.detect(read_head(disguised))
    assert not module.detect_path(disguised)


@pytest.mark.parametrize("module", [food, glucose])
def test_export_zip_is_claimed_whole_by_path(module, tmp_path: Path):
    disguised = tmp_path / "data.bin"
    disguised.write_bytes((APPLE / "export.zip").read_bytes())
    assert module.detect_path(disguised)
    assert not module.detect(read_head(disguised))  # the zip's bytes are not XML
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("Nutrition-Summary.csv", "Date,Meal,Calories\n")
        archive.writestr("apple_health_export/export.xml", "<ClinicalDocument/>")
    assert not module.detect_path(other)


@pytest.mark.parametrize("module", [food, glucose])
def test_does_not_claim_other_formats(module):
    others = [p for p in FIXTURES.glob("*/*")
              if p.is_file() and p.parent.name != "apple_health" and p.suffix != ".md"]
    assert any(p.parent.name == "cronometer" for p in others)
    assert any(p.parent.name == "dexcom" for p in others)
    assert [p for p in others if module.detect(read_head(p)) or module.detect_path(p)] == []


@pytest.mark.parametrize("name", ["export.xml", "export.zip"])
def test_food_entries_pair_magnesium_and_energy(name: str):
    imported = food.read(APPLE / name, TIMEZONE)
    assert (imported.format, imported.kind) == ("apple_health_food", "food")
    assert (imported.rows_read, imported.rows_skipped) == (41, 16)  # 25 dietary records
    frame = conform(imported).sort("source_row")
    assert frame["source_row"].to_list() == [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 26]
    almonds = food_row(frame, 4)
    assert (almonds["food_name"], almonds["magnesium_mg"], almonds["energy_kcal"]) == (
        "Almonds", 84.2, 164.0)
    assert almonds["local_ts"] == datetime(2024, 3, 2, 8, 14)
    assert almonds["entry_type"] == "food"
    # the same food logged twice at the same time stays two entries, each with its pair
    twice = frame.filter(pl.col("local_ts") == datetime(2024, 3, 10, 15, 0))
    assert twice.select("food_name", "magnesium_mg", "energy_kcal").rows() == [
        ("Almonds", 76.5, 164.0), ("Almonds", 76.5, 164.0)]
    # a record without a partner: the other nutrient is unknown, never zero
    assert (food_row(frame, 9)["magnesium_mg"], food_row(frame, 9)["energy_kcal"]) == (None, 38.0)
    supplement = food_row(frame, 26)
    assert (supplement["food_name"], supplement["magnesium_mg"], supplement["energy_kcal"]) == (
        "Magnesium glycinate", 120.0, None)


def test_food_without_a_food_name_is_a_meal_total_named_after_the_app():
    frame = staged(food)
    totals = frame.filter(pl.col("entry_type") == "meal_total")
    assert totals.select("source_row", "food_name", "magnesium_mg", "energy_kcal").rows() == [
        (6, "MyFitnessPal (no food name)", 96.0, 610.0),
        (13, "Lose It! (no food name)", None, 250.0),  # unit "Cal" = kcal
    ]
    assert frame.filter(pl.col("entry_type") == "food").height == 12


def test_food_names_as_logged_and_correlation_copies_not_read_twice():
    frame = staged(food)
    assert frame["food_name"].to_list() == [
        "Almonds", "Banana", "MyFitnessPal (no food name)", "Spinach", "Dark chocolate",
        "Coffee with milk", "Pumpkin seeds", "Almonds", "Almonds", "Lose It! (no food name)",
        "Oatmeal", "Greek yogurt", "Quinoa", "Magnesium glycinate"]
    assert frame.filter(pl.col("food_name") == "Spinach").height == 1


def test_food_local_time_is_the_wall_clock_as_written():
    frame = staged(food)
    assert food_row(frame, 8)["local_ts"] == datetime(2024, 3, 10, 1, 45)  # -0500, before DST
    assert food_row(frame, 10)["local_ts"] == datetime(2024, 3, 10, 12, 0)  # -0400, after DST
    quinoa = food_row(frame, 16)  # written with -0800: kept as written, not moved to New York
    assert (quinoa["local_ts"], quinoa["local_date"]) == (datetime(2024, 11, 20, 12, 15),
                                                        date(2024, 11, 20))
    assert frame["local_ts"].null_count() == 0


def test_food_daily_magnesium_matches_hand_sums():
    daily = (staged(food).group_by("local_date")
             .agg(pl.len().alias("entries"), pl.col("magnesium_mg").count().alias("known"),
                  pl.col("magnesium_mg").sum().alias("mg"),
                  pl.col("energy_kcal").sum().alias("kcal"))
             .sort("local_date"))
    assert daily["local_date"].to_list() == [date(2024, 3, 2), date(2024, 3, 10),
                                             date(2024, 11, 3), date(2024, 11, 20)]
    assert daily["entries"].to_list() == [4, 6, 2, 2]
    assert daily["known"].to_list() == [4, 5, 0, 2]
    assert daily["mg"].to_list() == pytest.approx([235.76, 494.0, 0.0, 137.1], abs=1e-9)
    assert daily["kcal"].to_list() == pytest.approx([886.0, 694.0, 400.0, 322.0], abs=1e-9)


def test_food_bad_value_is_flagged_and_control_character_cleaned():
    frame = staged(food)
    flagged = frame.filter(pl.col("parse_error").is_not_null())
    assert flagged.select("source_row", "parse_error").rows() == [
        (14, "magnesium value 'n/a' is not a number")]
    assert food_row(frame, 14)["energy_kcal"] == 150.0
    yogurt = food_row(frame, 15)  # its magnesium record's HKFoodType ends in U+000B
    assert (yogurt["food_name"], yogurt["magnesium_mg"], yogurt["energy_kcal"]) == (
        "Greek yogurt", 18.7, 100.0)


@pytest.mark.parametrize("name", ["export.xml", "export.zip"])
def test_glucose_readings_times_units_and_kinds(name: str):
    imported = glucose.read(APPLE / name, TIMEZONE)
    assert (imported.format, imported.kind) == ("apple_health_glucose", "glucose")
    assert (imported.rows_read, imported.rows_skipped) == (41, 31)
    frame = conform(imported).sort("source_row")
    assert frame["source_row"].to_list() == list(range(30, 40))
    first, last = frame.row(0, named=True), frame.row(-1, named=True)
    assert (first["ts_utc"], first["local_ts"]) == (datetime(2024, 3, 9, 12, 45, tzinfo=UTC),
                                                    datetime(2024, 3, 9, 7, 45))
    assert (last["ts_utc"], last["local_ts"]) == (datetime(2024, 11, 20, 15, 0, tzinfo=UTC),
                                                  datetime(2024, 11, 20, 7, 0))
    assert frame["glucose_mg_dl"].to_list() == pytest.approx(
        [98.0, 104.0, 110.0, 97.28424, 109.89516, 120.0, 118.0, 131.0, None, 101.0], abs=1e-9)
    assert frame["kind"].to_list() == [
        "fingerstick", "sensor", "sensor", "fingerstick", "sensor", "sensor", "sensor",
        "fingerstick", "fingerstick", "fingerstick"]
    assert frame["device"].to_list() == [
        "OneTouch Reveal", "Dexcom G7", "Dexcom G7", "iPhone", "Dexcom G7", "xDrip4iOS",
        "xDrip4iOS", "Contour Next One", "Glucose Buddy", "OneTouch Reveal"]
    assert frame["out_of_range"].null_count() == frame.height


def test_glucose_offsets_across_both_dst_changes():
    frame = staged(glucose)
    spring = frame.filter(pl.col("source_row").is_in([31, 32]))  # 01:55 -0500, 03:00 -0400
    assert spring["ts_utc"].to_list() == [datetime(2024, 3, 10, 6, 55, tzinfo=UTC),
                                          datetime(2024, 3, 10, 7, 0, tzinfo=UTC)]
    autumn = frame.filter(pl.col("source_row").is_in([35, 36]))  # 01:30 twice
    assert autumn["local_ts"].to_list() == [datetime(2024, 11, 3, 1, 30)] * 2
    assert autumn["ts_utc"].to_list() == [datetime(2024, 11, 3, 5, 30, tzinfo=UTC),
                                          datetime(2024, 11, 3, 6, 30, tzinfo=UTC)]


def test_glucose_bad_unit_is_flagged_not_dropped():
    frame = staged(glucose)
    flagged = frame.filter(pl.col("parse_error").is_not_null())
    assert flagged.select("source_row", "parse_error").rows() == [
        (38, "unit 'mmol/mol' is not mg/dL or mmol/L")]


@pytest.mark.parametrize("module", [food, glucose])
def test_personal_data_never_reaches_the_output(module):
    text = staged(module).write_csv()
    for personal in PERSONAL:
        assert personal not in text


@pytest.mark.parametrize(("source", "label"), [
    ("Testfirst’s iPhone", "iPhone"),
    ("iPhone de Testfirst", "iPhone"),
    ("Testfirst’s Apple Watch", "Apple Watch"),
    ("Testfirst's Withings Scale", "Withings Scale"),
    ("Contour Next One 5TST12345", "Contour Next One"),
    ("PL82501061", "Apple Health"),
    ("Dexcom G7", "Dexcom G7"),
    ("Lose It!", "Lose It!"),
    (None, "Apple Health"),
])
def test_source_names_lose_owner_names_and_serials(source: str | None, label: str):
    frame = pl.DataFrame({"sourceName": [source]}, schema={"sourceName": pl.String})
    assert frame.select(source_label(pl.col("sourceName")))["sourceName"].to_list() == [label]


@pytest.mark.parametrize("name", ["billion_laughs.xml", "external_entity.xml"])
@pytest.mark.parametrize("module", [food, glucose])
def test_entity_bombs_and_external_entities_are_refused_fast_in_one_line(module, name: str):
    started = time.perf_counter()
    with pytest.raises(BadFileError) as caught:
        module.read(APPLE / name, TIMEZONE)
    assert time.perf_counter() - started < 2.0
    message = str(caught.value)
    assert message == (f"{name}: refused: the XML declares entities (entity-expansion bombs "
                       "and external entities are not allowed)")
    assert "passwd" not in message and "lol" not in message.replace(name, "")


def test_external_dtd_is_refused(tmp_path: Path):
    path = tmp_path / "export.xml"
    path.write_text(EXPORT.read_text(encoding="utf-8").replace(
        "<!DOCTYPE HealthData [", '<!DOCTYPE HealthData SYSTEM "http://127.0.0.1:9/h.dtd" ['),
        encoding="utf-8")
    with pytest.raises(BadFileError, match=r"^export\.xml: refused: the XML refers to an "
                                           r"external entity or DTD"):
        glucose.read(path, TIMEZONE)


def test_ios16_malformed_internal_dtd_is_tolerated(tmp_path: Path):
    # iOS 16 left `<!ATTLIST VisionPrescription` unclosed and put a stray `>` before `]>`.
    text = EXPORT.read_text(encoding="utf-8")
    closed = "  brand            CDATA #IMPLIED\n>\n"
    assert closed in text
    broken = text.replace(closed, "  brand            CDATA #IMPLIED\n").replace("\n]>", "\n>\n]>")
    path = tmp_path / "export.xml"
    path.write_text(broken, encoding="utf-8")
    assert staged(glucose, path).equals(staged(glucose))
    assert staged(food, path).equals(staged(food))


@pytest.mark.parametrize(("content", "expected"), [
    (b"", "not well-formed XML at line 1, column 0 (no element found)"),
    (b'<?xml version="1.0"?>\n<ClinicalDocument/>\n',
     "not an Apple Health export (root element <ClinicalDocument>, expected <HealthData>)"),
])
def test_unreadable_xml_is_one_line(content: bytes, expected: str, tmp_path: Path):
    path = tmp_path / "export.xml"
    path.write_bytes(content)
    with pytest.raises(BadFileError) as caught:
        food.read(path, TIMEZONE)
    assert str(caught.value) == f"export.xml: {expected}"


def test_truncated_export_is_one_line(tmp_path: Path):
    path = tmp_path / "export.xml"
    path.write_bytes(EXPORT.read_bytes()[:-200])
    with pytest.raises(BadFileError) as caught:
        glucose.read(path, TIMEZONE)
    assert str(caught.value).startswith("export.xml: not well-formed XML at line ")
    assert "\n" not in str(caught.value)


def test_zip_without_an_export_is_one_line(tmp_path: Path):
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("apple_health_export/export_cda.xml", "<ClinicalDocument/>")
    with pytest.raises(BadFileError) as caught:
        glucose.read(path, TIMEZONE)
    assert str(caught.value) == "export.zip: zip archive without apple_health_export/export.xml"


def test_damaged_zip_is_one_line(tmp_path: Path):
    data = bytearray((APPLE / "export.zip").read_bytes())
    member = data.index(b"apple_health_export/export.xml")  # local header of the export
    for offset in range(member + 200, member + 400):
        data[offset] ^= 0x55
    path = tmp_path / "export.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(BadFileError) as caught:
        food.read(path, TIMEZONE)
    assert str(caught.value).startswith("export.zip: ")
    assert "\n" not in str(caught.value)
