"""A calendar published at an ICS URL (Google's secret address, Outlook, iCloud, webcal://)."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Mapping
from http import HTTPStatus
from urllib.parse import urlsplit

import requests

from coachsync import __version__
from coachsync.errors import SourceError
from coachsync.sources.base import Fetched, ensure_complete_calendar, exception_chain, redact_url

__all__ = ["IcsUrlSource", "USER_AGENT"]

USER_AGENT = f"coachsync/{__version__}"
_CHUNK = 64 * 1024
_BAD_URL = (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema)


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
    ) -> None:
        self.name = name
        self.timeout = timeout
        self._url = _http_url(url)
        self._session = session if session is not None else requests.Session()
        self.origin = f'calendar "{name}" ({redact_url(self._url)})'
        if urlsplit(self._url).scheme.lower() not in ("http", "https"):
            raise SourceError(f"{self.origin}: unsupported URL scheme; use https://, http:// or webcal://")

    def fetch(self, state: Mapping[str, str]) -> Fetched:
        """Return the whole calendar, or None with the same state when the server says 304."""
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
            raise SourceError(f"{self.origin}: {self._describe(exc)}") from None
        text = ensure_complete_calendar(body, self.origin, response.headers.get("Content-Type"))
        new_state = {
            key: value
            for key, header in (("etag", "ETag"), ("last_modified", "Last-Modified"))
            if (value := response.headers.get(header))
        }
        return Fetched(text, new_state)

    def _read_body(self, response: requests.Response, deadline: float) -> bytes:
        """Read it all within the deadline and prove the byte count matches Content-Length."""
        chunks: list[bytes] = []
        for chunk in response.iter_content(_CHUNK):
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise SourceError(
                    f"{self.origin}: did not send the whole calendar within {self.timeout:g} s; "
                    "check the network or raise the timeout"
                )
        body = b"".join(chunks)
        declared = response.headers.get("Content-Length", "").strip()
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
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
        elif code == 429:
            hint = "the server is rate-limiting; poll less often"
        elif code >= 500:
            hint = "the server has a problem; try again later"
        elif code == 304:
            hint = (
                "the request was not conditional, so there is nothing to reuse; check the server or a proxy in between"
            )
        else:
            hint = "expected 200 OK with the whole calendar; check the URL"
        return f"{self.origin}: answered HTTP {code} {phrase}".rstrip() + f"; {hint}"

    def _describe(self, exc: requests.RequestException) -> str:
        """Say what went wrong in words a coach can act on, without the exception's URL-laden text."""
        chain = list(exception_chain(exc))

        def has(*types: type[BaseException]) -> bool:
            return any(isinstance(e, types) for e in chain)

        if has(requests.Timeout, TimeoutError):
            return f"did not answer within {self.timeout:g} s; check the URL and the network, or raise the timeout"
        if has(ConnectionRefusedError):
            return "refused the connection; check the host and port, and that the server is running"
        if has(socket.gaierror):
            return "the host name could not be resolved; check the URL and the network"
        if has(ssl.SSLCertVerificationError):
            why = next((e.verify_message for e in chain if isinstance(e, ssl.SSLCertVerificationError)), None)
            why = why or "no reason given"
            return f"the TLS certificate could not be verified ({why}); check the URL's host name"
        if has(requests.exceptions.SSLError, ssl.SSLError):
            return "the TLS/SSL handshake failed; check that the URL's scheme and port are right"
        if has(requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
            return "the download was cut short or damaged; check the network and try again"
        if has(requests.TooManyRedirects):
            return "redirects in a loop; check the URL"
        if has(*_BAD_URL):
            return "the URL is not valid; check it"
        if has(requests.ConnectionError):
            return "the connection failed or was closed early; check the network and try again"
        return f"the request failed ({type(exc).__name__}); try again"


def _http_url(url: str) -> str:
    """webcal:// is just a hint to open a calendar app; the resource itself is served over https."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() in ("webcal", "webcals"):
        return parts._replace(scheme="https").geturl()
    return url.strip()
