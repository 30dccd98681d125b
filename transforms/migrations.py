"""Schema migrations: bring a warehouse made by an earlier glucomag up to this one's shape.

The warehouse records its version in `schema_version` (one row per version reached, with
when). `MIGRATIONS` is the ordered registry; `connect()` applies the ones a warehouse lacks,
all inside its opening transaction, so an upgrade happens completely or not at all.

Migrations are for changes to *stored* tables (columns added, renamed, re-typed). New tables
need none: `CREATE TABLE IF NOT EXISTS` adds them, and marts are derived data that
`warehouse.connect()` recreates when their columns change.

Each migration is frozen SQL for the shape it upgrades *from*; it must never be edited once
released (warehouses in the field went through it). Warehouses made before versioning existed
(no `schema_version` table) are version 0 and may be any earlier shape, so the early
migrations only add what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from transforms.crashpoints import crash_point

Connection = duckdb.DuckDBPyConnection


class WarehouseError(Exception):
    """A warehouse that cannot be used as it is: shown as one line, exit code 2."""


class WarehouseVersionError(WarehouseError):
    """The warehouse was written by a newer glucomag than this one."""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


def _execute(con: Connection, statement: str, params: dict | None = None) -> list[tuple]:
    # Not warehouse.run: this module sits below warehouse.py, which imports it.
    return con.execute(statement, params).fetchall()


def columns_of(con: Connection, table: str) -> list[str]:
    """The table's column names in stored order ([] when there is no such table)."""
    return [row[0] for row in _execute(
        con, "SELECT column_name FROM information_schema.columns WHERE table_catalog = "
             "current_database() AND table_schema = 'main' AND table_name = $table "
             "ORDER BY ordinal_position", {"table": table})]


def _add_columns(con: Connection, table: str, columns: dict[str, str]) -> list[str]:
    """Add the columns the table lacks; returns the ones added.

    A NOT NULL column is added with a DEFAULT that fills the existing rows, then the default
    is dropped (DuckDB cannot set NOT NULL on a column already updated in the transaction).
    """
    present = set(columns_of(con, table))
    added = []
    for name, definition in columns.items():
        if name in present:
            continue
        type_sql, _, default = definition.partition(" DEFAULT ")
        not_null = type_sql.endswith(" NOT NULL")
        type_sql = type_sql.removesuffix(" NOT NULL")
        _execute(con, f"ALTER TABLE {table} ADD COLUMN {name} {type_sql}"
                      + (f" DEFAULT {default}" if default else ""))
        if not_null:
            _execute(con, f"ALTER TABLE {table} ALTER COLUMN {name} SET NOT NULL")
        if default:
            _execute(con, f"ALTER TABLE {table} ALTER COLUMN {name} DROP DEFAULT")
        added.append(name)
    return added


def _v1_enrichment_columns(con: Connection) -> None:
    """Foundation → magnesium enrichment: entries say how their value was found.

    Before, an entry had the export's value or none; that is what the new columns record
    (`connect()` re-resolves every entry right after an upgrade, filling the rest in).
    """
    added = _add_columns(con, "core_food_entries", {
        "export_magnesium_mg": "DOUBLE",
        "match_method": "VARCHAR NOT NULL DEFAULT 'none'",
        "match_food_name": "VARCHAR",
        "portion_grams": "DOUBLE",
        "unknown_reason": "VARCHAR",
    })
    if "match_method" in added:
        _execute(con, "UPDATE core_food_entries SET "
                      "export_magnesium_mg = CASE WHEN magnesium_source = 'export' "
                      "THEN magnesium_mg END, "
                      "match_method = CASE WHEN magnesium_source = 'export' THEN 'export' "
                      "ELSE 'none' END, "
                      "unknown_reason = CASE WHEN magnesium_mg IS NULL THEN 'no match' END")


def _v2_entry_type(con: Connection) -> None:
    """Entries carry entry_type; every entry stored before was one logged food."""
    _add_columns(con, "core_food_entries", {"entry_type": "VARCHAR NOT NULL DEFAULT 'food'"})


def _v3_glucose_merge(con: Connection) -> None:
    """Readings held by two sources or devices are merged (superseded_by), and batches count
    the readings not kept / replaced. Readings stored before are merged now, batch by batch
    in import order, with the default source priority, as if imported today; their batches'
    counts stay unknown (NULL)."""
    from importlib import resources

    from schemas.canonical import CLOCK_SKEW_SECONDS, GLUCOSE_SOURCE_PRIORITY

    _add_columns(con, "core_import_batches", {"rows_superseded": "BIGINT",
                                              "rows_replaced": "BIGINT"})
    if not _add_columns(con, "core_glucose_readings", {"superseded_by": "VARCHAR"}):
        return
    # Today's merge SQL: should it ever need a column a later migration adds, this data step
    # moves to that migration.
    merge = resources.files("transforms").joinpath("sql", "staging", "glucose_merge.sql")
    for (batch_id,) in _execute(con, "SELECT DISTINCT batch_id FROM core_glucose_readings "
                                     "ORDER BY batch_id"):
        _execute(con, merge.read_text(), {"batch_id": batch_id,
                                          "priority": list(GLUCOSE_SOURCE_PRIORITY),
                                          "clock_skew_s": CLOCK_SKEW_SECONDS})


def _v4_utc_glucose_ids(con: Connection) -> None:
    """Glucose entry ids hashed the instant as text in the machine's time zone, so the same
    reading imported on machines set to different zones got two ids and was stored twice.
    Re-key every reading with the instant as UTC text (as staging does now), keep the first
    stored of each such pair, and point `superseded_by` at the new ids."""
    _execute(con, """
        CREATE OR REPLACE TEMP TABLE glucose_id_map AS
        SELECT entry_id AS old_id, new_id,
               row_number() OVER (PARTITION BY new_id ORDER BY batch_id, entry_id) AS copy
        FROM (SELECT entry_id, batch_id,
                     md5(concat_ws('|', subject_id, source, device,
                                   CAST(timezone('UTC', ts_utc) AS VARCHAR) || '+00', kind))
                         AS new_id
              FROM core_glucose_readings)""")
    _execute(con, "DELETE FROM core_glucose_readings WHERE entry_id IN "
                  "(SELECT old_id FROM glucose_id_map WHERE copy > 1)")
    _execute(con, "UPDATE core_glucose_readings AS r SET entry_id = m.new_id "
                  "FROM glucose_id_map AS m WHERE r.entry_id = m.old_id AND m.old_id <> m.new_id")
    _execute(con, "UPDATE core_glucose_readings AS r SET superseded_by = m.new_id "
                  "FROM glucose_id_map AS m "
                  "WHERE r.superseded_by = m.old_id AND m.old_id <> m.new_id")
    _execute(con, "DROP TABLE glucose_id_map")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "food entries: magnesium enrichment columns", _v1_enrichment_columns),
    Migration(2, "food entries: entry_type", _v2_entry_type),
    Migration(3, "glucose readings: cross-source merge", _v3_glucose_merge),
    Migration(4, "glucose readings: ids independent of the machine's time zone",
              _v4_utc_glucose_ids),
)
SCHEMA_VERSION = MIGRATIONS[-1].version

SCHEMA_VERSION_DDL = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL PRIMARY KEY,
    description VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
)"""


def stored_version(con: Connection) -> int | None:
    """The warehouse's schema version: None for a new (empty) file, 0 for one made before
    versioning."""
    if columns_of(con, "schema_version"):
        version = _execute(con, "SELECT max(version) FROM schema_version")[0][0]
        if version is not None:
            return version
    return 0 if columns_of(con, "core_food_entries") else None


def migrate(con: Connection, file_name: str) -> list[int]:
    """Bring the warehouse to `SCHEMA_VERSION` inside the caller's transaction; returns the
    versions applied. A new warehouse is recorded at the current version; a newer one is
    refused before anything is changed."""
    found = stored_version(con)
    if found is not None and found > SCHEMA_VERSION:
        raise WarehouseVersionError(
            f"{file_name} has schema version {found}, newer than this glucomag knows "
            f"({SCHEMA_VERSION}): upgrade glucomag, or open a backup made with this version")
    _execute(con, SCHEMA_VERSION_DDL)
    if found is None:
        _execute(con, "INSERT INTO schema_version VALUES ($v, 'created', now())",
                 {"v": SCHEMA_VERSION})
        return []
    applied = []
    for migration in MIGRATIONS:
        if migration.version <= found:
            continue
        migration.apply(con)
        _execute(con, "INSERT INTO schema_version VALUES ($v, $description, now())",
                 {"v": migration.version, "description": migration.description})
        applied.append(migration.version)
        crash_point("migrate:applied")
    return applied
