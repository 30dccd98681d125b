"""Medtronic CareLink CSV export: sensor glucose (`Sensor Glucose`) and meter readings
(`BG Reading`) from the `Pump` and `Sensor` sections.

Quirks handled (formats.md): a preamble with the patient's name, birth date and the pump's
serial number comes first — it is never parsed into any frame; then sections, each opened by a
`-------;<model>;Pump;<serial>;-------` line and its own header row, mapped by name per section;
`;` separators with decimal commas everywhere (`1,00000`, `Insulin: 27,00`, `7,3`), or the US
`,`/`.` variant, sniffed from the section line; dates `YYYY/MM/DD` with a separate `Time`
(local wall-clock, no offset); rows newest-first and with duplicates, both kept as written
(the staging step keeps one reading per device, instant and kind); mg/dL or mmol/L headers;
`Linked BG Meter ID` (a meter serial) is dropped with the header, before any frame holds it.

Splitting sections is done here (not by a CSV reader): the file is read as lines, separator
lines are found, and each section's lines are split by its own header, every cell as text.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from transforms.importers.base import (
    MMOL_TO_MG_DL,
    BadFileError,
    ImportedFile,
    blank_to_null,
    find_column,
    join_problems,
    raw_record,
)
from transforms.importers.delimited import (
    fields_table,
    line_fields,
    placed_in_time,
    read_text_lines,
    stack_readings,
    time_problems,
    value_problem,
)

FORMAT = "medtronic_carelink"
KIND = "glucose"
SECTION_MARK = "-------"
PREAMBLE = {"Last Name", "First Name", "Patient ID", "Start Date", "End Date", "Device"}
# (header prefix, kind); the unit in the header's brackets decides the conversion.
READING_COLUMNS = (("Sensor Glucose (", "sensor"), ("BG Reading (", "fingerstick"))
DEVICES = {"pump": "Medtronic pump", "sensor": "Medtronic sensor"}
# Columns holding identifiers of people or devices (a linked meter's serial number).
PERSONAL_COLUMN = re.compile(r"serial|meter id|patient|device id", re.IGNORECASE)
NO_SECTION = ("no CareLink section found: expected a '-------;…;Pump;…' line followed by a "
              "header row 'Index;Date;Time;…'")


def _separator(line: str) -> str:
    """`;` for European exports (decimal commas), `,` for US ones: whichever the line uses."""
    return ";" if line.count(";") >= line.count(",") else ","


def detect(head: str) -> bool:
    lines = head.splitlines()
    if not lines:
        return False
    if set(line_fields(lines[0], _separator(lines[0]))) >= PREAMBLE:
        return True
    for number, line in enumerate(lines[:-1]):
        if line.lstrip('\ufeff"').startswith(SECTION_MARK):
            header = line_fields(lines[number + 1], _separator(line))
            if any(find_column(header, prefix) for prefix, _ in READING_COLUMNS):
                return True
    return False


def _section_name(fields: list[str]) -> str:
    """`Pump` or `Sensor`: the word after the model in `-------;<model>;Pump;<serial>;-------`."""
    known = [field for field in fields[1:] if field.lower() in DEVICES]
    return known[0] if known else (fields[2] if len(fields) > 2 else "")


def _device(section: str) -> str:
    """The section's device as words ("Medtronic pump"), never the serial number beside it."""
    if section.lower() in DEVICES:
        return DEVICES[section.lower()]
    return f"Medtronic {section.lower()}" if re.fullmatch(r"[A-Za-z ]+", section) \
        else "Medtronic device"


def _section_readings(path: Path, lines: pl.DataFrame, separator: str, start: int,
                      end: int) -> tuple[pl.DataFrame | None, int]:
    """The readings of the section between lines `start` (its `-------` line) and `end`
    (exclusive), mapped by its own header; None when it has no glucose column. Also returns
    its data-row count."""
    body = lines.filter(pl.col("line_no").is_between(start + 1, end - 1)
                        & (pl.col("text").str.strip_chars() != ""))
    if body.is_empty():  # an installation without data: a separator and nothing else
        return None, 0
    section = _section_name(line_fields(lines["text"][start - 1], separator))
    header_row, header_text = body.row(0)
    header = line_fields(header_text, separator)
    missing = [name for name in ("Date", "Time") if name not in header]
    if len(missing) == 2:
        raise BadFileError(path, f"section '{section}' has no header row (expected "
                                 "'Index;Date;Time;…')", row=header_row)
    if missing:
        raise BadFileError(path, f"required column missing in section '{section}'",
                           row=header_row, column=missing[0])

    # A blank name is not read: personal columns never enter a frame.
    rows = fields_table(body.slice(1), ["" if PERSONAL_COLUMN.search(name) else name
                                        for name in header], separator)
    columns = [c for c in rows.columns if c != "source_row"]
    sources = [(column, kind, MMOL_TO_MG_DL if "mmol" in column.lower() else 1.0)
               for prefix, kind in READING_COLUMNS
               if (column := find_column(columns, prefix)) is not None]
    if not sources:
        return None, rows.height
    readings = stack_readings(rows, sources)
    # raw_record leaves out the columns blank in every reading row of the section (most of
    # the ~50 are, for glucose rows).
    filled = readings.select(blank_to_null(pl.col(c)).is_not_null().any().alias(c)
                             for c in columns).row(0)
    readings = readings.with_columns(raw_record([c for c, f in zip(columns, filled, strict=True)
                                                 if f]))
    return (readings.select("source_row", "Date", "Time", "_raw_value", "_value_column",
                            "glucose_mg_dl", "kind", "raw_record",
                            pl.lit(_device(section)).alias("device")),
            rows.height)


def read(path: Path, timezone: str) -> ImportedFile:
    lines = read_text_lines(path)
    starts = lines.filter(pl.col("text").str.strip_chars_start('\ufeff" ')
                          .str.starts_with(SECTION_MARK))["line_no"].to_list()
    if not starts:
        raise BadFileError(path, NO_SECTION)
    separator = _separator(lines["text"][starts[0] - 1])

    parts, rows_read = [], 0
    for start, end in zip(starts, [*starts[1:], lines.height + 1], strict=True):
        readings, height = _section_readings(path, lines, separator, start, end)
        rows_read += height
        if readings is not None:
            parts.append(readings)
    if not parts:
        raise BadFileError(path, "required column missing in every section", row=starts[0] + 1,
                           column="Sensor Glucose (mg/dL)")

    staged = placed_in_time(pl.concat(parts), "Date", ("%Y/%m/%d", "%Y-%m-%d"), "Time",
                            ("%H:%M:%S", "%H:%M"), timezone).with_columns(
        pl.lit(None, dtype=pl.String).alias("out_of_range"),  # CareLink writes no Low/High
        join_problems(*time_problems("Date", "a date YYYY/MM/DD", "Time", "a time HH:MM:SS",
                                     timezone), value_problem()),
    )
    return ImportedFile(format=FORMAT, kind=KIND, frame=staged, rows_read=rows_read,
                        rows_skipped=rows_read - staged["source_row"].n_unique())
