"""nightscout-exporter CSV: a `# CGM ENTRIES` section (readings) and a `# TREATMENTS` section.

The exporter is a web page that writes each entry as `Date,Time,Glucose (mg/dL),Type,Device,
Trend,ID` with the browser's `toLocaleDateString()` / `toLocaleTimeString()`: local wall clock
without an offset (`3/31/2026`, `7:51:03 PM`; other locales `31.3.2026`, `19:51:03`; newer
browsers put a narrow no-break space before AM/PM). Quirks handled: the date order is decided
from the whole column (month first when every row fits both, as en-US writes); local times
are localised in the configured zone, with DST gaps flagged; `cal` rows and sgv 0–12 (Dexcom
error codes) are skipped, real lows of 30–39 kept; `Glucose` is `sgv || mbg || ''`, so a
blank value is flagged, not guessed; serials in `Device` are masked; treatments (whose notes
may hold names) are counted as skipped rows and never read into a column.
"""

from __future__ import annotations

import codecs
import io
import re
from pathlib import Path

import polars as pl

from transforms.importers import nightscout
from transforms.importers.base import (
    MMOL_TO_MG_DL,
    BadFileError,
    ImportedFile,
    blank_to_null,
    find_column,
    join_problems,
    localise,
    nonexistent_time_problem,
    problem,
    raw_record,
    require_columns,
    to_number,
)

FORMAT = "nightscout_csv"
KIND = "glucose"
REQUIRED = ("Date", "Time", "Type")
DATE_FORMATS = ("%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y-%m-%d")  # preference order on ties
TIME_FORMATS = ("%I:%M:%S %p", "%I:%M %p", "%H:%M:%S", "%H:%M")
# A section: its `#` line, then every following non-blank line that is not another `#` line.
_SECTION = r"^# {name}[^\n]*\n(?P<body>(?:(?!#)[^\n]*\S[^\n]*(?:\n|$))*)"


def detect(head: str) -> bool:
    return head.lstrip("\ufeff \t\r\n").startswith("# CGM ENTRIES")


def _text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return raw.decode("utf-16")
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BadFileError(path, f"not UTF-8/UTF-16 text (byte {error.start})") from None


def _section(path: Path, text: str, name: str) -> tuple[pl.DataFrame, int] | None:
    """The section's rows, all text, and the file line number of its header; None if absent."""
    match = re.search(_SECTION.format(name=name), text, flags=re.MULTILINE)
    if match is None or not match.group("body").strip():
        return None
    try:
        frame = pl.read_csv(io.BytesIO(match.group("body").encode()), infer_schema=False,
                            truncate_ragged_lines=True)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
        raise BadFileError(path, f"section '# {name}' is not a readable CSV ({first})") from None
    frame = frame.rename({column: column.strip() for column in frame.columns})
    return frame, text.count("\n", 0, match.start("body")) + 1


def _parse_all(text: pl.Series, formats: tuple[str, ...], to: str) -> pl.Series:
    """Parse with the one format that fits the most rows (the column is one locale)."""
    def parse(fmt: str) -> pl.Series:
        return text.str.to_date(fmt, strict=False) if to == "date" \
            else text.str.to_time(fmt, strict=False)
    return max((parse(fmt) for fmt in formats), key=lambda parsed: parsed.count())


def read(path: Path, timezone: str) -> ImportedFile:
    text = _text(path).replace("\r\n", "\n")
    cgm = _section(path, text, "CGM ENTRIES")
    if cgm is None:
        raise BadFileError(path, "no '# CGM ENTRIES' section with a header and rows", row=1)
    treatments = _section(path, text, "TREATMENTS")
    treatment_rows = 0 if treatments is None else treatments[0].height
    frame, header_line = cgm
    require_columns(frame, path, REQUIRED)
    value = find_column(frame.columns, "Glucose (")
    if value is None:
        raise BadFileError(path, "required column missing", row=header_line, column="Glucose")
    to_mg_dl = MMOL_TO_MG_DL if "mmol" in value.lower() else 1.0
    frame = frame.with_row_index("source_row", offset=header_line + 1).with_columns(
        pl.col("source_row").cast(pl.Int64))
    if "Device" in frame.columns:  # mask serials before anything else sees them
        frame = frame.with_columns(blank_to_null(pl.col("Device"))
                                   .str.replace_all(nightscout.SERIAL_TOKEN,
                                                    nightscout.SERIAL_MASK).alias("Device"))

    entry_type = blank_to_null(pl.col("Type")).str.to_lowercase()
    staged = frame.with_columns(
        entry_type.replace_strict(nightscout.READING_KINDS, default=None,
                                  return_dtype=pl.String).alias("kind"),
        (to_number(pl.col(value)) * to_mg_dl).alias("glucose_mg_dl"),
    )
    error_code = (pl.col("kind") == "sensor") & \
        (pl.col("glucose_mg_dl") / to_mg_dl).is_between(*nightscout.ERROR_CODES)
    readings = staged.filter(pl.col("kind").is_not_null() & ~error_code.fill_null(False))

    # Browsers write a (narrow) no-break space before AM/PM.
    time_text = pl.col("Time").str.replace_all("[\u202f\u00a0]", " ").str.strip_chars() \
        .str.to_uppercase()
    texts = readings.select(pl.col("Date").str.strip_chars(), time_text.alias("Time"))
    device = pl.col("Device") if "Device" in frame.columns else pl.lit(None, dtype=pl.String)
    readings = readings.with_columns(
        _parse_all(texts["Date"], DATE_FORMATS, "date").alias("local_date"),
        _parse_all(texts["Time"], TIME_FORMATS, "time").alias("_time"),
        pl.lit(None, dtype=pl.String).alias("out_of_range"),
        device.fill_null("Nightscout").alias("device"),
    ).with_columns(
        pl.col("local_date").dt.combine(pl.col("_time")).alias("local_ts"),
    ).with_columns(localise(pl.col("local_ts"), timezone).alias("ts_utc"))
    readings = readings.with_columns(
        join_problems(
            problem(pl.col("Date"), pl.col("local_date"), "Date", "a date"),
            problem(pl.col("Time"), pl.col("_time"), "Time", "a time of day"),
            nonexistent_time_problem(pl.col("local_ts"), pl.col("ts_utc"), timezone),
            pl.when(blank_to_null(pl.col(value)).is_null())
              .then(pl.lit(f"{value} is missing")),
            problem(pl.col(value), pl.col("glucose_mg_dl"), value, "a number"),
        ),
        raw_record([c for c in frame.columns if c != "source_row"]),
    )
    return ImportedFile(format=FORMAT, kind=KIND, frame=readings.drop("_time"),
                        rows_read=frame.height + treatment_rows,
                        rows_skipped=frame.height - readings.height + treatment_rows)
