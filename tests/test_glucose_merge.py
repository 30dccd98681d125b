"""The same reading from two devices or sources is kept once, the preferred one, with lineage."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tests.conftest import TIMEZONE
from transforms.ingest import import_file
from transforms.warehouse import run

HEADER = ("Index,Timestamp (YYYY-MM-DDThh:mm:ss),Event Type,Event Subtype,Patient Info,"
          "Device Info,Source Device ID,Glucose Value (mg/dL)")


def clarity(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """(timestamp, source device, value) rows as a Dexcom Clarity export."""
    lines = [HEADER] + [f"{i},{ts},EGV,,,,{device},{value}"
                        for i, (ts, device, value) in enumerate(rows, start=1)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_receiver_and_phone_overlap_is_kept_once(con, tmp_path):
    # phone: 08:00, 08:05, 08:10, 08:15; receiver (a serial → "Dexcom receiver") repeats
    # 08:05 and 08:10 about 40 s later with the same values, and 08:10 a second time
    # with a different value (a different reading: kept).
    path = clarity(tmp_path / "clarity.csv", [
        ("2026-03-02T08:00:10", "iPhone G6", "101"), ("2026-03-02T08:05:10", "iPhone G6", "104"),
        ("2026-03-02T08:10:10", "iPhone G6", "108"), ("2026-03-02T08:15:10", "iPhone G6", "Low"),
        ("2026-03-02T08:05:52", "PL82501061", "104"), ("2026-03-02T08:10:50", "PL82501061", "108"),
        ("2026-03-02T08:15:45", "PL82501061", "Low"), ("2026-03-02T08:20:40", "PL82501061", "99"),
    ])
    summary = import_file(con, path, TIMEZONE, "me")
    assert (summary.rows_stored, summary.rows_superseded, summary.rows_replaced) == (8, 3, 0)
    public = run(con, "SELECT strftime(local_ts, '%H:%M'), device, glucose_mg_dl, out_of_range "
                      "FROM glucose_readings ORDER BY ts_utc")
    # the phone has more readings in the file (4 vs 4 → tie → earlier entry id); the merged
    # series has one reading per time
    assert [row[0] for row in public] == ["08:00", "08:05", "08:10", "08:15", "08:20"]
    assert run(con, "SELECT count(*) FROM core_glucose_readings")[0][0] == 8  # lineage kept
    kept_by = run(con, "SELECT count(DISTINCT superseded_by) FROM core_glucose_readings "
                       "WHERE superseded_by IS NOT NULL")[0][0]
    assert kept_by == 3
    assert "3 already stored from a preferred source or device" in summary.line()


def test_a_preferred_source_replaces_and_a_lesser_one_is_not_kept(con, tmp_path):
    first = clarity(tmp_path / "a.csv", [("2026-03-02T08:00:10", "iPhone G6", "101"),
                                        ("2026-03-02T08:05:10", "iPhone G6", "104")])
    second = clarity(tmp_path / "b.csv", [("2026-03-02T08:00:40", "Android G6", "101"),
                                         ("2026-03-02T08:05:40", "Android G6", "140"),
                                         ("2026-03-02T08:10:40", "Android G6", "110")])
    import_file(con, first, TIMEZONE, "me")
    # same source, other device: ranks tie on source, the device with more readings wins
    summary = import_file(con, second, TIMEZONE, "me")
    assert (summary.rows_superseded, summary.rows_replaced) == (0, 1)
    public = run(con, "SELECT strftime(local_ts, '%H:%M:%S'), device FROM glucose_readings "
                      "ORDER BY ts_utc")
    assert public == [("08:00:40", "Android G6"), ("08:05:10", "iPhone G6"),
                      ("08:05:40", "Android G6"), ("08:10:40", "Android G6")]


def test_priority_order_decides_between_sources(con, tmp_path):
    path = clarity(tmp_path / "a.csv", [("2026-03-02T08:00:10", "iPhone G6", "101")])
    other = clarity(tmp_path / "b.csv", [("2026-03-02T08:00:20", "Android G6", "101"),
                                        ("2026-03-02T08:05:20", "Android G6", "103")])
    import_file(con, path, TIMEZONE, "me")
    run(con, "UPDATE core_glucose_readings SET source = 'nightscout_entries'")  # a relay
    summary = import_file(con, other, TIMEZONE, "me")
    assert (summary.rows_superseded, summary.rows_replaced) == (0, 1)
    assert run(con, "SELECT source, count(*) FROM glucose_readings GROUP BY 1") == [
        ("dexcom_clarity", 2)]


def test_clarity_and_nightscout_hold_the_same_readings_once(con, tmp_path):
    """Nightscout relays the same sensor: its 18 numeric readings (20 s later) are the
    Clarity file's; whichever comes first, the public series keeps Clarity's 20."""
    import json
    from datetime import timedelta

    from tests.conftest import FIXTURES
    from transforms.importers import conform, read_file

    clarity_file = FIXTURES / "dexcom" / "clarity_mgdl.csv"
    sensor = conform(read_file(clarity_file, TIMEZONE)).filter(
        (pl.col("kind") == "sensor") & pl.col("glucose_mg_dl").is_not_null())
    assert sensor.height == 18
    entries = [{"type": "sgv", "sgv": int(value), "device": "xDrip-DexcomG6",
                "date": int((ts + timedelta(seconds=20)).timestamp() * 1000)}
               for ts, value in zip(sensor["ts_utc"], sensor["glucose_mg_dl"], strict=True)]
    relay = tmp_path / "entries.json"
    relay.write_text(json.dumps(entries[::-1]))  # Nightscout writes newest first

    first = import_file(con, relay, TIMEZONE, "me")
    second = import_file(con, clarity_file, TIMEZONE, "me")
    assert (first.rows_stored, first.rows_superseded) == (18, 0)
    assert (second.rows_stored, second.rows_replaced) == (21, 18)
    assert run(con, "SELECT source, kind, count(*) FROM glucose_readings GROUP BY ALL "
                    "ORDER BY ALL") == [("dexcom_clarity", "fingerstick", 1),
                                        ("dexcom_clarity", "sensor", 20)]
    assert run(con, "SELECT count(*) FROM core_glucose_readings")[0][0] == 39
