"""Nightscout `entries.json` (`/api/v1/entries.json`): sensor (`sgv`) and meter (`mbg`) readings.

Quirks handled (formats.md): `date` is epoch milliseconds in UTC, so the configured time zone
only gives the wall clock (`utcOffset` is ignored); `sgv` may be a number or a string; `cal`
records are calibration parameters, not readings; sgv 0–12 are Dexcom error codes (skipped and
counted) while real lows of 30–39 are kept; files are newest-first and may repeat an entry
(the warehouse keeps one); `device` may carry a transmitter or receiver serial, which is masked
before any column — `raw_record` included — sees it. Only the known entry fields are kept:
anything else an uploader adds never reaches a frame.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl

from transforms.importers.base import (
    BadFileError,
    ImportedFile,
    blank_to_null,
    join_problems,
    problem,
    raw_record,
    to_number,
)

FORMAT = "nightscout_entries"
KIND = "glucose"
LINE_ROWS = False  # source_row is not a line number: no cut-off-row check
FIELDS = ("_id", "type", "sgv", "mbg", "date", "dateString", "device", "direction", "trend",
          "utcOffset", "sysTime")
READING_KINDS = {"sgv": "sensor", "mbg": "fingerstick"}
ERROR_CODES = (0, 12)  # Dexcom special values (?SN, ?NC, ?AD, ?RF…), never glucose
# Serial-looking tokens (Dexcom `8G1234`, receiver `SM12345678`) inside the device text.
SERIAL_TOKEN = r"\b[A-Z]{0,3}[0-9][A-Z0-9]{4,}\b"
SERIAL_MASK = "[masked]"
# 2000-01-01 and 2100-01-01 in ms: a `date` outside is seconds (or garbage), not a reading.
EPOCH_MS_RANGE = (946_684_800_000, 4_102_444_800_000)
# The first object of a JSON list that names Nightscout entry keys (sniffed, never parsed:
# the head may end mid-object).
_HEAD = re.compile(r"^\s*\[\s*\{(?P<first>[^}]*)")
_KEY = r'"{}"\s*:'


def detect(head: str) -> bool:
    match = _HEAD.match(head.lstrip("\ufeff"))
    if match is None:
        return False
    first = match.group("first")
    has = {key: re.search(_KEY.format(key), first) is not None
           for key in ("date", "sgv", "mbg", "type")}
    return has["date"] and (has["sgv"] or has["mbg"] or has["type"])


def _load(path: Path) -> list[dict]:
    """The file's entries, after checking its shape (`json.loads` on bytes accepts UTF-8 with
    or without BOM and UTF-16/32; NaN/Infinity become null)."""
    try:
        data = json.loads(path.read_bytes(), parse_constant=lambda _: None)
    except UnicodeDecodeError as error:
        raise BadFileError(path, f"not UTF-8/UTF-16 text (byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise BadFileError(path, f"not valid JSON: {error.msg} at line {error.lineno}, "
                                 f"column {error.colno}") from None
    except RecursionError:
        raise BadFileError(path, "not Nightscout entries: JSON nested too deeply") from None
    except ValueError as error:  # e.g. a number of more than 4300 digits
        raise BadFileError(path, f"not valid JSON: {str(error).split(';')[0]}") from None
    if not isinstance(data, list):
        raise BadFileError(path, f"expected a JSON list of Nightscout entries, found a JSON "
                                 f"{type(data).__name__.replace('dict', 'object')}")
    not_object = next((i for i, item in enumerate(data, start=1)
                       if not isinstance(item, dict)), None)
    if not_object is not None:
        raise BadFileError(path, f"item {not_object} of the list is not a JSON object; expected "
                                 "Nightscout entries", row=not_object)
    return data


def _text_columns(entries: list[dict]) -> pl.DataFrame:
    """The known fields as text, whatever their JSON type (`sgv` as 123 or "123"); fields an
    uploader adds beyond `FIELDS` are never read."""
    return pl.DataFrame([pl.Series(name, [entry.get(name) for entry in entries],
                                   dtype=pl.String, strict=False) for name in FIELDS])


def read(path: Path, timezone: str) -> ImportedFile:
    frame = _text_columns(_load(path)).with_row_index("source_row", offset=1).with_columns(
        pl.col("source_row").cast(pl.Int64),
        # mask serials before anything else sees them
        blank_to_null(pl.col("device")).str.replace_all(SERIAL_TOKEN, SERIAL_MASK)
        .alias("device"))

    entry_type = blank_to_null(pl.col("type")).str.to_lowercase()
    staged = frame.with_columns(
        pl.when(entry_type.is_not_null()).then(entry_type.replace_strict(
            READING_KINDS, default=None, return_dtype=pl.String))
          .when(pl.col("sgv").is_not_null()).then(pl.lit("sensor"))
          .when(pl.col("mbg").is_not_null()).then(pl.lit("fingerstick")).alias("kind"),
        (to_number(pl.col("date")) * 1000).round().cast(pl.Int64, strict=False)
          .alias("_epoch_us"),
        raw_record(list(FIELDS)),
    )
    value_text = pl.when(pl.col("kind") == "fingerstick").then(pl.col("mbg")) \
        .otherwise(pl.col("sgv"))
    staged = staged.with_columns(to_number(value_text).alias("glucose_mg_dl"))
    error_code = (pl.col("kind") == "sensor") & pl.col("glucose_mg_dl").is_between(*ERROR_CODES)
    readings = staged.filter(pl.col("kind").is_not_null() & ~error_code.fill_null(False))

    epoch_us = pl.col("_epoch_us")
    readings = readings.with_columns(
        pl.when(epoch_us.is_between(*(ms * 1000 for ms in EPOCH_MS_RANGE), closed="left"))
          .then(pl.from_epoch(epoch_us, time_unit="us"))
          .dt.replace_time_zone("UTC").alias("ts_utc"),
        pl.lit(None, dtype=pl.String).alias("out_of_range"),  # Nightscout has no Low/High text
        pl.col("device").fill_null("Nightscout"),
    ).with_columns(
        pl.col("ts_utc").dt.convert_time_zone(timezone).dt.replace_time_zone(None)
          .alias("local_ts"),
    ).with_columns(pl.col("local_ts").dt.date().alias("local_date"))

    sensor, meter = pl.col("kind") == "sensor", pl.col("kind") == "fingerstick"
    readings = readings.with_columns(join_problems(
        pl.when(pl.col("date").is_null()).then(pl.lit("date is missing")),
        problem(pl.col("date"), pl.col("ts_utc"), "date", "epoch milliseconds (2000–2099)"),
        pl.when(value_text.is_null() | (value_text.str.strip_chars() == ""))
          .then(pl.format("{} is missing", pl.when(meter).then(pl.lit("mbg"))
                          .otherwise(pl.lit("sgv")))),
        problem(pl.when(sensor).then(pl.col("sgv")), pl.col("glucose_mg_dl"), "sgv", "a number"),
        problem(pl.when(meter).then(pl.col("mbg")), pl.col("glucose_mg_dl"), "mbg", "a number"),
    ))
    return ImportedFile(format=FORMAT, kind=KIND, frame=readings.drop("_epoch_us"),
                        rows_read=frame.height, rows_skipped=frame.height - readings.height)
