"""Great Expectations suites derived from the canonical specs.

Each rule of a `Column` becomes one expectation; the suite also checks the exact column set
and the unique key. `RuleExpectation.reason` is the sentence a quarantined row carries.
"""

from __future__ import annotations

from dataclasses import dataclass

import great_expectations as gx
from great_expectations.expectations.row_conditions import Column as GxColumn

from schemas.canonical import Column, TableSpec


@dataclass(frozen=True)
class RuleExpectation:
    expectation: gx.expectations.Expectation
    column: str | None
    reason: str
    row_level: bool


def _column_rules(col: Column) -> list[RuleExpectation]:
    e = gx.expectations
    rules: list[RuleExpectation] = []
    if not col.nullable:
        rules.append(RuleExpectation(e.ExpectColumnValuesToNotBeNull(column=col.name), col.name,
                                     f"{col.name} is missing or could not be parsed", True))
    if col.required_unless:
        rules.append(RuleExpectation(
            e.ExpectColumnValuesToNotBeNull(
                column=col.name, row_condition=GxColumn(col.required_unless).is_null()),
            col.name,
            f"{col.name} is missing or could not be parsed (and no {col.required_unless} flag)",
            True,
        ))
    if col.min_value is not None or col.max_value is not None:
        lo = "" if col.min_value is None else f"{col.min_value:g}"
        hi = "" if col.max_value is None else f"{col.max_value:g}"
        rules.append(RuleExpectation(
            e.ExpectColumnValuesToBeBetween(column=col.name, min_value=col.min_value,
                                            max_value=col.max_value),
            col.name, f"{col.name} outside the plausible range [{lo}, {hi}]", True))
    if col.allowed:
        rules.append(RuleExpectation(
            e.ExpectColumnValuesToBeInSet(column=col.name, value_set=list(col.allowed)),
            col.name, f"{col.name} not one of {', '.join(col.allowed)}", True))
    if col.must_be_null:
        rules.append(RuleExpectation(e.ExpectColumnValuesToBeNull(column=col.name), col.name,
                                     "cells could not be parsed", True))
    if col.non_empty:
        rules.append(RuleExpectation(
            e.ExpectColumnValueLengthsToBeBetween(column=col.name, min_value=1),
            col.name, f"{col.name} is empty", True))
    return rules


def suite_rules(spec: TableSpec) -> list[RuleExpectation]:
    """Every expectation for a spec: the column set, each column's rules, the unique key."""
    e = gx.expectations
    columns = spec.validated_columns
    rules = [RuleExpectation(
        e.ExpectTableColumnsToMatchOrderedList(column_list=[c.name for c in columns]), None,
        f"columns differ from {spec.name}", False)]
    for col in columns:
        rules.extend(_column_rules(col))
    if len(spec.unique_key) > 1:
        rules.append(RuleExpectation(
            e.ExpectCompoundColumnsToBeUnique(column_list=list(spec.unique_key)), None,
            f"duplicate {', '.join(spec.unique_key)}", False))
    return rules
