"""xDrip+ SiDiary CSV importer; expected values from tests/fixtures/xdrip/README.md."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import FIXTURES, fixtures_outside
from transforms.importers import conform, xdrip_sidiary
from transforms.importers.base import BadFileError, ImportedFile, read_head

TIMEZONE = "Europe/Berlin"
XDRIP = FIXTURES / "xdrip"
EXPORT = XDRIP / "sidiary_export.csv"
QUOTED = XDRIP / "sidiary_bom_crlf_quoted.csv"


def imported_and_staged(path: Path) -> tuple[ImportedFile, pl.DataFrame]:
    imported = xdrip_sidiary.read(path, TIMEZONE)
    return imported, conform(imported)


def row(frame: pl.DataFrame, source_row: int, kind: str = "sensor") -> dict:
    return frame.filter((pl.col("source_row") == source_row)
                        & (pl.col("kind") == kind)).row(0, named=True)


def test_counts_per_kind_and_skipped_treatments():
    imported, frame = imported_and_staged(EXPORT)
    assert (imported.format, imported.kind) == ("xdrip_sidiary", "glucose")
    assert (imported.rows_read, imported.rows_skipped) == (16, 2)
    assert frame.height == 15
    assert frame.filter(pl.col("kind") == "sensor").height == 12
    assert frame.filter(pl.col("kind") == "fingerstick")["source_row"].to_list() == [13, 14, 15]
    assert frame["source_row"].to_list() == [*range(2, 16), 15]
    assert set(frame["device"]) == {"xDrip+"}
    assert frame["out_of_range"].null_count() == 15


def test_first_and_last_timestamps():
    _, frame = imported_and_staged(EXPORT)
    first, last = frame.row(0, named=True), frame.row(-1, named=True)
    assert (first["ts_utc"], first["local_ts"]) == (datetime(2026, 3, 28, 22, 55, tzinfo=UTC),
                                                    datetime(2026, 3, 28, 23, 55))
    assert (last["ts_utc"], last["local_ts"]) == (datetime(2026, 10, 25, 11, 5, tzinfo=UTC),
                                                  datetime(2026, 10, 25, 12, 5))
    assert (last["kind"], last["glucose_mg_dl"]) == ("fingerstick", 138.0)
    assert frame["ts_utc"].min() == datetime(2026, 3, 28, 22, 55, tzinfo=UTC)
    assert frame["ts_utc"].max() == datetime(2026, 10, 25, 11, 5, tzinfo=UTC)
    assert frame["local_ts"].min() == datetime(2026, 3, 28, 23, 55)
    assert frame["local_ts"].max() == datetime(2026, 10, 25, 12, 5)


def test_decimal_commas_ragged_rows_and_two_readings_on_one_row():
    _, frame = imported_and_staged(EXPORT)
    assert row(frame, 9)["glucose_mg_dl"] == 112.5
    assert row(frame, 14, "fingerstick")["glucose_mg_dl"] == 104.5
    ragged = row(frame, 10)
    assert (ragged["glucose_mg_dl"], ragged["ts_utc"]) == (118.0,
                                                           datetime(2026, 10, 25, 7, 5, tzinfo=UTC))
    both = frame.filter(pl.col("source_row") == 15)
    assert both.select("kind", "glucose_mg_dl").rows() == [("sensor", 140.0),
                                                           ("fingerstick", 138.0)]
    assert both["ts_utc"].unique().to_list() == [datetime(2026, 10, 25, 11, 5, tzinfo=UTC)]


@pytest.mark.parametrize(("source_row", "expected_utc"), [
    (3, datetime(2026, 3, 29, 0, 55, tzinfo=UTC)),    # 01:55 CET, before the jump
    (4, None),                                        # 02:30 never happens on 2026-03-29
    (5, datetime(2026, 3, 29, 1, 5, tzinfo=UTC)),     # 03:05 CEST
    (6, datetime(2026, 10, 24, 21, 55, tzinfo=UTC)),  # 23:55 CEST
    (7, datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),   # 02:30 twice: the earlier (CEST) instant
    (8, datetime(2026, 10, 25, 2, 10, tzinfo=UTC)),   # 03:10 CET
])
def test_dst_edges_in_berlin(source_row: int, expected_utc: datetime | None):
    _, frame = imported_and_staged(EXPORT)
    assert row(frame, source_row)["ts_utc"] == expected_utc


def test_bad_rows_are_flagged_not_dropped():
    _, frame = imported_and_staged(EXPORT)
    flagged = frame.filter(pl.col("parse_error").is_not_null())
    assert dict(zip(flagged["source_row"], flagged["parse_error"], strict=True)) == {
        4: "local time 2026-03-29 02:30:00 does not exist in Europe/Berlin (clocks went forward)",
        11: "DAY '31.02.2026' is not a date DD.MM.YYYY",
        12: "UDT_CGMS 'abc' is not a number",
    }
    assert row(frame, 4)["local_ts"] == datetime(2026, 3, 29, 2, 30)
    assert row(frame, 11)["local_ts"] is None
    assert row(frame, 12)["glucose_mg_dl"] is None


def test_skipped_rows_leave_nothing_in_the_output():
    imported, frame = imported_and_staged(EXPORT)
    for text in (imported.frame.write_csv(), frame.write_csv()):
        assert "Pizza" not in text and "Sensor change" not in text


def test_bom_crlf_quoted_variant_keeps_file_line_numbers():
    imported, frame = imported_and_staged(QUOTED)
    assert (imported.rows_read, imported.rows_skipped) == (3, 0)
    assert frame.select("source_row", "kind", "glucose_mg_dl", "ts_utc").rows() == [
        (2, "sensor", 101.0, datetime(2026, 3, 1, 6, 0, tzinfo=UTC)),
        (3, "sensor", 99.0, datetime(2026, 3, 1, 6, 5, tzinfo=UTC)),
        (5, "fingerstick", 95.0, datetime(2026, 3, 1, 6, 10, tzinfo=UTC)),
    ]
    assert frame["local_ts"].to_list()[0] == datetime(2026, 3, 1, 7, 0)
    assert frame["parse_error"].null_count() == 3


def test_without_the_sensor_column_is_refused_in_one_line(tmp_path: Path):
    path = tmp_path / "export.csv"
    path.write_text("DAY;TIME;BG_LEVEL;CH_GR\n01.03.2026;07:00;104;\n")
    with pytest.raises(BadFileError) as caught:
        xdrip_sidiary.read(path, TIMEZONE)
    assert str(caught.value).startswith("export.csv, row 1, column 'UDT_CGMS': ")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("path", [EXPORT, QUOTED])
def test_detects_its_own_fixtures(path: Path):
    assert xdrip_sidiary.detect(read_head(path))


@pytest.mark.parametrize("path", fixtures_outside(XDRIP),
                         ids=lambda p: str(p.relative_to(FIXTURES)))
def test_does_not_detect_other_fixtures(path: Path):
    assert not xdrip_sidiary.detect(read_head(path))
