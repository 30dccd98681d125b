"""Content digests of warehouse tables: equal digests mean equal rows, as multisets.

Each row is hashed from its columns in name order (so a migrated warehouse whose columns are
in another order compares equal), the row hashes are sorted and hashed again. Columns can be
left out (timestamps of when something ran) and rows filtered.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from transforms.migrations import columns_of

# Every table the warehouse stores (not marts: those are rebuilt, and checked by their GX
# suites), with the columns that record *when* something ran — they differ between two runs
# that store the same data. Mart validations (batch_id NULL) are logged once per rebuild, so
# only the validations of import batches are part of the stored state.
CORE: dict[str, tuple[tuple[str, ...], str]] = {
    "core_food_entries": ((), ""),
    "core_glucose_readings": ((), ""),
    "core_import_batches": (("started_at", "finished_at"), ""),
    "quarantined_rows": ((), ""),
    "validation_runs": (("run_at",), "batch_id IS NOT NULL"),
    "food_name_matches": ((), ""),
    "user_aliases": (("created_at",), ""),
    "custom_foods": ((), ""),
    "supplements": ((), ""),
    "ref_foods": ((), ""),
    "ref_portions": ((), ""),
    "ref_aliases": ((), ""),
    "supplement_compounds": ((), ""),
    "reference_versions": (("loaded_at",), ""),
    "schema_version": (("applied_at",), ""),
}


def table_digest(con: duckdb.DuckDBPyConnection, table: str, exclude: tuple[str, ...] = (),
                 where: str = "") -> tuple[int, str]:
    """(rows, digest) of one table or view."""
    columns = sorted(c for c in columns_of(con, table) if c not in exclude)
    assert columns, f"no columns in {table}"
    packed = ", ".join(f"{c} := {c}" for c in columns)
    return con.execute(
        f"SELECT count(*), md5(coalesce(string_agg(h, ',' ORDER BY h), '')) "
        f"FROM (SELECT md5(CAST(struct_pack({packed}) AS VARCHAR)) AS h FROM {table} "
        f"{'WHERE ' + where if where else ''})").fetchone()


def digest(con: duckdb.DuckDBPyConnection,
           tables: Mapping[str, tuple[tuple[str, ...], str]] = CORE) -> dict[str, tuple]:
    """{table: (rows, digest)}: compare two of these to see which tables differ."""
    return {table: table_digest(con, table, exclude, where)
            for table, (exclude, where) in tables.items()}


def full(tables: list[str]) -> dict[str, tuple[tuple[str, ...], str]]:
    """Every column of every row of these tables."""
    return {table: ((), "") for table in tables}
