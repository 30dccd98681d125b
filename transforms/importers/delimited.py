"""Semicolon/comma text exports read line by line (xDrip+ SiDiary, Medtronic CareLink).

Splitting lines ourselves keeps `source_row` equal to the file line number and lets one file
hold several sections with their own headers; a quote opened in a free-text cell cannot
swallow the lines after it. Glucose cells may use decimal commas.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from transforms.importers.base import (
    BadFileError,
    blank_to_null,
    decode_text,
    localise,
    nonexistent_time_problem,
    problem,
)

# No row of these exports comes near this: a longer line is a damaged file, refused before
# every cell of it is copied a few times over.
MAX_LINE_CHARS = 1 << 20


def read_text_lines(path: Path) -> pl.DataFrame:
    """Every line of the file as (`line_no`, `text`), line 1 first, line endings removed.

    UTF-16 (with BOM), UTF-8 (± BOM) and Windows-1252 are decoded (`base.decode_text`); a
    file with a line longer than `MAX_LINE_CHARS` is refused.
    """
    text = decode_text(path.read_bytes())
    lines = (pl.DataFrame({"text": [text]})
             .select(pl.col("text").str.split("\n"))
             .explode("text")
             .with_row_index("line_no", offset=1)
             .select(pl.col("line_no").cast(pl.Int64),
                     pl.col("text").str.strip_chars_end("\r")))
    longest = lines["text"].str.len_chars().arg_max()
    if longest is not None and len(lines["text"][longest]) > MAX_LINE_CHARS:
        raise BadFileError(path, f"a line of {len(lines['text'][longest]):,} characters (at "
                                 f"most {MAX_LINE_CHARS:,}): a damaged file, not an export",
                           row=longest + 1)
    return lines


def clean_field(field: pl.Expr) -> pl.Expr:
    """A cell as written, without surrounding blanks or CSV quotes (`"a""b"` → `a"b`)."""
    return field.str.strip_chars().str.strip_chars('"').str.replace_all('""', '"', literal=True)


def line_fields(line: str, separator: str) -> list[str]:
    """The cleaned fields of one line (a header row)."""
    return [field.strip().strip('"').replace('""', '"').strip()
            for field in line.lstrip("\ufeff").split(separator)]


def fields_table(lines: pl.DataFrame, header: Sequence[str], separator: str) -> pl.DataFrame:
    """Data lines → one text column per header name (mapped by name, first of duplicate
    names wins), plus `source_row` = the line number; missing trailing fields are null."""
    positions: dict[str, int] = {}
    for position, name in enumerate(header):
        if name and name not in positions:
            positions[name] = position
    fields = pl.col("text").str.split(separator)
    return lines.select(
        pl.col("line_no").alias("source_row"),
        *(clean_field(fields.list.get(position, null_on_oob=True)).alias(name)
          for name, position in positions.items()),
    )


def decimal_number(text: pl.Expr) -> pl.Expr:
    """Text → Float64 accepting a decimal comma (`112,5`); blank or unparseable → null."""
    return blank_to_null(text).str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)


def stack_readings(rows: pl.DataFrame, sources: Sequence[tuple[str, str, float]]) -> pl.DataFrame:
    """One reading per filled glucose cell: `sources` are (column, kind, factor to mg/dL).

    Adds `_raw_value` and `_value_column` (for the parse message), `glucose_mg_dl` and `kind`.
    A row with two filled columns gives two readings, kept in file order (first source first).
    """
    parts = [
        rows.filter(blank_to_null(pl.col(column)).is_not_null()).with_columns(
            blank_to_null(pl.col(column)).alias("_raw_value"),
            pl.lit(column).alias("_value_column"),
            (decimal_number(pl.col(column)) * factor).alias("glucose_mg_dl"),
            pl.lit(kind).alias("kind"),
        )
        for column, kind, factor in sources
    ]
    return pl.concat(parts).sort("source_row", maintain_order=True)


def value_problem() -> pl.Expr:
    """The message for a glucose cell that is filled but not a number (see `stack_readings`)."""
    return (pl.when(pl.col("glucose_mg_dl").is_null())
            .then(pl.format("{} '{}' is not a number", pl.col("_value_column"),
                            pl.col("_raw_value"))))


def blank_problem(raw: pl.Expr, label: str) -> pl.Expr:
    """A reading without its date or time cannot be placed in time: say so."""
    return pl.when(blank_to_null(raw).is_null()).then(pl.lit(f"{label} is blank"))


def placed_in_time(rows: pl.DataFrame, date: str, date_formats: Sequence[str], time: str,
                   time_formats: Sequence[str], timezone: str) -> pl.DataFrame:
    """Add `local_date`, `_time`, `local_ts` and `ts_utc` from separate date and time text
    columns (the first format that parses wins), localised in `timezone`."""
    def parsed(column: str, formats: Sequence[str], kind: str) -> pl.Expr:
        text = pl.col(column).str.strip_chars()
        convert = text.str.to_date if kind == "date" else text.str.to_time
        return pl.coalesce([convert(fmt, strict=False) for fmt in formats])

    return rows.with_columns(
        parsed(date, date_formats, "date").alias("local_date"),
        parsed(time, time_formats, "time").alias("_time"),
    ).with_columns(
        pl.col("local_date").dt.combine(pl.col("_time")).alias("local_ts"),
    ).with_columns(
        localise(pl.col("local_ts"), timezone).alias("ts_utc"),
    )


def time_problems(date: str, date_expected: str, time: str, time_expected: str,
                  timezone: str) -> list[pl.Expr]:
    """Messages for a blank or unparseable date or time, or a local time that does not
    exist (see `placed_in_time`)."""
    return [
        blank_problem(pl.col(date), date),
        problem(pl.col(date), pl.col("local_date"), date, date_expected),
        blank_problem(pl.col(time), time),
        problem(pl.col(time), pl.col("_time"), time, time_expected),
        nonexistent_time_problem(pl.col("local_ts"), pl.col("ts_utc"), timezone),
    ]
