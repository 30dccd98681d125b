"""One schema: DuckDB tables and GX suites are derived from it and agree with it."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from schemas.canonical import (
    DAILY_SUMMARY,
    FOOD_ENTRY,
    GLUCOSE_READING,
    STORED_FOOD_ENTRY,
    WAREHOUSE_TABLES,
)
from schemas.expectations import suite_rules
from transforms.validate import validate_frame
from transforms.warehouse import run

# The public views' columns, exactly as the README documents them.
DOCUMENTED_VIEWS = {
    "food_entries": ["entry_id", "subject_id", "source", "local_date", "local_ts", "meal",
                     "food_name", "amount", "unit", "grams", "magnesium_mg", "magnesium_source",
                     "match_food_id", "match_confidence", "batch_id", "match_method",
                     "match_food_name", "unknown_reason", "export_magnesium_mg"],
    "glucose_readings": ["subject_id", "source", "device", "ts_utc", "local_ts", "local_date",
                         "glucose_mg_dl", "out_of_range", "kind", "batch_id"],
    "import_batches": ["batch_id", "file_name", "sha256", "format", "rows_read", "rows_stored",
                       "rows_duplicate", "rows_quarantined", "rows_skipped", "rows_superseded",
                       "rows_replaced", "started_at", "finished_at", "status", "message"],
    "daily_summary": DAILY_SUMMARY.names,
}


def columns_of(con, relation: str) -> list[str]:
    return [row[0] for row in run(con, f"DESCRIBE {relation}")]


def test_stored_tables_are_created_from_the_specs(con):
    for spec in (*WAREHOUSE_TABLES, DAILY_SUMMARY):
        assert columns_of(con, spec.name) == spec.names
    not_null = {row[0] for row in run(con, "DESCRIBE core_food_entries") if row[2] == "NO"}
    assert not_null == {c.name for c in STORED_FOOD_ENTRY.columns if not c.nullable}


def test_public_views_have_the_documented_columns(con):
    for view, names in DOCUMENTED_VIEWS.items():
        assert columns_of(con, view) == names


def test_suite_has_one_expectation_per_rule():
    rules = suite_rules(GLUCOSE_READING)
    by_column = {}
    for rule in rules:
        by_column.setdefault(rule.column, []).append(type(rule.expectation).__name__)
    assert by_column[None] == ["ExpectTableColumnsToMatchOrderedList"]
    assert sorted(by_column["glucose_mg_dl"]) == ["ExpectColumnValuesToBeBetween",
                                                  "ExpectColumnValuesToNotBeNull"]
    assert sorted(by_column["kind"]) == ["ExpectColumnValuesToBeInSet",
                                         "ExpectColumnValuesToNotBeNull"]
    assert by_column["parse_error"] == ["ExpectColumnValuesToBeNull"]
    non_nullable = {c.name for c in FOOD_ENTRY.validated_columns if not c.nullable}
    not_null_rules = {r.column for r in suite_rules(FOOD_ENTRY)
                      if type(r.expectation).__name__ == "ExpectColumnValuesToNotBeNull"}
    assert not_null_rules == non_nullable


def daily(**changes) -> pl.DataFrame:
    base = {"subject_id": ["me", "me"], "local_date": [date(2026, 3, 1), date(2026, 3, 2)],
            "food_entries": [3, 0], "entries_with_magnesium": [2, 0],
            "entries_without_magnesium": [1, 0], "magnesium_known_mg": [250.0, None],
            "magnesium_supplement_mg": [0.0, None],
            "glucose_readings": [288, 280], "glucose_mean_mg_dl": [101.5, 99.0],
            "glucose_in_range_share": [0.97, 1.0]}
    return pl.DataFrame({**base, **changes}, schema=DAILY_SUMMARY.polars_schema())


def test_a_sound_mart_passes():
    outcome = validate_frame(daily(), DAILY_SUMMARY, "mart daily_summary")
    assert outcome.success and outcome.failed == 0 and outcome.failed_rows.height == 0


def test_a_broken_mart_fails_naming_the_rules():
    broken = daily(local_date=[date(2026, 3, 1)] * 2, glucose_in_range_share=[0.97, 1.2])
    outcome = validate_frame(broken, DAILY_SUMMARY, "mart daily_summary")
    assert not outcome.success
    reasons = sorted(d["reason"] for d in outcome.details)
    assert reasons == ["duplicate subject_id, local_date",
                       "glucose_in_range_share outside the plausible range [0, 1]"]
    assert outcome.failed_rows.rows() == [
        (1, "expect_column_values_to_be_between",
         "glucose_in_range_share outside the plausible range [0, 1]")]


def test_a_frame_with_a_missing_column_fails_the_table_rule():
    outcome = validate_frame(daily().drop("glucose_readings"), DAILY_SUMMARY, "mart")
    assert not outcome.success
    assert any(d["expectation"] == "expect_table_columns_to_match_ordered_list"
               for d in outcome.details)


@pytest.mark.parametrize("value", [9.0, 1001.0])
def test_implausible_glucose_is_a_row_failure(value: float):
    from datetime import UTC, datetime

    frame = pl.DataFrame({
        "source_row": [2], "device": ["iPhone G6"],
        "ts_utc": [datetime(2026, 3, 1, 12, tzinfo=UTC)], "local_ts": [datetime(2026, 3, 1, 7)],
        "local_date": [date(2026, 3, 1)], "glucose_mg_dl": [value], "out_of_range": [None],
        "kind": ["sensor"], "parse_error": [None], "raw_record": ["{}"],
    }, schema=GLUCOSE_READING.polars_schema())
    outcome = validate_frame(frame, GLUCOSE_READING, "staged glucose rows")
    assert outcome.failed_rows["row_index"].to_list() == [0]
