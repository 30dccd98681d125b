"""MacroFactor food log export: CSV, or XLSX where the food log is one sheet among several.

Quirks handled (formats.md): column names differ between app versions, so every field is found
through a small alias table (`ALIASES`), by name; the XLSX holds summary sheets too, so the food
log is the first sheet whose header has a date and a food name, whatever its position; Excel
date and time cells arrive as `2026-03-01 00:00:00` / `1899-12-31 08:15:00` while re-typed cells
read `2026-03-01` / `8:15 PM`; blank rows inside a sheet keep the row numbers of the rows below
them and are skipped; a blank magnesium cell is unknown, never zero; BOM, CRLF and quoting are
read as in every CSV.

Assumption: `Serving Weight (g)` is the weight of the whole logged line (serving × quantity),
like the line's nutrients, which MacroFactor exports as per-line totals. When that cell is blank
and the serving unit is a mass unit (g, oz…), grams come from quantity × unit instead.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import fastexcel
import polars as pl

from transforms.importers.base import (
    BadFileError,
    ImportedFile,
    blank_to_null,
    header_fields,
    join_problems,
    mass_grams,
    parse_local_date,
    parse_time_of_day,
    problem,
    raw_record,
    read_csv_text,
    read_head,
    to_number,
)

FORMAT = "macrofactor"
KIND = "food"
# Field → accepted column names, preferred first (names seen across app versions).
ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("Date",),
    "time": ("Time",),
    "name": ("Food Name", "Name"),
    "quantity": ("Serving Qty", "Quantity", "Servings"),
    "unit": ("Serving Unit", "Serving Size"),
    "weight": ("Serving Weight (g)", "Weight (g)"),
    "magnesium": ("Magnesium (mg)", "Magnesium, Mg (mg)"),
    "energy": ("Calories (kcal)", "Energy (kcal)"),
    "carbohydrates": ("Carbs (g)", "Carbohydrates (g)"),
}
REQUIRED = ("date", "name")
# Columns no other supported food export has (Cronometer: Amount; Lose It!: Quantity, Units).
SIGNATURE = ("Serving Weight (g)", "Serving Qty")


def _pick(columns: Sequence[str], field: str) -> str | None:
    """The column holding `field` in this file: the first of its aliases present."""
    return next((alias for alias in ALIASES[field] if alias in columns), None)


def _has_required(columns: Sequence[str]) -> bool:
    return all(_pick(columns, field) is not None for field in REQUIRED)


def _is_food_log(columns: Sequence[str]) -> bool:
    return _has_required(columns) and any(name in columns for name in SIGNATURE)


def detect(head: str) -> bool:
    return _is_food_log(header_fields(head))


def _sheet_headers(path: Path) -> dict[str, list[str]]:
    """Every sheet's header, without reading its rows (the food log can be any sheet)."""
    sheets = pl.read_excel(path, sheet_id=0, engine="calamine", infer_schema_length=0,
                           read_options={"n_rows": 0}, raise_if_empty=False)
    return {name: [c.strip() for c in frame.columns] for name, frame in sheets.items()}


def _is_workbook(path: Path) -> bool:
    """An Excel workbook (a zip with `xl/workbook.*`), checked from the zip's directory alone so
    other archives (an Apple Health export of a gigabyte) are never parsed as spreadsheets."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.startswith("xl/workbook.") for name in archive.namelist())
    except zipfile.BadZipFile:
        return False


def detect_path(path: Path) -> bool:
    """True for a MacroFactor CSV, or a workbook with a food-log sheet (a zip `detect` can't see
    into); a damaged workbook or any other zip is simply not ours."""
    if not zipfile.is_zipfile(path):
        return detect(read_head(path))
    if not _is_workbook(path):
        return False
    try:
        return any(_is_food_log(columns) for columns in _sheet_headers(path).values())
    except (fastexcel.FastExcelError, pl.exceptions.PolarsError):
        return False


def _read_workbook(path: Path) -> pl.DataFrame:
    """The food-log sheet as text, with `source_row` = the sheet's row number (header = 1)."""
    try:
        headers = _sheet_headers(path)
    except (fastexcel.FastExcelError, pl.exceptions.PolarsError) as error:
        first_line = (str(error).strip().splitlines() or ["unreadable"])[0]
        raise BadFileError(path, f"not a readable workbook ({first_line})") from None
    sheet = next((name for name, columns in headers.items() if _has_required(columns)), None)
    if sheet is None:
        raise BadFileError(path, "no food log sheet (a header with Date and Food Name); "
                                 f"sheets: {', '.join(headers) or 'none'}")
    # Keep empty rows and columns: dropping rows would shift every row number below them,
    # dropping columns would lose an all-blank (unknown) magnesium column.
    frame = pl.read_excel(path, sheet_name=sheet, engine="calamine", infer_schema_length=0,
                          drop_empty_rows=False, drop_empty_cols=False)
    frame = frame.rename({name: name.strip() for name in frame.columns})
    return frame.with_row_index("source_row", offset=2).with_columns(
        pl.col("source_row").cast(pl.Int64))


def _require(frame: pl.DataFrame, path: Path) -> None:
    found = [c for c in frame.columns if c != "source_row"]
    shown = ", ".join(found[:8]) + ("…" if len(found) > 8 else "")
    for field in REQUIRED:
        if _pick(found, field) is None:
            others = ", ".join(ALIASES[field][1:])
            accepted = f"also accepted: {others}; " if others else ""
            raise BadFileError(path, f"required column missing ({accepted}found: {shown})",
                               row=1, column=ALIASES[field][0])


def _local_date(text: pl.Expr) -> pl.Expr:
    """ISO or US text, or an Excel date cell (read as `2026-03-01 00:00:00`)."""
    return pl.coalesce(parse_local_date(text),
                       text.str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False).dt.date())


def _local_time(text: pl.Expr) -> pl.Expr:
    """`8:15 AM` / `20:05` text, or an Excel time cell (read as `1899-12-31 08:15:00`)."""
    return pl.coalesce(parse_time_of_day(text),
                       text.str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False).dt.time())


def read(path: Path, timezone: str) -> ImportedFile:
    """Read the food log; `timezone` is unused because food entries keep local wall-clock only."""
    frame = _read_workbook(path) if zipfile.is_zipfile(path) else read_csv_text(path)
    _require(frame, path)
    columns = [c for c in frame.columns if c != "source_row"]
    names = {field: _pick(columns, field) for field in ALIASES}

    def cell(field: str) -> pl.Expr:
        name = names[field]
        return blank_to_null(pl.col(name)) if name else pl.lit(None, dtype=pl.String)

    def check(field: str, parsed: str, expected: str) -> pl.Expr:
        name = names[field]
        return (problem(pl.col(name), pl.col(parsed), name, expected) if name
                else pl.lit(None, dtype=pl.String))

    blank = pl.all_horizontal(blank_to_null(pl.col(c)).is_null() for c in columns)
    entries = frame.filter(~blank)
    staged = entries.with_columns(
        _local_date(cell("date")).alias("local_date"),
        _local_time(cell("time")).alias("_time"),
        to_number(cell("quantity")).alias("amount"),
        cell("unit").alias("unit"),
        to_number(cell("weight")).alias("_weight"),
        to_number(cell("magnesium")).alias("magnesium_mg"),
        to_number(cell("energy")).alias("energy_kcal"),
        to_number(cell("carbohydrates")).alias("carbohydrates_g"),
    )
    staged = staged.with_columns(
        pl.col("local_date").dt.combine(pl.col("_time")).alias("local_ts"),
        pl.lit(None, dtype=pl.String).alias("meal"),
        pl.col(names["name"]).str.strip_chars().alias("food_name"),
        pl.coalesce(pl.col("_weight"), mass_grams(pl.col("amount"), pl.col("unit")))
          .alias("grams"),
        pl.lit(None, dtype=pl.String).alias("category"),
        pl.lit("food").alias("entry_type"),
        join_problems(
            check("date", "local_date", "a date"),
            check("time", "_time", "a time of day"),
            check("quantity", "amount", "a number"),
            check("weight", "_weight", "a number"),
            check("magnesium", "magnesium_mg", "a number"),
            check("energy", "energy_kcal", "a number"),
            check("carbohydrates", "carbohydrates_g", "a number"),
        ),
        raw_record(columns),
    )
    return ImportedFile(format=FORMAT, kind=KIND, frame=staged, rows_read=frame.height,
                        rows_skipped=frame.height - entries.height)
