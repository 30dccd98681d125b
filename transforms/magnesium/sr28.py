"""Read the USDA SR28 ASCII release into the reference-food frames magnesium matching uses.

SR28 is the last "Standard Reference" release (public domain). Its files have no header,
separate fields with `^`, quote text with `~` and are latin-1 encoded; field order follows the
SR28 documentation. Only four files matter here: food names (FOOD_DES), group names
(FD_GROUP), nutrient values (NUT_DATA, magnesium = Nutr_No 304, mg per 100 g edible portion)
and household portions (WEIGHT).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from transforms.importers.base import BadFileError, blank_to_null

MAGNESIUM_NUTR_NO = "304"
SOURCE = "sr28"

# Documented field order (SR28 doc, "Relational files"). NUT_DATA lists only its first three
# fields: the rest (SE, Src_Cd, …) are not needed and are dropped by position.
FOOD_DES_FIELDS = ("NDB_No", "FdGrp_Cd", "Long_Desc", "Shrt_Desc", "ComName", "ManufacName",
                   "Survey", "Ref_desc", "Refuse", "SciName", "N_Factor", "Pro_Factor",
                   "Fat_Factor", "CHO_Factor")
FD_GROUP_FIELDS = ("FdGrp_Cd", "FdGrp_Desc")
NUT_DATA_FIELDS = ("NDB_No", "Nutr_No", "Nutr_Val")
WEIGHT_FIELDS = ("NDB_No", "Seq", "Amount", "Msre_Desc", "Gm_Wgt", "Num_Data_Pts", "Std_Dev")
SR28_FILES = ("FOOD_DES.txt", "FD_GROUP.txt", "NUT_DATA.txt", "WEIGHT.txt")

# The shared frame contract of every reference reader (SR28 here, FoodData Central in fdc.py).
FOODS_SCHEMA = pl.Schema({"food_id": pl.String, "source": pl.String, "food_name": pl.String,
                          "food_group": pl.String, "magnesium_mg_per_100g": pl.Float64})
PORTIONS_SCHEMA = pl.Schema({"food_id": pl.String, "portion_seq": pl.Int32,
                             "amount": pl.Float64, "unit": pl.String, "grams": pl.Float64})


def _read_sr28_file(path: Path, fields: tuple[str, ...]) -> pl.DataFrame:
    """One SR28 file as text columns named `fields` (the first len(fields) columns).

    The bytes are decoded as latin-1 up front because polars parses UTF-8 only; every byte is
    valid latin-1, so nothing is lost or replaced. Text stays text until the caller casts it,
    so codes like NDB_No "01001" keep their leading zeros. Blank fields become null (SR28 text
    has no surrounding spaces, so the stripping this implies leaves names as written).
    """
    if not path.is_file():
        raise BadFileError(path, "required SR28 file missing")
    text = path.read_bytes().decode("latin-1")
    try:
        frame = pl.read_csv(text.encode("utf-8"), separator="^", quote_char="~",
                            has_header=False, infer_schema=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as error:
        first_line = (str(error).strip().splitlines() or ["unreadable"])[0]
        raise BadFileError(path, f"not a readable SR28 file ({first_line})") from None
    if frame.width < len(fields):
        raise BadFileError(path, f"{frame.width} fields per line, expected {len(fields)}")
    frame = frame.select(frame.columns[: len(fields)])
    frame.columns = list(fields)
    return frame.with_columns(blank_to_null(pl.col(field)).alias(field) for field in fields)


def _number(frame: pl.DataFrame, path: Path, field: str, dtype: pl.DataType) -> pl.Expr:
    """`field` cast to `dtype`; a non-blank value that does not parse is a broken file."""
    parsed = pl.col(field).cast(dtype, strict=False)
    bad = frame.with_row_index("line", offset=1).filter(
        pl.col(field).is_not_null() & parsed.is_null())
    if bad.height:
        line, value = bad.select("line", field).row(0)
        raise BadFileError(path, f"'{value}' is not a number", row=line, column=field)
    return parsed.alias(field)


def _require_unique(frame: pl.DataFrame, path: Path, keys: list[str]) -> None:
    """Refuse a file whose key repeats: it would duplicate foods or portions downstream."""
    if frame.select(keys).is_duplicated().any():
        repeated = frame.filter(frame.select(keys).is_duplicated()).select(keys).row(0)
        raise BadFileError(path, f"key {'/'.join(keys)} = {'/'.join(repeated)} repeats")


def read_sr28_dir(folder: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(foods, portions) from an SR28 folder, in the shared reference-frame contract.

    Every food is kept, also those without a magnesium row (their value is null = unknown,
    never zero); portions of foods missing from FOOD_DES are dropped so each portion joins.
    """
    paths = {name: Path(folder) / name for name in SR28_FILES}
    food_des = _read_sr28_file(paths["FOOD_DES.txt"], FOOD_DES_FIELDS)
    groups = _read_sr28_file(paths["FD_GROUP.txt"], FD_GROUP_FIELDS)
    nut_data = _read_sr28_file(paths["NUT_DATA.txt"], NUT_DATA_FIELDS).filter(
        pl.col("Nutr_No") == MAGNESIUM_NUTR_NO)
    weight = _read_sr28_file(paths["WEIGHT.txt"], WEIGHT_FIELDS)
    _require_unique(food_des, paths["FOOD_DES.txt"], ["NDB_No"])
    _require_unique(groups, paths["FD_GROUP.txt"], ["FdGrp_Cd"])
    _require_unique(nut_data, paths["NUT_DATA.txt"], ["NDB_No", "Nutr_No"])
    _require_unique(weight, paths["WEIGHT.txt"], ["NDB_No", "Seq"])

    magnesium = nut_data.select(
        "NDB_No", _number(nut_data, paths["NUT_DATA.txt"], "Nutr_Val", pl.Float64))
    foods = (
        food_des.select("NDB_No", "FdGrp_Cd", "Long_Desc")
        .join(groups, on="FdGrp_Cd", how="left")
        .join(magnesium, on="NDB_No", how="left")
        .select(
            pl.format("sr28:{}", "NDB_No").alias("food_id"),
            pl.lit(SOURCE).alias("source"),
            pl.col("Long_Desc").alias("food_name"),
            pl.col("FdGrp_Desc").alias("food_group"),
            pl.col("Nutr_Val").alias("magnesium_mg_per_100g"),
        )
        .sort("food_id")
    )
    weight_path = paths["WEIGHT.txt"]
    portions = (
        weight.join(food_des.select("NDB_No"), on="NDB_No", how="semi")
        .select(
            pl.format("sr28:{}", "NDB_No").alias("food_id"),
            _number(weight, weight_path, "Seq", pl.Int32).alias("portion_seq"),
            _number(weight, weight_path, "Amount", pl.Float64).alias("amount"),
            pl.col("Msre_Desc").alias("unit"),
            _number(weight, weight_path, "Gm_Wgt", pl.Float64).alias("grams"),
        )
        .sort("food_id", "portion_seq")
    )
    return foods, portions
