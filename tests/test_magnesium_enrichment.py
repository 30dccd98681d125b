"""Magnesium enrichment in a real warehouse: sources in order, portions, user foods, aliases.

Expected values are hand-computed from the SR28 figures quoted in the comments (mg/100 g and
portion gram weights as published), not from the code under test.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest

from reports.intake import reference_intakes, supplement_upper_level_mg
from tests.conftest import FIXTURES, TIMEZONE
from transforms.ingest import import_file
from transforms.magnesium.enrich import enrich_entries, lookup
from transforms.magnesium.matching import build_index, fuzzy_match
from transforms.magnesium.reference import load_user_foods
from transforms.warehouse import query_frame, run, transaction

HEADER = ["Day", "Time", "Group", "Food Name", "Amount", "Energy (kcal)", "Magnesium (mg)",
          "Category"]


def write_log(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A Cronometer-shaped log: (food name, amount, magnesium cell) per row, one day."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(["2026-04-01", "", "Lunch", name, amount, "100", mg, ""]
                         for name, amount, mg in rows)
    return path


def entries(con) -> dict[str, dict]:
    frame = query_frame(con, "SELECT * FROM food_entries ORDER BY food_name, amount")
    return {f"{r['food_name']} | {r['amount']:g} {r['unit']}": r
            for r in frame.iter_rows(named=True)}


def one(con, name: str, amount: str) -> dict:
    return lookup(con, [name], *parse(amount)).row(0, named=True)


def parse(amount: str) -> tuple[float, str, float | None]:
    number, unit = amount.split(" ", 1)
    grams = {"g": 1.0, "oz": 28.349523125}.get(unit)
    return float(number), unit, float(number) * grams if grams else None


# --- order of preference ------------------------------------------------------------------


def test_sources_in_order_export_custom_supplement_usda_unknown(con, settings, tmp_path):
    (settings.home / "custom_foods.csv").write_text(
        "name,magnesium_mg_per_100g,magnesium_mg_per_serving,serving_grams\n"
        "Mom's chili (homemade),,85,300\n"
        "Spinach smoothie,40,,\n")
    (settings.home / "supplements.csv").write_text(
        "product,elemental_mg_per_unit,compound,compound_mg_per_unit\n"
        "Magnesium Glycinate 200 mg,200,,\n"
        "Mag citrate powder,,magnesium citrate,1000\n")
    load_user_foods(con, settings.home)
    log = write_log(tmp_path / "log.csv", [
        ("Spinach, raw", "1.00 cup", "30.00"),        # export wins over the alias
        ("Mom's chili (homemade)", "1.50 serving", ""),  # custom per serving: 1.5 × 85
        ("Mom's chili (homemade)", "200.00 g", ""),   # custom by weight: 200/300 × 85
        ("Spinach smoothie", "250.00 g", ""),         # custom per 100 g: 2.5 × 40
        ("Magnesium Glycinate 200 mg", "2.00 capsule", ""),  # supplement: 2 × 200
        ("Mag citrate powder", "1.00 scoop", ""),     # compound: 1000 × 16.2 %
        ("spinach", "2.00 cup", ""),                  # alias → Spinach, raw: 2 × 30 g × 0.79
        ("Nuts, almonds", "3.00 oz", ""),             # mass unit: 85.05 g × 2.70
        ("Office cafeteria salad bowl", "1.00 serving", ""),  # no match → unknown
        ("Quinoa, cooked", "0.50 serving", ""),       # matched, no 'serving' weight
    ])
    import_file(con, log, TIMEZONE, "me")
    got = entries(con)
    expect = {
        "Spinach, raw | 1 cup": ("export", "export", 30.0),
        "Mom's chili (homemade) | 1.5 serving": ("custom", "custom", 127.5),
        "Mom's chili (homemade) | 200 g": ("custom", "custom", 200 / 300 * 85),
        "Spinach smoothie | 250 g": ("custom", "custom", 100.0),
        "Magnesium Glycinate 200 mg | 2 capsule": ("supplement", "supplement", 400.0),
        "Mag citrate powder | 1 scoop": ("supplement", "supplement", 162.0),
        "spinach | 2 cup": ("usda", "alias", 47.4),
        "Nuts, almonds | 3 oz": ("usda", "alias", 3 * 28.349523125 * 2.70),
        "Office cafeteria salad bowl | 1 serving": ("unknown", "none", None),
        "Quinoa, cooked | 0.5 serving": ("unknown", "alias", None),
    }
    assert set(got) == set(expect)
    for key, (source, method, mg) in expect.items():
        row = got[key]
        assert (row["magnesium_source"], row["match_method"]) == (source, method), key
        assert row["magnesium_mg"] == (pytest.approx(mg) if mg is not None else None), key
    assert got["spinach | 2 cup"]["match_food_id"] == "sr28:11457"
    assert got["spinach | 2 cup"]["grams"] == 60.0
    assert got["Office cafeteria salad bowl | 1 serving"]["unknown_reason"] == "no match"
    assert got["Quinoa, cooked | 0.5 serving"]["unknown_reason"] == "no portion weight"
    assert got["Quinoa, cooked | 0.5 serving"]["match_food_name"] == "Quinoa, cooked"
    daily = run(con, "SELECT magnesium_known_mg, entries_with_magnesium, "
                     "entries_without_magnesium FROM (SELECT sum(magnesium_mg) AS "
                     "magnesium_known_mg, count(magnesium_mg) AS entries_with_magnesium, "
                     "count(*) - count(magnesium_mg) AS entries_without_magnesium "
                     "FROM food_entries)")[0]
    known = 30 + 127.5 + 200 / 300 * 85 + 100 + 400 + 162 + 47.4 + 3 * 28.349523125 * 2.70
    assert daily[0] == pytest.approx(known) and daily[1:] == (8, 2)  # unknown is not zero


@pytest.mark.parametrize(("name", "amount", "food_id", "mg"), [
    # SR28: Spinach, raw 79 mg/100 g, cup = 30 g
    ("Spinach", "1 cup", "sr28:11457", 23.7),
    # Bananas, raw 27 mg/100 g, medium (7" to 7-7/8" long) = 118 g
    ("banana", "1 medium", "sr28:09040", 31.86),
    # Egg, whole, raw, fresh 12 mg/100 g, large = 50 g
    ("raw egg", "2 large", "sr28:01123", 12.0),
    # Nuts, almond butter, plain, without salt added 279 mg/100 g, tbsp = 16 g
    ("almond butter", "1 tbsp", "sr28:12195", 44.64),
    # Quinoa, cooked 64 mg/100 g, cup = 185 g
    ("quinoa", "1 cup", "sr28:20137", 118.4),
    # Nuts, almonds 270 mg/100 g; 3 oz = 85.048569375 g
    ("almonds", "3 oz", "sr28:12061", 229.6311373125),
])
def test_portions_convert_household_units_through_the_reference(con, name, amount, food_id,
                                                                 mg):
    result = one(con, name, amount)
    assert result["match_food_id"] == food_id
    assert result["magnesium_mg"] == pytest.approx(mg)


# The check values of magnesium.md (SR28, mg per 100 g), reached the way users log them.
CHECK_VALUES = [
    ("pumpkin seeds", 592), ("chia seeds", 335), ("almonds", 270), ("cashews", 260),
    ("dark chocolate", 228), ("boiled spinach", 87), ("spinach", 79), ("black beans", 70),
    ("quinoa", 64), ("baked potato", 30), ("salmon", 30), ("chicken breast", 29),
    ("avocado", 29), ("banana", 27), ("white rice", 12),
]


@pytest.mark.parametrize(("name", "mg_per_100g"), CHECK_VALUES)
def test_check_values_come_out_exactly(con, name, mg_per_100g):
    result = one(con, name, "100 g")
    assert result["match_method"] == "alias"
    assert result["magnesium_mg_per_100g"] == mg_per_100g
    assert result["magnesium_mg"] == pytest.approx(mg_per_100g)


PHRASINGS = pl.read_csv(FIXTURES / "phrasings.csv")


def test_at_least_fifty_phrasings_map_to_the_right_food(con):
    assert PHRASINGS.height >= 50
    assert PHRASINGS.filter(pl.col("trap") != "none").height >= 20
    result = lookup(con, PHRASINGS["phrase"].to_list(), 100.0, "g", 100.0)
    got = result["match_food_id"].to_list()
    wrong = [(p, e, g) for p, e, g in zip(PHRASINGS["phrase"], PHRASINGS["expected_food_id"],
                                          got, strict=True) if e != g]
    assert wrong == []


# --- fuzzy matching: constrained, scored, listed ---------------------------------------------


def small_index(names: list[tuple[str, str, str, float]]):
    frame = pl.DataFrame(names, schema=["food_id", "food_name", "food_group",
                                        "magnesium_mg_per_100g"], orient="row")
    keys = (frame["food_name"].str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}% ]", " ")
            .str.replace_all(r"\s+", " ").str.strip_chars())
    return build_index(frame.with_columns(keys.alias("name_key")))


def test_fuzzy_never_picks_baby_food_or_dry_seeds_for_plain_names():
    index = small_index([
        ("b1", "Babyfood, vegetables, carrots, strained", "Baby Foods", 8.0),
        ("c1", "Carrots, raw", "Vegetables and Vegetable Products", 12.0),
        ("d1", "Beans, pinto, mature seeds, raw", "Legumes and Legume Products", 176.0),
        ("p1", "Beans, pinto, mature seeds, cooked, boiled, without salt",
         "Legumes and Legume Products", 50.0),
    ])
    result = fuzzy_match(["carrots", "babyfood carrots", "pinto beans", "dried pinto beans"],
                         index)
    assert result["food_id"].to_list() == ["c1", "b1", "p1", "d1"]


def test_fuzzy_typos_match_and_vague_names_stay_unknown(con):
    result = lookup(con, ["Kale, scotch, raw", "kale scoth raw", "chedar cheese",
                          "protein thing"], 100.0, "g", 100.0)
    assert result["match_food_name"].to_list()[:3] == ["Kale, scotch, raw", "Kale, scotch, raw",
                                                       "Cheese, cheddar"]
    assert result["match_method"].to_list() == ["fuzzy", "fuzzy", "fuzzy", "none"]
    assert all(c >= 0.9 for c in result["match_confidence"].to_list()[:3])
    assert result["magnesium_mg"].to_list()[3] is None


def test_every_fuzzy_match_is_listed_with_its_score(con, tmp_path):
    import_file(con, write_log(tmp_path / "log.csv", [("kale scoth raw", "100.00 g", ""),
                                                     ("Office lunch", "1.00 serving", "")]),
                TIMEZONE, "me")
    listed = {r["example_name"]: r for r in query_frame(con, "SELECT * FROM food_matches")
              .iter_rows(named=True)}
    kale = listed["kale scoth raw"]
    assert kale["match_method"] == "fuzzy" and kale["match_food_name"] == "Kale, scotch, raw"
    candidates = json.loads(kale["fuzzy_candidates"])
    assert candidates[0]["food_name"] == "Kale, scotch, raw"
    assert candidates[0]["score"] == pytest.approx(100 * kale["match_confidence"])
    assert listed["Office lunch"]["unknown_reason"] == "no match"
    assert len(json.loads(listed["Office lunch"]["fuzzy_candidates"])) == 3


# --- re-running: idempotent, and only what changed --------------------------------------------


def test_rerun_is_idempotent_and_an_alias_updates_only_its_entries(con, tmp_path):
    import_file(con, write_log(tmp_path / "log.csv", [
        ("Office lunch", "100.00 g", ""), ("Office lunch", "200.00 g", ""),
        ("spinach", "1.00 cup", ""), ("Nuts, almonds", "28.00 g", "75.60"),
    ]), TIMEZONE, "me")
    before = entries(con)
    with transaction(con):
        assert enrich_entries(con) == 0
    with transaction(con):
        run(con, "INSERT INTO user_aliases VALUES (name_key('office lunch'), 'office lunch', "
                 "'sr28:20137', now())")  # Quinoa, cooked: 64 mg/100 g
        assert enrich_entries(con) == 2
    after = entries(con)
    assert after["Office lunch | 100 g"]["magnesium_mg"] == pytest.approx(64.0)
    assert after["Office lunch | 200 g"]["magnesium_mg"] == pytest.approx(128.0)
    assert after["Office lunch | 100 g"]["match_method"] == "user_alias"
    for key in ("spinach | 1 cup", "Nuts, almonds | 28 g"):
        assert after[key] == before[key]
    with transaction(con):
        assert enrich_entries(con) == 0


def test_a_new_custom_food_updates_only_its_entries(con, settings, tmp_path):
    import_file(con, write_log(tmp_path / "log.csv", [
        ("Granola (homemade)", "1.00 serving", ""), ("spinach", "1.00 cup", ""),
    ]), TIMEZONE, "me")
    (settings.home / "custom_foods.csv").write_text(
        "name,magnesium_mg_per_serving\nGranola (homemade),55\n")
    load_user_foods(con, settings.home)
    with transaction(con):
        assert enrich_entries(con) == 1
    assert entries(con)["Granola (homemade) | 1 serving"]["magnesium_mg"] == 55.0


def test_a_malformed_custom_foods_file_is_one_line_and_keeps_the_old_list(con, settings):
    (settings.home / "custom_foods.csv").write_text("name,magnesium_mg_per_serving\nA,55\n")
    load_user_foods(con, settings.home)
    (settings.home / "custom_foods.csv").write_text(
        "name,magnesium_mg_per_serving\nA,55\nB,lots\n")
    from transforms.importers.base import BadFileError

    with pytest.raises(BadFileError, match=r"custom_foods.csv, row 3, column "
                                           r"'magnesium_mg_per_serving': 'lots' is not a number"):
        load_user_foods(con, settings.home)
    assert run(con, "SELECT name FROM custom_foods") == [("A",)]


# --- reference intake by profile -------------------------------------------------------------


@pytest.mark.parametrize(("age", "sex", "stage", "expected"), [
    (None, None, None, [420.0, 320.0]),
    (35, "female", None, [320.0]),
    (35, "male", None, [420.0]),
    (25, "female", "pregnancy", [350.0]),
    (16, "female", "lactation", [360.0]),
    (60, "female", None, [320.0]),
    (6, "male", None, [130.0]),
])
def test_reference_intake_follows_the_profile(age, sex, stage, expected):
    assert [r.mg_per_day for r in reference_intakes(age, sex, stage)] == expected


def test_supplemental_upper_level_by_age():
    assert [supplement_upper_level_mg(a) for a in (2, 5, 9, 40, None)] == [65, 110, 350, 350,
                                                                          350]


# --- FoodData Central as an additional reference --------------------------------------------


def test_fdc_download_adds_reference_foods_used_by_matching(settings, tmp_path):
    from transforms.pipeline import import_fdc, lookup_foods

    log = write_log(tmp_path / "log.csv", [("Almond butter, creamy", "1.00 tablespoon", "")])
    from transforms.warehouse import connect

    with connect(settings.warehouse) as con:
        import_file(con, log, TIMEZONE, "me")
        assert entries(con)["Almond butter, creamy | 1 tablespoon"]["match_food_id"] != \
            "fdc:200001"
    foods, portions, changed = import_fdc(settings, FIXTURES / "fdc")
    assert (foods, portions, changed) == (7, 12, 1)
    with connect(settings.warehouse) as con:
        entry = entries(con)["Almond butter, creamy | 1 tablespoon"]
    # fixture: Almond butter, creamy 279.3 mg/100 g; portion 2 tablespoon = 32 g → 16 g each
    assert entry["match_food_id"] == "fdc:200001"
    assert entry["grams"] == pytest.approx(16.0)
    assert entry["magnesium_mg"] == pytest.approx(0.16 * 279.3)
    # FNDDS portions are written "1 cup": 180 g of 87.2 mg/100 g
    spinach = lookup_foods(settings, ["Spinach, cooked, from fresh"], "1 cup").row(0, named=True)
    assert spinach["match_food_id"] == "fdc:2710001"
    assert spinach["magnesium_mg"] == pytest.approx(1.8 * 87.2)
