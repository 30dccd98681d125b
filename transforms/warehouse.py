"""The DuckDB warehouse: connection, DDL from `schemas/`, SQL files by relation name."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources
from pathlib import Path

import duckdb
import polars as pl

from schemas.ddl import warehouse_ddl

MACROS = ("name_key", "unit_key")
VIEWS = ("food_entries", "glucose_readings", "import_batches", "food_matches")


@cache
def sql(layer: str, relation: str) -> str:
    """The SQL text of `transforms/sql/<layer>/<relation>.sql`."""
    return resources.files("transforms").joinpath("sql", layer, f"{relation}.sql").read_text()


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    """Open the warehouse: tables, macros and views on first use, shipped reference data
    whenever it changed."""
    from transforms.magnesium.reference import ensure_reference  # it builds on this module

    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    with transaction(con):
        for macro in MACROS:
            run(con, sql("macros", macro))
        for statement in warehouse_ddl():
            run(con, statement)
        for view in VIEWS:
            run(con, sql("views", view))
    ensure_reference(con)
    return con


def run(con: duckdb.DuckDBPyConnection, statement: str,
        params: dict | None = None) -> list[tuple]:
    """Execute one statement with bound parameters and consume its result.

    DuckDB 2 keeps a connection busy until a result is fetched, so nothing is left pending.
    """
    return con.execute(statement, params).fetchall()


def query_frame(con: duckdb.DuckDBPyConnection, statement: str,
                params: dict | None = None) -> pl.DataFrame:
    """A query's result as a polars frame (via Arrow, no row loop)."""
    result = pl.from_arrow(con.sql(statement, params=params).to_arrow_table())
    assert isinstance(result, pl.DataFrame)
    return result


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str,
               frame: pl.DataFrame) -> Iterator[str]:
    """Expose a polars frame to SQL as `name` (zero-copy via Arrow) for the block's duration."""
    con.register(name, frame)
    try:
        yield name
    finally:
        con.unregister(name)


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """Append a polars frame to `table`, matching columns by name."""
    with registered(con, "_frame_to_insert", frame):
        run(con, f"INSERT INTO {table} BY NAME SELECT * FROM _frame_to_insert")


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All statements inside commit together or not at all."""
    run(con, "BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        run(con, "ROLLBACK")
        raise
    run(con, "COMMIT")
