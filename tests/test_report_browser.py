"""The monthly report of the sample data, opened in a real headless Chromium and printed to PDF.

Checks what a person would see, not the template's text: the page is drawn (not blank) with
the informational-only banner in view, it loads nothing but itself (no network, no console
errors), it fits a phone's width, and it prints to a PDF that says the same. The facts checked
in the HTML are the stable ones (banner, title, accessible SVG charts, no scripts, no remote
URLs), so sections can be added to the report without touching this test.

Chromium is required: CI installs Debian's package (.ci/run), and a missing browser FAILS
here rather than skipping. Locally, GLUCOMAG_SKIP_BROWSER=1 skips the module on purpose.
With GLUCOMAG_KEEP_SCREENSHOTS set, the screenshots are also copied to
/tmp/glucomag-report-desktop.png and /tmp/glucomag-report-phone.png for a human to look at.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reports.data import month_bounds
from reports.pdf import NO_BROWSER, NO_HOST_NAMES, PdfError, find_browser, html_to_pdf
from tests.conftest import SAMPLE_DATA

TRUTH = json.loads((SAMPLE_DATA / "ground_truth" / "summary.json").read_text())
EXPORTS = ("cronometer/servings.csv", "dexcom/clarity_export.csv")
BANNER = "Informational only"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
KEEP_SCREENSHOTS = {"desktop": Path("/tmp/glucomag-report-desktop.png"),
                    "phone": Path("/tmp/glucomag-report-phone.png")}
# Console messages that mean the page tried to load something and was stopped.
BLOCKED = re.compile(r"block|refused|not allowed to load|content security policy|net::|"
                     r"failed to load|mixed content", re.IGNORECASE)

if os.environ.get("GLUCOMAG_SKIP_BROWSER") == "1" and not os.environ.get("CI"):
    pytest.skip("GLUCOMAG_SKIP_BROWSER=1: browser checks of the report skipped on request",
                allow_module_level=True)


def _full_month(first: date, last: date) -> tuple[date, date]:
    """The first calendar month lying wholly inside [first, last]."""
    start = first if first.day == 1 else (first.replace(day=1) + timedelta(days=32)).replace(day=1)
    month_start, month_end = month_bounds(start)
    assert month_end <= last, "the sample data holds no whole calendar month"
    return month_start, month_end


MONTH_START, MONTH_END = _full_month(date.fromisoformat(TRUTH["date_range"]["first"]),
                                     date.fromisoformat(TRUTH["date_range"]["last"]))
MONTH = MONTH_START.strftime("%Y-%m")


@pytest.fixture(scope="module")
def browser_path() -> Path:
    browser = find_browser()
    if browser is None:
        pytest.fail("no Chromium/Chrome on this machine: the report's browser checks need one "
                    "(CI installs Debian's `chromium`; locally `apt-get install chromium`, set "
                    "GLUCOMAG_BROWSER, or set GLUCOMAG_SKIP_BROWSER=1 to skip on purpose)")
    return browser


# Food names a report must show as text: markup, entities, quotes, right-to-left scripts (with
# a bidi override character). Each has 400 mg known, so it is among the top sources, or none,
# so it is among the foods without a value.
HOSTILE_NAMES = {
    '<script>alert("owned")</script> bar': "400",
    "Mom's \"chili\" & <b>beans</b>": "400",
    "חומוס עם טחינה": "400",
    "\u202eسلطة خضراء": "",
}


def _hostile_export(path: Path) -> Path:
    """A Cronometer servings export (the sample's columns) with HOSTILE_NAMES at lunch on one
    day of MONTH."""
    with (SAMPLE_DATA / "cronometer" / "servings.csv").open(encoding="utf-8") as sample:
        header = next(csv.reader(sample))
    day = (MONTH_START + timedelta(days=9)).isoformat()
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=header)
        writer.writeheader()
        for name, magnesium in HOSTILE_NAMES.items():
            writer.writerow({"Day": day, "Time": "12:30", "Group": "Lunch",
                             "Food Name": name, "Amount": "1.00 serving",
                             "Magnesium (mg)": magnesium, "Category": "Recipes"})
    return path


@pytest.fixture(scope="module")
def monthly_report(tmp_path_factory) -> Path:
    """The sample data imported into a fresh warehouse (the pipeline's own steps, without
    Prefect), and the monthly report of its whole calendar month written."""
    from glucomag.settings import load_settings
    from reports.data import write_period_report
    from transforms.pipeline import import_and_file, rebuild_marts

    home = tmp_path_factory.mktemp("browser") / "home"
    settings = load_settings(home, timezone=TRUTH["timezone"])
    settings.create_folders()
    # The CLI test below reads the same home: it must see the sample data's time zone.
    (home / "config.toml").write_text(f'timezone = "{TRUTH["timezone"]}"\n')
    for path in (*(SAMPLE_DATA / name for name in EXPORTS),
                 _hostile_export(home.parent / "hostile_servings.csv")):
        summaries = import_and_file(settings, path, keep_original=True)
        assert [s.status for s in summaries] == ["stored"], summaries
    rebuild_marts(settings)
    return write_period_report(settings, MONTH_START, MONTH_END, kind="monthly", label=MONTH)


@pytest.fixture(scope="module")
def chromium(browser_path):
    """Playwright driving the system browser: nothing is downloaded (no `playwright install`)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[test]'")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(browser_path),
                                             args=["--no-sandbox", NO_HOST_NAMES])
        yield browser
        browser.close()
    finally:
        playwright.stop()


class _Audit(HTMLParser):
    """Every <svg> with its accessible name, every <script>, every URL-bearing attribute."""

    URL_ATTRIBUTES = frozenset({"src", "href", "xlink:href", "srcset", "poster", "data",
                                "action", "formaction", "background", "ping"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.svgs: list[dict] = []
        self.scripts = 0
        self.urls: list[str] = []
        self.styles: list[str] = []
        self.title = ""
        self._svg_depth = 0
        self._in_title = False
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.urls += [value for name, value in attrs if name in self.URL_ATTRIBUTES and value]
        if attributes.get("style"):
            self.styles.append(attributes["style"] or "")
        if tag == "script":
            self.scripts += 1
        elif tag == "style":
            self._in_style = True
        elif tag == "svg":
            if self._svg_depth == 0:
                self.svgs.append({"attrs": attributes, "has_title": False})
            self._svg_depth += 1
        elif tag == "title":
            if self._svg_depth == 1:
                self.svgs[-1]["has_title"] = True
            elif self._svg_depth == 0:
                self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._svg_depth -= 1
        elif tag == "title":
            self._in_title = False
        elif tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._in_style:
            self.styles.append(data)


def _non_background_share(png: Path) -> float:
    """Share of pixels that differ from the most common colour (the page's background)."""
    rgb = np.asarray(Image.open(png).convert("RGB")).astype(np.uint32)
    packed = ((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]).ravel()
    background = np.bincount(packed).argmax()  # one pass, unlike np.unique over rows
    return float((packed != background).mean())


def _keep(png: Path, kind: str) -> None:
    if os.environ.get("GLUCOMAG_KEEP_SCREENSHOTS"):
        shutil.copyfile(png, KEEP_SCREENSHOTS[kind])


def _open(chromium, report: Path, **context_options):
    """A fresh page on the report, with every console message, page error and request it
    causes recorded. Requests to the network are also aborted, so a regression cannot leak
    anything from the test run."""
    context = chromium.new_context(**context_options)
    context.route(re.compile(r"^(?!file:|data:)"), lambda route: route.abort())
    page = context.new_page()
    seen: dict[str, list[str]] = {"console": [], "errors": [], "requests": [], "failed": []}
    page.on("console", lambda m: seen["console"].append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("requestfailed", lambda r: seen["failed"].append(f"{r.url} {r.failure}"))
    page.goto(report.resolve().as_uri(), wait_until="load")
    return context, page, seen


def _assert_quiet(report: Path, seen: dict[str, list[str]]) -> None:
    assert seen["errors"] == [], f"page errors: {seen['errors']}"
    problems = [m for m in seen["console"]
                if m.startswith("error:") or (m.startswith("warning:") and BLOCKED.search(m))]
    assert problems == [], f"console: {problems}"
    outside = [url for url in seen["requests"]
               if url != report.resolve().as_uri() and not url.startswith("data:")]
    assert outside == [], f"the report requested more than itself: {outside}"
    assert seen["failed"] == [], f"failed requests: {seen['failed']}"


# --- the HTML file itself ----------------------------------------------------------------------


def test_html_is_self_contained_with_accessible_charts(monthly_report):
    html = monthly_report.read_text(encoding="utf-8")
    audit = _Audit()
    audit.feed(html)
    assert BANNER in html
    assert MONTH in audit.title or MONTH_START.strftime("%B %Y") in audit.title, audit.title
    assert "<script" not in html.lower() and audit.scripts == 0
    remote = [u for u in audit.urls if re.match(r"\s*(https?:)?//", u, re.IGNORECASE)]
    assert remote == [], f"remote resource URLs: {remote}"
    css_urls = [s for s in audit.styles if re.search(r"url\(\s*['\"]?\s*(https?:)?//", s, re.I)]
    assert css_urls == [], "CSS loads from the network"
    assert audit.svgs, "the monthly report of a month with data has no chart"
    for svg in audit.svgs:
        named = svg["has_title"] or (svg["attrs"].get("aria-label") or "").strip()
        assert svg["attrs"].get("role") == "img" and named, svg["attrs"]


def test_hostile_food_names_are_escaped_in_the_file(monthly_report):
    html = monthly_report.read_text(encoding="utf-8")
    assert "<script" not in html.lower() and "<b>beans" not in html
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt; bar" in html
    assert "Mom&#39;s &#34;chili&#34; &amp; &lt;b&gt;beans&lt;/b&gt;" in html


# --- in the browser ------------------------------------------------------------------------------


def test_hostile_food_names_render_as_text(chromium, monthly_report):
    """Markup in a food name shows as its characters, runs nothing, and right-to-left names
    stay inside their own cell (each table cell isolates its text direction)."""
    context, page, seen = _open(chromium, monthly_report, viewport=DESKTOP)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page.reload(wait_until="load")
        cells = page.evaluate("""() => [...document.querySelectorAll('td')].map(td => ({
            text: td.textContent, bidi: getComputedStyle(td).unicodeBidi}))""")
        scripts = page.evaluate("document.scripts.length")
        bold = page.evaluate("document.querySelectorAll('main b').length")
    finally:
        context.close()
    assert scripts == 0 and bold == 0 and dialogs == []
    texts = [cell["text"] for cell in cells]
    for name in HOSTILE_NAMES:
        shown = [cell for cell in cells if name in cell["text"]]
        assert shown, f"{name!r} is not shown as text; cells: {texts[:5]}"
        assert all(cell["bidi"] in {"plaintext", "isolate"} for cell in shown), shown
    _assert_quiet(monthly_report, seen)



def test_desktop_page_is_drawn_with_banner_and_loads_nothing_else(chromium, monthly_report,
                                                                  tmp_path):
    context, page, seen = _open(chromium, monthly_report, viewport=DESKTOP)
    try:
        text = page.inner_text("body")
        banner_box = page.locator("#informational-banner").bounding_box()
        title = page.title()
        charts = page.locator("svg[role=img]").count()
        png = tmp_path / "desktop.png"
        page.screenshot(path=str(png), full_page=True)
    finally:
        context.close()
    _keep(png, "desktop")
    assert BANNER in text
    # The banner is the first thing on the page: inside the first screen, before any scrolling.
    assert banner_box is not None and banner_box["y"] < DESKTOP["height"] / 2
    assert banner_box["height"] > 0 and banner_box["width"] > 0
    assert MONTH in title or MONTH_START.strftime("%B %Y") in title
    assert charts >= 1
    share = _non_background_share(png)
    assert share > 0.01, f"the page looks blank: only {share:.2%} of pixels differ"
    _assert_quiet(monthly_report, seen)


def test_phone_width_has_no_horizontal_scroll(chromium, monthly_report, tmp_path):
    context, page, seen = _open(chromium, monthly_report, viewport=PHONE, is_mobile=True,
                                has_touch=True, device_scale_factor=2)
    try:
        widths = page.evaluate("""() => ({
            inner: window.innerWidth,
            document: document.documentElement.scrollWidth,
            body: document.body.scrollWidth,
            // what sticks out, outside the boxes meant to scroll sideways (tables, charts)
            offenders: [...document.querySelectorAll('body *')].filter(e => {
                const r = e.getBoundingClientRect();
                if (r.right <= window.innerWidth + 1) return false;
                for (let p = e.parentElement; p; p = p.parentElement) {
                    const o = getComputedStyle(p).overflowX;
                    if (o === 'auto' || o === 'scroll' || o === 'hidden') return false;
                }
                return true;
            }).slice(0, 8).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                (e.className && typeof e.className === 'string' ? '.' + e.className : '') +
                ' right=' + Math.round(e.getBoundingClientRect().right)),
        })""")
        text = page.inner_text("body")
        png = tmp_path / "phone.png"
        page.screenshot(path=str(png), full_page=True)
    finally:
        context.close()
    _keep(png, "phone")
    assert widths["inner"] == PHONE["width"], widths
    assert widths["document"] <= PHONE["width"] + 1, widths
    assert widths["body"] <= PHONE["width"] + 1, widths
    assert BANNER in text
    assert _non_background_share(png) > 0.01
    _assert_quiet(monthly_report, seen)


# --- PDF ---------------------------------------------------------------------------------------


def test_pdf_of_the_monthly_report(browser_path, monthly_report, tmp_path):
    from pypdf import PdfReader

    pdf = html_to_pdf(monthly_report, tmp_path / "out" / f"{MONTH}.pdf", browser_path)
    assert pdf == tmp_path / "out" / f"{MONTH}.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    if os.name == "posix":
        assert pdf.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in pdf.parent.iterdir()) == [pdf.name]  # no temp file left
    reader = PdfReader(pdf)
    assert len(reader.pages) >= 1
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert BANNER in text
    assert MONTH in text or MONTH_START.strftime("%B %Y") in text
    # The banner opens the document: it is on the first page.
    assert BANNER in " ".join(reader.pages[0].extract_text().split())


def _small_page(folder: Path) -> Path:
    page = folder / "page.html"
    page.write_text(f"<!DOCTYPE html><title>t</title><p>{BANNER}.</p>", encoding="utf-8")
    return page


def test_failed_print_is_one_line_and_keeps_the_older_pdf(tmp_path):
    false = shutil.which("false")
    assert false is not None
    page = _small_page(tmp_path)
    older = tmp_path / "report.pdf"
    older.write_bytes(b"%PDF-older")
    with pytest.raises(PdfError) as raised:
        html_to_pdf(page, older, Path(false))
    message = str(raised.value)
    assert "exit code 1" in message and "\n" not in message
    assert "the HTML report was written" in message
    assert older.read_bytes() == b"%PDF-older"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html", "report.pdf"]


def test_pdf_prints_with_loopback_only(browser_path, tmp_path):
    """The browser needs no network to print: html_to_pdf in a network namespace with only
    loopback (Linux `unshare -rn`; there the process is root, so --no-sandbox is used)."""
    if not shutil.which("unshare") or subprocess.run(
            ["unshare", "-rn", "true"], capture_output=True).returncode != 0:
        pytest.skip("no unprivileged network namespaces here (unshare -rn)")
    page, pdf = _small_page(tmp_path), tmp_path / "offline.pdf"
    code = ("import sys; from pathlib import Path; from reports.pdf import html_to_pdf; "
            "html_to_pdf(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))")
    done = subprocess.run(["unshare", "-rn", sys.executable, "-c", code, str(page), str(pdf),
                           str(browser_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert pdf.read_bytes()[:5] == b"%PDF-"


def test_no_browser_is_one_clear_line(tmp_path, monkeypatch):
    if sys.platform == "darwin":
        pytest.skip("macOS app folders are searched too; an empty PATH does not hide them")
    monkeypatch.delenv("GLUCOMAG_BROWSER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no browser on PATH
    assert find_browser() is None
    with pytest.raises(PdfError) as raised:
        html_to_pdf(_small_page(tmp_path), tmp_path / "report.pdf")
    assert str(raised.value) == NO_BROWSER
    assert not (tmp_path / "report.pdf").exists()


def test_browser_override_must_name_a_program(tmp_path, monkeypatch):
    monkeypatch.setenv("GLUCOMAG_BROWSER", str(tmp_path / "no-such-browser"))
    with pytest.raises(PdfError, match="GLUCOMAG_BROWSER"):
        find_browser()
    monkeypatch.setenv("GLUCOMAG_BROWSER", "false")  # a name on PATH is accepted
    assert find_browser() == Path(shutil.which("false") or "")


def test_report_command_writes_the_pdf_or_says_why_not(monthly_report, browser_path):
    home = monthly_report.parents[2]
    command = [sys.executable, "-m", "glucomag", "report", "--month", MONTH, "--home",
               str(home), "--pdf"]
    env = {**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING", "GLUCOMAG_BROWSER": str(browser_path)}
    env.pop("PREFECT_HOME", None)  # as in test_cli: the command picks its own
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    pdf = monthly_report.with_suffix(".pdf")
    assert f"pdf: {pdf.resolve()}" in done.stdout.splitlines()
    assert pdf.read_bytes()[:5] == b"%PDF-"
    failing = subprocess.run(command, capture_output=True, text=True, timeout=300,
                             env={**env, "GLUCOMAG_BROWSER": shutil.which("false") or "false"})
    assert failing.returncode == 2
    assert failing.stderr.strip().count("\n") == 0 and "exit code 1" in failing.stderr
    assert "Traceback" not in failing.stderr
