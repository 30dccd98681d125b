"""Generate glucomag's synthetic sample data: one made-up person, 70 days.

Run from anywhere:  python sample_data/generate.py

Writes, next to this script:
  cronometer/servings.csv        Cronometer "servings.csv" export (UTF-8, LF)
  dexcom/clarity_export.csv      Dexcom Clarity CSV export, mg/dL (UTF-8 with BOM, CRLF)
  ground_truth/daily.csv         per-local-date truth, computed from the files as written
  ground_truth/summary.json      totals

Everything is synthetic (no one's personal data) and deterministic: a fixed seed, no
network, no clock. Re-running gives byte-identical files.
"""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np

SEED = 20260801
FIRST_DAY = date(2026, 8, 3)
LAST_DAY = date(2026, 10, 11)  # inclusive; 70 days, no DST change in America/New_York
TIMEZONE = "America/New_York"
OUT = Path(__file__).resolve().parent

# --------------------------------------------------------------------------------------
# Cronometer
# --------------------------------------------------------------------------------------

CRONOMETER_HEADER = [
    "Day", "Time", "Group", "Food Name", "Amount", "Energy (kcal)", "Alcohol (g)",
    "Caffeine (mg)", "Water (g)", "B1 (Thiamine) (mg)", "B2 (Riboflavin) (mg)",
    "B3 (Niacin) (mg)", "B5 (Pantothenic Acid) (mg)", "B6 (Pyridoxine) (mg)",
    "B12 (Cobalamin) (µg)", "Folate (µg)", "Vitamin A (µg)", "Vitamin C (mg)",
    "Vitamin D (IU)", "Vitamin E (mg)", "Vitamin K (µg)", "Calcium (mg)", "Copper (mg)",
    "Iron (mg)", "Magnesium (mg)", "Manganese (mg)", "Phosphorus (mg)", "Potassium (mg)",
    "Selenium (µg)", "Sodium (mg)", "Zinc (mg)", "Carbs (g)", "Fiber (g)", "Starch (g)",
    "Sugars (g)", "Added Sugars (g)", "Net Carbs (g)", "Fat (g)", "Cholesterol (mg)",
    "Monounsaturated (g)", "Polyunsaturated (g)", "Saturated (g)", "Trans-Fats (g)",
    "Omega-3 (g)", "Omega-6 (g)", "Protein (g)", "Category",
]

# Per-100 g values (per "unit" for recipes/supplements, see `per`). Keys map to columns
# below; a key that is absent leaves the cell blank (unknown). Magnesium per 100 g uses
# the SR28 check values from shared/reference/magnesium.md where the food is listed
# there (marked "check"); the others are SR28-like approximations.
NUTRIENT_COLUMNS = {
    "kcal": "Energy (kcal)", "alcohol": "Alcohol (g)", "caffeine": "Caffeine (mg)",
    "water": "Water (g)", "vitc": "Vitamin C (mg)", "ca": "Calcium (mg)", "fe": "Iron (mg)",
    "mg": "Magnesium (mg)", "k": "Potassium (mg)", "na": "Sodium (mg)", "zn": "Zinc (mg)",
    "carbs": "Carbs (g)", "fiber": "Fiber (g)", "sugars": "Sugars (g)", "fat": "Fat (g)",
    "chol": "Cholesterol (mg)", "sat": "Saturated (g)", "protein": "Protein (g)",
}

VEG = "Vegetables and Vegetable Products"
NUTS = "Nut and Seed Products"
FRUIT = "Fruits and Fruit Juices"
GRAIN = "Cereal Grains and Pasta"
DAIRY = "Dairy and Egg Products"

# name -> (category, portions [(amount, unit, grams per unit)], nutrients per 100 g)
FOODS: dict[str, tuple[str, list[tuple[float, str, float]], dict[str, float | None]]] = {
    "Spinach, raw": (VEG, [(1.0, "cup", 30.0), (2.0, "cup", 30.0)], dict(  # check 79
        kcal=23, water=91.4, vitc=28.1, ca=99, fe=2.71, mg=79, k=558, na=79, zn=0.53,
        carbs=3.63, fiber=2.2, sugars=0.42, fat=0.39, sat=0.06, chol=0, protein=2.86)),
    "Spinach, cooked, boiled, drained, without salt": (VEG, [(0.5, "cup", 180.0)], dict(
        kcal=23, water=91.2, vitc=9.8, ca=136, fe=3.57, mg=87, k=466, na=70, zn=0.76,  # check
        carbs=3.75, fiber=2.4, sugars=0.43, fat=0.26, sat=0.04, chol=0, protein=2.97)),
    "Nuts, almonds": (NUTS, [(28.0, "g", 1.0), (1.0, "oz", 28.35), (23.0, "each", 1.2)], dict(
        kcal=579, water=4.4, vitc=0, ca=269, fe=3.71, mg=270, k=733, na=1, zn=3.12,  # check
        carbs=21.55, fiber=12.5, sugars=4.35, fat=49.93, sat=3.8, chol=0, protein=21.15)),
    "Beans, black, mature seeds, cooked, boiled, without salt": (
        "Legumes and Legume Products", [(0.5, "cup", 172.0), (1.0, "cup", 172.0)], dict(
            kcal=132, water=65.7, vitc=0, ca=27, fe=2.1, mg=70, k=355, na=1, zn=1.12,  # check
            carbs=23.71, fiber=8.7, sugars=0.32, fat=0.54, sat=0.14, chol=0, protein=8.86)),
    "Quinoa, cooked": (GRAIN, [(1.0, "cup", 185.0), (0.75, "cup", 185.0)], dict(
        kcal=120, water=71.6, vitc=0, ca=17, fe=1.49, mg=64, k=172, na=7, zn=1.09,  # check
        carbs=21.3, fiber=2.8, sugars=0.87, fat=1.92, sat=0.23, chol=0, protein=4.4)),
    "Bananas, raw": (FRUIT, [(1.0, "medium", 118.0), (1.0, "large", 136.0)], dict(
        kcal=89, water=74.9, vitc=8.7, ca=5, fe=0.26, mg=27, k=358, na=1, zn=0.15,  # check
        carbs=22.84, fiber=2.6, sugars=12.23, fat=0.33, sat=0.11, chol=0, protein=1.09)),
    "Oatmeal, cooked with water": ("Breakfast Cereals", [(1.0, "cup", 234.0)], dict(
        kcal=71, water=83.6, vitc=0, ca=9, fe=0.9, mg=27, k=70, na=4, zn=1.0,
        carbs=12.0, fiber=1.7, sugars=0.27, fat=1.52, sat=0.31, chol=0, protein=2.54)),
    "Greek Yogurt, Plain, Nonfat": (DAIRY, [(170.0, "g", 1.0), (1.0, "container", 170.0)], dict(
        kcal=59, water=85.1, vitc=0, ca=110, fe=0.07, mg=11, k=141, na=36, zn=0.52,
        carbs=3.6, fiber=0, sugars=3.24, fat=0.39, sat=0.12, chol=5, protein=10.19)),
    "Salmon, Atlantic, farmed, cooked": ("Finfish and Shellfish Products", [
        (150.0, "g", 1.0), (1.0, "fillet", 178.0)], dict(
            kcal=206, water=64.8, vitc=3.7, ca=15, fe=0.34, mg=30, k=384, na=61, zn=0.43,
            carbs=0, fiber=0, sugars=0, fat=12.35, sat=2.5, chol=63, protein=22.1)),  # check
    "Chicken Breast, roasted": ("Poultry Products", [(120.0, "g", 1.0), (140.0, "g", 1.0)], dict(
        kcal=165, water=65.3, vitc=0, ca=15, fe=1.04, mg=29, k=256, na=74, zn=1.0,  # check
        carbs=0, fiber=0, sugars=0, fat=3.57, sat=1.01, chol=85, protein=31.02)),
    "Rice, white, long-grain, cooked": (GRAIN, [(1.0, "cup", 158.0), (0.75, "cup", 158.0)], dict(
        kcal=130, water=68.4, vitc=0, ca=10, fe=1.2, mg=12, k=35, na=1, zn=0.49,  # check
        carbs=28.17, fiber=0.4, sugars=0.05, fat=0.28, sat=0.08, chol=0, protein=2.69)),
    "Dark Chocolate, 70-85% cacao": ("Sweets", [(28.0, "g", 1.0), (2.00, "square", 10.0)], dict(
        kcal=598, water=1.4, vitc=0, ca=73, fe=11.9, mg=228, k=715, na=20, zn=3.31,  # check
        carbs=45.9, fiber=10.9, sugars=23.99, fat=42.63, sat=24.49, chol=3, protein=7.79)),
    "Pumpkin Seeds, dried": (NUTS, [(28.0, "g", 1.0), (2.0, "tbsp", 8.6)], dict(
        kcal=559, water=5.2, vitc=1.9, ca=46, fe=8.82, mg=592, k=809, na=7, zn=7.81,  # check
        carbs=10.71, fiber=6.0, sugars=1.4, fat=49.05, sat=8.66, chol=0, protein=30.23)),
    "Avocado": (FRUIT, [(0.5, "fruit", 201.0), (1.0, "fruit", 201.0)], dict(
        kcal=160, water=73.2, vitc=10, ca=12, fe=0.55, mg=29, k=485, na=7, zn=0.64,  # check
        carbs=8.53, fiber=6.7, sugars=0.66, fat=14.66, sat=2.13, chol=0, protein=2.0)),
    "Coffee, brewed": ("Beverages", [(1.0, "cup", 237.0), (2.0, "cup", 237.0)], dict(
        kcal=1, water=99.4, caffeine=40, vitc=0, ca=2, fe=0.01, mg=3, k=49, na=2, zn=0.02,
        carbs=0, fiber=0, sugars=0, fat=0.02, sat=0.0, chol=0, protein=0.12, alcohol=0)),
    "Chia Seeds, dried": (NUTS, [(1.0, "tbsp", 12.0), (2.0, "tbsp", 12.0)], dict(
        kcal=486, water=5.8, vitc=1.6, ca=631, fe=7.72, mg=335, k=407, na=16, zn=4.58,  # check
        carbs=42.12, fiber=34.4, sugars=0, fat=30.74, sat=3.33, chol=0, protein=16.54)),
    "Cashews, dry roasted": (NUTS, [(28.0, "g", 1.0)], dict(
        kcal=574, water=1.7, vitc=0, ca=45, fe=6.0, mg=260, k=565, na=16, zn=5.6,  # check
        carbs=32.69, fiber=3.0, sugars=5.0, fat=46.35, sat=9.16, chol=0, protein=15.31)),
    "Potato, russet, baked, flesh and skin": (VEG, [(1.0, "medium", 173.0)], dict(
        kcal=97, water=74.9, vitc=8.3, ca=18, fe=1.07, mg=30, k=550, na=14, zn=0.35,  # check
        carbs=21.44, fiber=2.3, sugars=1.08, fat=0.13, sat=0.03, chol=0, protein=2.63)),
    "Egg, whole, hard-boiled": (DAIRY, [(2.0, "large", 50.0), (1.0, "large", 50.0)], dict(
        kcal=155, water=74.6, vitc=0, ca=50, fe=1.19, mg=10, k=126, na=124, zn=1.05,
        carbs=1.12, fiber=0, sugars=1.12, fat=10.61, sat=3.27, chol=373, protein=12.58)),
    "Bread, whole-wheat, commercially prepared": ("Baked Products", [
        (1.0, "slice", 32.0), (2.0, "slice", 32.0)], dict(
            kcal=252, water=38.7, vitc=0, ca=161, fe=2.47, mg=76, k=254, na=450, zn=1.8,
            carbs=42.71, fiber=6.0, sugars=4.41, fat=3.5, sat=0.72, chol=0, protein=12.45)),
    "Milk, 2%": (DAIRY, [(1.0, "cup", 244.0), (0.5, "cup", 244.0)], dict(
        kcal=50, water=89.3, vitc=0.2, ca=120, fe=0.02, mg=11, k=140, na=47, zn=0.48,
        carbs=4.8, fiber=0, sugars=5.06, fat=1.98, sat=1.26, chol=8, protein=3.3)),
    "Apples, raw, with skin": (FRUIT, [(1.0, "medium", 182.0)], dict(
        kcal=52, water=85.6, vitc=4.6, ca=6, fe=0.12, mg=5, k=107, na=1, zn=0.04,
        carbs=13.81, fiber=2.4, sugars=10.39, fat=0.17, sat=0.03, chol=0, protein=0.26)),
    "Broccoli, cooked": (VEG, [(1.0, "cup", 156.0), (0.5, "cup", 156.0)], dict(
        kcal=35, water=89.3, vitc=64.9, ca=40, fe=0.67, mg=21, k=293, na=41, zn=0.45,
        carbs=7.18, fiber=3.3, sugars=1.39, fat=0.41, sat=0.08, chol=0, protein=2.38)),
    "Pasta, cooked": (GRAIN, [(1.0, "cup", 140.0), (1.5, "cup", 140.0)], dict(
        kcal=158, water=62.1, vitc=0, ca=7, fe=1.28, mg=18, k=44, na=1, zn=0.51,
        carbs=30.86, fiber=1.8, sugars=0.56, fat=0.93, sat=0.18, chol=0, protein=5.8)),
    "Peanut Butter, smooth": ("Legumes and Legume Products", [(2.0, "tbsp", 16.0)], dict(
        kcal=588, water=1.8, vitc=0, ca=43, fe=1.74, mg=154, k=558, na=459, zn=2.51,
        carbs=20.0, fiber=6.0, sugars=9.22, fat=50.0, sat=10.3, chol=0, protein=25.0)),
    "Blueberries, raw": (FRUIT, [(0.5, "cup", 148.0), (1.0, "cup", 148.0)], dict(
        kcal=57, water=84.2, vitc=9.7, ca=6, fe=0.28, mg=6, k=77, na=1, zn=0.16,
        carbs=14.49, fiber=2.4, sugars=9.96, fat=0.33, sat=0.03, chol=0, protein=0.74)),
}

# User recipes and custom foods: per-serving macros, magnesium unknown (blank cell).
CUSTOM = {
    "Mom's chili (homemade)": ("Recipes", [(1.0, "serving", 1.0), (1.5, "serving", 1.0)],
                               dict(kcal=410, carbs=38.0, fiber=11.0, sugars=7.5, fat=16.0,
                                    protein=29.0, na=820)),
    "Green smoothie (my recipe)": ("Recipes", [(1.0, "serving", 1.0)],
                                   dict(kcal=220, carbs=41.0, fiber=6.5, sugars=27.0, fat=4.0,
                                        protein=6.0)),
    "Office cafeteria salad bowl": ("Custom", [(1.0, "serving", 1.0), (0.5, "serving", 1.0)],
                                    dict(kcal=480, carbs=44.0, fiber=9.0, sugars=8.0, fat=24.0,
                                         protein=22.0, na=910)),
    "Protein bar, chocolate (custom)": ("Custom", [(1.0, "bar", 1.0)],
                                        dict(kcal=210, carbs=23.0, fiber=5.0, sugars=6.0,
                                             fat=8.0, protein=20.0)),
}

SUPPLEMENT = "Magnesium Glycinate 200 mg"  # label: 200 mg elemental Mg per capsule

MEALS = {
    "Breakfast": ["Oatmeal, cooked with water", "Greek Yogurt, Plain, Nonfat", "Bananas, raw",
                  "Blueberries, raw", "Egg, whole, hard-boiled",
                  "Bread, whole-wheat, commercially prepared", "Coffee, brewed", "Milk, 2%",
                  "Chia Seeds, dried", "Peanut Butter, smooth", "Green smoothie (my recipe)"],
    "Lunch": ["Quinoa, cooked", "Beans, black, mature seeds, cooked, boiled, without salt",
              "Spinach, raw", "Chicken Breast, roasted", "Avocado",
              "Rice, white, long-grain, cooked", "Bread, whole-wheat, commercially prepared",
              "Apples, raw, with skin", "Mom's chili (homemade)", "Office cafeteria salad bowl"],
    "Dinner": ["Salmon, Atlantic, farmed, cooked", "Chicken Breast, roasted",
               "Rice, white, long-grain, cooked", "Potato, russet, baked, flesh and skin",
               "Broccoli, cooked", "Spinach, cooked, boiled, drained, without salt",
               "Pasta, cooked", "Beans, black, mature seeds, cooked, boiled, without salt",
               "Quinoa, cooked", "Mom's chili (homemade)"],
    "Snacks": ["Nuts, almonds", "Dark Chocolate, 70-85% cacao", "Pumpkin Seeds, dried",
               "Cashews, dry roasted", "Apples, raw, with skin", "Bananas, raw",
               "Protein bar, chocolate (custom)", "Greek Yogurt, Plain, Nonfat"],
}
# Custom foods are a little less likely than the rest; tuned so ~10 % of rows are blank.
CUSTOM_WEIGHT = 0.7


def fmt2(x: float) -> str:
    return f"{x:.2f}"


def fmt_time(minute_of_day: int, twelve_hour: bool) -> str:
    h, m = divmod(minute_of_day, 60)
    if twelve_hour:
        return f"{(h % 12) or 12}:{m:02d} {'AM' if h < 12 else 'PM'}"
    return f"{h:02d}:{m:02d}"


def food_row(day: date, time_cell: str, group: str, name: str,
             portion: tuple[float, str, float]) -> list[str]:
    amount, unit, grams_per_unit = portion
    cells = dict.fromkeys(CRONOMETER_HEADER, "")
    cells.update({"Day": day.isoformat(), "Time": time_cell, "Group": group,
                  "Food Name": name, "Amount": f"{amount:.2f} {unit}"})
    if name == SUPPLEMENT:
        cells.update({"Energy (kcal)": "0.00", "Magnesium (mg)": fmt2(200.0 * amount),
                      "Category": "Supplements"})
        return [cells[c] for c in CRONOMETER_HEADER]
    if name in FOODS:
        category, _, per100 = FOODS[name]
        factor = amount * grams_per_unit / 100.0
    else:
        category, _, per100 = CUSTOM[name]
        factor = amount  # per serving
    for key, value in per100.items():
        if value is not None:
            cells[NUTRIENT_COLUMNS[key]] = fmt2(value * factor)
    if "carbs" in per100 and "fiber" in per100:
        cells["Net Carbs (g)"] = fmt2(max(per100["carbs"] - per100["fiber"], 0.0) * factor)
    cells["Category"] = category
    return [cells[c] for c in CRONOMETER_HEADER]


def build_food_log(rng: np.random.Generator):
    """Returns (rows, meals) where meals = [(datetime of eating, carbs g)] for the CGM."""
    rows: list[list[str]] = []
    meals: list[tuple[datetime, float]] = []
    n_days = (LAST_DAY - FIRST_DAY).days + 1
    duplicate_day = FIRST_DAY + timedelta(days=40)  # one real "ate it twice" duplicate
    for d in range(n_days):
        day = FIRST_DAY + timedelta(days=d)
        weekend = day.weekday() >= 5
        total = int(rng.integers(4, 10))
        supplement = rng.random() < 0.35
        rest = total - int(supplement)
        n_snacks = int(rng.integers(0, min(2, rest - 3) + 1))
        per_meal = [1, 1, 1]
        for _ in range(rest - 3 - n_snacks):
            open_ = [i for i in range(3) if per_meal[i] < 3]
            per_meal[int(rng.choice(open_))] += 1
        late = 60 if weekend else 0
        plan = [("Breakfast", per_meal[0], 405 + late + int(rng.integers(0, 121))),
                ("Lunch", per_meal[1], 705 + int(rng.integers(0, 106))),
                ("Dinner", per_meal[2], 1080 + int(rng.integers(0, 121)))]
        for s in range(n_snacks):
            start = (900 if s == 0 else 1260)
            plan.append(("Snacks", 1, start + int(rng.integers(0, 91 if s == 0 else 31))))
        for group, count, minute in plan:
            options = MEALS[group]
            weights = np.array([CUSTOM_WEIGHT if o in CUSTOM else 1.0 for o in options])
            picks = rng.choice(len(options), size=count, replace=False, p=weights / weights.sum())
            carbs = 0.0
            for i in sorted(int(p) for p in picks):
                name = options[i]
                table = FOODS if name in FOODS else CUSTOM
                portions = table[name][1]
                portion = portions[int(rng.integers(0, len(portions)))]
                eat_minute = minute + int(rng.integers(0, 3))
                time_cell = ("" if rng.random() < 0.42
                             else fmt_time(eat_minute, twelve_hour=bool(rng.random() < 0.5)))
                row = food_row(day, time_cell, group, name, portion)
                rows.append(row)
                if day == duplicate_day and group == "Breakfast" and time_cell:
                    rows.append(list(row))  # same day, time, group, food, amount: kept twice
                    duplicate_day = None
                carbs += float(row[CRONOMETER_HEADER.index("Carbs (g)")] or 0.0)
            meals.append((datetime.combine(day, datetime.min.time()) + timedelta(minutes=minute),
                          carbs))
        if supplement:
            minute = 1290 + int(rng.integers(0, 60))
            time_cell = "" if rng.random() < 0.42 else fmt_time(minute, bool(rng.random() < 0.5))
            rows.append(food_row(day, time_cell, "Supplements", SUPPLEMENT, (1.0, "capsule", 1.0)))
    return rows, meals


# --------------------------------------------------------------------------------------
# Dexcom Clarity
# --------------------------------------------------------------------------------------

CLARITY_HEADER = [
    "Index", "Timestamp (YYYY-MM-DDThh:mm:ss)", "Event Type", "Event Subtype", "Patient Info",
    "Device Info", "Source Device ID", "Glucose Value (mg/dL)", "Insulin Value (u)",
    "Carb Value (grams)", "Duration (hh:mm:ss)", "Glucose Rate of Change (mg/dL/min)",
    "Transmitter Time (Long Integer)", "Transmitter ID",
]
SOURCE_DEVICE = "iPhone G6"
TRANSMITTER_ID = "8SAMP1"
TRANSMITTER_START = datetime(2026, 7, 21, 8, 12, 5)  # transmitter time counts from here

# Sensor sessions: (first allowed reading, end) and the seconds-past-5-minutes phase.
# The two gaps between sessions are ~2 h sensor warm-ups.
SESSIONS = [
    (datetime(2026, 8, 3, 0, 0, 0), datetime(2026, 8, 23, 13, 20, 0), 161),
    (datetime(2026, 8, 23, 15, 21, 0), datetime(2026, 9, 26, 9, 35, 0), 94),
    (datetime(2026, 9, 26, 11, 36, 0), datetime(2026, 10, 12, 0, 0, 0), 217),
]

# Short excursions written over the trace: (approximate start, values). "Low"/"High" are
# what Clarity writes below 40 / above 400 mg/dL.
EXCURSIONS = [
    (datetime(2026, 8, 14, 3, 10), [84, 70, 57, 46, 41, "Low", "Low", "Low", 45, 58, 71, 83, 95]),
    (datetime(2026, 9, 12, 2, 40), [86, 68, 52, 43, "Low", "Low", "Low", 47, 62, 79, 90]),
    (datetime(2026, 9, 4, 20, 0),
     [128, 165, 214, 270, 334, 392, "High", "High", 388, 322, 260, 205, 165, 140]),
    (datetime(2026, 10, 3, 19, 30),
     [130, 168, 220, 282, 345, 395, "High", "High", 380, 318, 252, 196, 158, 132]),
]

CALIBRATIONS = [datetime(2026, 8, 24, 7, 31, 12), datetime(2026, 9, 10, 18, 2, 47),
                datetime(2026, 9, 27, 7, 16, 5)]
CARB_EVENTS = [datetime(2026, 8, 5, 12, 31, 0), datetime(2026, 8, 29, 18, 47, 0),
               datetime(2026, 10, 7, 7, 52, 0)]
INSULIN_EVENTS = [(datetime(2026, 9, 4, 20, 41, 0), 2.0), (datetime(2026, 10, 3, 20, 16, 0), 1.5)]


def reading_times(rng: np.random.Generator) -> np.ndarray:
    """Reading timestamps (numpy datetime64[s]) for all sessions, with a few s of jitter."""
    day0 = np.datetime64(FIRST_DAY.isoformat(), "s")
    out = []
    for start, end, phase in SESSIONS:
        s = (np.datetime64(start, "s") - day0).astype(np.int64)
        e = (np.datetime64(end, "s") - day0).astype(np.int64)
        k0 = int(np.ceil((s - phase) / 300))
        k1 = int(np.ceil((e - phase) / 300))
        slots = phase + 300 * np.arange(k0, k1, dtype=np.int64)
        slots = slots[(slots >= s) & (slots < e)]
        out.append(slots)
    offsets = np.concatenate(out)
    jitter = rng.integers(-3, 4, size=offsets.size)
    return day0 + (offsets + jitter).astype("timedelta64[s]")


def glucose_trace(rng: np.random.Generator, times: np.ndarray,
                  meals: list[tuple[datetime, float]]) -> np.ndarray:
    day0 = np.datetime64(FIRST_DAY.isoformat(), "s")
    t_min = (times - day0).astype(np.int64) / 60.0  # minutes since first midnight
    day_idx = (t_min // 1440).astype(int)
    minute_of_day = t_min % 1440
    n_days = (LAST_DAY - FIRST_DAY).days + 1
    # Baseline: 95–110 per day, a small dawn rise, a smooth slow drift, light noise.
    base = rng.uniform(95, 110, size=n_days)[day_idx]
    dawn = 7.0 * np.exp(-0.5 * ((minute_of_day - 390) / 70.0) ** 2)
    kernel = np.exp(-np.arange(60) / 15.0)
    drift = np.convolve(rng.normal(0, 1.0, size=t_min.size + 59), kernel, mode="valid")
    drift *= 3.0 / drift.std()
    noise = rng.normal(0, 1.5, size=t_min.size)
    # Meal responses: peak (30–80 mg/dL, by carbs) ~45 min after eating, gamma-like shape.
    meal_t = np.array([(np.datetime64(m, "s") - day0).astype(np.int64) / 60.0
                       for m, _ in meals])
    carbs = np.array([c for _, c in meals])
    amp = np.clip(28 + 0.55 * carbs + rng.normal(0, 5, size=carbs.size), 30, 80)
    peak = rng.uniform(40, 50, size=carbs.size)
    rise = np.zeros_like(t_min)
    for mt, a, p in zip(meal_t, amp, peak, strict=True):
        lo, hi = np.searchsorted(t_min, [mt, mt + 300])
        x = (t_min[lo:hi] - mt) / p
        rise[lo:hi] += a * x**2 * np.exp(2.0 * (1.0 - x))
    values = base + dawn + drift + noise + rise
    return np.clip(np.rint(values), 40, 400).astype(np.int64)


def build_clarity(rng: np.random.Generator, meals: list[tuple[datetime, float]]):
    times = reading_times(rng)
    values: list[int | str] = [int(v) for v in glucose_trace(rng, times, meals)]
    for start, seq in EXCURSIONS:
        i = int(np.searchsorted(times, np.datetime64(start, "s")))
        values[i:i + len(seq)] = seq
    ts_str = [str(t) for t in times]  # ISO 8601 "YYYY-MM-DDThh:mm:ss"
    tx = ((times - np.datetime64(TRANSMITTER_START, "s")).astype(np.int64)).tolist()

    events: list[tuple[str, list[str]]] = []  # (timestamp, row without Index)
    blank = [""] * (len(CLARITY_HEADER) - 1)
    for i, (ts, v) in enumerate(zip(ts_str, values, strict=True)):
        row = list(blank)
        row[0], row[1], row[5], row[6] = ts, "EGV", SOURCE_DEVICE, str(v)
        prev = values[i - 1] if i else None
        if (isinstance(v, int) and isinstance(prev, int)
                and (times[i] - times[i - 1]).astype(np.int64) <= 330):
            rate = (v - prev) / ((times[i] - times[i - 1]).astype(np.int64) / 60.0)
            text = f"{rate:.1f}"
            row[10] = "0.0" if text == "-0.0" else text
        row[11], row[12] = str(tx[i]), TRANSMITTER_ID
        events.append((ts, row))
    for cal in CALIBRATIONS:
        i = int(np.searchsorted(times, np.datetime64(cal, "s")))
        near = next(int(v) for v in values[i:i + 6] if isinstance(v, int))
        row = list(blank)
        row[0], row[1], row[5] = cal.isoformat(), "Calibration", SOURCE_DEVICE
        row[6] = str(near + int(rng.integers(-6, 7)))
        row[12] = TRANSMITTER_ID
        events.append((cal.isoformat(), row))
    for ce in CARB_EVENTS:
        row = list(blank)
        row[0], row[1], row[5] = ce.isoformat(), "Carbs", SOURCE_DEVICE
        row[8] = str(int(rng.integers(25, 70)))
        events.append((ce.isoformat(), row))
    for ie, units in INSULIN_EVENTS:
        row = list(blank)
        row[0], row[1], row[2], row[5] = ie.isoformat(), "Insulin", "Fast-Acting", SOURCE_DEVICE
        row[7] = f"{units:.1f}"
        events.append((ie.isoformat(), row))
    events.sort(key=lambda e: e[0])  # stable: ties keep EGV first

    def meta(event_type, subtype="", patient="", device_info="", source="", glucose="",
             duration="", rate=""):
        return ["", event_type, subtype, patient, device_info, source, glucose, "", "",
                duration, rate, "", ""]

    metadata = [
        meta("FirstName", patient="Samplefirst"),
        meta("LastName", patient="Samplelast"),
        meta("DateOfBirth", patient="1980-01-01"),
        meta("Device", device_info="Dexcom G6 Mobile App", source=SOURCE_DEVICE),
        meta("Alert", "High", source=SOURCE_DEVICE, glucose="250", duration="00:00:00"),
        meta("Alert", "Low", source=SOURCE_DEVICE, glucose="70", duration="00:00:00"),
        meta("Alert", "Urgent Low", source=SOURCE_DEVICE, glucose="55", duration="00:00:00"),
        meta("Alert", "Urgent Low Soon", source=SOURCE_DEVICE, glucose="55",
             duration="00:00:00"),
        meta("Alert", "Rise", source=SOURCE_DEVICE, rate="3"),
        meta("Alert", "Fall", source=SOURCE_DEVICE, rate="-3"),
        meta("Alert", "Signal Loss", source=SOURCE_DEVICE, duration="00:20:00"),
    ]
    body = metadata + [row for _, row in events]
    return [[str(i), *row] for i, row in enumerate(body, start=1)]


# --------------------------------------------------------------------------------------
# Ground truth, computed by re-reading the files as written
# --------------------------------------------------------------------------------------

def ground_truth(servings: Path, clarity: Path):
    days = [FIRST_DAY + timedelta(days=d) for d in range((LAST_DAY - FIRST_DAY).days + 1)]
    per = {d.isoformat(): dict(food=0, with_mg=0, without_mg=0, mg=Decimal("0.00"),
                               egv=0, low=0, high=0, num_sum=0, num_n=0, in_range=0, cal=0)
           for d in days}
    totals = dict(food_rows=0, blank_time=0, metadata_rows=0, egv=0, low=0, high=0,
                  calibration=0, carbs=0, insulin=0, other_events=0)
    with servings.open(encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            p = per[r["Day"]]
            totals["food_rows"] += 1
            totals["blank_time"] += r["Time"] == ""
            p["food"] += 1
            if r["Magnesium (mg)"] == "":
                p["without_mg"] += 1
            else:
                p["with_mg"] += 1
                p["mg"] += Decimal(r["Magnesium (mg)"])
    with clarity.open(encoding="utf-8-sig", newline="") as f:
        for r in csv.DictReader(f):
            ts, kind = r["Timestamp (YYYY-MM-DDThh:mm:ss)"], r["Event Type"]
            if ts == "":
                totals["metadata_rows"] += 1
                continue
            p = per[ts[:10]]
            value = r["Glucose Value (mg/dL)"]
            if kind == "EGV":
                totals["egv"] += 1
                p["egv"] += 1
                if value == "Low":
                    totals["low"] += 1
                    p["low"] += 1
                elif value == "High":
                    totals["high"] += 1
                    p["high"] += 1
                else:
                    v = int(value)
                    p["num_sum"] += v
                    p["num_n"] += 1
                    p["in_range"] += 70 <= v <= 180
            elif kind == "Calibration":
                totals["calibration"] += 1
                p["cal"] += 1
            elif kind == "Carbs":
                totals["carbs"] += 1
            elif kind == "Insulin":
                totals["insulin"] += 1
            else:
                totals["other_events"] += 1
    header = ["local_date", "food_entries", "entries_with_magnesium",
              "entries_without_magnesium", "magnesium_known_mg", "sensor_readings",
              "sensor_low", "sensor_high", "glucose_mean_mg_dl", "in_range_share",
              "calibrations"]
    rows = []
    for d, p in per.items():
        mean = (f"{float(Fraction(p['num_sum'], p['num_n'])):.4f}" if p["num_n"] else "")
        share = f"{float(Fraction(p['in_range'], p['egv'])):.6f}" if p["egv"] else ""
        rows.append([d, p["food"], p["with_mg"], p["without_mg"], f"{p['mg']:.2f}", p["egv"],
                     p["low"], p["high"], mean, share, p["cal"]])
    mg_total = sum((p["mg"] for p in per.values()), Decimal("0.00"))
    return header, rows, totals, mg_total


def write_csv(path: Path, header: list[str], rows: list[list], *, encoding: str,
              lineterminator: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, newline="") as f:
        w = csv.writer(f, lineterminator=lineterminator, quoting=csv.QUOTE_MINIMAL)
        w.writerow(header)
        w.writerows(rows)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    rng = np.random.default_rng(SEED)
    food_rows, meals = build_food_log(rng)
    clarity_rows = build_clarity(rng, meals)

    servings = OUT / "cronometer" / "servings.csv"
    clarity = OUT / "dexcom" / "clarity_export.csv"
    daily = OUT / "ground_truth" / "daily.csv"
    write_csv(servings, CRONOMETER_HEADER, food_rows, encoding="utf-8", lineterminator="\n")
    write_csv(clarity, CLARITY_HEADER, clarity_rows, encoding="utf-8-sig",
              lineterminator="\r\n")

    header, rows, t, mg_total = ground_truth(servings, clarity)
    write_csv(daily, header, rows, encoding="utf-8", lineterminator="\n")

    with_mg = sum(r[2] for r in rows)
    summary = {
        "synthetic": True,
        "seed": SEED,
        "timezone": TIMEZONE,
        "date_range": {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat(),
                       "days": len(rows)},
        "cronometer": {
            "file": "cronometer/servings.csv",
            "food_rows": t["food_rows"],
            "rows_with_magnesium": with_mg,
            "rows_without_magnesium": t["food_rows"] - with_mg,
            "rows_blank_time": t["blank_time"],
            "magnesium_known_mg_total": f"{mg_total:.2f}",
        },
        "dexcom": {
            "file": "dexcom/clarity_export.csv",
            "data_rows": len(clarity_rows),
            "metadata_rows": t["metadata_rows"],
            "egv_rows": t["egv"],
            "egv_low": t["low"],
            "egv_high": t["high"],
            "egv_numeric": t["egv"] - t["low"] - t["high"],
            "calibration_rows": t["calibration"],
            "non_reading_event_rows": t["carbs"] + t["insulin"] + t["other_events"],
            "carbs_rows": t["carbs"],
            "insulin_rows": t["insulin"],
            "warmup_gaps": len(SESSIONS) - 1,
            "transmitter_id_in_file": TRANSMITTER_ID,
        },
        "sha256": {
            "cronometer/servings.csv": sha256(servings),
            "dexcom/clarity_export.csv": sha256(clarity),
            "ground_truth/daily.csv": sha256(daily),
        },
    }
    (OUT / "ground_truth" / "summary.json").write_text(
        json.dumps(summary, indent=2) + "\n", encoding="utf-8", newline="\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
