"""Importing into a real DuckDB file: transactions, idempotence, quarantine, failures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, TIMEZONE
from transforms.ingest import import_file
from transforms.magnesium import enrich
from transforms.warehouse import run

SMALL = FIXTURES / "cronometer" / "servings_small.csv"
BAD_ROWS = FIXTURES / "cronometer" / "servings_bad_rows.csv"
NO_DAY = FIXTURES / "cronometer" / "servings_no_day_column.csv"
MGDL = FIXTURES / "dexcom" / "clarity_mgdl.csv"
DEXCOM_BAD = FIXTURES / "dexcom" / "clarity_bad_rows.csv"


def counts(con) -> dict[str, int]:
    return {table: run(con, f"SELECT count(*) FROM {table}")[0][0]
            for table in ("food_entries", "glucose_readings", "quarantined_rows",
                          "import_batches")}


def test_import_stores_rows_with_export_magnesium_and_unknowns(con):
    summary = import_file(con, SMALL, TIMEZONE, "me")
    assert (summary.status, summary.rows_stored, summary.rows_quarantined) == ("stored", 12, 0)
    rows = run(con, "SELECT magnesium_source, count(*), sum(magnesium_mg) FROM food_entries "
                    "GROUP BY ALL ORDER BY 1")
    assert rows[0][:2] == ("export", 10) and rows[0][2] == pytest.approx(881.66)
    assert rows[1] == ("unknown", 2, None)
    # the identical rows of lines 11 and 12 are two entries with two ids
    assert run(con, "SELECT count(DISTINCT entry_id) FROM food_entries "
                    "WHERE food_name = 'Pumpkin Seeds, dried'")[0][0] == 2


def test_same_file_again_is_a_no_op(con):
    first = import_file(con, SMALL, TIMEZONE, "me")
    before = counts(con)
    again = import_file(con, SMALL, TIMEZONE, "me")
    assert (again.status, again.batch_id) == ("already_imported", first.batch_id)
    assert counts(con) == before


def test_overlapping_export_stores_only_new_rows(con, tmp_path: Path):
    import_file(con, SMALL, TIMEZONE, "me")
    lines = SMALL.read_text().splitlines()
    extra = lines[-1].replace("2026-03-03", "2026-03-04")
    overlapping = tmp_path / "servings_next_month.csv"
    overlapping.write_text("\n".join([*lines[:1], *lines[5:], extra]) + "\n")  # lines 6–13 + 1 new
    summary = import_file(con, overlapping, TIMEZONE, "me")
    assert (summary.rows_stored, summary.rows_duplicate) == (1, 8)
    assert counts(con)["food_entries"] == 13


def test_bad_rows_are_quarantined_with_reasons_and_good_rows_stored(con):
    summary = import_file(con, BAD_ROWS, TIMEZONE, "me")
    assert (summary.rows_stored, summary.rows_quarantined) == (3, 3)
    quarantined = run(con, "SELECT source_row, reason, raw_record FROM quarantined_rows "
                           "ORDER BY source_row")
    assert [row[0] for row in quarantined] == [3, 5, 6]
    assert quarantined[0][1].startswith("Day '2026-02-30' is not a date")
    assert "food_name is empty" in quarantined[1][1] or "food_name is missing" in quarantined[1][1]
    assert "magnesium_mg outside the plausible range [0, 5000]" in quarantined[2][1]
    assert '"Magnesium (mg)":"-5.00"' in quarantined[2][2]  # the row as read is kept
    assert run(con, "SELECT sum(magnesium_mg) FROM food_entries")[0][0] == pytest.approx(163.14)
    validation = run(con, "SELECT stage, success, rows_failed FROM validation_runs ORDER BY 1")
    assert validation == [("enriched food entries", True, 0), ("staged food rows", False, 3)]


def test_dexcom_bad_rows_quarantined_without_personal_data(con):
    summary = import_file(con, DEXCOM_BAD, TIMEZONE, "me")
    assert (summary.rows_stored, summary.rows_quarantined) == (5, 2)
    assert run(con, "SELECT avg(glucose_mg_dl) FROM glucose_readings")[0][0] == pytest.approx(
        108.2)
    raw = " ".join(r[0] for r in run(con, "SELECT raw_record FROM quarantined_rows"))
    for personal in ("Testfirst", "Testlast", "1975-05-05", "8TEST9"):
        assert personal not in raw


def test_malformed_file_stores_nothing_and_keeps_earlier_data(con):
    import_file(con, MGDL, TIMEZONE, "me")
    before = counts(con)
    summary = import_file(con, NO_DAY, TIMEZONE, "me")
    assert summary.status == "failed"
    assert summary.message.startswith("servings_no_day_column.csv, row 1, column 'Day'")
    after = counts(con)
    assert after == {**before, "import_batches": before["import_batches"] + 1}
    assert run(con, "SELECT status, message FROM import_batches ORDER BY batch_id DESC "
                    "LIMIT 1")[0] == ("failed", summary.message)


def test_a_failure_mid_import_rolls_back_everything(con, monkeypatch):
    import_file(con, MGDL, TIMEZONE, "me")
    before = counts(con)
    real_sql = enrich.sql

    def failing_enrichment(layer: str, relation: str) -> str:
        if (layer, relation) == ("enrichment", "core_food_entries"):
            return "SELECT error('disk full, say')"  # fails after the rows were inserted
        return real_sql(layer, relation)

    monkeypatch.setattr(enrich, "sql", failing_enrichment)
    with pytest.raises(Exception, match="disk full"):
        import_file(con, SMALL, TIMEZONE, "me")
    assert counts(con) == before
    monkeypatch.undo()
    assert import_file(con, SMALL, TIMEZONE, "me").rows_stored == 12  # nothing half-done


def test_import_survives_reopening_the_file(settings):
    from transforms.warehouse import connect

    with connect(settings.warehouse) as first:
        import_file(first, MGDL, TIMEZONE, "me")
    copy = settings.home / "copy.duckdb"
    shutil.copy2(settings.warehouse, copy)
    with connect(copy) as reopened:
        assert run(reopened, "SELECT count(*) FROM glucose_readings")[0][0] == 21
        assert import_file(reopened, MGDL, TIMEZONE, "me").status == "already_imported"
