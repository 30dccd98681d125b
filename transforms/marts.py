"""Rebuild the marts from the stored rows and validate them with their GX suites."""

from __future__ import annotations

import duckdb

from schemas.canonical import MART_TABLES, SQL_MART_TABLES
from transforms.crashpoints import crash_point
from transforms.glucose.marts import analysis_marts, glucose_marts, sensor_readings
from transforms.ingest import record_validation
from transforms.validate import ValidationOutcome, validate_frame
from transforms.warehouse import insert_frame, query_frame, run, sql, transaction


def build_marts(con: duckdb.DuckDBPyConnection) -> list[ValidationOutcome]:
    """Replace every mart's rows in one transaction, then validate and log each mart.

    Marts are derived data, so a failed expectation is recorded (and shown in reports)
    rather than quarantining anything.
    """
    readings = sensor_readings(con)
    computed = glucose_marts(readings)
    with transaction(con):
        for spec in MART_TABLES:
            run(con, f"DELETE FROM {spec.name}")
        crash_point("marts:cleared")
        for spec in SQL_MART_TABLES:
            run(con, f"INSERT INTO {spec.name} BY NAME {sql('marts', spec.name)}")
        for name, frame in computed.items():
            insert_frame(con, name, frame)
        for name, frame in analysis_marts(con, readings).items():
            insert_frame(con, name, frame)
        crash_point("marts:inserted")
    crash_point("marts:built")
    outcomes = []
    with transaction(con):
        for spec in MART_TABLES:
            frame = query_frame(con, f"SELECT * FROM {spec.name}")
            outcome = validate_frame(frame.cast(dict(spec.polars_schema())), spec,
                                     stage=f"mart {spec.name}")
            record_validation(con, outcome, batch_id=None)
            crash_point("marts:validation_logging")
            outcomes.append(outcome)
    crash_point("marts:validated")
    return outcomes

