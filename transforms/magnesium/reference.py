"""Reference and user food data in the warehouse.

The shipped USDA SR28 table (parquet) and curated aliases are loaded into `ref_foods`,
`ref_portions` and `ref_aliases` when the warehouse opens and the shipped files changed (by
sha256). The user's `custom_foods.csv` and `supplements.csv` (in the data folder) replace
`custom_foods` / `supplements` before each enrichment.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import duckdb
import polars as pl

from transforms.importers.base import (
    BadFileError,
    read_csv_text,
    require_columns,
    sha256_of,
    to_number,
)
from transforms.magnesium import matching
from transforms.warehouse import registered, run, transaction

DATA = resources.files("transforms.magnesium").joinpath("data")
SHIPPED = ("sr28_foods.parquet", "sr28_portions.parquet", "aliases.csv", "compounds.csv")
CUSTOM_FOODS_FILE = "custom_foods.csv"
SUPPLEMENTS_FILE = "supplements.csv"


def _shipped_path(name: str) -> Path:
    return Path(str(DATA.joinpath(name)))


def shipped_versions() -> dict[str, str]:
    """sha256 of each shipped reference file, and of the matcher (its scores are cached)."""
    versions = {name: sha256_of(_shipped_path(name)) for name in SHIPPED}
    versions["matching.py"] = sha256_of(Path(matching.__file__))
    return versions


def ensure_reference(con: duckdb.DuckDBPyConnection) -> bool:
    """Load the shipped reference data if it is missing or changed; True if it (re)loaded."""
    wanted = shipped_versions()
    loaded = dict(run(con, "SELECT name, sha256 FROM reference_versions"))
    if loaded == wanted:
        return False
    paths = {name: str(_shipped_path(name)) for name in SHIPPED}
    with transaction(con):
        run(con, "DELETE FROM ref_portions WHERE food_id LIKE 'sr28:%'")
        run(con, "DELETE FROM ref_foods WHERE source = 'sr28'")
        run(con, "INSERT INTO ref_foods BY NAME SELECT * FROM read_parquet($path)",
            {"path": paths["sr28_foods.parquet"]})
        run(con, "INSERT INTO ref_portions BY NAME SELECT * FROM read_parquet($path)",
            {"path": paths["sr28_portions.parquet"]})
        run(con, "DELETE FROM ref_aliases")
        run(con, "INSERT INTO ref_aliases SELECT name_key(alias), food_id, note "
                 "FROM read_csv($path, header = true, all_varchar = true)",
            {"path": paths["aliases.csv"]})
        run(con, "DELETE FROM supplement_compounds")
        run(con, "INSERT INTO supplement_compounds "
                 "SELECT DISTINCT name_key(unnest(list_prepend(compound, "
                 "string_split(aliases, '|')))), elemental_fraction::DOUBLE "
                 "FROM read_csv($path, header = true, all_varchar = true)",
            {"path": paths["compounds.csv"]})
        run(con, "DELETE FROM food_name_matches")  # fuzzy scores depend on the reference
        run(con, "DELETE FROM reference_versions")
        for name, sha in wanted.items():
            run(con, "INSERT INTO reference_versions VALUES ($name, $sha, now())",
                {"name": name, "sha": sha})
    return True


USER_FILES = (  # table, file, name column, number columns, other text columns
    ("custom_foods", CUSTOM_FOODS_FILE, "name",
     ("magnesium_mg_per_100g", "magnesium_mg_per_serving", "serving_grams"), ()),
    ("supplements", SUPPLEMENTS_FILE, "product",
     ("elemental_mg_per_unit", "compound_mg_per_unit"), ("compound",)),
)


def _read_user_file(path: Path, name_column: str, numbers: tuple[str, ...],
                    texts: tuple[str, ...]) -> pl.DataFrame:
    """A user's food file as typed rows; a cell that is not a number is a one-line error."""
    frame = read_csv_text(path)
    require_columns(frame, path, (name_column,))
    text = {c: pl.col(c).str.strip_chars() if c in frame.columns else pl.lit(None, pl.String)
            for c in (name_column, *numbers, *texts)}
    parsed = frame.select(pl.col("source_row"), *[e.alias(c) for c, e in text.items()]).filter(
        pl.col(name_column).ne(""))
    for column in numbers:
        bad = parsed.filter(pl.col(column).ne("") & to_number(pl.col(column)).is_null())
        if bad.height:
            raise BadFileError(path, f"'{bad[column][0]}' is not a number",
                               row=bad["source_row"][0], column=column)
    return parsed.with_columns(to_number(pl.col(c)).alias(c) for c in numbers)


def load_user_foods(con: duckdb.DuckDBPyConnection, home: Path) -> None:
    """Replace `custom_foods` and `supplements` with the data folder's CSV files (if any).

    A malformed file raises `BadFileError` and leaves the previous contents in place.
    """
    frames = {}
    for table, file_name, name_column, numbers, texts in USER_FILES:
        path = home / file_name
        frames[table] = (name_column, path,
                         _read_user_file(path, name_column, numbers, texts)
                         if path.exists() else None)
    with transaction(con):
        for table, (name_column, path, frame) in frames.items():
            run(con, f"DELETE FROM {table}")
            if frame is None:
                continue
            with registered(con, "user_rows", frame):
                duplicate = run(con, f"SELECT source_row, {name_column} FROM (SELECT *, count(*) "
                                     f"OVER (PARTITION BY name_key({name_column})) AS n "
                                     "FROM user_rows) WHERE n > 1 ORDER BY source_row LIMIT 1")
                if duplicate:
                    raise BadFileError(path, f"'{duplicate[0][1]}' is listed twice",
                                       row=duplicate[0][0], column=name_column)
                run(con, f"INSERT INTO {table} BY NAME SELECT name_key({name_column}) AS "
                         "name_key, * EXCLUDE (source_row) FROM user_rows")
