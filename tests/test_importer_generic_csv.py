"""Generic CSV importer driven by a TOML mapping; expected values from
tests/fixtures/generic/README.md."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import FIXTURES
from transforms.importers import conform, generic_csv
from transforms.importers.base import BadFileError, read_head

GENERIC = FIXTURES / "generic"
FOOD = GENERIC / "lebensmittel.csv"
GLUCOSE = GENERIC / "glukose.csv"
MISSING = GENERIC / "missing_column.csv"
BERLIN = "Europe/Berlin"
# Every other format's fixture (exports, archives, reference tables): none may look like ours.
OTHERS = sorted(path for path in FIXTURES.glob("*/*")
                if path.parent.name != "generic" and path.suffix not in {".md", ".py", ".toml"})


def staged(path: Path, timezone: str = BERLIN) -> pl.DataFrame:
    return conform(generic_csv.read(path, timezone))


def row(frame: pl.DataFrame, source_row: int) -> dict:
    return frame.filter(pl.col("source_row") == source_row).row(0, named=True)


def refusal(path: Path, mapping: Path | None = None) -> str:
    with pytest.raises(BadFileError) as caught:
        generic_csv.read(path, BERLIN, mapping=mapping)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- food: German, `;`, decimal commas -------------------------------------------------------

def test_food_counts_kind_and_skipped_blank_row():
    imported = generic_csv.read(FOOD, BERLIN)
    assert (imported.format, imported.kind) == ("generic_csv", "food")
    assert (imported.rows_read, imported.rows_skipped) == (8, 1)  # line 6 is ;;;;;;;;;
    frame = conform(imported)
    assert frame["source_row"].to_list() == [2, 3, 4, 5, 7, 8, 9]
    assert set(frame["entry_type"]) == {"food"}


def test_food_decimal_commas_units_and_grams():
    frame = staged(FOOD)
    oats = row(frame, 2)
    assert (oats["food_name"], oats["meal"]) == ("Haferflocken", "Frühstück")
    assert (oats["amount"], oats["unit"], oats["grams"]) == (50.0, "g", 50.0)
    assert (oats["magnesium_mg"], oats["energy_kcal"], oats["carbohydrates_g"]) == (
        65.0, 186.5, 29.3)
    assert oats["local_ts"] == datetime(2026, 3, 1, 7, 30)
    assert row(frame, 3)["food_name"] == "Milch; 1,5 % Fett"
    assert row(frame, 3)["grams"] is None  # ml is volume: no grams without a portion table
    walnuts = row(frame, 5)
    assert (walnuts["amount"], walnuts["unit"], walnuts["grams"]) == (0.03, "kg", 30.0)
    assert walnuts["local_ts"] is None and walnuts["local_date"] == date(2026, 3, 1)
    assert row(frame, 4)["magnesium_mg"] is None  # blank = unknown, never zero
    assert frame["grams"].to_list() == [50.0, None, None, 30.0, 150.0, None, None]


def test_food_bad_rows_are_flagged_with_their_columns():
    frame = staged(FOOD)
    errors = frame.filter(pl.col("parse_error").is_not_null())
    assert errors["source_row"].to_list() == [8, 9]
    assert errors["parse_error"].to_list() == [
        "Uhrzeit '25:00' is not a time %H:%M; Magnesium 'abc' is not a number",
        "Datum '31.02.2026' is not a date %d.%m.%Y"]
    assert row(frame, 9)["local_date"] is None


def test_food_known_magnesium_matches_hand_sum():
    day = staged(FOOD).filter(pl.col("local_date") == date(2026, 3, 1))
    assert (day.height, day["magnesium_mg"].count()) == (4, 3)
    assert day["magnesium_mg"].sum() == pytest.approx(134.4, abs=1e-9)


def test_unmapped_columns_never_reach_the_frame():
    for path in (FOOD, GLUCOSE):
        text = generic_csv.read(path, BERLIN).frame.write_csv()
        assert "Testfirst" not in text and "Testlast" not in text
        assert "Notiz" not in text and "Note" not in text


def test_amount_and_unit_in_one_cell(tmp_path: Path):
    path = tmp_path / "log.csv"
    path.write_text("Tag;Essen;Menge\n01.03.2026;Walnüsse;0,5 kg\n01.03.2026;Tee;1 Tasse\n",
                    encoding="utf-8")
    path.with_name("log.mapping.toml").write_text(
        'kind = "food"\ndelimiter = ";"\ndecimal_comma = true\ndate = "Tag"\n'
        'date_format = "%d.%m.%Y"\nname = "Essen"\namount = "Menge"\n')
    frame = staged(path)
    assert frame.select("amount", "unit", "grams").rows() == [(0.5, "kg", 500.0),
                                                              (1.0, "Tasse", None)]
    assert frame["parse_error"].null_count() == 2


def test_encoding_from_the_mapping(tmp_path: Path):
    path = tmp_path / "ansi.csv"
    path.write_bytes("Datum;Lebensmittel\n01.03.2026;Käse\n".encode("cp1252"))
    mapping = tmp_path / "my.toml"
    mapping.write_text('kind = "food"\ndelimiter = ";"\ndate = "Datum"\n'
                       'date_format = "%d.%m.%Y"\nname = "Lebensmittel"\n')
    assert refusal(path, mapping) == ("ansi.csv, row 2: not utf-8 text; set 'encoding' in "
                                      "my.toml (e.g. cp1252)")
    mapping.write_text(mapping.read_text() + 'encoding = "cp1252"\n')
    assert generic_csv.read(path, BERLIN, mapping=mapping).frame["food_name"].to_list() == [
        "Käse"]


# --- glucose: mmol/L, LO/HI, DST ------------------------------------------------------------

def test_glucose_counts_units_and_flags():
    imported = generic_csv.read(GLUCOSE, BERLIN)
    assert (imported.kind, imported.rows_read, imported.rows_skipped) == ("glucose", 8, 0)
    frame = conform(imported)
    assert frame["source_row"].to_list() == list(range(2, 10))
    assert frame["glucose_mg_dl"].to_list() == pytest.approx(
        [99.0858, 75.66552, 79.26864, 109.89516, None, None, 126.1092, None], abs=1e-9)
    assert frame["out_of_range"].to_list() == [None] * 4 + ["below_range", "above_range",
                                                            None, None]
    assert set(frame["device"]) == {"FreeStyle Libre 2"}
    assert set(frame["kind"]) == {"sensor"}


def test_glucose_first_last_and_dst_edges():
    frame = staged(GLUCOSE)
    first, last = row(frame, 2), row(frame, 9)
    assert first["ts_utc"] == datetime(2026, 3, 28, 22, 55, tzinfo=UTC)
    assert first["local_ts"] == datetime(2026, 3, 28, 23, 55)
    assert last["ts_utc"] == datetime(2026, 10, 25, 2, 30, tzinfo=UTC)
    assert last["local_ts"] == datetime(2026, 10, 25, 3, 30)
    assert row(frame, 5)["ts_utc"] == datetime(2026, 3, 29, 1, 5, tzinfo=UTC)  # CEST now
    ambiguous = row(frame, 8)  # 02:30 happens twice: the earlier (CEST) instant
    assert ambiguous["ts_utc"] == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    missing = row(frame, 4)  # 02:30 never happens on 2026-03-29
    assert missing["ts_utc"] is None and missing["local_date"] == date(2026, 3, 29)


def test_glucose_bad_rows_are_flagged():
    errors = staged(GLUCOSE).filter(pl.col("parse_error").is_not_null())
    assert errors["source_row"].to_list() == [4, 9]
    assert errors["parse_error"].to_list() == [
        "local time 2026-03-29 02:30:00 does not exist in Europe/Berlin (clocks went forward)",
        "Glucose 'ERR' is not a number, Low or High"]


def test_glucose_timestamp_with_offset_converts_directly(tmp_path: Path):
    path = tmp_path / "bg.csv"
    path.write_text("when,mg\n2026-03-29T02:30:00+01:00,104\n2026-07-01T12:00:00-04:00,99\n")
    path.with_name("bg.csv.mapping.toml").write_text(
        'kind = "glucose"\ndate = "when"\ndate_format = "%Y-%m-%dT%H:%M:%S%z"\n'
        'value = "mg"\nunit = "mg/dl"\nkind_value = "fingerstick"\n')
    frame = staged(path)
    assert frame["ts_utc"].to_list() == [datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
                                         datetime(2026, 7, 1, 16, 0, tzinfo=UTC)]
    assert frame["local_ts"].to_list() == [datetime(2026, 3, 29, 3, 30),
                                           datetime(2026, 7, 1, 18, 0)]
    assert frame["glucose_mg_dl"].to_list() == [104.0, 99.0]
    assert set(frame["kind"]) == {"fingerstick"} and frame["parse_error"].null_count() == 2


# --- mapping errors: one line, naming the key or the column ----------------------------------

def test_mapped_column_missing_from_the_csv_is_named():
    assert refusal(MISSING) == (
        "missing_column.csv, row 1, column 'Magnesium (mg)': named by 'magnesium_mg' in "
        "missing_column.csv.mapping.toml but not in the file (found: Date, Food, Amount)")


def test_wrong_delimiter_gets_a_hint(tmp_path: Path):
    german = tmp_path / "german.csv"  # its decimal commas make ragged comma-separated rows
    german.write_bytes(FOOD.read_bytes())
    mapping = tmp_path / "semi.toml"
    mapping.write_text('kind = "food"\ndate = "Datum"\nname = "Lebensmittel"\n')
    assert refusal(german, mapping).startswith(
        "german.csv: not a readable CSV with delimiter ',' (")
    plain = tmp_path / "plain.csv"
    plain.write_text("Datum;Lebensmittel\n2026-03-01;Käse\n")
    assert refusal(plain, mapping) == (
        "plain.csv, row 1, column 'Datum': named by 'date' in semi.toml but not in the file "
        "(found: Datum;Lebensmittel); is delimiter ',' right?")


@pytest.mark.parametrize(("mapping", "expected"), [
    ('date = "Date"\nname = "Food"\n',
     "key 'kind' must be \"food\" or \"glucose\" (found: None)"),
    ('kind = "drinks"\ndate = "Date"\n',
     "key 'kind' must be \"food\" or \"glucose\" (found: 'drinks')"),
    ('kind = "food"\ndate = "Date"\n', "key 'name' is missing"),
    ('kind = "food"\ndate = "Date"\nname = "Food"\nmagnesium = "Mg"\n',
     "unknown key 'magnesium'"),
    ('kind = "food"\ndate = "Date"\nname = ""\n',
     "key 'name': String should have at least 1 character"),
    ('kind = "food"\ndate = "Date"\nname = "Food"\ndelimiter = ";;"\n',
     "key 'delimiter': String should have at most 1 character"),
    ('kind = "food"\ndate = "Date"\nname = "Food"\nencoding = "klingon"\n',
     "key 'encoding': unknown encoding 'klingon'"),
    ('kind = "glucose"\ndate = "Date"\ntime = "Time"\nvalue = "BG"\nunit = "mg%"\n',
     "key 'unit': 'mg%' is not mg/dL or mmol/L"),
    ('kind = "glucose"\ndate = "Date"\nvalue = "BG"\nunit = "mg/dL"\n',
     "glucose readings need a time: map 'time' or give a date_format with %H"),
    ('kind = "glucose"\ndate = "Date"\ntime = "Time"\nvalue = "BG"\nunit = "mg/dL"\n'
     'device = "PL82501061"\n',
     "key 'device': 'PL82501061' looks like a serial number; name the device instead"),
    ('kind = "food"\ndate = "Date"\ndate_format = "%Y-%m-%d %H:%M"\ntime = "Time"\n'
     'name = "Food"\n',
     "date_format already holds a time; drop 'time' or the time in date_format"),
    ('kind = "food"\ndate = Date\n',
     "is not valid TOML (Invalid value (at line 2, column 8))"),
])
def test_invalid_mapping_is_one_line_naming_the_key(mapping: str, expected: str,
                                                    tmp_path: Path):
    path = tmp_path / "log.csv"
    path.write_text("Date,Time,Food,BG\n2026-03-01,08:00,Oats,100\n")
    path.with_name("log.csv.mapping.toml").write_text(mapping)
    message = refusal(path)
    assert message.startswith("log.csv: mapping log.csv.mapping.toml")
    assert message.endswith(expected)


def test_no_mapping_is_refused_in_one_line(tmp_path: Path):
    path = tmp_path / "lonely.csv"
    path.write_text("a,b\n1,2\n")
    assert refusal(path) == ("lonely.csv: no mapping: write lonely.csv.mapping.toml beside it "
                             "(kind, date, and the columns to read)")


# --- detection ------------------------------------------------------------------------------

def test_detect_never_guesses_from_content():
    for path in (FOOD, GLUCOSE, MISSING, *OTHERS):
        assert not generic_csv.detect(read_head(path))


def test_detect_path_follows_the_mapping_file():
    assert generic_csv.detect_path(FOOD)  # lebensmittel.csv.mapping.toml
    assert generic_csv.detect_path(GLUCOSE)  # glukose.mapping.toml
    assert generic_csv.detect_path(MISSING)
    for other in OTHERS:
        assert not generic_csv.detect_path(other), other.name
