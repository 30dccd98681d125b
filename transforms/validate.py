"""Run the Great Expectations suites derived from `schemas/` on polars frames.

GX 1.x validates pandas frames in an ephemeral context; nothing is written to disk and
analytics are off. Row-level failures come back as row positions so the caller can
quarantine exactly those rows with their reasons.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import polars as pl

from schemas.canonical import TableSpec

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import great_expectations as gx

from schemas.expectations import RuleExpectation, suite_rules


@dataclass(frozen=True)
class ValidationOutcome:
    stage: str
    suite: str
    success: bool
    expectations: int
    failed: int
    rows_checked: int
    failed_rows: pl.DataFrame  # row_index, rule, reason — one row per failing row
    details: list[dict]

    def as_record(self, batch_id: int | None) -> dict:
        return {
            "run_at": datetime.now(UTC),
            "stage": self.stage,
            "suite": self.suite,
            "batch_id": batch_id,
            "success": self.success,
            "expectations": self.expectations,
            "failed": self.failed,
            "rows_checked": self.rows_checked,
            "rows_failed": self.failed_rows.height,
            "details": json.dumps(self.details) if self.details else None,
        }


@cache
def _context() -> gx.data_context.AbstractDataContext:
    # GX pins some of its module loggers to INFO; its chatter is not the user's business.
    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.enable_analytics(False)
    context.variables.progress_bars = {"globally": False}
    return context


@cache
def _datasource():
    return _context().data_sources.add_pandas("glucomag")


@cache
def _batch_definition(asset_name: str):
    asset = _datasource().add_dataframe_asset(asset_name)
    return asset.add_batch_definition_whole_dataframe(f"{asset_name}_whole")


def _suite(name: str, rules: list[RuleExpectation], numbers: list[int]) -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=name)
    for number in numbers:
        rules[number].expectation.meta = {"rule": number}
        suite.add_expectation(rules[number].expectation)
    return suite


def validate_frame(frame: pl.DataFrame, spec: TableSpec, stage: str) -> ValidationOutcome:
    """Validate `frame` against the suite derived from `spec`.

    Returns each row that breaks a row rule once, with every rule it breaks joined by "; ".
    A first pass asks GX only whether each expectation holds (about half the cost of listing
    rows); only the expectations that fail are run again to list their rows.
    """
    batch_definition = _batch_definition(spec.name)  # creates the context suites bind to
    rules = suite_rules(spec)
    suite = _suite(f"{spec.name}_suite", rules, list(range(len(rules))))
    batch = batch_definition.get_batch(
        batch_parameters={"dataframe": frame.select(
            [c.name for c in spec.validated_columns if c.name in frame.columns]
            + [c for c in frame.columns if c not in spec.names]).to_pandas()})
    result = batch.validate(suite, result_format="BOOLEAN_ONLY")
    failing = [res.expectation_config.meta["rule"] for res in result.results if not res.success]
    failures: list[dict] = []
    details: list[dict] = []
    if failing:
        fresh = suite_rules(spec)  # a GX expectation belongs to one suite
        rows = batch.validate(_suite(f"{spec.name}_failures", fresh, failing),
                              result_format={"result_format": "COMPLETE",
                                             "unexpected_index_column_names": None})
        for res in rows.results:
            rule = fresh[res.expectation_config.meta["rule"]]
            indices = res.result.get("unexpected_index_list") or []
            details.append({"expectation": res.expectation_config.type, "column": rule.column,
                            "reason": rule.reason, "rows": len(indices)})
            if rule.row_level:
                failures.extend({"row_index": int(i), "rule": res.expectation_config.type,
                                 "reason": rule.reason} for i in indices)
    failed_rows = (
        pl.DataFrame(failures, schema={"row_index": pl.Int64, "rule": pl.String,
                                       "reason": pl.String})
        .group_by("row_index", maintain_order=True)
        .agg(pl.col("rule").str.join("; "), pl.col("reason").str.join("; "))
        .sort("row_index")
    )
    return ValidationOutcome(
        stage=stage, suite=suite.name, success=bool(result.success),
        expectations=len(result.results), failed=len(failing),
        rows_checked=frame.height, failed_rows=failed_rows, details=details,
    )
