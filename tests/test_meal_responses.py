"""Meal grouping and postprandial responses against traces computed by hand.

Every expected number below is worked out in the comment next to it from the trace itself
(baseline = mean of the 30 min before the meal, window [t, t + 120 min], Wolever iAUC), never
copied from the code's output.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.glucose.meals import (
    MEAL_PARAMETERS,
    MEAL_SCHEMA,
    RESPONSE_SCHEMA,
    SPREAD_SCHEMA,
    group_meals,
    meal_responses,
    repeat_meal_spread,
)

T = datetime(2024, 3, 1, 8, 0)
DAY = T.date()
FLAT_BASELINE = [100.0] * 6  # readings at t−30, t−25, …, t−5: baseline (6 × 100) / 6 = 100


def entry(ts: datetime | None, food: str = "Oats", *, subject: str = "s",
          local_date: date | None = None, meal: str | None = "Breakfast",
          magnesium: float | None = 50.0, carbs: float | None = None,
          kcal: float | None = None, entry_type: str = "food") -> dict:
    return {"subject_id": subject, "local_date": local_date or (ts.date() if ts else DAY),
            "local_ts": ts, "meal": meal, "food_name": food, "magnesium_mg": magnesium,
            "carbohydrates_g": carbs, "energy_kcal": kcal, "entry_type": entry_type}


def entries_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"entry_id": f"e{i}", **row} for i, row in enumerate(rows)],
        schema={"subject_id": pl.String, "entry_id": pl.String, "local_date": pl.Date,
                "local_ts": pl.Datetime("us"), "meal": pl.String, "food_name": pl.String,
                "magnesium_mg": pl.Float64, "carbohydrates_g": pl.Float64,
                "energy_kcal": pl.Float64, "entry_type": pl.String},
    )


def readings_at(t: datetime, minutes: list[float], values: list[float | None],
                interval: int = 5, subject: str = "s") -> pl.DataFrame:
    """Sensor readings at t + each minute; a None value is a Low/High reading."""
    assert len(minutes) == len(values)
    return pl.DataFrame({
        "subject_id": [subject] * len(values),
        "local_ts": pl.Series([t + timedelta(minutes=m) for m in minutes],
                              dtype=pl.Datetime("us")),
        "glucose_mg_dl": pl.Series(values, dtype=pl.Float64),
        "out_of_range": pl.Series([None if v is not None else "above_range" for v in values],
                                  dtype=pl.String),
        "interval_min": [interval] * len(values),
    })


def trace(t: datetime, baseline: list[float], window: list[float | None],
          interval: int = 5) -> pl.DataFrame:
    """Baseline readings ending one interval before t, then window readings from t on."""
    before = [-interval * (len(baseline) - i) for i in range(len(baseline))]
    after = [interval * i for i in range(len(window))]
    return readings_at(t, before + after, [*baseline, *window], interval)


def one_meal(t: datetime = T) -> pl.DataFrame:
    return entries_frame([entry(t)])


def only(frame: pl.DataFrame) -> dict:
    assert frame.height == 1
    return frame.row(0, named=True)


# --------------------------------------------------------------------------- responses


def test_hand_trace_rise_and_fall_5_min() -> None:
    # minute: 0    5    10   15   20   25   30   35   40   45, then 50…120 (15 readings)
    # g:      100  110  130  150  170  160  140  120  105  100, then 100 × 15  → 25 readings
    window = [100, 110, 130, 150, 170, 160, 140, 120, 105, 100] + [100.0] * 15
    row = only(meal_responses(one_meal(), trace(T, FLAT_BASELINE, window)))
    assert row["baseline_mg_dl"] == 100.0
    assert row["baseline_readings"] == 6
    assert row["window_readings"] == 25
    assert row["peak_mg_dl"] == 170.0
    assert row["peak_rise_mg_dl"] == 70.0  # 170 − 100
    assert row["time_to_peak_min"] == 20.0
    # y = g − 100: 0, 10, 30, 50, 70, 60, 40, 20, 5, 0, 0…; trapezoids (y1 + y2) / 2 × 5:
    # 25 + 100 + 200 + 300 + 325 + 250 + 150 + 62.5 + 12.5 + 0… = 1425
    assert row["iauc_mg_dl_min"] == pytest.approx(1425.0)
    # after the peak (minute 20): 160, 140, 120 are > 110; minute 40 has 105 ≤ 100 + 10
    assert row["return_to_baseline_min"] == 40.0
    assert row["window_completeness_pct"] == 100.0  # 25 / (120 / 5 + 1)
    assert row["interval_min"] == 5
    assert row["status"] == "ok"
    assert row["usable"] is True


def test_trace_crossing_the_baseline_counts_positive_triangles_only() -> None:
    # minute: 0    5    10   15   20   25…120
    # g:      100  90   110  130  95   100 × 20
    # y:      0    −10  10   30   −5   0
    window = [100, 90, 110, 130, 95] + [100.0] * 20
    row = only(meal_responses(one_meal(), trace(T, FLAT_BASELINE, window)))
    # (0, −10): both ≤ 0 → 0
    # (−10, 10): crosses at 10/20 of 5 min = 2.5 min; triangle ½ × 2.5 × 10 = 12.5
    #            (formula 10² / (10 + 10) × 5 / 2 = 12.5)
    # (10, 30): (10 + 30) / 2 × 5 = 100
    # (30, −5): crosses at 30/35 of 5 min; triangle ½ × (150/35) × 30 = 30² / 35 × 5 / 2 = 450/7
    # (−5, 0) and the zeros: 0
    assert row["iauc_mg_dl_min"] == pytest.approx(12.5 + 100 + 450 / 7)
    assert row["peak_rise_mg_dl"] == 30.0
    assert row["time_to_peak_min"] == 15.0
    assert row["return_to_baseline_min"] == 20.0  # 95 ≤ 110, the first reading after the peak


def test_15_minute_device() -> None:
    # baseline readings at t−30 and t−15: (96 + 104) / 2 = 100
    # minute: 0    15   30   45   60   75   90   105  120   → 120 / 15 + 1 = 9 readings
    # g:      100  130  160  140  115  100  100  100  100
    window = [100, 130, 160, 140, 115, 100, 100, 100, 100]
    row = only(meal_responses(one_meal(), trace(T, [96.0, 104.0], window, interval=15)))
    assert row["baseline_mg_dl"] == 100.0
    assert row["baseline_readings"] == 2
    # y: 0, 30, 60, 40, 15, 0…; (y1 + y2) / 2 × 15: 225 + 675 + 750 + 412.5 + 112.5 = 2175
    assert row["iauc_mg_dl_min"] == pytest.approx(2175.0)
    assert row["peak_rise_mg_dl"] == 60.0
    assert row["time_to_peak_min"] == 30.0
    assert row["return_to_baseline_min"] == 75.0  # 140 and 115 are > 110; 100 at minute 75
    assert row["window_completeness_pct"] == 100.0  # 9 / 9
    assert row["interval_min"] == 15
    assert row["status"] == "ok"


def test_40_minute_gap_adds_no_area_and_marks_the_window_incomplete() -> None:
    # readings at minutes 0…30 (7) and 70…120 (11); none at 35…65 (7 missing): a 40-min gap
    minutes = [*range(0, 31, 5), *range(70, 121, 5)]
    values = [100, 110, 120, 130, 140, 150, 160,   # minutes 0…30, y = 0…60 by 10
              150, 140, 130, 120, 110, 100, 100, 100, 100, 100, 100]  # minutes 70…120
    readings = pl.concat([readings_at(T, [-30, -25, -20, -15, -10, -5], FLAT_BASELINE),
                          readings_at(T, minutes, values)])
    row = only(meal_responses(one_meal(), readings))
    # 0…30: 5 × (5 + 15 + 25 + 35 + 45 + 55) = 900
    # (30, 70): 40 min > 1.5 × 5 min, not bridged (it would have added (60 + 50) / 2 × 40)
    # 70…120: y 50, 40, 30, 20, 10, 0…: 5 × (45 + 35 + 25 + 15 + 5) = 625
    assert row["iauc_mg_dl_min"] == pytest.approx(900 + 625)
    assert row["window_readings"] == 18
    assert row["window_completeness_pct"] == pytest.approx(72.0)  # 100 × 18 / 25
    # 28 % missing > 20 %: marked, but the numbers are still there for the report
    assert row["status"] == "incomplete_window"
    assert row["usable"] is False
    assert row["peak_rise_mg_dl"] == 60.0
    assert row["return_to_baseline_min"] == 90.0  # 150…120 are > 110; 110 at minute 90


@pytest.mark.parametrize(("gap_min", "completeness", "status"), [
    (30, 80.0, "ok"),                  # 5 missing of 25: 20 % missing is not > 20 %
    (35, 76.0, "incomplete_window"),   # 6 missing of 25: 24 %
])
def test_missing_share_threshold(gap_min: int, completeness: float, status: str) -> None:
    # readings every 5 min except inside one gap starting at minute 40
    minutes = [m for m in range(0, 121, 5) if not 40 < m < 40 + gap_min]
    readings = pl.concat([readings_at(T, [-30, -25, -20, -15, -10, -5], FLAT_BASELINE),
                          readings_at(T, minutes, [100.0] * len(minutes))])
    row = only(meal_responses(one_meal(), readings))
    assert row["window_completeness_pct"] == pytest.approx(completeness)
    assert row["status"] == status


def test_low_high_readings_count_as_present_but_have_no_value() -> None:
    # The first trace with the peak reading (minute 20) replaced by a High: no number.
    window = [100, 110, 130, 150, None, 160, 140, 120, 105, 100] + [100.0] * 15
    row = only(meal_responses(one_meal(), trace(T, FLAT_BASELINE, window)))
    assert row["window_readings"] == 25
    assert row["window_completeness_pct"] == 100.0
    assert row["peak_mg_dl"] == 160.0
    assert row["time_to_peak_min"] == 25.0
    # numeric neighbours 15 (y 50) and 25 (y 60) are 10 min apart > 7.5: no area across the
    # High; 25 + 100 + 200 (0…15) + 250 + 150 + 62.5 + 12.5 (25…45) = 800
    assert row["iauc_mg_dl_min"] == pytest.approx(800.0)


def test_meal_without_time_is_kept_as_no_time() -> None:
    entries = entries_frame([entry(T), entry(None, "Apple", meal="Snacks"),
                             entry(None, "Bread", meal="Snacks")])
    readings = trace(T, FLAT_BASELINE, [100.0] * 25)
    result = meal_responses(entries, readings)
    assert result.height == 2
    untimed = only(result.filter(pl.col("meal_local_ts").is_null()))
    assert untimed["status"] == "no_time"
    assert untimed["usable"] is False
    assert untimed["foods"] == "Apple; Bread"
    assert untimed["food_entries"] == 2
    assert untimed["iauc_mg_dl_min"] is None
    assert untimed["baseline_mg_dl"] is None


def test_meal_without_glucose() -> None:
    far_away = readings_at(T + timedelta(days=2), [0, 5], [100.0, 100.0])
    row = only(meal_responses(one_meal(), far_away))
    assert row["status"] == "no_glucose"
    assert row["window_readings"] == 0
    assert row["baseline_readings"] == 0
    assert row["window_completeness_pct"] == 0.0
    assert row["iauc_mg_dl_min"] is None


def test_meal_without_baseline() -> None:
    row = only(meal_responses(one_meal(), trace(T, [], [100.0] * 25)))
    assert row["status"] == "no_baseline"
    assert row["baseline_mg_dl"] is None
    assert row["iauc_mg_dl_min"] is None  # no baseline, no area above it


def test_two_meals_60_minutes_apart_first_overlaps_next() -> None:
    second = T + timedelta(minutes=60)
    entries = entries_frame([entry(T), entry(second, "Apple")])
    # flat 100 from 7:30 to 11:00, so both meals have complete windows and a baseline
    readings = readings_at(T, list(range(-30, 181, 5)), [100.0] * 43)
    result = meal_responses(entries, readings).sort("meal_local_ts")
    # 9:00 < 8:00 + 120 + 30 min = 10:30: the second meal's baseline is in the first's window
    assert result["status"].to_list() == ["overlaps_next_meal", "ok"]
    assert result["usable"].to_list() == [False, True]
    assert result["iauc_mg_dl_min"].to_list() == [0.0, 0.0]  # still computed: flat trace


def test_meals_150_minutes_apart_do_not_overlap() -> None:
    # 8:00 + 150 min = 10:30, and the next meal starts exactly then: not before
    entries = entries_frame([entry(T), entry(T + timedelta(minutes=150), "Apple")])
    readings = readings_at(T, list(range(-30, 271, 5)), [100.0] * 61)
    result = meal_responses(entries, readings)
    assert result["status"].to_list() == ["ok", "ok"]


def test_parameters_are_stored_and_checked() -> None:
    window = [100.0] * 37  # 180 / 5 + 1 readings
    row = only(meal_responses(one_meal(), trace(T, FLAT_BASELINE, window), window_min=180))
    assert row["param_window_min"] == 180
    assert row["param_baseline_min"] == MEAL_PARAMETERS["baseline_min"] == 30
    assert row["param_meal_gap_min"] == 30
    assert row["param_return_margin_mg_dl"] == 10.0
    assert row["param_max_missing_pct"] == 20.0
    assert row["window_readings"] == 37
    assert row["window_completeness_pct"] == 100.0  # 37 / (180 / 5 + 1)
    with pytest.raises(TypeError, match="window_mins"):
        meal_responses(one_meal(), trace(T, FLAT_BASELINE, window), window_mins=180)


def test_output_columns_and_dtypes() -> None:
    result = meal_responses(entries_frame([entry(T), entry(None)]),
                            trace(T, FLAT_BASELINE, [100.0] * 25))
    assert result.schema == MEAL_SCHEMA | RESPONSE_SCHEMA
    empty = meal_responses(entries_frame([]), trace(T, FLAT_BASELINE, [100.0] * 25))
    assert empty.height == 0
    assert empty.schema == MEAL_SCHEMA | RESPONSE_SCHEMA


# --------------------------------------------------------------------------- grouping


def test_entries_10_and_25_minutes_apart_form_one_meal() -> None:
    entries = entries_frame([
        entry(T, "Oats", magnesium=40.0, carbs=30.0, kcal=150.0),
        entry(T + timedelta(minutes=10), "Milk", magnesium=None, carbs=None, kcal=60.0),
        entry(T + timedelta(minutes=35), " oats ", magnesium=None, carbs=None, kcal=None),
    ])
    row = only(group_meals(entries))
    assert row["meal_local_ts"] == T
    assert row["food_entries"] == 3
    assert row["foods"] == "Oats; Milk; oats"
    assert row["food_keys"] == "milk|oats"  # lower-cased, trimmed, de-duplicated, sorted
    assert row["magnesium_known_mg"] == 40.0  # only the known value
    assert row["magnesium_coverage_pct"] == pytest.approx(100 / 3)  # 1 of 3 known
    assert row["carbohydrates_g"] == 30.0
    assert row["energy_kcal"] == 210.0  # 150 + 60


def test_entries_45_minutes_apart_form_two_meals() -> None:
    entries = entries_frame([entry(T), entry(T + timedelta(minutes=45), "Apple")])
    meals = group_meals(entries)
    assert meals["meal_local_ts"].to_list() == [T, T + timedelta(minutes=45)]
    assert meals["meal_id"].n_unique() == 2


def test_gap_equal_to_meal_gap_stays_one_meal() -> None:
    entries = entries_frame([entry(T), entry(T + timedelta(minutes=30), "Apple")])
    assert group_meals(entries).height == 1
    assert group_meals(entries, meal_gap_min=29).height == 2


def test_magnesium_with_a_null_entry() -> None:
    entries = entries_frame([entry(T, "Spinach", magnesium=80.0, carbs=None),
                             entry(T + timedelta(minutes=5), "Rice", magnesium=None, carbs=None)])
    row = only(group_meals(entries))
    assert row["magnesium_known_mg"] == 80.0
    assert row["magnesium_coverage_pct"] == 50.0  # 1 of 2 entries known
    assert row["carbohydrates_g"] is None  # no entry has carbohydrates: unknown, not 0


def test_no_magnesium_known_is_zero_with_zero_coverage() -> None:
    row = only(group_meals(entries_frame([entry(T, magnesium=None)])))
    assert row["magnesium_known_mg"] == 0.0
    assert row["magnesium_coverage_pct"] == 0.0


def test_untimed_entries_group_by_day_and_label_and_totals_are_ignored() -> None:
    entries = entries_frame([
        entry(None, "Eggs", meal="Breakfast"), entry(None, "Soup", meal="Lunch"),
        entry(None, "Toast", meal="Breakfast"),
        entry(None, "Eggs", meal="Breakfast", local_date=date(2024, 3, 2)),
        entry(None, "Breakfast total", meal="Breakfast", entry_type="meal_total"),
        entry(None, "Day total", meal=None, entry_type="daily_total"),
    ])
    meals = group_meals(entries)
    assert meals.select("local_date", "meal", "foods").rows() == [
        (DAY, "Breakfast", "Eggs; Toast"),
        (DAY, "Lunch", "Soup"),
        (date(2024, 3, 2), "Breakfast", "Eggs"),
    ]
    assert meals["meal_local_ts"].null_count() == 3


def test_meal_ids_are_stable_and_distinct() -> None:
    entries = entries_frame([entry(T), entry(None, meal="Lunch"), entry(None, meal="Dinner"),
                             entry(T, subject="other")])
    first, second = group_meals(entries), group_meals(entries.reverse())
    ids = first.select("subject_id", "meal", "meal_id").sort("meal_id")
    assert ids.equals(second.select("subject_id", "meal", "meal_id").sort("meal_id"))
    assert first["meal_id"].n_unique() == 4
    assert first["meal_id"].str.contains(r"^[0-9a-f]{32}$").all()


def test_subjects_are_kept_apart() -> None:
    entries = entries_frame([entry(T, subject="a"), entry(T + timedelta(minutes=10), subject="b")])
    assert group_meals(entries).height == 2
    readings = trace(T, FLAT_BASELINE, [100.0] * 25)  # subject "s" only
    assert meal_responses(entries, readings)["status"].to_list() == ["no_glucose"] * 2


# --------------------------------------------------------------------------- repeats


def _triangle_window(rise: float) -> list[float]:
    """Baseline 100, one reading `rise` above it at minute 5, then back to 100: the iAUC is
    two triangles (0 + rise) / 2 × 5 + (rise + 0) / 2 × 5 = 5 × rise."""
    return [100.0, 100.0 + rise] + [100.0] * 23


def test_repeat_meal_spread_three_repeats() -> None:
    days = [T + timedelta(days=d) for d in range(5)]
    entries = entries_frame([
        *(entry(day, "Oats") for day in days[:3]),  # three usable repeats
        entry(days[3], "Toast"),                     # once only: not a repeat
        entry(days[4], "oats"),                      # same key, but no glucose: not usable
    ])
    rises = [20.0, 30.0, 40.0]  # iAUC 5 × rise = 100, 150, 200
    readings = pl.concat([trace(day, FLAT_BASELINE, _triangle_window(rise))
                          for day, rise in zip(days[:4], [*rises, 10.0], strict=True)])
    responses = meal_responses(entries, readings)
    assert responses["iauc_mg_dl_min"].head(3).to_list() == pytest.approx([100.0, 150.0, 200.0])
    spread = repeat_meal_spread(responses)
    assert spread.schema == SPREAD_SCHEMA
    row = only(spread)
    assert row["food_keys"] == "oats"
    assert row["foods"] == "Oats"
    assert row["meals"] == 3
    # mean (100 + 150 + 200) / 3 = 150; SD = √(((−50)² + 0² + 50²) / (3 − 1)) = √2500 = 50
    assert row["iauc_mean"] == pytest.approx(150.0)
    assert row["iauc_sd"] == pytest.approx(50.0)
    assert (row["iauc_min"], row["iauc_max"]) == (100.0, 200.0)
    # rises 20, 30, 40: mean 30; SD √((100 + 0 + 100) / 2) = 10
    assert row["peak_rise_mean"] == pytest.approx(30.0)
    assert row["peak_rise_sd"] == pytest.approx(10.0)
    assert repeat_meal_spread(responses, min_repeats=4).height == 0


def test_repeat_meal_spread_of_nothing() -> None:
    assert repeat_meal_spread(pl.DataFrame()).schema == SPREAD_SCHEMA


# --------------------------------------------------------------------------- property


@settings(max_examples=60, deadline=None)
@given(
    interval=st.sampled_from([5, 15]),
    baseline=st.lists(st.floats(40, 400), min_size=1, max_size=2),
    window=st.lists(st.one_of(st.none(), st.floats(40, 400)), min_size=25, max_size=25),
    present=st.lists(st.booleans(), min_size=25, max_size=25),
)
def test_iauc_is_bounded(interval: int, baseline: list[float], window: list[float | None],
                         present: list[bool]) -> None:
    n = 120 // interval + 1
    minutes = [interval * i for i in range(n) if present[i]]
    values = [window[i] for i in range(n) if present[i]]
    readings = pl.concat([readings_at(T, [-interval * (j + 1) for j in range(len(baseline))],
                                      baseline, interval),
                          readings_at(T, minutes, values, interval)])
    row = only(meal_responses(one_meal(), readings))
    iauc, rise = row["iauc_mg_dl_min"], row["peak_rise_mg_dl"]
    if iauc is None:
        return
    assert iauc >= 0
    if rise >= 0:
        # every segment is at most rise × dt, and the segments span at most the window
        assert iauc <= rise * MEAL_PARAMETERS["window_min"] + 1e-6
    else:
        assert math.isclose(iauc, 0.0, abs_tol=1e-9)
