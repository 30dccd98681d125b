"""Pulling from Nightscout against a real HTTP server on 127.0.0.1 (no other network access).

The server imitates `/api/v1/entries.json`: newest-first, `count`, `find[date][$gt|$gte|$lt|
$lte]`, the last-four-days default when no date filter is given, and the `token` check.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from tests.conftest import TIMEZONE
from transforms.importers import conform, nightscout
from transforms.importers.base import read_head
from transforms.pull.nightscout import PullError, pull_entries

TOKEN = "glucomag-Testfirst-0123456789abcdef"
NEWEST_MS = 1772953800000  # 2026-03-08T07:10:00Z
STEP_MS = 300_000
TIES = (1000, 1999)  # these entries share the previous one's date: right at the page edges
FOUR_DAYS_MS = 4 * 86_400_000
OPS = {"$gt": lambda d, v: d > v, "$gte": lambda d, v: d >= v,
       "$lt": lambda d, v: d < v, "$lte": lambda d, v: d <= v}


def synthetic_entries(n: int = 2500) -> list[dict]:
    entries, step = [], 0
    for i in range(n):
        step += 0 if i == 0 or i in TIES else 1
        kind = "mbg" if i % 500 == 250 else "sgv"
        entries.append({"_id": f"{i:024x}", kind: 90 + i % 60, "type": kind,
                        "date": NEWEST_MS - step * STEP_MS, "device": "xDrip-DexcomG6"})
    return entries


@dataclass
class Site:
    url: str
    entries: list[dict] = field(default_factory=synthetic_entries)
    requests: list[dict[str, list[str]]] = field(default_factory=list)
    mode: str = "ok"  # ok | error500 | html | stall | redirect
    release: threading.Event = field(default_factory=threading.Event)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep test output (and the token) quiet
        pass

    def _send(self, status: int, body: str, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        site: Site = self.server.site  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        site.requests.append(query)
        if parts.path != "/api/v1/entries.json":
            return self._send(404, '{"status":404}')
        if site.mode == "error500":  # a careless server echoing the URL, token included
            return self._send(500, f"Internal error for {self.path}", "text/plain")
        if site.mode == "html":
            return self._send(200, f"token={TOKEN} <html>not the API</html>", "text/html")
        if site.mode == "stall":
            site.release.wait(timeout=5)
            return self._send(200, "[]")
        if site.mode == "redirect":
            port = self.server.server_address[1]
            return self._send(302, "", headers={"Location": f"http://localhost:{port}{self.path}"})
        if query.get("token") != [TOKEN]:
            return self._send(401, '{"status":401,"message":"Unauthorized"}')
        filters = [(OPS[op], float(query[f"find[date][{op}]"][0])) for op in OPS
                   if f"find[date][{op}]" in query]
        if not filters:  # Nightscout's enforceDateFilter: only the last four days
            filters = [(OPS["$gte"], NEWEST_MS + 60_000 - FOUR_DAYS_MS)]
        selected = [e for e in site.entries if all(test(e["date"], v) for test, v in filters)]
        selected.sort(key=lambda e: -e["date"])
        return self._send(200, json.dumps(selected[: int(query["count"][0])]))


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (the time-out test) is expected; anything else is reported."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture
def site() -> Iterator[Site]:
    server = QuietServer(("127.0.0.1", 0), Handler)
    host, port = server.server_address[:2]
    server.site = Site(url=f"http://{host}:{port}/")  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server.site  # type: ignore[attr-defined]
    finally:
        server.site.release.set()  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert not thread.is_alive()


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
