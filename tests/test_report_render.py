"""Report renderer: structure, escaping, self-containment, wording and hand-computed figures.

Every bundle here is built by hand from small polars frames; expected figures are computed by
hand in the comments next to them.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from reports import charts
from reports.data import glucose_parts
from reports.model import (
    BATCHES_SCHEMA,
    DAILY_SCHEMA,
    QUARANTINE_SCHEMA,
    VALIDATION_SCHEMA,
    ReferenceIntake,
    ReportInput,
)
from reports.render import render_report, write_report

SCRIPT = "<script>alert(1)</script>"
CHILI = 'Mom\'s "chili" & <b>'
SCRIPT_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
CHILI_ESCAPED = "Mom&#39;s &#34;chili&#34; &amp; &lt;b&gt;"  # jinja2/markupsafe escaping

REFS = (
    ReferenceIntake("Adult men 31+ (US RDA)", 420),
    ReferenceIntake("Adult women 31+ (US RDA)", 320),
)
T0 = datetime(2026, 10, 1, 7, 30, tzinfo=UTC)

ALLOWED_URLS = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
# Substrings, except "take" which is matched as a word ("intake " must not count).
FORBIDDEN = ("deficien", "you should", "caused", "lowered your", "improved your", "dose")
FORBIDDEN_WORD = re.compile(r"\btake\s", re.IGNORECASE)


def _daily(rows: list[tuple]) -> pl.DataFrame:
    """Rows without the supplement column; it is 0 on days with food, null otherwise."""
    without = {k: v for k, v in DAILY_SCHEMA.items() if k != "magnesium_supplement_mg"}
    frame = pl.DataFrame(rows, schema=without, orient="row")
    return frame.with_columns(
        pl.when(pl.col("food_entries") > 0).then(0.0).alias("magnesium_supplement_mg")
    ).select(DAILY_SCHEMA.names())


def sensor(days: list[tuple[date, list[float]]]) -> pl.DataFrame:
    """Sensor readings every 5 minutes from local midnight of each day (local = UTC here)."""
    rows = [
        (day, datetime.combine(day, datetime.min.time()) + timedelta(minutes=5 * i), value)
        for day, values in days
        for i, value in enumerate(values)
    ]
    frame = pl.DataFrame(rows, schema={"local_date": pl.Date, "local_ts": pl.Datetime("us"),
                                       "glucose_mg_dl": pl.Float64}, orient="row")
    return frame.with_columns(
        subject_id=pl.lit("me"), device=pl.lit("G7"),
        ts_utc=pl.col("local_ts").dt.replace_time_zone("UTC"),
        out_of_range=pl.lit(None, pl.String),
    )


# Day 1: 216 readings at 100 then 72 at 200 mg/dL (mean 125, 75 % in 70–180); day 3: 96
# readings at 150 (8 hours: wear 33 %); day 2 none.
THREE_DAY_SENSOR = sensor([(date(2026, 9, 1), [100.0] * 216 + [200.0] * 72),
                           (date(2026, 9, 3), [150.0] * 96)])


def three_day_daily(with_glucose: bool = True) -> pl.DataFrame:
    # day 1: 4 entries, 3 with Mg, 300 mg known; day 2: 2 of 2 entries, 200 mg; day 3: no food.
    # Average over days with food = (300 + 200) / 2 = 250 mg; 250/420 = 59.5 % -> "60 %",
    # 250/320 = 78.1 % -> "78 %"; entries with a value 5 of 6 -> 83 %.
    # (Counting day 3 as 0 would give 167 mg.) Glucose as in THREE_DAY_SENSOR.
    g = with_glucose
    return _daily(
        [
            (
                date(2026, 9, 1),
                4,
                3,
                1,
                300.0,
                288 if g else 0,
                125.0 if g else None,
                0.75 if g else None,
            ),
            (date(2026, 9, 2), 2, 2, 0, 200.0, 0, None, None),
            (
                date(2026, 9, 3),
                0,
                0,
                0,
                None,
                96 if g else 0,
                150.0 if g else None,
                1.0 if g else None,
            ),
        ]
    )


def bundle(daily: pl.DataFrame | None = None, readings: pl.DataFrame | None = None,
           **overrides) -> ReportInput:
    """A report bundle; glucose frames come from `readings` through the real metrics code
    (THREE_DAY_SENSOR when the daily frame has glucose and no readings are given)."""
    daily = three_day_daily() if daily is None else daily
    if readings is None and daily["glucose_readings"].sum() > 0:
        readings = THREE_DAY_SENSOR
    batches = pl.DataFrame(
        {
            "file_name": ["cronometer_servings.csv", SCRIPT, CHILI],
            "format": ["cronometer", "dexcom_clarity", "cronometer"],
            "rows_read": [10, 400, 3],
            "rows_stored": [8, 384, 0],
            "rows_duplicate": [0, 0, 3],
            "rows_quarantined": [2, 16, 0],
            "finished_at": [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)],
            "status": ["stored", "stored", "stored"],
        },
        schema=BATCHES_SCHEMA,
    )
    quarantine = pl.DataFrame(
        {
            "file_name": ["cronometer_servings.csv", SCRIPT],
            "rule": ["amount >= 0", "ts_utc not null"],
            "reason": [f"negative amount in {CHILI}", "timestamp missing"],
            "rows": [2, 16],
        },
        schema=QUARANTINE_SCHEMA,
    )
    validation = pl.DataFrame(
        {
            "stage": ["staged food rows", "mart daily_summary"],
            "suite": ["food_entry", "daily_summary"],
            "success": [True, False],
            "expectations": [12, 9],
            "failed": [0, 1],
            "run_at": [T0, T0 + timedelta(minutes=3)],
        },
        schema=VALIDATION_SCHEMA,
    )
    first, last = daily["local_date"][0], daily["local_date"][-1]
    values = {
        "title": f"glucomag report {SCRIPT}",
        "period_start": first,
        "period_end": last,
        "timezone": "America/New_York",
        "generated_at_utc": T0 + timedelta(minutes=5),
        "daily": daily,
        "batches": batches,
        "quarantine": quarantine,
        "validation": validation,
        "reference_intakes": REFS,
        "versions": {
            "glucomag": "0.1.0",
            "metric definitions": "glucomag-metrics v1 (Battelino 2019)",
            "food reference": CHILI,
        },
        "notes": (f"12 entries have no time {SCRIPT}", CHILI),
    }
    if readings is not None:
        values |= glucose_parts(readings, first, last)
    values.update(overrides)
    return ReportInput(**values)


class _StartTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def start_tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _StartTags()
    parser.feed(html)
    return parser.tags


def text_of(html: str) -> str:
    """Visible text with tags removed, entities decoded and whitespace collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture(scope="module")
def html() -> str:
    return render_report(bundle())


@pytest.fixture(scope="module")
def html_no_glucose() -> str:
    return render_report(bundle(three_day_daily(with_glucose=False)))


@pytest.fixture(scope="module")
def html_no_food() -> str:
    daily = three_day_daily().with_columns(
        food_entries=pl.lit(0, pl.Int64),
        entries_with_magnesium=pl.lit(0, pl.Int64),
        entries_without_magnesium=pl.lit(0, pl.Int64),
        magnesium_known_mg=pl.lit(None, pl.Float64),
    )
    return render_report(bundle(daily))


# --- structure -------------------------------------------------------------------------------


def test_banner_is_first_element_in_body(html):
    tags = start_tags(html)
    names = [t for t, _ in tags]
    first_in_body = tags[names.index("body") + 1]
    assert first_in_body[0] in {"aside", "div", "section"}
    assert first_in_body[1].get("id") == "informational-banner"
    assert first_in_body[1].get("role") == "note"
    banner = re.search(r'<aside id="informational-banner".*?</aside>', html, re.S).group(0)
    banner_text = text_of(banner).lower()
    for phrase in (
        "not a medical device",
        "no diagnosis, treatment or dosing advice",
        "estimate",
        "clinician",
        "kidney disease",
        "glucose-lowering",
    ):
        assert phrase in banner_text


def test_sections_in_order(html):
    positions = [
        html.index(f'id="{s}"')
        for s in ("informational-banner", "magnesium", "glucose", "data-quality", "science")
    ]
    assert positions == sorted(positions)


def test_header_shows_period_timezone_and_generated_time(html):
    text = text_of(html)
    assert "2026-09-01 to 2026-09-03 (3 days" in text
    assert "America/New_York" in text
    assert "2026-10-01 07:35 UTC" in text


# --- escaping and self-containment -------------------------------------------------------------


@pytest.mark.parametrize("raw, escaped", [(SCRIPT, SCRIPT_ESCAPED), (CHILI, CHILI_ESCAPED)])
def test_user_text_appears_only_escaped(html, raw, escaped):
    assert raw not in html
    # title (twice: <title> and <h1>), batches, quarantine file/reason, notes, versions
    assert html.count(escaped) >= 3


def test_no_script_and_no_external_urls(html, html_no_glucose):
    for doc in (html, html_no_glucose):
        assert "<script" not in doc.lower()
        assert "<b>" not in doc
        urls = set(re.findall(r"""https?://[^\s"'<>)]+""", doc))
        assert urls <= ALLOWED_URLS, urls - ALLOWED_URLS
        assert "<!DOCTYPE svg" not in doc and "<?xml" not in doc
        assert "@import" not in doc and "@font-face" not in doc
        assert not re.search(r"""\b(?:src|href)=["'](?!#)""", doc)


def test_page_is_mobile_and_print_ready(html):
    assert '<meta name="viewport"' in html
    assert "@media print" in html
    assert "max-width" in html
    assert "overflow-x: auto" in html


def test_charts_are_inline_accessible_svg(html, html_two_weeks):
    ids = [attrs.get("id") for tag, attrs in start_tags(html) if tag == "svg"]
    # 2 of 3 days with readings: not enough for the period charts (see the glucose tests)
    assert ids == ["chart-magnesium-daily", "chart-glucose-daily"]
    svgs = [attrs for tag, attrs in start_tags(html_two_weeks) if tag == "svg"]
    assert [a.get("id") for a in svgs] == [
        "chart-magnesium-daily", "chart-period-ranges", "chart-agp", "chart-overlay",
        "chart-time-in-ranges", "chart-glucose-daily",
    ]
    for attrs in svgs:
        assert attrs.get("role") == "img"
        assert attrs.get("aria-labelledby")
    label = "Daily logged magnesium, 2026-09-01 to 2026-09-03, 3 days, 2 with food"
    assert label in html
    assert html_two_weeks.count('<title id="chart-') == len(svgs)
    # ids are prefixed per chart, so inlining several charts gives no duplicate ids
    all_ids = re.findall(r'\bid="([^"]+)"', html_two_weeks)
    assert len(all_ids) == len(set(all_ids))


# --- magnesium figures -------------------------------------------------------------------------


def test_average_intake_and_reference_percentages(html):
    text = text_of(html)
    assert "averaged at least 250 mg/day" in text
    assert "Over 2 days with food entries" in text
    assert "about 60 % of the 420 mg reference (Adult men 31+ (US RDA))" in text
    assert "about 78 % of the 320 mg reference (Adult women 31+ (US RDA))" in text
    assert "known for 5 of 6 entries (83 %)" in text


def test_daily_rows_show_lower_bound_and_coverage(html):
    text = text_of(html)
    assert "at least 300 mg known for 3 of 4 entries" in text
    assert "at least 200 mg known for 2 of 2 entries" in text
    assert "no food entries" in text


def test_no_food_says_not_enough_data_and_draws_no_chart(html_no_food):
    text = text_of(html_no_food)
    assert "Not enough data yet" in text
    assert "chart-magnesium-daily" not in html_no_food
    assert "averaged" not in text
    assert "% of the 420 mg reference" not in text


def test_food_without_any_known_value_says_not_enough_data():
    # 3 entries, none with a magnesium value: an "average of at least 0 mg" would say nothing.
    daily = _daily([(date(2026, 9, 1), 3, 0, 3, 0.0, 0, None, None)])
    html = render_report(bundle(daily))
    text = text_of(html)
    assert "none of the 3 food entries in this period has a known magnesium value" in text
    assert "(1 day, both dates included)" in text and "1 days" not in text
    assert "no known value known for 0 of 3 entries" in text
    assert "averaged" not in text
    assert "chart-magnesium-daily" not in html


# --- glucose -----------------------------------------------------------------------------------


def test_glucose_free_input(html_no_glucose):
    text = text_of(html_no_glucose)
    assert "No glucose data imported for this period." in text
    assert "chart-glucose-daily" not in html_no_glucose
    assert "chart-time-in-range" not in html_no_glucose
    assert html_no_glucose.count("<svg") == 1  # the magnesium chart only
    assert "Days with glucose readings: 0" in text


def test_glucose_daily_rows_carry_n(html):
    text = text_of(html)
    # date, readings, wear (288 × 5 min = 100 %; 96 × 5 min = 480 of 1440 min = 33 %),
    # mean, share 70–180 (from THREE_DAY_SENSOR)
    assert "2026-09-01 288 100 % 125 mg/dL 75 %" in text
    assert "2026-09-02 0 — — —" in text
    assert "2026-09-03 96 33 % 150 mg/dL 100 %" in text


def test_glucose_period_summary_needs_enough_days(html):
    # 2 of the 3 days have readings (all 3 needed in a period shorter than 14 days)
    text = text_of(html)
    assert "Not enough data yet" in text
    assert 'id="glucose-metrics"' not in html
    assert "1 more day" in text


# Two weeks of full sensor days: days 1–7 all 100 mg/dL; days 8–14 the first 144 readings at
# 100 and the last 144 (12:00–23:55) at 220. n = 14 × 288 = 4,032 readings; 3,024 at 100 and
# 1,008 at 220. By hand:
#   mean = (3024·100 + 1008·220) / 4032 = 130 mg/dL; GMI = 3.31 + 0.02392·130 = 6.42 %
#   SD (n − 1) = sqrt((3024·30² + 1008·90²) / 4031) = sqrt(10,886,400 / 4031) = 51.97 mg/dL
#   CV = 51.97 / 130 = 40.0 %; in 70–180: 3024 / 4032 = 75.0 %; above 180: 25.0 %
#   wear = 4032 · 5 min / (14 · 1440 min) = 100 %
#   MODD: days 2–14 each have 288 readings 24 h later than one on the day before; only day 8's
#     afternoon differs (144 pairs × 120) → 17,280 / 3,744 = 4.6 mg/dL → "5 mg/dL"
#   CONGA(1): 4,020 readings have one 1 h before; +120 at 12:00–12:55 on days 8–14 (84),
#     −120 at 00:00–00:55 on days 9–14 (72), 0 elsewhere: mean 1440 / 4020 = 0.358,
#     SD = sqrt((156 · 120² − 4020 · 0.358²) / 4019) = 23.6 → "24 mg/dL"
TWO_WEEKS = [date(2026, 9, 1) + timedelta(days=i) for i in range(14)]
TWO_WEEK_SENSOR = sensor([(day, [100.0] * 288 if i < 7 else [100.0] * 144 + [220.0] * 144)
                          for i, day in enumerate(TWO_WEEKS)])


@pytest.fixture(scope="module")
def html_two_weeks() -> str:
    daily = _daily([(day, 2, 2, 0, 300.0, 288, 100.0 if i < 7 else 160.0,
                     1.0 if i < 7 else 0.5) for i, day in enumerate(TWO_WEEKS)])
    return render_report(bundle(daily, TWO_WEEK_SENSOR))


@pytest.mark.parametrize("row", [
    "Days with sensor data 14 ≥ 14 days",
    "Sensor wear (time with readings) 100 % ≥ 70 %",
    "Readings (n) 4,032",
    "Mean glucose 130 mg/dL",
    "Glucose management indicator (GMI) 6.4 %",
    "Standard deviation 52 mg/dL",
    "Coefficient of variation (CV) 40.0 % ≤ 36 %",
    "Time in range 70–180 mg/dL 75.0 % > 70 %",
    "Time below 70 mg/dL (includes below 54) 0.0 % < 4 %",
    "Time above 180 mg/dL (includes above 250) 25.0 % < 25 %",
    "Time above 250 mg/dL 0.0 % < 5 %",
    "MODD (mean of daily differences) 5 mg/dL",
    "CONGA(1) 24 mg/dL",
])
def test_glucose_metrics_table_matches_hand_values(html_two_weeks, row):
    assert row in text_of(html_two_weeks)


def test_time_of_day_rows_carry_n(html_two_weeks):
    # night 00:00–05:59: 72 readings a day, all 100; evening 18:00–23:59: days 8–14 at 220
    text = text_of(html_two_weeks)
    assert "night 1,008 100 mg/dL 100.0 % 0.0 % 0.0 %" in text
    assert "evening 1,008 160 mg/dL 50.0 % 0.0 % 50.0 %" in text


# --- wording -----------------------------------------------------------------------------------


def test_no_prescriptive_or_causal_words(html, html_no_glucose, html_no_food):
    for doc in (html, html_no_glucose, html_no_food):
        lower = doc.lower()
        for word in FORBIDDEN:
            assert word not in lower, word
        assert not FORBIDDEN_WORD.search(doc)


def test_forbidden_word_check_can_fail():
    assert FORBIDDEN_WORD.search("Take 150 mg more")
    assert not FORBIDDEN_WORD.search("logged intake averaged")


def test_science_notes_are_cited_with_evidence_type(html):
    text = text_of(html)
    assert "Dong et al., Diabetes Care 2011" in text and "0.86" in text
    assert "Simental-Mendía et al." in text and "Veronese et al." in text
    assert "Cohort association" in text and "Trials in specific groups" in text
    assert "Intake is not status" in text
    assert "do not show cause and effect" in text


# --- data quality ------------------------------------------------------------------------------


def test_data_quality_section(html):
    text = text_of(html)
    assert "Days in the period: 3" in text
    assert "Days with food entries: 2" in text
    assert "Days with glucose readings: 2" in text
    assert "18 rows were set aside" in text  # 2 + 16
    assert "1 of 2 validation runs passed" in text
    assert "glucomag-metrics v1 (Battelino 2019)" in text
    assert "2026-10-01 07:31 UTC" in text  # import time of the second file


def test_empty_frames_render():
    empty = bundle(
        batches=pl.DataFrame(schema=BATCHES_SCHEMA),
        quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
        validation=pl.DataFrame(schema=VALIDATION_SCHEMA),
        notes=(),
    )
    text = text_of(render_report(empty))
    assert "Quarantined rows: none." in text
    assert "No validation runs were recorded" in text
    assert "No import records were found" in text


def test_daily_frame_must_cover_the_period():
    with pytest.raises(ValueError, match="one row per local_date"):
        render_report(bundle(period_end=date(2026, 9, 4)))
    gap = three_day_daily().filter(pl.col("local_date") != date(2026, 9, 2))
    with pytest.raises(ValueError, match="one row per local_date"):
        render_report(replace(bundle(), daily=gap))


# --- charts ------------------------------------------------------------------------------------


def test_charts_are_deterministic_and_inlinable():
    daily = three_day_daily()
    first = charts.magnesium_daily_svg(daily, REFS)
    assert first == charts.magnesium_daily_svg(daily, REFS)
    parts = glucose_parts(TWO_WEEK_SENSOR, TWO_WEEKS[0], TWO_WEEKS[-1])
    for svg in (first, charts.glucose_daily_svg(daily),
                charts.time_in_ranges_svg(parts["glucose_daily"]),
                charts.agp_svg(parts["agp"], 14), charts.overlay_svg(parts["overlay"])):
        assert svg.startswith("<svg ")
        assert 'role="img"' in svg and "<title " in svg
        assert "<script" not in svg


def test_chart_functions_refuse_empty_data():
    no_glucose = three_day_daily(with_glucose=False)
    with pytest.raises(ValueError):
        charts.glucose_daily_svg(no_glucose)
    with pytest.raises(ValueError):
        charts.time_in_ranges_svg(pl.DataFrame())


# --- writing -----------------------------------------------------------------------------------


def test_write_report_replaces_atomically(tmp_path: Path):
    target = tmp_path / "reports" / "2026-09" / "report.html"
    assert write_report("<p>old</p>", target) == target  # creates parent folders
    write_report("<p>new – ü</p>", target)
    assert target.read_text(encoding="utf-8") == "<p>new – ü</p>"
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]


def test_write_report_failure_keeps_old_file_and_no_temp(tmp_path: Path, monkeypatch):
    target = tmp_path / "report.html"
    write_report("old", target)

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_report("new", target)
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_supplements_are_compared_with_the_supplemental_upper_level_as_a_fact():
    # day 1: 400 mg from supplements (above 350), day 2: 100 mg → 2 days, mean 250, 1 above.
    daily = three_day_daily().with_columns(
        pl.when(pl.col("local_date") == date(2026, 9, 1)).then(400.0)
        .when(pl.col("local_date") == date(2026, 9, 2)).then(100.0)
        .otherwise(None).alias("magnesium_supplement_mg"))
    page = text_of(render_report(bundle(daily)))
    assert ("magnesium from supplements was logged on 2 days of 2 with food entries, "
            "averaging 250 mg on those days") in page
    assert "supplemental magnesium is 350 mg/day" in page
    assert "logged supplemental intake was above it on 1 day." in page


def test_no_supplement_sentence_without_supplements(html):
    assert 'id="supplement-facts"' not in html


def test_sensor_wear_and_gaps_in_data_quality(html, html_two_weeks):
    # THREE_DAY_SENSOR: 384 readings × 5 min = 1,920 of 4,320 min = 44 %; one gap, from the
    # last reading of day 1 (23:55) to the first of day 3 (00:00): 24 h 5 min = 24.1 h.
    text = text_of(html)
    assert ("Sensor wear: 44 % of the period; gaps of more than an hour between readings: 1 "
            "(24.1 hours in all); the longest: 2026-09-01 23:55 to 2026-09-03 00:00 (24.1 h)"
            ) in text
    assert "gaps of more than an hour between readings: 0" in text_of(html_two_weeks)
