"""The DuckDB warehouse: connection, DDL from `schemas/`, SQL files by relation name.

One writer at a time: DuckDB lets one process open the file read-write, so `connect()` waits
(with backoff, up to `GLUCOMAG_LOCK_TIMEOUT` seconds) for another glucomag run to finish.
Opening also upgrades a warehouse made by an earlier glucomag (`migrations.py`) and refuses
one made by a newer one.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache
from importlib import resources
from pathlib import Path

import duckdb
import polars as pl

from schemas.canonical import MART_TABLES, WAREHOUSE_TABLES
from schemas.ddl import warehouse_ddl
from transforms.crashpoints import crash_point
from transforms.migrations import SCHEMA_VERSION, WarehouseError, columns_of, migrate

MACROS = ("name_key", "unit_key")
VIEWS = ("food_entries", "glucose_readings", "import_batches", "food_matches")
LOCK_TIMEOUT_ENV = "GLUCOMAG_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT_S = 60.0


class WarehouseBusyError(WarehouseError):
    """Another process kept the warehouse open for longer than the wait limit."""


@cache
def sql(layer: str, relation: str) -> str:
    """The SQL text of `transforms/sql/<layer>/<relation>.sql`."""
    return resources.files("transforms").joinpath("sql", layer, f"{relation}.sql").read_text()


def lock_timeout() -> float:
    """Seconds to wait for another run to release the warehouse (`GLUCOMAG_LOCK_TIMEOUT`)."""
    text = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_LOCK_TIMEOUT_S
    try:
        return max(float(text), 0.0)
    except ValueError:
        raise WarehouseError(f"{LOCK_TIMEOUT_ENV}={text!r} is not a number of seconds"
                             ) from None


def _open_when_free(path: Path, timeout: float) -> duckdb.DuckDBPyConnection:
    """`duckdb.connect`, retried with backoff while another process holds the file's lock."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as error:
            message = str(error)
            if "Could not set lock" not in message and "Conflicting lock" not in message:
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pid = re.search(r"PID (\d+)", message)
                holder = f", process {pid.group(1)}" if pid else ""
                raise WarehouseBusyError(
                    f"another glucomag run is using the warehouse ({path}{holder}); "
                    f"gave up after {timeout:g} s") from None
            # Jitter: two waiting runs should not retry in lockstep.
            time.sleep(min(delay * random.uniform(0.5, 1.0), remaining))
            delay = min(delay * 2, 1.0)


def _drop_changed_marts(con: duckdb.DuckDBPyConnection) -> None:
    """Marts are derived: one whose columns differ from its spec is dropped, recreated empty
    by the DDL and refilled by the next rebuild (no migration needed for mart changes)."""
    for spec in MART_TABLES:
        stored = columns_of(con, spec.name)
        if stored and stored != spec.names:
            run(con, f"DROP TABLE {spec.name}")


def _check_shape(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Every stored table has the columns its spec declares: a schema change shipped without
    a migration is caught here, in one line, instead of as a failing INSERT later."""
    for spec in WAREHOUSE_TABLES:
        stored = set(columns_of(con, spec.name))
        missing = [name for name in spec.names if name not in stored]
        if missing:
            raise WarehouseError(
                f"{path.name}: table {spec.name} lacks column(s) {', '.join(missing)} "
                f"at schema version {SCHEMA_VERSION} (a schema change without a migration)")


def connect(path: Path, lock_timeout_s: float | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse for writing: wait while another run uses it, upgrade an older one,
    create tables, macros and views on first use, load shipped reference data whenever it
    changed.

    Raises `WarehouseBusyError` after the wait limit and `WarehouseVersionError` for a
    warehouse written by a newer glucomag (both one-line `WarehouseError`s).
    """
    from transforms.magnesium.enrich import enrich_entries  # both build on this module
    from transforms.magnesium.reference import ensure_reference

    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    con = _open_when_free(path, lock_timeout() if lock_timeout_s is None else lock_timeout_s)
    if created:
        path.chmod(0o600)  # health data: the owner's only, whatever the umask
    try:
        # Instants come back as UTC whatever the machine's zone (DuckDB's default is the
        # system zone): frames, ids and text renderings are the same everywhere.
        run(con, "SET TimeZone = 'UTC'")
        with transaction(con):
            for macro in MACROS:
                run(con, sql("macros", macro))
            upgraded = migrate(con, path.name)
            _drop_changed_marts(con)
            for statement in warehouse_ddl():
                run(con, statement)
            _check_shape(con, path)
            for view in VIEWS:
                run(con, sql("views", view))
            crash_point("warehouse:schema")
        ensure_reference(con)
        if upgraded:
            # Entries stored before an upgrade get their magnesium resolved the current way.
            with transaction(con):
                enrich_entries(con)
    except BaseException:
        con.close()
        raise
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
        # In an aborted transaction unregistering fails too; that error would hide the one
        # that aborted it (a later register() replaces the name anyway).
        with suppress(duckdb.TransactionException):
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
