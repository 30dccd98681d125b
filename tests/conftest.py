"""Shared fixtures: a local ephemeral Prefect with its home inside the project, no telemetry;
a fake Nightscout site on 127.0.0.1.

The fake site imitates `/api/v1/entries.json`: newest-first, `count`, `find[date][$gt|$gte|
$lt|$lte]`, the last-four-days default when no date filter is given, and the `token` check.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from glucomag.runtime import configure_prefect

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE_DATA = ROOT / "sample_data"
TIMEZONE = "America/New_York"


def fixtures_outside(folder: Path) -> list[Path]:
    """Every fixture file not under `folder`: an importer's detect() must claim none of them."""
    return sorted(p for p in FIXTURES.rglob("*") if p.is_file() and folder not in p.parents)


# Before Prefect is imported anywhere in the test session.
configure_prefect(ROOT / ".pytest-prefect")


@pytest.fixture(scope="session")
def prefect_harness():
    """A real (temporary, local) Prefect API for flow runs, started once per session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def settings(tmp_path: Path):
    from glucomag.settings import load_settings

    home = tmp_path / "home"
    settings = load_settings(home, timezone=TIMEZONE, subject_id="me")
    settings.create_folders()
    return settings


@pytest.fixture
def con(settings):
    from transforms.warehouse import connect

    connection = connect(settings.warehouse)
    yield connection
    connection.close()


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


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (the time-out test) is expected; anything else is reported."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """A fake Nightscout site on 127.0.0.1; proxies are unset so requests reach it."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
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
