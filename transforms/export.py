"""`glucomag export`: every table and public view of the user's data, as Parquet or CSV files.

What is exported is the user's own data — stored entries and readings, import and validation
logs, quarantined rows, marts, public views, their aliases, custom foods and supplements —
not the shipped reference tables or caches derived from them. Files are created with mode
0600 (never readable by other users, not even for a moment) and never overwrite anything.
CSV cells that a spreadsheet would run as a formula are neutralised; Parquet keeps every
value verbatim and typed, so an export can be loaded back into a warehouse.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Literal

import duckdb
import polars as pl

from schemas.canonical import (
    CUSTOM_FOODS,
    FOOD_NAME_MATCHES,
    IMPORT_BATCHES,
    MART_TABLES,
    QUARANTINED_ROWS,
    STORED_FOOD_ENTRY,
    STORED_GLUCOSE_READING,
    SUPPLEMENTS,
    USER_ALIASES,
    VALIDATION_RUNS,
    TableSpec,
)
from transforms.migrations import SCHEMA_VERSION
from transforms.warehouse import VIEWS, query_frame

ExportFormat = Literal["parquet", "csv"]
FORMATS: tuple[ExportFormat, ...] = ("parquet", "csv")

# Stored tables of the user's own data, in their spec's column order (a migrated warehouse
# may hold the columns in another order; the export does not).
# Fuzzy matches of the user's food names are theirs too (and `food_matches` shows them).
TABLES: tuple[TableSpec, ...] = (STORED_FOOD_ENTRY, STORED_GLUCOSE_READING, IMPORT_BATCHES,
                                 QUARANTINED_ROWS, VALIDATION_RUNS, USER_ALIASES, CUSTOM_FOODS,
                                 SUPPLEMENTS, FOOD_NAME_MATCHES)
# A text cell starting with one of these is a formula to Excel, LibreOffice and Sheets
# (OWASP "CSV injection"); a leading apostrophe makes it plain text again.
FORMULA_START = r"^[=+\-@\t\r]"


class ExportError(Exception):
    """The export cannot be written where asked: one line, exit code 2."""


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    rows: dict[str, int]  # relation name → rows written


def default_folder(home: Path, now: datetime | None = None) -> Path:
    """`<home>/export/<UTC timestamp>/`, e.g. export/20261012T063000Z."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return home / "export" / stamp


def relations() -> dict[str, str]:
    """Every exported relation → the SELECT that reads it."""
    tables = {spec.name: f"SELECT {', '.join(spec.names)} FROM {spec.name}"
              for spec in (*TABLES, *MART_TABLES)}
    views = {view: f"SELECT * FROM {view}" for view in VIEWS}
    return tables | views | {"schema_version": "SELECT * FROM schema_version ORDER BY version"}


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Prefix text cells that would start a spreadsheet formula with `'`; numbers, dates and
    other typed columns are left as they are."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(FORMULA_START))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in text
    )


def _private_file(path: Path) -> BinaryIO:
    """A new file only its owner can read or write (created so: no window with wider
    permissions); an existing file is never overwritten."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ExportError(f"{path} already exists: export to a new folder (--out)") from None
    os.fchmod(descriptor, 0o600)  # whatever the umask allowed, no more than this
    return os.fdopen(descriptor, "wb")


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as error:
        raise ExportError(f"cannot create {folder}: {error.strerror}") from None
    if not folder.is_dir():
        raise ExportError(f"{folder} is not a folder")


def export_warehouse(con: duckdb.DuckDBPyConnection, folder: Path,
                     file_format: ExportFormat) -> ExportResult:
    """Write each exported relation to `<folder>/<name>.<format>` and a `manifest.json`."""
    if file_format not in FORMATS:
        raise ExportError(f"--format '{file_format}' is not one of {', '.join(FORMATS)}")
    _make_folder(folder)
    rows: dict[str, int] = {}
    for name, select in relations().items():
        frame = query_frame(con, select)
        with _private_file(folder / f"{name}.{file_format}") as handle:
            if file_format == "parquet":
                frame.write_parquet(handle)
            else:
                neutralise_formulas(frame).write_csv(handle)
        rows[name] = frame.height
    manifest = {
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "format": file_format,
        "schema_version": SCHEMA_VERSION,
        "rows": rows,
    }
    with _private_file(folder / "manifest.json") as handle:
        handle.write((json.dumps(manifest, indent=2) + "\n").encode())
    return ExportResult(folder=folder, rows=rows)
