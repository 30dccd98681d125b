"""Streaming reader for Apple Health `export.xml` (or `export.zip`), shared by the
`apple_health_food` and `apple_health_glucose` importers; not an importer itself.

Exports run to gigabytes, so the XML is parsed incrementally (`iterparse`) and every top-level
element is dropped as soon as it has been looked at: memory stays bounded by the records kept,
not by the file. Only the wanted record types are collected, as column lists, and the polars
frame is built once at the end. `<Me>` (birth date, sex) is passed over unread.

The parser is defusedxml's: the internal DTD real exports open with is accepted, while entity
declarations (entity-expansion bombs such as billion laughs) and external entities or DTDs are
refused before anything is expanded or fetched. Two defects of real exports are tolerated:
iOS 16 wrote a malformed internal DTD (an unclosed `ATTLIST`), and some versions write raw
control characters such as U+000B into values (see `_ExportStream`).
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

import polars as pl
from defusedxml import DefusedXmlException, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import DefusedXMLParser, iterparse

from transforms.importers.base import HEAD_BYTES, BadFileError

ZIP_MEMBER = "apple_health_export/export.xml"
ROOT_TAG = "HealthData"
# The DOCTYPE and its internal subset (about 15 KB in real exports) must fit in this prefix.
PROLOG_BYTES = 1 << 18
# C0 control characters other than tab, LF and CR are not allowed in XML 1.0. They are
# swapped for spaces byte for byte (UTF-8 never uses these bytes inside a multi-byte
# character), so the parser's line and column numbers still point into the original file.
_CONTROL = bytes(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))
_CLEAN = bytes.maketrans(_CONTROL, b" " * len(_CONTROL))
# An app's `sourceName` is kept, but the phone's or watch's own name usually carries its
# owner's ("Testfirst’s iPhone", "iPhone de Testfirst"): such names become the product word
# alone, and any other "Name’s …" loses its possessive.
APPLE_DEVICE = r"(?i)\b(iPhone|iPad|iPod|Apple Watch)\b"
POSSESSIVE = r"^[^\s’']+[’']s\s+"
# Words that look like serial numbers (an optional letter prefix, a digit, 5+ more capitals or
# digits) are dropped from source names.
SERIAL_WORD = r"\b[A-Z]*[0-9][A-Z0-9]{5,}\b"


@dataclass(frozen=True)
class RecordScan:
    """The wanted records of one export, and how many top-level records it had in all."""

    # One row per wanted top-level <Record>: `record` (its 1-based ordinal among all top-level
    # records of the file) plus one String column per requested attribute and metadata key.
    frame: pl.DataFrame
    records_read: int  # top-level <Record> elements of every type


def detect_head(head: str) -> bool:
    """An Apple Health export.xml: its DOCTYPE or root element appears in the first 8 KB."""
    return "<!DOCTYPE HealthData" in head or "<HealthData" in head


def detect_zip(path: Path) -> bool:
    """An `export.zip` whose export.xml member looks like an export: the importers stream it
    from the archive themselves, so the registry must not expand it."""
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as archive, archive.open(_zip_member(path, archive)) as member:
            return detect_head(member.read(HEAD_BYTES).decode("utf-8", errors="replace"))
    except (BadFileError, zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError):
        return False


def source_label(source: pl.Expr) -> pl.Expr:
    """`sourceName` fit to store: app names as written, Apple devices as the product only.

    "Testfirst’s iPhone" → "iPhone" and "Testfirst’s Scale" → "Scale" (the owner's name is
    personal data); serial-looking words are removed; an empty result becomes "Apple Health".
    """
    device = source.str.extract(APPLE_DEVICE, 1)
    cleaned = (source.str.replace(POSSESSIVE, "").str.replace_all(SERIAL_WORD, " ")
               .str.replace_all(r"\s+", " ").str.strip_chars())
    return (pl.when(device.is_not_null()).then(device)
            .when(cleaned.is_null() | (cleaned == "")).then(pl.lit("Apple Health"))
            .otherwise(cleaned))


def scan_records(path: Path, types: Collection[str], attributes: Sequence[str],
                 metadata: Sequence[str] = ()) -> RecordScan:
    """Stream the export at `path` and keep the top-level records whose `type` is in `types`.

    `attributes` are read from the <Record> element, `metadata` from its
    `<MetadataEntry key=… value=…>` children; missing ones are null. Records nested in a
    <Correlation> are copies of top-level records (the DTD says so) and are not read again.
    A file that is not a safe, well-formed Apple Health export raises a one-line
    `BadFileError`.
    """
    with _open_export(path) as raw:
        return _scan(path, _ExportStream(raw), frozenset(types), tuple(attributes),
                     tuple(metadata))


@contextmanager
def _open_export(path: Path) -> Iterator[IO[bytes]]:
    """The export's XML as a binary stream: the file itself, or the zip member, decompressed
    as it is read (never extracted to disk)."""
    if not zipfile.is_zipfile(path):
        with path.open("rb") as handle:
            yield handle
        return
    try:
        with zipfile.ZipFile(path) as archive, archive.open(_zip_member(path, archive)) as handle:
            yield handle
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise BadFileError(path, f"damaged zip archive ({reason})") from None


def _zip_member(path: Path, archive: zipfile.ZipFile) -> str:
    """`apple_health_export/export.xml`, or the one `export.xml` if the folder is named
    otherwise; `export_cda.xml` and workout routes are never read."""
    names = archive.namelist()
    if ZIP_MEMBER in names:
        return ZIP_MEMBER
    candidates = [name for name in names if name.rsplit("/", 1)[-1] == "export.xml"]
    if len(candidates) == 1:
        return candidates[0]
    raise BadFileError(path, f"zip archive without {ZIP_MEMBER}")


class _ExportStream:
    """The export's bytes as the parser gets them: control characters replaced, and an
    internal DTD that declares no entities blanked out.

    The internal DTD of an export holds only element and attribute declarations, which the
    import does not need, and iOS 16 wrote it malformed, which stops any conforming parser. It
    is replaced by as many newlines as it had (line numbers hold), leaving an empty
    `<!DOCTYPE HealthData [ ]>`. A DTD that declares an entity is passed on untouched, so the
    defused parser sees the declaration and refuses the file.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._head: bytes | None = _blank_internal_dtd(raw.read(PROLOG_BYTES)).translate(_CLEAN)

    def read(self, size: int) -> bytes:
        if self._head is not None:  # iterparse feeds whatever it gets: no need to split it
            head, self._head = self._head, None
            return head
        return self._raw.read(size).translate(_CLEAN)


def _blank_internal_dtd(head: bytes) -> bytes:
    start = head.find(b"<!DOCTYPE")
    opening = head.find(b"[", start) if start >= 0 else -1
    closing = head.find(b"]>", opening) if opening >= 0 else -1
    if closing < 0 or b">" in head[start:opening]:
        return head
    subset = head[opening + 1:closing]
    if b"<!ENTITY" in subset:
        return head
    return head[:opening + 1] + b"\n" * subset.count(b"\n") + head[closing:]


def _refuse_external_dtd(name: str, system_id: str | None, public_id: str | None,
                         has_internal_subset: bool) -> None:
    """expat never fetches an external DTD for ElementTree, but an export has none: refuse."""
    if system_id or public_id:
        raise ExternalReferenceForbidden(None, None, system_id, public_id)


def _safe_parser() -> DefusedXMLParser:
    parser = DefusedXMLParser(target=TreeBuilder(), forbid_dtd=False, forbid_entities=True,
                              forbid_external=True)
    parser.parser.StartDoctypeDeclHandler = _refuse_external_dtd
    return parser


def _scan(path: Path, stream: _ExportStream, types: frozenset[str], attributes: tuple[str, ...],
          metadata: tuple[str, ...]) -> RecordScan:
    ordinals: list[int] = []
    attribute_columns = [(name, []) for name in attributes]
    metadata_columns = [(key, []) for key in metadata]
    records = depth = 0
    root: Element | None = None
    try:
        for event, element in iterparse(stream, events=("start", "end"), parser=_safe_parser()):
            if event == "start":
                if root is None:
                    root = _checked_root(path, element)
                depth += 1
                continue
            depth -= 1
            if depth != 1:  # the root itself, or inside a top-level element (metadata, …)
                continue
            if element.tag == "Record":
                records += 1
                if element.get("type") in types:
                    ordinals.append(records)
                    for name, values in attribute_columns:
                        values.append(element.get(name))
                    if metadata_columns:
                        found = {child.get("key"): child.get("value") for child in element
                                 if child.tag == "MetadataEntry"}
                        for key, values in metadata_columns:
                            values.append(found.get(key))
            root.clear()  # drops the finished element: the tree never grows
    except EntitiesForbidden:
        raise BadFileError(path, "refused: the XML declares entities (entity-expansion bombs "
                                 "and external entities are not allowed)") from None
    except DefusedXmlException:
        raise BadFileError(path, "refused: the XML refers to an external entity or DTD "
                                 "(no file or network access from XML)") from None
    except ParseError as error:
        line, column = error.position
        reason = str(error).rsplit(": line", 1)[0]
        raise BadFileError(path, f"not well-formed XML at line {line}, column {column} "
                                 f"({reason})") from None
    columns = {"record": pl.Series(ordinals, dtype=pl.Int64)}
    for name, values in (*attribute_columns, *metadata_columns):
        columns[name] = pl.Series(values, dtype=pl.String)
    return RecordScan(frame=pl.DataFrame(columns), records_read=records)


def _checked_root(path: Path, element: Element) -> Element:
    if element.tag != ROOT_TAG:
        raise BadFileError(path, f"not an Apple Health export (root element <{element.tag[:40]}>, "
                                 f"expected <{ROOT_TAG}>)")
    return element
