"""The real `nightly` flow on a mixed inbox: good, bad-row and unreadable files."""

from __future__ import annotations

import shutil

from tests.conftest import FIXTURES
from transforms.warehouse import connect, run

INBOX = {
    "servings.csv": FIXTURES / "cronometer" / "servings_small.csv",
    "broken.csv": FIXTURES / "cronometer" / "servings_no_day_column.csv",
    "clarity.csv": FIXTURES / "dexcom" / "clarity_bad_rows.csv",
}


def test_unreadable_file_is_quarantined_and_the_rest_imported(prefect_harness, settings):
    from flows.nightly import nightly

    for name, source in INBOX.items():
        shutil.copy2(source, settings.inbox / name)
    result = nightly(home=str(settings.home), today=None)

    by_name = {s["file_name"]: s for s in result["imports"]}
    assert {n: s["status"] for n, s in by_name.items()} == {
        "broken.csv": "failed", "clarity.csv": "stored", "servings.csv": "stored"}
    assert by_name["clarity.csv"]["rows_quarantined"] == 2
    assert list(settings.inbox.iterdir()) == []
    quarantined = sorted(p.name for p in settings.quarantine.iterdir())
    sha = by_name["broken.csv"]["sha256"][:12]
    assert quarantined == [f"{sha}-broken.csv", f"{sha}-broken.csv.reason.txt"]
    reason = (settings.quarantine / f"{sha}-broken.csv.reason.txt").read_text()
    assert reason == by_name["broken.csv"]["message"] + "\n"
    assert "column 'Day'" in reason
    assert len(list(settings.archive.iterdir())) == 2

    with connect(settings.warehouse) as con:
        assert run(con, "SELECT count(*) FROM food_entries")[0][0] == 12
        assert run(con, "SELECT count(*) FROM glucose_readings")[0][0] == 5
        days = run(con, "SELECT local_date::VARCHAR, magnesium_known_mg, glucose_readings "
                        "FROM daily_summary ORDER BY local_date")
    assert [(d, round(mg, 2), n) for d, mg, n in days] == [
        ("2026-03-01", 320.64, 0), ("2026-03-02", 184.50, 0), ("2026-03-03", 376.52, 5)]
    report = settings.reports / "nightly" / "2026-03-03.html"
    assert result["report"] == str(report)
    html = report.read_text()
    assert "broken.csv" in html  # the failed file is listed in the data-quality section
    assert "&#39;abc&#39; is not a number, Low or High" in html  # with the quarantine reason
