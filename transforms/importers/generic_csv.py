"""Any CSV food log or glucose export, read through the user's TOML mapping beside it.

For exports no dedicated importer knows, the user writes `<file>.mapping.toml` (or
`<stem>.mapping.toml`, or passes one) naming the columns, the delimiter, decimal commas, the
strptime formats and, for glucose, the unit, device and reading kind. A file is never
recognised by its content (`detect` is always False): it is chosen with `--format generic_csv`
or because a mapping sits beside it (`detect_path`).

Quirks handled: `;` delimiters and decimal commas; encodings other than UTF-8 (`encoding`);
BOM, CRLF and quoting; a date column holding the whole timestamp (with or without an offset)
or separate date and time columns; mg/dL or mmol/L; `Low`/`LO`/`High`/`HI` text; rows whose
every cell is blank (`;;;;` lines from spreadsheets) are skipped. Only the columns the mapping
names are read into the frame, `raw_record` included, so unmapped (possibly personal) columns
never leave the file. A mistake in the mapping, or a mapped column the CSV lacks, is a
one-line `BadFileError` naming the key or the column.
"""

from __future__ import annotations

import codecs
import io
import re
import tomllib
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import polars as pl
from pydantic import (
    BaseModel,
    ConfigDict,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from transforms.importers.base import (
    MMOL_TO_MG_DL,
    BadFileError,
    ImportedFile,
    amount_and_unit,
    blank_to_null,
    join_problems,
    localise,
    mass_grams,
    nonexistent_time_problem,
    problem,
    raw_record,
)

FORMAT = "generic_csv"
KIND = "food"  # the registry's default; each file's kind is the one its mapping declares
MAPPING_SUFFIX = ".mapping.toml"
TIME_DIRECTIVES = ("%H", "%I", "%T", "%R", "%c")
# A meter's or sensor's serial number (e.g. PL82501061) is personal: not accepted as a device.
SERIAL_PATTERN = r"^[A-Z]{0,3}[0-9][A-Z0-9]{5,}$"
GLUCOSE_UNITS = {"mg/dl": "mg/dL", "mmol/l": "mmol/L"}
OUT_OF_RANGE = {"low": "below_range", "lo": "below_range",
                "high": "above_range", "hi": "above_range"}

ColumnName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Mapping(BaseModel):
    """Keys every mapping shares; a key not declared here or in a subclass is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    COLUMN_KEYS: ClassVar[tuple[str, ...]] = ("date", "time")

    delimiter: Annotated[str, StringConstraints(min_length=1, max_length=1)] = ","
    decimal_comma: bool = False
    encoding: str = "utf-8"
    date: ColumnName
    time: ColumnName | None = None
    date_format: str = "%Y-%m-%d"
    time_format: str = "%H:%M"

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            return codecs.lookup(value).name
        except LookupError:
            raise ValueError(f"unknown encoding '{value}'") from None

    @model_validator(mode="after")
    def _one_source_of_time(self) -> _Mapping:
        if self.time is not None and self.date_has_time:
            raise ValueError("date_format already holds a time; drop 'time' or the time in "
                             "date_format")
        return self

    @property
    def date_has_time(self) -> bool:
        return any(d in self.date_format for d in TIME_DIRECTIVES)

    def columns(self) -> dict[str, str]:
        """Mapping key → CSV column name, for every column the mapping names."""
        return {key: getattr(self, key) for key in self.COLUMN_KEYS
                if getattr(self, key) is not None}


class FoodMapping(_Mapping):
    COLUMN_KEYS: ClassVar[tuple[str, ...]] = (
        *_Mapping.COLUMN_KEYS, "name", "amount", "unit", "grams", "magnesium_mg", "energy_kcal",
        "carbohydrates_g", "meal", "category")

    kind: Literal["food"]
    name: ColumnName
    amount: ColumnName | None = None
    unit: ColumnName | None = None
    grams: ColumnName | None = None
    magnesium_mg: ColumnName | None = None
    energy_kcal: ColumnName | None = None
    carbohydrates_g: ColumnName | None = None
    meal: ColumnName | None = None
    category: ColumnName | None = None


class GlucoseMapping(_Mapping):
    COLUMN_KEYS: ClassVar[tuple[str, ...]] = (*_Mapping.COLUMN_KEYS, "value")

    kind: Literal["glucose"]
    value: ColumnName
    unit: str  # the values' unit (not a column): mg/dL or mmol/L
    device: str = "generic CSV"
    kind_value: Literal["sensor", "scan", "fingerstick"] = "sensor"

    @field_validator("unit")
    @classmethod
    def _glucose_unit(cls, value: str) -> str:
        if value.strip().lower() not in GLUCOSE_UNITS:
            raise ValueError(f"'{value}' is not mg/dL or mmol/L")
        return GLUCOSE_UNITS[value.strip().lower()]

    @field_validator("device")
    @classmethod
    def _not_a_serial(cls, value: str) -> str:
        if re.match(SERIAL_PATTERN, value.strip()):
            raise ValueError(f"'{value}' looks like a serial number; name the device instead")
        return value.strip()

    @model_validator(mode="after")
    def _has_a_time(self) -> GlucoseMapping:
        if self.time is None and not self.date_has_time:
            raise ValueError("glucose readings need a time: map 'time' or give a date_format "
                             "with %H")
        return self


MODELS: dict[str, type[FoodMapping] | type[GlucoseMapping]] = {
    "food": FoodMapping, "glucose": GlucoseMapping}


def mapping_path(path: Path) -> Path | None:
    """The mapping beside `path`: `<file>.mapping.toml`, else `<stem>.mapping.toml`."""
    candidates = (path.with_name(path.name + MAPPING_SUFFIX),
                  path.with_name(path.stem + MAPPING_SUFFIX))
    return next((candidate for candidate in candidates if candidate.is_file()), None)


def detect(head: str) -> bool:
    """Never: a CSV without a mapping has no meaning we could guess."""
    return False


def detect_path(path: Path) -> bool:
    return mapping_path(path) is not None


def _validation_message(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        text = f"key '{key}' is missing"
    elif first["type"] == "extra_forbidden":
        text = f"unknown key '{key}'"
    else:
        text = f"key '{key}': {message}" if key else message
    more = error.error_count() - 1
    return text + (f" (and {more} more)" if more else "")


def _load_mapping(path: Path, found: Path) -> FoodMapping | GlucoseMapping:
    """Parse and validate the mapping `found` for the CSV at `path`; any mistake in it is one
    line naming the key (pydantic's multi-line report would bury it)."""
    try:
        data = tomllib.loads(found.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise BadFileError(path, f"mapping {found.name} is not readable "
                                 f"({type(error).__name__})") from None
    except tomllib.TOMLDecodeError as error:
        raise BadFileError(path, f"mapping {found.name} is not valid TOML "
                                 f"({str(error).splitlines()[0]})") from None
    kind = data.get("kind")
    model = MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise BadFileError(path, f"mapping {found.name}: key 'kind' must be \"food\" or "
                                 f"\"glucose\" (found: {kind!r})")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise BadFileError(path, f"mapping {found.name}: {_validation_message(error)}") \
            from None


def _read_csv(path: Path, mapping: FoodMapping | GlucoseMapping, name: str) -> pl.DataFrame:
    """The mapped columns as text plus `source_row` (file line number, header = 1); columns the
    mapping does not name are dropped here, so nothing unmapped reaches any frame."""
    raw = path.read_bytes()
    try:
        text = raw.decode(mapping.encoding).lstrip("\ufeff")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise BadFileError(path, f"not {mapping.encoding} text; set 'encoding' in {name} "
                                 "(e.g. cp1252)", row=line) from None
    try:
        frame = pl.read_csv(io.BytesIO(text.encode("utf-8")), separator=mapping.delimiter,
                            infer_schema=False, truncate_ragged_lines=True)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "empty"
        raise BadFileError(path, f"not a readable CSV with delimiter '{mapping.delimiter}' "
                                 f"({first_line})") from None
    frame = frame.rename({column: column.strip() for column in frame.columns})
    found = frame.columns
    shown = ", ".join(found[:8]) + ("…" if len(found) > 8 else "")
    hint = f"; is delimiter '{mapping.delimiter}' right?" if len(found) == 1 else ""
    for key, column in mapping.columns().items():
        if column not in found:
            raise BadFileError(path, f"named by '{key}' in {name} but not in the file "
                                     f"(found: {shown}){hint}", row=1, column=column)
    mapped = [column for column in found if column in mapping.columns().values()]
    return frame.select(mapped).with_row_index("source_row", offset=2).with_columns(
        pl.col("source_row").cast(pl.Int64))


def _number(column: str, decimal_comma: bool) -> pl.Expr:
    text = blank_to_null(pl.col(column))
    if decimal_comma:
        text = text.str.replace_all(",", ".", literal=True)
    return text.cast(pl.Float64, strict=False)


def _times(mapping: FoodMapping | GlucoseMapping,
           timezone: str) -> tuple[pl.Expr, pl.Expr, pl.Expr, list[pl.Expr]]:
    """(local_date, local_ts, ts_utc, problems). A date_format with %z gives the instant
    directly; a local wall clock is localised in `timezone` (a non-existent DST time gives a
    null ts_utc, which the glucose reader flags)."""
    date_text = blank_to_null(pl.col(mapping.date))
    if mapping.date_has_time:
        parsed = date_text.str.to_datetime(mapping.date_format, strict=False)
        problems = [problem(pl.col(mapping.date), parsed, mapping.date,
                            f"a timestamp {mapping.date_format}")]
        if "%z" in mapping.date_format:
            local_ts = parsed.dt.convert_time_zone(timezone).dt.replace_time_zone(None)
            ts_utc = parsed.dt.convert_time_zone("UTC")
        else:
            local_ts, ts_utc = parsed, localise(parsed, timezone)
        return local_ts.dt.date(), local_ts, ts_utc, problems
    local_date = date_text.str.to_date(mapping.date_format, strict=False)
    problems = [problem(pl.col(mapping.date), local_date, mapping.date,
                        f"a date {mapping.date_format}")]
    time = pl.lit(None, dtype=pl.Time)
    if mapping.time is not None:
        time = blank_to_null(pl.col(mapping.time)).str.to_time(mapping.time_format,
                                                               strict=False)
        problems.append(problem(pl.col(mapping.time), time, mapping.time,
                                f"a time {mapping.time_format}"))
    local_ts = local_date.dt.combine(time)
    return local_date, local_ts, localise(local_ts, timezone), problems


def _food(rows: pl.DataFrame, mapping: FoodMapping, timezone: str) -> pl.DataFrame:
    local_date, local_ts, _, problems = _times(mapping, timezone)
    comma = mapping.decimal_comma

    def text(key: str) -> pl.Expr:
        column = getattr(mapping, key)
        return blank_to_null(pl.col(column)) if column else pl.lit(None, dtype=pl.String)

    missing = pl.lit(None, dtype=pl.Float64)
    split = mapping.amount is not None and mapping.unit is None  # "0,5 kg" in one cell
    numbers = {key: _number(getattr(mapping, key), comma)
               for key in ("amount", "grams", "magnesium_mg", "energy_kcal", "carbohydrates_g")
               if getattr(mapping, key) is not None and not (split and key == "amount")}
    problems += [problem(pl.col(getattr(mapping, key)), parsed, getattr(mapping, key),
                         "a number") for key, parsed in numbers.items()]
    if split:
        cell = text("amount")
        amount, unit = amount_and_unit(cell.str.replace_all(",", ".", literal=True) if comma
                                       else cell)
        problems.append(problem(cell, amount, mapping.amount, "a number and unit"))
    else:
        amount, unit = numbers.get("amount", missing), text("unit")
    return rows.with_columns(
        local_date.alias("local_date"),
        local_ts.alias("local_ts"),
        text("meal").alias("meal"),
        pl.col(mapping.name).str.strip_chars().alias("food_name"),
        amount.alias("amount"),
        unit.alias("unit"),
        pl.coalesce(numbers.get("grams", missing), mass_grams(amount, unit)).alias("grams"),
        *[numbers.get(key, missing).alias(key)
          for key in ("magnesium_mg", "energy_kcal", "carbohydrates_g")],
        text("category").alias("category"),
        pl.lit("food").alias("entry_type"),
        join_problems(*problems),
    )


def _glucose(rows: pl.DataFrame, mapping: GlucoseMapping, timezone: str) -> pl.DataFrame:
    local_date, local_ts, ts_utc, problems = _times(mapping, timezone)
    to_mg_dl = MMOL_TO_MG_DL if mapping.unit == "mmol/L" else 1.0
    value = blank_to_null(pl.col(mapping.value))
    flag = value.str.to_lowercase().replace_strict(OUT_OF_RANGE, default=None,
                                                   return_dtype=pl.String)
    staged = rows.with_columns(
        local_date.alias("local_date"),
        local_ts.alias("local_ts"),
        ts_utc.alias("ts_utc"),
        (_number(mapping.value, mapping.decimal_comma) * to_mg_dl).alias("glucose_mg_dl"),
        flag.alias("out_of_range"),
        pl.lit(mapping.device).alias("device"),
        pl.lit(mapping.kind_value).alias("kind"),
    )
    return staged.with_columns(
        join_problems(
            *problems,
            nonexistent_time_problem(pl.col("local_ts"), pl.col("ts_utc"), timezone),
            pl.when(value.is_not_null() & pl.col("glucose_mg_dl").is_null()
                    & pl.col("out_of_range").is_null())
              .then(pl.format("{} '{}' is not a number, Low or High", pl.lit(mapping.value),
                              value)),
        ),
    )


def read(path: Path, timezone: str, mapping: Path | None = None) -> ImportedFile:
    """Read `path` as its mapping (found beside it, or `mapping`) describes."""
    found = mapping or mapping_path(path)
    if found is None:
        raise BadFileError(path, f"no mapping: write {path.name}{MAPPING_SUFFIX} beside it "
                                 "(kind, date, and the columns to read)")
    spec = _load_mapping(path, found)
    frame = _read_csv(path, spec, found.name)
    columns = [c for c in frame.columns if c != "source_row"]
    blank = pl.all_horizontal(blank_to_null(pl.col(c)).is_null() for c in columns)
    rows = frame.filter(~blank)
    staged = (_food(rows, spec, timezone) if isinstance(spec, FoodMapping)
              else _glucose(rows, spec, timezone))
    staged = staged.with_columns(raw_record(columns))
    return ImportedFile(format=FORMAT, kind=spec.kind, frame=staged, rows_read=frame.height,
                        rows_skipped=frame.height - rows.height)
