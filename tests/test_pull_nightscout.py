"""Pulling from Nightscout against a real HTTP server on 127.0.0.1 (no other network access):
the fake site of tests/conftest.py."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import NEWEST_MS, STEP_MS, TIES, TIMEZONE, TOKEN, Site
from transforms.importers import conform, nightscout
from transforms.importers.base import read_head
from transforms.pull.nightscout import PullError, pull_entries


def pull(site: Site, out_dir: Path, token: str | None = TOKEN, **options: object) -> Path | None:
    return pull_entries(site.url, token, options.pop("since", None), out_dir,
                        page_size=int(options.pop("page_size", 1000)),
                        timeout_s=float(options.pop("timeout_s", 5)), **options)


def test_pages_bring_every_entry_exactly_once(site: Site, tmp_path: Path):
    assert [site.entries[i]["date"] for i in TIES] == [site.entries[i - 1]["date"] for i in TIES]
    path = pull(site, tmp_path)
    assert path is not None
    # Oldest: 2,497 steps of 5 min (two ties) before 2026-03-08 07:10Z = 2026-02-27 15:05Z.
    assert path.name == "nightscout-20260227T150500Z-20260308T071000Z.json"
    pulled = json.loads(path.read_text())
    ids = [entry["_id"] for entry in pulled]
    assert len(ids) == len(set(ids)) == 2500
    assert ids == [entry["_id"] for entry in site.entries]  # newest-first, as Nightscout sends
    assert len(site.requests) == 3  # 1000 + 999 new + 501 new (< 1000: last page)
    for query in site.requests:
        assert query["count"] == ["1000"] and query["token"] == [TOKEN]
        assert query["find[date][$gt]"] == ["0"]  # never the four-day default
    assert "find[date][$lte]" not in site.requests[0]
    assert site.requests[1]["find[date][$lte]"] == [str(site.entries[999]["date"])]
    assert not list(tmp_path.glob("*.part"))


def test_pulled_file_is_read_by_the_importer(site: Site, tmp_path: Path):
    path = pull(site, tmp_path)
    assert path is not None and nightscout.detect(read_head(path))
    imported = nightscout.read(path, TIMEZONE)
    frame = conform(imported)
    assert (imported.rows_read, imported.rows_skipped, frame.height) == (2500, 0, 2500)
    assert frame.filter(frame["kind"] == "fingerstick").height == 5
    assert frame["ts_utc"].max() == datetime(2026, 3, 8, 7, 10, tzinfo=UTC)
    assert TOKEN not in frame.write_csv()


def test_since_pulls_only_newer_entries(site: Site, tmp_path: Path):
    since = datetime(2026, 3, 8, 7, 10, tzinfo=UTC) - timedelta(minutes=50)
    path = pull(site, tmp_path, since=since)
    assert path is not None
    assert [e["_id"] for e in json.loads(path.read_text())] == [f"{i:024x}" for i in range(10)]
    assert site.requests[0]["find[date][$gt]"] == [str(NEWEST_MS - 10 * STEP_MS)]
    assert pull(site, tmp_path / "none", since=datetime(2026, 3, 9, tzinfo=UTC)) is None
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_the_token_is_required(site: Site, tmp_path: Path, token: str | None):
    with pytest.raises(PullError, match=r"refused access \(HTTP 401\): check the token"):
        pull(site, tmp_path, token=token)
    assert list(tmp_path.iterdir()) == []


def test_token_from_a_shared_link_is_used_and_hidden(site: Site, tmp_path: Path):
    path = pull_entries(f"{site.url}?token={TOKEN}", None, None, tmp_path, timeout_s=5)
    assert path is not None and len(json.loads(path.read_text())) == 2500


@pytest.mark.parametrize(("mode", "expected"), [
    ("error500", r"answered HTTP 500"),
    ("html", r"did not return JSON \(got text/html\)"),
    ("redirect", r"redirected to http://localhost; not following"),
])
def test_errors_are_one_line_and_never_show_the_token(site: Site, tmp_path: Path, mode: str,
                                                      expected: str):
    site.mode = mode
    with pytest.raises(PullError, match=expected) as caught:
        pull(site, tmp_path)
    message = str(caught.value)
    assert TOKEN not in message and quote(TOKEN, safe="") not in message
    assert "\n" not in message and caught.value.__cause__ is None
    assert len(site.requests) == 1  # the redirect was not followed


def test_a_silent_server_times_out(site: Site, tmp_path: Path):
    site.mode = "stall"
    started = time.monotonic()
    with pytest.raises(PullError, match=r"did not answer within 0.3 s"):
        pull(site, tmp_path, timeout_s=0.3)
    assert time.monotonic() - started < 3


def test_paging_is_bounded(site: Site, tmp_path: Path):
    with pytest.raises(PullError, match=r"more than 3 pages of 100 entries"):
        pull(site, tmp_path, page_size=100, max_pages=3)
    assert len(site.requests) == 3


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/", "nightscout"])
def test_only_http_urls_are_accepted(url: str, tmp_path: Path):
    with pytest.raises(PullError, match="not a Nightscout URL"):
        pull_entries(url, TOKEN, None, tmp_path)


def test_cli_pull_imports_and_a_second_pull_adds_nothing(site: Site, tmp_path: Path):
    from tests.test_cli import glucomag

    home = tmp_path / "home"
    first = glucomag("pull", "nightscout", site.url, "--token", TOKEN, "--home", str(home))
    assert first.returncode == 0, first.stderr
    assert "nightscout_entries, " in first.stdout and " rows stored" in first.stdout
    assert TOKEN not in first.stdout + first.stderr
    assert list((home / "inbox").iterdir()) == []
    assert len(list((home / "archive").iterdir())) == 1
    again = glucomag("pull", "nightscout", site.url, "--home", str(home),
                     env={"NIGHTSCOUT_TOKEN": TOKEN})
    assert again.returncode == 0, again.stderr
    assert ": nightscout_entries, 0 rows stored" in again.stdout
    wrong = glucomag("pull", "nightscout", site.url, "--token", "nope", "--home", str(home))
    assert wrong.returncode == 2 and wrong.stderr.startswith("error: ")
    assert "Traceback" not in wrong.stderr and len(wrong.stderr.strip().splitlines()) == 1
