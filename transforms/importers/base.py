"""What every importer shares: the result type, the one-line file error, and parsing helpers.

Helpers are polars expressions so importers stay vectorised: no Python loop over rows.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

MMOL_TO_MG_DL = 18.0156  # glucose 180.156 g/mol (glucose-metrics.md)
# Mass units whose gram weight needs no food-specific portion table.
GRAMS_PER_UNIT = {"g": 1.0, "gram": 1.0, "grams": 1.0, "kg": 1000.0, "mg": 0.001,
                  "oz": 28.349523125, "ounce": 28.349523125, "ounces": 28.349523125,
                  "lb": 453.59237, "lbs": 453.59237}
HEAD_BYTES = 8192
MAX_MESSAGE_CHARS = 600  # a one-line error stays readable whatever the file holds
# A text cell longer than this is not a food name, meal or device: the row is quarantined.
MAX_TEXT_CHARS = 1_000
MAX_RECORD_CHARS = 4_000  # raw_record and parse_error are cut here (the file keeps the rest)
EARLIEST_DATE = date(2000, 1, 1)  # older dates are spreadsheet zero dates (1899/1900), typos
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` without line breaks or control characters, cut to `limit` characters."""
    text = _CONTROL.sub(" ", text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


class BadFileError(Exception):
    """A file that cannot be imported at all; `str()` is the one line shown to the user."""

    def __init__(self, file: Path | str, message: str, row: int | None = None,
                 column: str | None = None) -> None:
        self.file, self.row, self.column, self.message = Path(file).name, row, column, message
        super().__init__(self._line())

    def _line(self) -> str:
        where = self.file + (f", row {self.row}" if self.row is not None else "")
        where += f", column '{self.column}'" if self.column else ""
        return one_line(f"{where}: {self.message}")

    def named(self, name: str) -> BadFileError:
        """The same error naming the file as the user knows it (`export.zip/servings.csv`
        for an archive member read from a temporary folder)."""
        error = BadFileError(self.file, self.message, self.row, self.column)
        error.file = name
        error.args = (error._line(),)
        return error


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


def decode_text(raw: bytes, final: bool = True) -> str:
    """Bytes of a text export as text: UTF-16 with a BOM (Windows), else UTF-8 (± BOM), else
    Windows-1252 — what a spreadsheet re-save in a Western locale writes; a file that is not
    valid UTF-8 is that far more often than anything else (`final=False`: `raw` is a prefix
    that may end inside a character)."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return codecs.getincrementaldecoder("utf-16")(errors="replace").decode(raw, final)
    try:
        return codecs.getincrementaldecoder("utf-8-sig")().decode(raw, final)
    except UnicodeDecodeError:
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined
            return raw.decode("latin-1")


def read_head(path: Path, n_bytes: int = HEAD_BYTES) -> str:
    """The file's first bytes as text (see `decode_text`)."""
    with path.open("rb") as handle:
        return decode_text(handle.read(n_bytes), final=False)


def header_fields(head: str) -> list[str]:
    """Field names of the first line of `head`, unquoted and stripped."""
    first = head.splitlines()[0] if head else ""
    return [field.strip().strip('"').strip() for field in first.split(",")]


def _parse_csv(path: Path, text: str) -> pl.DataFrame:
    try:
        return pl.read_csv(text.encode(), infer_schema=False, truncate_ragged_lines=True)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as error:
        if text.count('"') % 2 and cut_off_line(text) is not None:
            # Cut off inside a quoted cell: close the quote, so the complete rows are read
            # and the cut one is quarantined (`flag_cut_off_row`).
            return _parse_csv(path, text + '"')
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
        raise BadFileError(path, f"not a readable CSV ({first_line})") from None


def read_csv_text(path: Path) -> pl.DataFrame:
    """Read a CSV with every column as text plus `source_row`, the file line number.

    UTF-16 and Windows-1252 files are decoded (`decode_text`); a file with NUL bytes (damaged,
    or UTF-16 without its BOM) or with a column named twice is refused; a repeated header line
    (exports concatenated into one file) is not a row.
    """
    text = decode_text(path.read_bytes())
    if "\x00" in text:
        raise BadFileError(path, "the file holds NUL bytes (damaged, or UTF-16 without its "
                                 "byte-order mark): export it again",
                           row=text.count("\n", 0, text.index("\x00")) + 1)
    frame = _parse_csv(path, text)
    frame = frame.rename({name: name.strip().lstrip("\ufeff") for name in frame.columns})
    for name in frame.columns:
        twice = re.fullmatch(r"(?P<name>.*)_duplicated_\d+", name)
        if twice and twice.group("name") in frame.columns:
            raise BadFileError(path, "two columns have this name: which one holds the data "
                                     "is unclear", row=1, column=twice.group("name"))
    columns = frame.columns
    frame = frame.with_row_index("source_row", offset=2).with_columns(
        pl.col("source_row").cast(pl.Int64))
    header_again = pl.all_horizontal(
        pl.col(c).str.strip_chars().str.strip_chars_start("\ufeff").str.strip_chars() == c
        for c in columns).fill_null(False)
    return frame.filter(~header_again) if columns else frame


def cut_off_line(text: str) -> tuple[int, int, int] | None:
    """(line number, its fields, fields of the line before) when `text` ends in the middle
    of a row: no line break at the end, and fewer fields than the line before (an export or
    download that stopped early). Fields are counted outside double quotes."""
    if not text.strip() or text.endswith(("\n", "\r")):
        return None
    start = text.rfind("\n") + 1
    if start == 0:
        return None
    previous = text[text.rfind("\n", 0, start - 1) + 1:start].rstrip("\r\n")
    unquoted = [re.sub(r'"[^"]*(?:"|$)', "", line) for line in (previous, text[start:])]
    separator = max(",;\t", key=unquoted[0].count)
    fields = [line.count(separator) + 1 for line in unquoted]
    if fields[0] < 2 or fields[1] >= fields[0]:
        return None
    return text.count("\n", 0, start) + 1, fields[1], fields[0]


def flag_cut_off_row(path: Path, frame: pl.DataFrame) -> pl.DataFrame:
    """Quarantine the row a file ends in the middle of (see `cut_off_line`): its missing
    cells would otherwise read as blank, or a value cut short (`12` of `125`) as a value."""
    cut = cut_off_line(decode_text(path.read_bytes()))
    if cut is None or "source_row" not in frame.columns:
        return frame
    line, fields, expected = cut
    message = (f"the file ends in the middle of this row ({fields} of {expected} fields): "
               "an incomplete export?")
    return frame.with_columns(
        pl.when(pl.col("source_row") == line)
        .then(pl.concat_str([pl.lit(message), pl.col("parse_error")], separator="; ",
                            ignore_nulls=True))
        .otherwise(pl.col("parse_error")).alias("parse_error"))


def plausible(frame: pl.DataFrame, text_columns: Sequence[str]) -> pl.DataFrame:
    """Flag what no export can mean and no type or range rule catches: a day before 2000
    (spreadsheet zero dates, typos) or after tomorrow (a wrong year, a wrong device clock;
    planned meals are not eaten yet), a number cell reading `NaN` or `inf` (parsed as
    floats, which range checks pass), and a text cell over `MAX_TEXT_CHARS` (cut, so the
    rest of the pipeline never handles a 50 MB "food name"). `parse_error` and `raw_record`
    are cut to `MAX_RECORD_CHARS`."""
    latest = datetime.now(UTC).date() + timedelta(days=1)
    day = pl.col("local_date")
    problems = [
        pl.when(day < EARLIEST_DATE).then(pl.format("date {} is before {}", day,
                                                    pl.lit(EARLIEST_DATE.isoformat()))),
        pl.when(day > latest).then(pl.format("date {} is in the future", day)),
        *(pl.when(pl.col(c).is_nan() | pl.col(c).is_infinite())
          .then(pl.format("{} '{}' is not a number", pl.lit(c), pl.col(c)))
          for c, dtype in frame.schema.items() if dtype == pl.Float64),
        *(pl.when(pl.col(c).str.len_chars() > MAX_TEXT_CHARS)
          .then(pl.format("{} is {} characters long (at most {})", pl.lit(c),
                          pl.col(c).str.len_chars(), pl.lit(MAX_TEXT_CHARS)))
          for c in text_columns),
    ]
    cut = MAX_RECORD_CHARS

    def capped(expr: pl.Expr, limit: int) -> pl.Expr:
        return pl.when(expr.str.len_chars() > limit).then(
            expr.str.slice(0, limit - 1) + pl.lit("…")).otherwise(expr)

    return frame.with_columns(
        capped(pl.concat_str([pl.col("parse_error"), *problems], separator="; ",
                             ignore_nulls=True), cut).alias("parse_error"),
        capped(pl.col("raw_record"), cut).alias("raw_record"),
        *(capped(pl.col(c), MAX_TEXT_CHARS) for c in text_columns),
    ).with_columns(pl.when(pl.col("parse_error") == "").then(None)
                   .otherwise(pl.col("parse_error")).alias("parse_error"))


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
