"""`reports/index.html`: every report in the archive, by period, newest first."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, select_autoescape

from reports.render import write_report

KINDS = (("monthly", "Monthly reports", re.compile(r"\d{4}-\d{2}")),
         ("nightly", "Nightly reports", re.compile(r"\d{4}-\d{2}-\d{2}")))

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>glucomag reports</title>
<style>
  body { margin: 0 auto; padding: 1rem; max-width: 40rem; line-height: 1.5; color: #1d1d1f;
         font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
  #informational-banner { border: 2px solid #7a5c00; background: #fff8e1; border-radius: 6px;
                          padding: 0.6rem 0.9rem; }
  li { margin: 0.2rem 0; }
</style>
</head>
<body>
<aside id="informational-banner" role="note" aria-label="Informational only">
  <p><strong>Informational only.</strong> These reports are for personal information and
  self-tracking. They are not a medical device and give no diagnosis, treatment or dosing
  advice. Talk to a clinician before changing diet, supplements or medication.</p>
</aside>
<h1>glucomag reports</h1>
<p>Updated {{ updated }}. Each period has one report; running it again replaces it.</p>
{% for group in groups %}
<section>
  <h2>{{ group.title }} ({{ group.links|length }})</h2>
  {% if group.links %}
  <ul>
  {% for link in group.links %}
    <li><a href="{{ link.href }}">{{ link.label }}</a></li>
  {% endfor %}
  </ul>
  {% else %}
  <p>None yet.</p>
  {% endif %}
</section>
{% endfor %}
</body>
</html>
"""


def write_index(reports_dir: Path) -> Path:
    """Rewrite the index from the report files present (atomically, mode 0600)."""
    groups = []
    for kind, title, pattern in KINDS:
        folder = reports_dir / kind
        labels = sorted((p.stem for p in folder.glob("*.html") if pattern.fullmatch(p.stem)),
                        reverse=True) if folder.is_dir() else []
        groups.append({"title": title,
                       "links": [{"href": f"{kind}/{label}.html", "label": label}
                                 for label in labels]})
    environment = Environment(autoescape=select_autoescape(default_for_string=True))
    html = environment.from_string(TEMPLATE).render(
        groups=groups, updated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    return write_report(html, reports_dir / "index.html")
