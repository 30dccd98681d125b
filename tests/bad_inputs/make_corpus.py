"""Write the bad inputs that are too big, or too binary, to commit (see README.md).

`build(folder)` writes every generated file into `folder` and returns their paths; the test
calls it into a temporary folder. Nothing here is random from run to run (fixed seeds), so a
failure reproduces. Run by hand to look at the files: `python tests/bad_inputs/make_corpus.py
DIR`.
"""

from __future__ import annotations

import random
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import xlsxwriter

MIB = 1 << 20
HUGE_LINE_BYTES = 50 * MIB
BOMB_BYTES = 1 << 30  # 1 GiB of zeros, about 1 MB compressed
SERVINGS = ("Day,Time,Group,Food Name,Amount,Energy (kcal),Carbs (g),Magnesium (mg),"
            "Category\n")
GOOD_SERVING = "2026-06-11,8:15 AM,Breakfast,Almonds,28.00 g,164,6.1,75.60,Nuts\n"
MACROFACTOR = ["Date", "Time", "Food Name", "Serving Unit", "Serving Qty", "Serving Weight (g)",
               "Energy (kcal)", "Carbs (g)", "Magnesium (mg)"]


def _binary_garbage(path: Path) -> None:
    path.write_bytes(random.Random(20260611).randbytes(4096))


def _huge_single_line(path: Path) -> None:
    """50 MB of CSV-looking text and not one line break."""
    chunk = b"lorem,ipsum,dolor,sit,amet," * (MIB // 27 + 1)
    with path.open("wb") as sink:
        for _ in range(HUGE_LINE_BYTES // MIB):
            sink.write(chunk[:MIB])


def _servings_huge_cell(path: Path) -> None:
    """A valid Cronometer header and row, then a row whose food name is a 50 MB line."""
    with path.open("wb") as sink:
        sink.write((SERVINGS + GOOD_SERVING + "2026-06-11,9:00 AM,Breakfast,").encode())
        for _ in range(HUGE_LINE_BYTES // MIB):
            sink.write(b"x" * MIB)
        sink.write(b",1.00 cup,100,10,20.00,Junk\n")


def _xdrip_huge_line(path: Path) -> None:
    """xDrip+ (read line by line, not by a CSV reader): one good reading, one 50 MB line."""
    with path.open("wb") as sink:
        sink.write(b"DAY;TIME;UDT_CGMS;BG_LEVEL;CH_GR;BOLUS;REMARK\n11.06.2026;08:00;110;;;;\n")
        for _ in range(HUGE_LINE_BYTES // MIB):
            sink.write(b"9" * MIB)
        sink.write(b";08:05;111;;;;\n")


def _zip_bomb(path: Path) -> None:
    """One member of 1 GiB of zeros, about 1 MB compressed (a ratio of about 1000).

    Written by hand to be quick: one deflated MiB of zeros ending in a full flush is a
    self-contained block, so the member's data is that block 1024 times and an empty final
    block; the headers (plain ZIP, everything below 4 GiB) are packed here.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(MIB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    count = BOMB_BYTES // MIB
    data_size = len(block) * count + 2
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(bytes(MIB), crc)
    name = b"servings.csv"
    fields = struct.pack("<HHHHHIII", 20, 0, 8, 0, 0x5CCD, crc, data_size, BOMB_BYTES)
    with path.open("wb") as sink:
        sink.write(b"PK\x03\x04" + fields + struct.pack("<HH", len(name), 0) + name)
        for _ in range(count):
            sink.write(block)
        sink.write(b"\x03\x00")  # an empty final block
        directory = sink.tell()
        entry = (b"PK\x01\x02" + struct.pack("<H", 20) + fields
                 + struct.pack("<HHHHHII", len(name), 0, 0, 0, 0, 0o644 << 16, 0) + name)
        sink.write(entry)
        sink.write(b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, len(entry), directory,
                                                   0))


def _zip_lying_size(path: Path) -> None:
    """A member whose headers claim 64 bytes while it holds 2 MB (ratio well under the bomb
    limit): whoever trusts the header size reads more than it announced."""
    rows = "".join(f"2026-06-12,8:{i % 60:02d} AM,Breakfast,Food {i},1.00 cup,{i},1,2,X\n"
                   for i in range(30000))
    data = (SERVINGS + rows).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("servings.csv", data)
    raw = bytearray(path.read_bytes())
    actual = len(data).to_bytes(4, "little")
    claimed = (64).to_bytes(4, "little")
    # The uncompressed size sits in the local header (offset 22) and the central directory
    # entry (offset 24): patch every occurrence of the real size.
    start = 0
    while (found := raw.find(actual, start)) >= 0:
        raw[found:found + 4] = claimed
        start = found + 4
    path.write_bytes(bytes(raw))


def _zip_nested(path: Path) -> None:
    inner = path.with_suffix(".inner.zip")
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("servings.csv", SERVINGS + GOOD_SERVING)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(inner, "export/inner.zip")
    inner.unlink()


def _zip_damaged(path: Path) -> None:
    """A download cut off halfway: the local header is there, the central directory is not."""
    whole = path.with_suffix(".whole.zip")
    with zipfile.ZipFile(whole, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Nutrition-Summary.csv",
                         "Date,Meal,Calories,Carbohydrates (g)\n" * 200)
    data = whole.read_bytes()
    whole.unlink()
    path.write_bytes(data[:len(data) // 2])


def _apple_health_without_export_xml(path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("apple_health_export/export_cda.xml",
                         '<?xml version="1.0"?>\n<ClinicalDocument/>\n')
        archive.writestr("apple_health_export/workout-routes/route_2026-06-12.gpx",
                         '<?xml version="1.0"?>\n<gpx/>\n')


def _workbook(path: Path, sheets: dict[str, list[list[object]]]) -> None:
    workbook = xlsxwriter.Workbook(path)
    workbook.set_properties({"created": datetime(2026, 6, 13), "author": "glucomag tests"})
    date_cell = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for name, rows in sheets.items():
        sheet = workbook.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, datetime):
                    sheet.write_datetime(r, c, value, date_cell)
                elif value is not None:
                    sheet.write(r, c, value)
    workbook.close()


def _macrofactor_bad_values(path: Path) -> None:
    _workbook(path, {"Food Log": [
        MACROFACTOR,
        [datetime(2026, 6, 13), "8:00 AM", "Greek yogurt", "g", 170, 170, 100, 6.1, 18.7],
        [datetime(2026, 6, 13), "9:00 AM", "Magnesium powder", "scoop", 1, 5, 0, 0, 90000],
        [datetime(2026, 6, 13), "10:00 AM", "Tea", "cup", 1, 240, 2, 0, -5],
        [datetime(2026, 6, 13), "11:00 AM", "Rice", "cup", 1, 158, 205, 45, "lots"],
        [datetime(1900, 1, 1), "12:00 PM", "Bread", "slice", 1, 30, 80, 15, 7],
        ["someday", "1:00 PM", "Soup", "cup", 1, 240, 90, 12, 10],
    ]})


def _macrofactor_truncated(path: Path) -> None:
    whole = path.with_suffix(".whole.xlsx")
    _macrofactor_bad_values(whole)
    data = whole.read_bytes()
    whole.unlink()
    path.write_bytes(data[:len(data) * 2 // 3])


def _macrofactor_no_food_sheet(path: Path) -> None:
    _workbook(path, {"Weight": [["Date", "Weight (kg)"], [datetime(2026, 6, 13), 71.3]],
                     "Notes": [["When", "Note"], ["today", "felt fine"]]})


GENERATED: dict[str, Callable[[Path], None]] = {
    "binary_garbage.csv": _binary_garbage,
    "huge_single_line.csv": _huge_single_line,
    "cronometer_servings_50mb_cell.csv": _servings_huge_cell,
    "xdrip_50mb_line.csv": _xdrip_huge_line,
    "zip_bomb.zip": _zip_bomb,
    "zip_lying_size.zip": _zip_lying_size,
    "zip_nested.zip": _zip_nested,
    "zip_damaged.zip": _zip_damaged,
    "apple_health_without_export_xml.zip": _apple_health_without_export_xml,
    "macrofactor_bad_values.xlsx": _macrofactor_bad_values,
    "macrofactor_truncated.xlsx": _macrofactor_truncated,
    "macrofactor_no_food_sheet.xlsx": _macrofactor_no_food_sheet,
}


def build(folder: Path) -> list[Path]:
    """Write every generated bad input into `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, write in GENERATED.items():
        write(folder / name)
        paths.append(folder / name)
    return paths


if __name__ == "__main__":
    for written in build(Path(sys.argv[1] if len(sys.argv) > 1 else "bad_inputs_generated")):
        print(f"{written.stat().st_size:>12,}  {written}")
