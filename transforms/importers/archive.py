"""Zip archives users bring (a MyFitnessPal export, several CSVs zipped together): their
members are extracted, bounded, and routed to importers one by one.

Containers that one importer reads whole — an Apple Health `export.zip`, a MacroFactor
`.xlsx` (itself a zip) — are recognised by that importer's `detect_path` and not expanded.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path, PurePosixPath

from transforms.importers.base import BadFileError

MAX_MEMBERS = 200
MAX_TOTAL_BYTES = 4 << 30  # uncompressed
MAX_RATIO = 200  # compression ratio above which a member is treated as a zip bomb


def is_archive(path: Path) -> bool:
    return zipfile.is_zipfile(path)


def _refuse_containers(path: Path, names: list[str]) -> None:
    """A workbook or an Apple Health export that no importer took (no food-log sheet, no
    export.xml) is one thing the user chose, not a bundle of files: one line for it, not
    one per XML part inside."""
    if any(name.startswith("xl/workbook.") for name in names):
        raise BadFileError(path, "a spreadsheet workbook without a food log sheet (MacroFactor: "
                                 "a sheet whose header has Date and Food Name)")
    if any(name.startswith("apple_health_export/") for name in names):
        raise BadFileError(path, "an Apple Health export without "
                                 "apple_health_export/export.xml")


def extract_members(path: Path, folder: Path) -> list[Path]:
    """Extract the archive's regular files (no folders or links) into `folder`, each in a
    numbered subfolder under its own name, refusing zip bombs and damaged members with a
    one-line error. A nested archive is extracted like any member and refused on its own
    when no importer recognises it (`detect_formats`): it is never opened."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise BadFileError(path, f"not a readable zip archive ({error})") from None
    with archive:
        _refuse_containers(path, archive.namelist())
        members = [m for m in archive.infolist()
                   if not m.is_dir() and not PurePosixPath(m.filename).name.startswith(".")
                   and "__MACOSX" not in m.filename]
        if len(members) > MAX_MEMBERS:
            raise BadFileError(path, f"{len(members)} files in the archive (at most "
                                     f"{MAX_MEMBERS})")
        total = sum(m.file_size for m in members)
        if total > MAX_TOTAL_BYTES:
            raise BadFileError(path, f"archive expands to {total:,} bytes (at most "
                                     f"{MAX_TOTAL_BYTES:,})")
        extracted = []
        try:
            for number, member in enumerate(members, start=1):
                extracted.append(_extract(path, archive, member, folder / f"{number:03d}"))
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise BadFileError(path, f"damaged zip archive ({reason})") from None
    return extracted


def _extract(path: Path, archive: zipfile.ZipFile, member: zipfile.ZipInfo,
             folder: Path) -> Path:
    if member.compress_size and member.file_size / member.compress_size > MAX_RATIO:
        raise BadFileError(path, f"member {member.filename!r} expands "
                                 f"{member.file_size // member.compress_size}× "
                                 "(a zip bomb?)")
    folder.mkdir()
    target = folder / PurePosixPath(member.filename).name
    with archive.open(member) as source, target.open("wb") as sink:
        remaining = member.file_size + 1  # never write more than announced
        while block := source.read(min(1 << 20, remaining)):
            remaining -= len(block)
            if remaining <= 0:
                raise BadFileError(path, f"member {member.filename!r} is larger than "
                                         "its header says")
            sink.write(block)
    return target


def member_name(archive: Path, extracted: Path) -> str:
    """How a member is named in summaries and the batch log: `export.zip/Nutrition.csv`."""
    return f"{archive.name}/{extracted.name}"
