"""Phrases of the reports generated from the sample data (report-wording.md).

Monthly and nightly reports, with glucose and food only, from real imports of the sample
exports: the banner opens every one, no sentence is causal, diagnostic or prescriptive, every
section with figures carries its n and coverage, and `reports/index.html` links each report.
"""

from __future__ import annotations

import json
import re
from datetime import date
from html import unescape
from pathlib import Path

import pytest

from reports.data import month_bounds, write_period_report
from tests.conftest import SAMPLE_DATA

TRUTH = json.loads((SAMPLE_DATA / "ground_truth" / "summary.json").read_text())
MONTH_START, MONTH_END = month_bounds(date(2026, 9, 1))
LAST_DAY = date.fromisoformat(TRUTH["date_range"]["last"])
FOOD = "cronometer/servings.csv"
GLUCOSE = "dexcom/clarity_export.csv"

# Sentences a report must never contain: prescriptions, dosing, diagnoses, causal claims about
# the user's own data, cure/treatment claims. Matched on the visible text, case-insensitive.
FORBIDDEN = {
    "prescription": r"\byou (?:should|need to|must|ought to)\b",
    "dosing": r"\b(?:take|add|try) \d+\s*(?:mg|g)\b|\b(?:dose|dosage) of\b",
    "change advice": r"\b(?:increase|decrease|reduce|raise|boost|lower|cut) your\b",
    "deficiency": r"\bdeficien|\binsufficien",
    # "… especially if you have diabetes" (the banner) is a condition, not a diagnosis
    "diagnosis": r"(?<!if )\byou (?:have|are|may have) (?:diabetes|prediabetes|insulin resistance|"
                 r"hypomagnes|low magnesium)|\bdiagnos(?:e|ed|es)\b",
    "causal": r"\bcaused\b|\bcauses\b|\b(?:lowered|raised|improved|worsened|spiked) your\b|"
              r"\bbecause of (?:your|the) magnesium\b|\bthanks to\b",
    "cure": r"\bcures?\b|\btreats?\b|\bheals?\b|\bprevents?\b|\breverses?\b",
}
BAD_SENTENCES = {
    "prescription": "You should eat more seeds.",
    "dosing": "Take 150 mg more each evening.",
    "change advice": "Increase your intake of nuts.",
    "deficiency": "You are deficient in magnesium.",
    "diagnosis": "You have insulin resistance.",
    "causal": "Magnesium caused your glucose to fall.",
    "cure": "Magnesium cures diabetes.",
}


def text_of(html: str) -> str:
    """Visible text: styles and tags removed, entities decoded, whitespace collapsed."""
    html = re.sub(r"<style.*?</style>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def section_text(html: str, section_id: str) -> str:
    found = re.search(rf'<section id="{section_id}".*?</section>', html, re.S)
    assert found, f"no section {section_id}"
    return text_of(found.group(0))


def _home(folder: Path, exports: tuple[str, ...]):
    from glucomag.settings import load_settings
    from transforms.pipeline import import_and_file, rebuild_marts

    settings = load_settings(folder / "home", timezone=TRUTH["timezone"])
    settings.create_folders()
    for name in exports:
        summaries = import_and_file(settings, SAMPLE_DATA / name, keep_original=True)
        assert [s.status for s in summaries] == ["stored"], summaries
    rebuild_marts(settings)
    return settings


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    """Monthly and nightly reports with glucose, and both again from the food log alone."""
    written = {}
    for label, exports in (("glucose", (FOOD, GLUCOSE)), ("food only", (FOOD,))):
        settings = _home(tmp_path_factory.mktemp(label.replace(" ", "_")), exports)
        written[f"monthly, {label}"] = write_period_report(
            settings, MONTH_START, MONTH_END, kind="monthly", label="2026-09")
        written[f"nightly, {label}"] = write_period_report(
            settings, date(2026, 10, 5), LAST_DAY, kind="nightly", label=LAST_DAY.isoformat())
    return written


@pytest.fixture(scope="module")
def pages(reports) -> dict[str, str]:
    return {name: path.read_text(encoding="utf-8") for name, path in reports.items()}


def test_forbidden_patterns_catch_their_examples():
    for kind, sentence in BAD_SENTENCES.items():
        assert re.search(FORBIDDEN[kind], sentence, re.IGNORECASE), kind
    banner = ("It is not a medical device and gives no diagnosis, treatment or dosing advice. "
              "Talk to a clinician, especially if you have diabetes.")
    assert not any(re.search(p, banner, re.IGNORECASE) for p in FORBIDDEN.values())


def test_every_report_opens_with_the_banner(pages):
    for name, html in pages.items():
        body = html[html.index("<body"):]
        first = re.search(r"<(?!body)(\w+)[^>]*>", body[5:])
        assert first and 'id="informational-banner"' in first.group(0), name
        banner = section_text(body.replace("<aside", "<section", 1).replace(
            "</aside>", "</section>", 1), "informational-banner")
        assert "not a medical device" in banner and "clinician" in banner, name


@pytest.mark.parametrize("kind", sorted(FORBIDDEN))
def test_no_forbidden_sentence_in_any_report(pages, kind):
    for name, html in pages.items():
        found = re.search(FORBIDDEN[kind], text_of(html), re.IGNORECASE)
        context = text_of(html)[found.start() - 60:found.end() + 60] if found else ""
        assert found is None, f"{name}: {kind}: …{context}…"


def test_every_figure_section_carries_n_and_coverage(pages):
    html = pages["monthly, glucose"]
    summary = section_text(html, "summary")
    assert re.search(r"n = \d+ days", summary) and "% of 207 entries" in summary
    magnesium = section_text(html, "magnesium")
    assert re.search(r"\(n = \d+ of \d+ days in the period\)", magnesium)
    assert re.search(r"known for \d+ of \d+ entries \(\d+ %\)", magnesium)
    glucose = section_text(html, "glucose")
    assert re.search(r"\(n = [\d,]+ readings on \d+ days\)", glucose)
    assert re.search(r"sensor wear \d+ % of the time", glucose)
    meals = section_text(html, "meals")
    assert re.search(r"\d+ of \d+ meals could be used", meals)
    associations = re.search(r'<table id="associations">.*?</table>', html, re.S).group(0)
    rows = re.findall(r"<tr><td.*?</tr>", associations, re.S)
    assert rows
    for row in rows:
        cells = [text_of(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        assert re.search(r"\d+ days?", cells[2]), cells  # n
        assert "magnesium known for" in cells[3] and "wear" in cells[3], cells  # coverage


def test_every_chart_has_a_caption(pages):
    for name, html in pages.items():
        figures = re.findall(r"<figure>.*?</figure>", html, re.S)
        assert all("<figcaption>" in f for f in figures), name
        assert len(figures) == html.count("<svg "), name


def test_food_only_reports_say_there_is_no_glucose(pages):
    for kind in ("monthly", "nightly"):
        html = pages[f"{kind}, food only"]
        assert "No glucose data imported for this period." in section_text(html, "glucose")
        assert "no sensor data" in section_text(html, "summary")
        assert "at least" in section_text(html, "magnesium")  # magnesium trends still shown
    assert "No sensor data: only the magnesium trends above can be shown." in section_text(
        pages["monthly, food only"], "magnesium-and-glucose")


def test_nightly_is_the_short_one(pages):
    nightly, monthly = pages["nightly, glucose"], pages["monthly, glucose"]
    assert len(text_of(nightly)) < 0.8 * len(text_of(monthly))
    assert "(last day)" in section_text(nightly, "summary")
    assert "it is in the monthly report" in section_text(nightly, "magnesium-and-glucose")


def test_index_links_every_report(reports):
    for path in reports.values():
        index = (path.parent.parent / "index.html").read_text(encoding="utf-8")
        relative = f'href="{path.parent.name}/{path.name}"'
        assert relative in index, (relative, index)
        assert "Informational only" in index
