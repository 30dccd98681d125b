"""DuckDB DDL derived from the canonical specs."""

from __future__ import annotations

from schemas.canonical import MART_TABLES, WAREHOUSE_TABLES, TableSpec


def create_table_sql(spec: TableSpec) -> str:
    """`CREATE TABLE IF NOT EXISTS` for a spec, with NOT NULL and the unique key as primary key."""
    lines = [
        f"    {c.name} {c.duckdb_type}{'' if c.nullable else ' NOT NULL'}" for c in spec.columns
    ]
    if spec.unique_key:
        lines.append(f"    PRIMARY KEY ({', '.join(spec.unique_key)})")
    body = ",\n".join(lines)
    return f"CREATE TABLE IF NOT EXISTS {spec.name} (\n{body}\n);"


def warehouse_ddl() -> list[str]:
    """All statements that create the stored tables, the marts and the batch sequence."""
    return ["CREATE SEQUENCE IF NOT EXISTS batch_id_seq START 1;"] + [
        create_table_sql(spec) for spec in WAREHOUSE_TABLES + MART_TABLES
    ]
