"""The importer registry: one module per export format, each with `detect()` and `read()`.

Adding a format = one module here, one line in `IMPORTERS`, one fixture, one test.
"""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import polars as pl

from schemas.canonical import STAGED
from transforms.importers import (
    apple_health_food,
    apple_health_glucose,
    cronometer_biometrics,
    cronometer_dailysummary,
    cronometer_servings,
    dexcom_clarity,
    generic_csv,
    libreview,
    loseit,
    macrofactor,
    medtronic_carelink,
    myfitnesspal,
    nightscout,
    nightscout_csv,
    xdrip_sidiary,
)
from transforms.importers.base import (
    BadFileError,
    ImportedFile,
    flag_cut_off_row,
    plausible,
    read_head,
)

IMPORTERS: tuple[ModuleType, ...] = (
    cronometer_servings,
    dexcom_clarity,
    cronometer_dailysummary,
    cronometer_biometrics,
    myfitnesspal,
    loseit,
    libreview,
    xdrip_sidiary,
    medtronic_carelink,
    nightscout,
    nightscout_csv,
    macrofactor,
    apple_health_food,
    apple_health_glucose,
    generic_csv,
)
FORMATS = {module.FORMAT: module for module in IMPORTERS}


def detect_formats(path: Path) -> list[ModuleType]:
    """The importers that recognise the file's content (never its name): usually one; an
    Apple Health export feeds two (food and glucose). Importers with `detect_path` look at
    the file itself (a workbook's sheets, a mapping file beside it) and come first."""
    by_path = [m for m in IMPORTERS if hasattr(m, "detect_path") and m.detect_path(path)]
    if by_path:
        return by_path
    head = read_head(path)
    found = [m for m in IMPORTERS if m.detect(head)]
    if found:
        return found
    supported = f"supported: {', '.join(FORMATS)}"
    if not head.strip():
        raise BadFileError(path, f"unrecognised export (the file is empty); {supported}", row=1)
    if zipfile.is_zipfile(path):
        raise BadFileError(path, "a zip archive inside an archive: not opened (unzip it and "
                                 "import its files)")
    if head.startswith("PK\x03\x04"):
        raise BadFileError(path, "a damaged or incomplete zip archive (or workbook): it cannot "
                                 "be opened; download or export it again")
    first_line = head.splitlines()[0][:80]
    separator = max(";\t", key=first_line.count)
    hint = (f" (fields separated by {separator!r}: exports use ','; for other layouts write "
            "a mapping file, see generic_csv)"
            if first_line.count(separator) > first_line.count(",") else "")
    raise BadFileError(path, f"unrecognised export (first line: {first_line!r}){hint}; "
                             f"{supported}", row=1)


def detect_format(path: Path) -> ModuleType:
    """The first importer that recognises the file."""
    return detect_formats(path)[0]


def conform(imported: ImportedFile) -> pl.DataFrame:
    """Check an importer's output against the staged spec and return exactly its columns.

    A missing column or a type that cannot be cast is an importer bug, not bad input, so it
    raises `TypeError` rather than quarantining anything. Implausible dates and over-long
    text get a parse error here, for every format at once (`base.plausible`).
    """
    spec = STAGED[imported.kind]
    missing = [name for name in spec.names if name not in imported.frame.columns]
    if missing:
        raise TypeError(f"importer {imported.format} did not produce {missing}")
    frame = imported.frame.select(
        pl.col(c.name).cast(c.polars_type, strict=True) for c in spec.columns)
    text = [c.name for c in spec.columns if c.polars_type == pl.String()
            and c.name not in ("parse_error", "raw_record", "entry_type", "kind",
                               "out_of_range")]
    return plausible(frame, text)


def read_file(path: Path, timezone: str, format_name: str | None = None) -> ImportedFile:
    """Detect (or take `format_name`) and read one export."""
    if format_name is not None and format_name not in FORMATS:
        raise BadFileError(path, f"unknown format '{format_name}'; supported: {', '.join(FORMATS)}")
    module = FORMATS[format_name] if format_name else detect_format(path)
    imported = module.read(path, timezone)
    if getattr(module, "LINE_ROWS", True) and not zipfile.is_zipfile(path):
        imported = replace(imported, frame=flag_cut_off_row(path, imported.frame))
    return imported
