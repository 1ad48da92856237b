"""A calendar published at an ICS URL (Google's secret address, Outlook, iCloud, webcal://)."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from urllib.parse import urlsplit

import requests

from coachsync import __version__
from coachsync.errors import SourceError
from coachsync.sources.base import (
    DEFAULT_MAX_CALENDAR_MB,
    MB,
    Fetched,
    describe_request_error,
    ensure_complete_calendar,
    redact_url,
    server_hint,
    too_large,
    url_problem,
)

__all__ = ["IcsUrlSource", "USER_AGENT"]

USER_AGENT = f"coachsync/{__version__}"
_CHUNK = 64 * 1024
# However long a server says its calendar stays fresh, it is asked again after a day at the latest.
MAX_FRESH_SECONDS = 24 * 3600
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d+)", re.IGNORECASE)
_NO_REUSE = re.compile(r"(?:^|,)\s*(?:no-cache|no-store|must-revalidate)\b", re.IGNORECASE)


class IcsUrlSource:
    """Polls an ICS URL with a conditional GET so an unchanged calendar costs one 304.

    The URL may hold a secret token or user:password, so messages only ever show
    `redact_url(url)` and never chain the requests exception (its text holds the URL).
    """

    def __init__(
        self,
        name: str,
        url: str,
        timeout: float = 30.0,
        session: requests.Session | None = None,
        max_calendar_mb: float = DEFAULT_MAX_CALENDAR_MB,
    ) -> None:
        self.name = name
        self.timeout = timeout
        self.max_calendar_mb = max_calendar_mb
        self._url = _http_url(url)
        self._session = session if session is not None else requests.Session()
        self.origin = f'calendar "{name}" ({redact_url(self._url)})'
        if url_problem(self._url) is not None:  # the config checked the URL; this guards a source built in code
            raise SourceError(f"{self.origin}: unsupported URL scheme; use https://, http:// or webcal://")

    def fetch(self, state: Mapping[str, str]) -> Fetched:
        """Return the whole calendar, or None with the same state when the server says 304 or said
        the last copy stays fresh until now (Cache-Control: max-age, Expires)."""
        if _still_fresh(state, time.time()):
            return Fetched(None, state)  # no request: the server said the copy we read is still current
        headers = {"User-Agent": USER_AGENT, "Accept": "text/calendar, */*;q=0.5"}
        if etag := state.get("etag"):
            headers["If-None-Match"] = etag
        if last_modified := state.get("last_modified"):
            headers["If-Modified-Since"] = last_modified
        conditional = "If-None-Match" in headers or "If-Modified-Since" in headers
        deadline = time.monotonic() + self.timeout
        try:
            with self._session.get(self._url, headers=headers, timeout=self.timeout, stream=True) as response:
                if response.status_code == 304 and conditional:
                    return Fetched(None, state)
                if response.status_code != 200:
                    raise SourceError(self._status_message(response))
                body = self._read_body(response, deadline)
        except requests.RequestException as exc:
            # `from None`: the chained exception's text contains the full URL.
            raise SourceError(f"{self.origin}: {describe_request_error(exc, requests, self.timeout)}") from None
        text = ensure_complete_calendar(body, self.origin, response.headers.get("Content-Type"))
        new_state = {
            key: value
            for key, header in (("etag", "ETag"), ("last_modified", "Last-Modified"))
            if (value := response.headers.get(header))
        }
        if (fresh := _fresh_for(response.headers, time.time())) > 0:
            new_state["fresh_until"] = str(int(time.time() + fresh))
        return Fetched(text, new_state)

    def _read_body(self, response: requests.Response, deadline: float) -> bytes:
        """Read it all within the deadline and the size cap, and prove the byte count matches Content-Length.

        The cap counts decompressed bytes, checked chunk by chunk as they arrive, so a
        gzip bomb or an endless body costs no more than the cap before it is refused.
        """
        limit = int(self.max_calendar_mb * MB)
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise too_large(self.origin, self.max_calendar_mb, decompressed=encoding not in ("", "identity"))
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise SourceError(
                    f"{self.origin}: did not send the whole calendar within {self.timeout:g} s; "
                    "check the network or raise the timeout"
                )
        body = b"".join(chunks)
        declared = response.headers.get("Content-Length", "").strip()
        # urllib3 2 enforces this itself; urllib3 1.x silently returns a short body.
        if declared.isdigit() and encoding in ("", "identity") and len(body) != int(declared):
            raise SourceError(
                f"{self.origin}: the download was cut short ({len(body)} of {declared} bytes); "
                "check the network and try again"
            )
        return body

    def _status_message(self, response: requests.Response) -> str:
        code = response.status_code
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "".join(c for c in response.reason or "" if c.isprintable())[:60]
        if code in (401, 403):
            hint = "check the credentials or the calendar's private address (it may have been reset)"
        elif code in (404, 410):
            hint = "check the URL; the calendar may have been moved, deleted or unshared"
        elif (server := server_hint(code)) is not None:
            hint = server
        elif code == 304:
            hint = (
                "the request was not conditional, so there is nothing to reuse; check the server or a proxy in between"
            )
        else:
            hint = "expected 200 OK with the whole calendar; check the URL"
        return f"{self.origin}: answered HTTP {code} {phrase}".rstrip() + f"; {hint}"


def has_validators(state: Mapping[str, str]) -> bool:
    """Whether the server sent an ETag or Last-Modified, so that an unchanged calendar costs a 304."""
    return "etag" in state or "last_modified" in state


def _fresh_for(headers: Mapping[str, str], now: float) -> float:
    """How many seconds the server says this copy stays fresh (RFC 9111: max-age, less Age; else Expires)."""
    control = headers.get("Cache-Control", "")
    if _NO_REUSE.search(control):
        return 0.0
    if (max_age := _MAX_AGE.search(control)) is not None:
        age = headers.get("Age", "0").strip()
        fresh = float(int(max_age.group(1)) - (int(age) if age.isdigit() else 0))
    elif expires := headers.get("Expires"):
        try:
            at = parsedate_to_datetime(expires).timestamp()
            date = headers.get("Date")
            fresh = at - (parsedate_to_datetime(date).timestamp() if date else now)
        except (TypeError, ValueError, IndexError, OverflowError):
            return 0.0  # an invalid Expires means "already expired"
    else:
        return 0.0
    return float(min(max(fresh, 0), MAX_FRESH_SECONDS))


def _still_fresh(state: Mapping[str, str], now: float) -> bool:
    try:
        until = float(state["fresh_until"])
    except (KeyError, ValueError):
        return False
    return now < until <= now + MAX_FRESH_SECONDS  # a time further ahead is a clock that went back: ask


def _http_url(url: str) -> str:
    """webcal:// is just a hint to open a calendar app; the resource itself is served over https."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() in ("webcal", "webcals"):
        return parts._replace(scheme="https").geturl()
    return url.strip()
