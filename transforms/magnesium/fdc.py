"""Read an official FoodData Central CSV download into the reference-food frames.

A user who has downloaded SR Legacy, Foundation or Survey (FNDDS) foods from FoodData Central
gets the same frames as the shipped SR28 table (the contract in `sr28.py`), so the matching
code need not know where a reference food came from. These downloads share one layout:
`food.csv`, `food_nutrient.csv` (magnesium = nutrient_id 1090, mg per 100 g) and
`food_portion.csv`, optionally with `food_category.csv` and `measure_unit.csv`.

The data types describe a portion differently, so the readable unit is taken from the first
that applies: a real measure unit (`measure_unit.name`, plus the modifier, e.g. "cup,
chopped"; Foundation), else `portion_description` (FNDDS "1 cup"), else `modifier` (SR Legacy,
where the unit is 9999 "undetermined" and the modifier holds SR28's household measure).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from transforms.importers.base import BadFileError, blank_to_null

MAGNESIUM_NUTRIENT_ID = "1090"
UNDETERMINED_UNIT_ID = 9999
SOURCE = "fdc"

FOOD = ("food.csv", ("fdc_id", "description", "food_category_id"))
FOOD_NUTRIENT = ("food_nutrient.csv", ("fdc_id", "nutrient_id", "amount"))
FOOD_PORTION = ("food_portion.csv", ("id", "fdc_id", "seq_num", "amount", "measure_unit_id",
                                     "portion_description", "modifier", "gram_weight"))
FOOD_CATEGORY = ("food_category.csv", ("id", "description"))
MEASURE_UNIT = ("measure_unit.csv", ("id", "name"))


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or ["unreadable"])[0]


def _read(folder: Path, spec: tuple[str, tuple[str, ...]],
          where: pl.Expr | None = None) -> pl.DataFrame:
    """The named columns of one CSV as stripped text (blank → null) plus `source_row`.

    Scanned lazily so `where` filters before the whole file is in memory: the full
    `food_nutrient.csv` has millions of rows and only the magnesium ones are wanted.
    """
    name, columns = spec
    path = folder / name
    if not path.is_file():
        raise BadFileError(path, "required FoodData Central file missing")
    scan = pl.scan_csv(path, infer_schema=False, encoding="utf8-lossy")
    try:
        found = scan.collect_schema().names()
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as error:
        raise BadFileError(path, f"not a readable CSV ({_first_line(error)})") from None
    header = {field.strip().lstrip("\ufeff"): field for field in found}
    for column in columns:
        if column not in header:
            shown = ", ".join(list(header)[:8]) + ("…" if len(header) > 8 else "")
            raise BadFileError(path, f"required column missing (found: {shown})", row=1,
                               column=column)
    frame = (scan.select(blank_to_null(pl.col(header[c])).alias(c) for c in columns)
             .with_row_index("source_row", offset=2))
    if where is not None:
        frame = frame.filter(where)
    try:
        return frame.collect()
    except pl.exceptions.ComputeError as error:
        raise BadFileError(path, f"not a readable CSV ({_first_line(error)})") from None


def _read_optional(folder: Path, spec: tuple[str, tuple[str, ...]]) -> pl.DataFrame | None:
    """Like `_read`, but None when the file is absent (lookup tables are optional)."""
    return _read(folder, spec) if (folder / spec[0]).is_file() else None


def _parse(frame: pl.DataFrame, path: Path, types: dict[str, pl.DataType]) -> pl.DataFrame:
    """Cast text columns to numbers; a non-blank value that does not parse is a broken file."""
    parsed = frame.with_columns(pl.col(c).cast(t, strict=False) for c, t in types.items())
    for column in types:
        bad = frame.filter(pl.col(column).is_not_null() & parsed[column].is_null())
        if bad.height:
            row, value = bad.select("source_row", column).row(0)
            raise BadFileError(path, f"'{value}' is not a number", row=row, column=column)
    return parsed


def _foods(folder: Path) -> pl.DataFrame:
    """food.csv with its group and magnesium value, keyed by the parsed `fdc_id`.

    If food_nutrient.csv repeats a food's magnesium row, the first one counts.
    """
    food_path = folder / FOOD[0]
    food = _parse(_read(folder, FOOD), food_path, {"fdc_id": pl.Int64})
    blank_id = food.filter(pl.col("fdc_id").is_null())
    if blank_id.height:
        raise BadFileError(food_path, "fdc_id is blank", row=blank_id["source_row"][0],
                           column="fdc_id")
    repeated = food.filter(pl.col("fdc_id").is_duplicated())
    if repeated.height:
        raise BadFileError(food_path, f"fdc_id {repeated['fdc_id'][0]} repeats",
                           row=repeated["source_row"][1], column="fdc_id")
    magnesium = (
        _parse(_read(folder, FOOD_NUTRIENT, where=pl.col("nutrient_id") == MAGNESIUM_NUTRIENT_ID),
               folder / FOOD_NUTRIENT[0], {"fdc_id": pl.Int64, "amount": pl.Float64})
        .unique("fdc_id", keep="first", maintain_order=True)
        .select("fdc_id", pl.col("amount").alias("magnesium_mg_per_100g"))
    )
    # Joined as text: the group is a label, so an id that matches nothing (FNDDS foods carry
    # WWEIA codes, not food_category ids) just leaves it null rather than failing the import.
    categories = _read_optional(folder, FOOD_CATEGORY)
    if categories is None:
        food = food.with_columns(pl.lit(None, pl.String).alias("food_group"))
    else:
        food = food.join(
            categories.select(pl.col("id").alias("food_category_id"),
                              pl.col("description").alias("food_group"))
            .unique("food_category_id", keep="first", maintain_order=True),
            on="food_category_id", how="left")
    return food.join(magnesium, on="fdc_id", how="left")


def _portions(folder: Path) -> pl.DataFrame:
    """food_portion.csv with a readable `unit` and a `portion_seq` for every row."""
    portion = _parse(_read(folder, FOOD_PORTION), folder / FOOD_PORTION[0],
                     {"id": pl.Int64, "fdc_id": pl.Int64, "seq_num": pl.Int32,
                      "amount": pl.Float64, "measure_unit_id": pl.Int64,
                      "gram_weight": pl.Float64})
    units = _read_optional(folder, MEASURE_UNIT)
    if units is None:
        portion = portion.with_columns(pl.lit(None, pl.String).alias("unit_name"))
    else:
        units = _parse(units, folder / MEASURE_UNIT[0], {"id": pl.Int64})
        portion = portion.join(
            units.select(pl.col("id").alias("measure_unit_id"),
                         pl.col("name").alias("unit_name"))
            .unique("measure_unit_id", keep="first", maintain_order=True),
            on="measure_unit_id", how="left")
    named_unit = pl.col("unit_name").is_not_null() & (
        pl.col("measure_unit_id") != UNDETERMINED_UNIT_ID)
    unit = (pl.when(named_unit)
            .then(pl.concat_str("unit_name", "modifier", separator=", ", ignore_nulls=True))
            .when(pl.col("portion_description").is_not_null())
            .then(pl.col("portion_description"))
            .otherwise(pl.col("modifier")))
    seq = pl.col("seq_num")
    unnumbered_rank = pl.col("id").rank("ordinal").over("fdc_id", seq.is_null())
    portion_seq = pl.coalesce(
        seq, seq.max().over("fdc_id").fill_null(0) + unnumbered_rank.cast(pl.Int32))
    return portion.select(
        "fdc_id",
        portion_seq.cast(pl.Int32).alias("portion_seq"),
        pl.col("amount").fill_null(1.0),
        unit.alias("unit"),
        pl.col("gram_weight").alias("grams"),
    )


def read_fdc_dir(folder: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(foods, portions) from a FoodData Central CSV folder, in the shared frame contract.

    Every food in food.csv is kept (no magnesium row → null, unknown); portions of foods not
    in food.csv are dropped. A blank portion amount means 1 (FNDDS leaves it blank and puts
    the count in the description). Portions without a `seq_num` (common in Foundation foods)
    are numbered after the food's numbered ones, in file `id` order.
    """
    folder = Path(folder)
    food = _foods(folder)
    foods = food.select(
        pl.format("fdc:{}", "fdc_id").alias("food_id"),
        pl.lit(SOURCE).alias("source"),
        pl.col("description").alias("food_name"),
        "food_group",
        "magnesium_mg_per_100g",
    ).sort("food_id")
    portions = (
        _portions(folder).join(food.select("fdc_id"), on="fdc_id", how="semi")
        .select(pl.format("fdc:{}", "fdc_id").alias("food_id"), pl.exclude("fdc_id"))
        .sort("food_id", "portion_seq")
    )
    return foods, portions
