"""What every importer shares: the result type, the one-line file error, and parsing helpers.

Helpers are polars expressions so importers stay vectorised: no Python loop over rows.
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

MMOL_TO_MG_DL = 18.0156  # glucose 180.156 g/mol (glucose-metrics.md)
# Mass units whose gram weight needs no food-specific portion table.
GRAMS_PER_UNIT = {"g": 1.0, "gram": 1.0, "grams": 1.0, "kg": 1000.0, "mg": 0.001,
                  "oz": 28.349523125, "ounce": 28.349523125, "ounces": 28.349523125,
                  "lb": 453.59237, "lbs": 453.59237}
HEAD_BYTES = 8192


class BadFileError(Exception):
    """A file that cannot be imported at all; `str()` is the one line shown to the user."""

    def __init__(self, file: Path | str, message: str, row: int | None = None,
                 column: str | None = None) -> None:
        self.file, self.row, self.column, self.message = Path(file).name, row, column, message
        where = self.file + (f", row {row}" if row is not None else "")
        where += f", column '{column}'" if column else ""
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class ImportedFile:
    """An importer's result: canonical rows plus the counts the batch log needs."""

    format: str
    kind: str  # "food" or "glucose"
    frame: pl.DataFrame
    rows_read: int
    rows_skipped: int  # rows that are not entries: metadata, alerts, events


def sha256_of(path: Path) -> str:
    """Content hash of a file, read in 1 MiB blocks (exports can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_head(path: Path, n_bytes: int = HEAD_BYTES) -> str:
    """The file's first bytes as text, whatever of UTF-8 (± BOM) or UTF-16 it is in."""
    raw = path.open("rb").read(n_bytes)
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", errors="ignore")
    return raw.decode("utf-8-sig", errors="replace")


def header_fields(head: str) -> list[str]:
    """Field names of the first line of `head`, unquoted and stripped."""
    first = head.splitlines()[0] if head else ""
    return [field.strip().strip('"').strip() for field in first.split(",")]


def read_csv_text(path: Path) -> pl.DataFrame:
    """Read a CSV with every column as text plus `source_row`, the file line number."""
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy",
                            truncate_ragged_lines=True)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
        raise BadFileError(path, f"not a readable CSV ({first_line})") from None
    frame = frame.rename({name: name.strip().lstrip("\ufeff") for name in frame.columns})
    return frame.with_row_index("source_row", offset=2).with_columns(
        pl.col("source_row").cast(pl.Int64))


def require_columns(frame: pl.DataFrame, path: Path, names: Sequence[str]) -> None:
    """Raise a one-line error naming the first required column the file lacks."""
    found = [c for c in frame.columns if c != "source_row"]
    shown = ", ".join(found[:8]) + ("…" if len(found) > 8 else "")
    for name in names:
        if name not in frame.columns:
            raise BadFileError(path, f"required column missing (found: {shown})", row=1,
                               column=name)


def find_column(columns: Sequence[str], prefix: str) -> str | None:
    """The first column whose name starts with `prefix` (headers carry units/format hints)."""
    return next((c for c in columns if c.startswith(prefix)), None)


def blank_to_null(expr: pl.Expr) -> pl.Expr:
    stripped = expr.str.strip_chars()
    return pl.when(stripped == "").then(None).otherwise(stripped)


def to_number(expr: pl.Expr) -> pl.Expr:
    """Text → Float64; blank and unparseable → null (see `problem` to report the latter)."""
    return blank_to_null(expr).cast(pl.Float64, strict=False)


def optional_column(frame: pl.DataFrame, name: str) -> pl.Expr:
    """The column if the file has it, else all-null text: exports drop optional columns."""
    return pl.col(name) if name in frame.columns else pl.lit(None, dtype=pl.String)


def parse_local_date(text: pl.Expr) -> pl.Expr:
    """ISO (`2026-03-01`, also unpadded) or US (`03/01/2026`, spreadsheet re-saves) → Date."""
    day = text.str.strip_chars()
    return pl.coalesce(day.str.to_date("%Y-%m-%d", strict=False),
                       day.str.to_date("%m/%d/%Y", strict=False))


def parse_time_of_day(text: pl.Expr) -> pl.Expr:
    """`8:15 AM`, `20:05`, `05:17:00` or `9:00:30 PM` → Time; blank or other text → null."""
    clock = text.str.strip_chars().str.to_uppercase()
    return pl.coalesce(clock.str.to_time("%I:%M %p", strict=False),
                       clock.str.to_time("%I:%M:%S %p", strict=False),
                       clock.str.to_time("%H:%M", strict=False),
                       clock.str.to_time("%H:%M:%S", strict=False))


def amount_and_unit(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """"1.00 cup" → (1.0, "cup"); "150 g" → (150.0, "g"); no leading number → (null, text)."""
    parts = text.str.strip_chars().str.extract_groups(
        r"^(?P<number>[0-9]*\.?[0-9]+)?\s*(?P<unit>.*)$")
    unit = parts.struct.field("unit").str.strip_chars()
    return (parts.struct.field("number").cast(pl.Float64),
            pl.when(unit == "").then(None).otherwise(unit))


def mass_grams(amount: pl.Expr, unit: pl.Expr) -> pl.Expr:
    """Grams for mass units (g, kg, mg, oz, lb); null for household units."""
    factor = unit.str.to_lowercase().str.strip_chars(".").replace_strict(
        GRAMS_PER_UNIT, default=None, return_dtype=pl.Float64)
    return amount * factor


def problem(raw: pl.Expr, parsed: pl.Expr, label: str, expected: str) -> pl.Expr:
    """A message where a non-blank cell did not parse, else null."""
    text = blank_to_null(raw)
    return (pl.when(text.is_not_null() & parsed.is_null())
            .then(pl.format("{} '{}' is not {}", pl.lit(label), text, pl.lit(expected))))


def join_problems(*problems: pl.Expr) -> pl.Expr:
    joined = pl.concat_str(list(problems), separator="; ", ignore_nulls=True)
    return pl.when(joined == "").then(None).otherwise(joined).alias("parse_error")


def raw_record(columns: Sequence[str]) -> pl.Expr:
    """The row's fields as read, JSON, for quarantine (callers leave personal columns out)."""
    if not columns:
        return pl.lit("{}").alias("raw_record")
    return pl.struct([pl.col(c) for c in columns]).struct.json_encode().alias("raw_record")


def localise(local_ts: pl.Expr, timezone: str) -> pl.Expr:
    """Local wall-clock → UTC instant in `timezone`.

    Ambiguous times (the repeated hour when clocks go back) take the earlier instant; times
    that do not exist (skipped when clocks go forward) become null, so the row is
    quarantined with `nonexistent_time_problem` rather than shifted silently.
    """
    return (local_ts.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
            .dt.convert_time_zone("UTC"))


def nonexistent_time_problem(local_ts: pl.Expr, ts_utc: pl.Expr, timezone: str) -> pl.Expr:
    return (pl.when(local_ts.is_not_null() & ts_utc.is_null())
            .then(pl.format("local time {} does not exist in {} (clocks went forward)",
                            local_ts.dt.to_string("%Y-%m-%d %H:%M:%S"), pl.lit(timezone))))
