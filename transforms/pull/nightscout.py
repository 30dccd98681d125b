"""Pull glucose entries from a Nightscout site's `/api/v1/entries.json` into one entries file.

Nightscout answers newest-first, at most `count` entries per request, so older entries are
fetched page by page with `find[date][$lte]=<oldest date seen>`. `$lte` rather than `$lt`:
several entries can share one millisecond (two uploaders, an sgv and an mbg), and a strict
bound would silently drop those cut at a page edge; the repeats it brings are merged away by
`_id`. Every request carries a date filter, because Nightscout answers a query without one
with the last four days only (`enforceDateFilter` in its lib/server/query.js).

The token travels only in the query string; it is never logged, and every error message is
built without it (and scrubbed of it, in case a server echoes the URL back).
"""

from __future__ import annotations

import http.client
import json
import math
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

ENTRIES_PATH = "/api/v1/entries.json"
MAX_PAGES = 1000  # 1,000 × 1,000 entries ≈ 9.5 years of 5-minute readings
MAX_RESPONSE_BYTES = 64 << 20
USER_AGENT = "glucomag (Nightscout pull)"


class PullError(Exception):
    """A pull that failed; `str()` is the one line shown to the user (never with the token)."""


class _SameSiteRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only within the same host and never down to plain http: the request
    URL carries the token, which must not be handed to another site or sent in clear."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        old, new = urlsplit(req.full_url), urlsplit(newurl)
        if (new.hostname != old.hostname or new.scheme not in ("http", "https")
                or (old.scheme == "https" and new.scheme != "https")):
            raise PullError(f"Nightscout redirected to {new.scheme}://{new.hostname}; not "
                            "following (the token would leave the site)")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _site(base_url: str, token: str | None) -> tuple[str, str, str | None]:
    """(entries endpoint, the site as shown in messages, token).

    Only http(s) is accepted. Nightscout links are often shared as `https://site/?token=…`:
    that token is used when none is given; user:password and the query never reach a message.
    """
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PullError(f"not a Nightscout URL: {parts.scheme or '(no scheme)'}://"
                        f"{parts.hostname or ''} (expected http:// or https://)")
    netloc = parts.netloc.rpartition("@")[2]
    path = parts.path.rstrip("/")
    token = token or next(iter(parse_qs(parts.query).get("token", [])), None)
    return (urlunsplit((parts.scheme, netloc, path + ENTRIES_PATH, "", "")),
            urlunsplit((parts.scheme, netloc, path, "", "")), token)


def describe_site(base_url: str, token: str | None) -> tuple[str, bool]:
    """(the site as messages show it, whether a token will be sent), without the network;
    `PullError` (token-free) if `base_url` is not an http(s) address."""
    try:
        _, site, found = _site(base_url, token)
    except PullError as error:
        raise PullError(_redact(str(error), token)) from None
    return site, bool(found)


def _redact(text: str, token: str | None) -> str:
    """`text` without the token, raw or URL-encoded (a server may echo the URL back)."""
    for secret in sorted({token, quote(token, safe=""), quote(token)} if token else (),
                         key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _get_page(opener: urllib.request.OpenerDirector, endpoint: str, params: dict[str, object],
              timeout_s: float, site: str) -> list[dict]:
    request = urllib.request.Request(f"{endpoint}?{urlencode(params)}",
                                     headers={"Accept": "application/json",
                                              "User-Agent": USER_AGENT})
    try:
        with opener.open(request, timeout=timeout_s) as response:
            body = response.read(MAX_RESPONSE_BYTES + 1)
            content_type = response.headers.get_content_type()
    except urllib.error.HTTPError as error:
        error.close()
        if error.code in (401, 403):
            message = f"{site} refused access (HTTP {error.code}): check the token"
        elif error.code == 404:
            message = f"no Nightscout entries API at {site} (HTTP 404)"
        else:
            message = f"{site} answered HTTP {error.code} {error.reason}"
        raise PullError(message) from None
    except TimeoutError:
        raise PullError(f"{site} did not answer within {timeout_s:g} s") from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise PullError(f"{site} did not answer within {timeout_s:g} s") from None
        raise PullError(f"cannot reach {site}: {error.reason}") from None
    except (http.client.HTTPException, OSError) as error:
        raise PullError(f"connection to {site} failed: {type(error).__name__} {error}") from None
    if len(body) > MAX_RESPONSE_BYTES:
        raise PullError(f"{site} sent more than {MAX_RESPONSE_BYTES >> 20} MiB in one page; "
                        "use a smaller page size")
    try:
        page = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        # The type, not the body: a body cut short could hold part of an echoed token.
        raise PullError(f"{site} did not return JSON (got {content_type}); is this the "
                        "Nightscout site's address?") from None
    if not isinstance(page, list) or not all(isinstance(entry, dict) for entry in page):
        raise PullError(f"{site} did not return a list of entries; is this the Nightscout "
                        "site's address?")
    return page


def _date_ms(entry: dict) -> float | None:
    date = entry.get("date")
    return date if isinstance(date, int | float) and not isinstance(date, bool) else None


def _fetch_all(opener: urllib.request.OpenerDirector, endpoint: str, site: str,
               fixed: dict[str, object], page_size: int, timeout_s: float,
               max_pages: int) -> list[dict]:
    """Every entry the filters in `fixed` select, newest-first, each `_id` once."""
    merged: dict[str, dict] = {}
    upper: float | None = None
    for _ in range(max_pages):
        bound = {} if upper is None else {"find[date][$lte]": math.ceil(upper)}
        page = _get_page(opener, endpoint, {**fixed, **bound}, timeout_s, site)
        new = 0
        for entry in page:
            key = str(entry.get("_id") or json.dumps(entry, sort_keys=True))
            if key not in merged:
                merged[key] = entry
                new += 1
        dates = [d for d in map(_date_ms, page) if d is not None]
        if len(page) < page_size or not dates:
            break
        if upper is not None and max(dates) > upper:
            raise PullError(f"{site} ignored the date filter (find[date]); cannot page "
                            "through its entries")
        if upper is not None and (new == 0 or min(dates) >= upper):
            raise PullError(f"more than {page_size} entries share one time at {site}; "
                            "pull again with a larger page size")
        upper = min(dates)
    else:
        raise PullError(f"{site} has more than {max_pages} pages of {page_size} entries; pull "
                        "a shorter range (--since) or use larger pages")
    entries = sorted(merged.values(), key=lambda entry: -(_date_ms(entry) or 0))
    if entries and _date_ms(entries[0]) is None:
        raise PullError(f"{site} returned entries without a 'date'; is this the Nightscout "
                        "site's address?")
    return entries


def _file_name(entries: list[dict]) -> str:
    dates = [d for d in map(_date_ms, entries) if d is not None]
    first, last = (datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y%m%dT%H%M%SZ")
                   for ms in (min(dates), max(dates)))
    return f"nightscout-{first}-{last}.json"


def pull_entries(base_url: str, token: str | None, since: datetime | None, out_dir: Path,
                 page_size: int = 1000, timeout_s: float = 30,
                 max_pages: int = MAX_PAGES) -> Path | None:
    """Fetch every entry newer than `since` (all when None) and write them, newest-first, as
    one `nightscout-<oldest>-<newest>.json` in `out_dir`; None when there is nothing new.

    The file is written as `.part` and renamed, so an inbox scan never sees half a file.
    Raises `PullError` (one line, token-free) for refused access, HTTP errors, timeouts,
    answers that are not Nightscout entries, and more than `max_pages` pages; `ValueError`
    for a naive `since` or a non-positive page size (caller bugs, not user input).
    """
    if since is not None and since.tzinfo is None:
        raise ValueError("since must be timezone-aware (a naive time has no instant)")
    if page_size < 1 or max_pages < 1:
        raise ValueError("page_size and max_pages must be positive")
    try:
        endpoint, site, token = _site(base_url, token)
    except PullError as error:
        raise PullError(_redact(str(error), token)) from None
    fixed: dict[str, object] = {
        "count": page_size,
        "find[date][$gt]": 0 if since is None else int(since.timestamp() * 1000),
    }
    if token:
        fixed["token"] = token
    opener = urllib.request.build_opener(_SameSiteRedirects)
    try:
        entries = _fetch_all(opener, endpoint, site, fixed, page_size, timeout_s, max_pages)
    except PullError as error:
        raise PullError(_redact(str(error), token)) from None
    if not entries:
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / _file_name(entries)
    partial = target.with_name(target.name + ".part")
    partial.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    partial.replace(target)
    return target
