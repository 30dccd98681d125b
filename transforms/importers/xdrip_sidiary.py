"""xDrip+ CSV export in SiDiary format: sensor readings (`UDT_CGMS`) and meter readings
(`BG_LEVEL`).

Quirks handled (formats.md, and xDrip+'s own exporter): `;` separators with
`DAY;TIME;UDT_CGMS;BG_LEVEL;CH_GR;BOLUS;REMARK`; `DAY` is `DD.MM.YYYY` and `TIME` `HH:MM`, local
wall-clock without an offset; the file holds blocks (sensor readings, then calibrations, then
treatments), each in time order, so it is not sorted as a whole; treatment rows (carbs, bolus,
notes) carry no glucose and are skipped; one row can carry both a sensor and a meter value
(two readings); decimal commas may occur; rows can be ragged (`DD.MM.YYYY;HH:MM;115`).

The file is split into lines (not parsed by a CSV reader, see `delimited`) so `source_row` is
always the file line number, and so a free-text `REMARK` that opens a quote cannot swallow the
lines after it.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from transforms.importers.base import (
    ImportedFile,
    join_problems,
    raw_record,
    require_columns,
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

FORMAT = "xdrip_sidiary"
KIND = "glucose"
DEVICE = "xDrip+"
SEPARATOR = ";"
REQUIRED = ("DAY", "TIME", "UDT_CGMS")
# (column, kind): a row with both cells filled is two readings.
READING_COLUMNS = (("UDT_CGMS", "sensor"), ("BG_LEVEL", "fingerstick"))


def detect(head: str) -> bool:
    first = head.splitlines()[0] if head else ""
    return set(REQUIRED) <= {field.upper() for field in line_fields(first, SEPARATOR)}


def read(path: Path, timezone: str) -> ImportedFile:
    lines = read_text_lines(path)
    header = [name.upper() for name in line_fields(lines["text"][0], SEPARATOR)]
    data = lines.filter((pl.col("line_no") > 1) & (pl.col("text").str.strip_chars() != ""))
    rows = fields_table(data, header, SEPARATOR)
    require_columns(rows, path, REQUIRED)
    columns = [c for c in rows.columns if c != "source_row"]

    sources = [(column, kind, 1.0) for column, kind in READING_COLUMNS if column in columns]
    readings = stack_readings(rows.with_columns(raw_record(columns)), sources)
    staged = placed_in_time(readings, "DAY", ("%d.%m.%Y",), "TIME", ("%H:%M", "%H:%M:%S"),
                            timezone).with_columns(
        pl.lit(DEVICE).alias("device"),
        pl.lit(None, dtype=pl.String).alias("out_of_range"),  # xDrip+ writes no Low/High
        join_problems(*time_problems("DAY", "a date DD.MM.YYYY", "TIME", "a time HH:MM",
                                     timezone), value_problem()),
    )
    with_reading = staged["source_row"].n_unique()
    return ImportedFile(format=FORMAT, kind=KIND, frame=staged, rows_read=rows.height,
                        rows_skipped=rows.height - with_reading)
