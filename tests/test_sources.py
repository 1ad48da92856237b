"""Sources must prove they read a whole calendar; anything less is a SourceError, never partial data.

URL sources are tested against a real HTTP server on 127.0.0.1 (a port chosen
at run time) whose routes answer with configurable status, headers and body.
What every source must do alike (a whole calendar, "no change", a truncated,
empty or HTML answer, an unreachable calendar, the sync state) is the contract
in test_source_contract.py; this file holds what is particular to each source.
"""

from __future__ import annotations

import base64
import gzip
import ssl
import subprocess
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
import requests

from coachsync import __version__
from coachsync.sources import (
    Fetched,
    IcsFileSource,
    IcsUrlSource,
    SourceError,
    ensure_complete_calendar,
)
from coachsync.sources.base import redact_url

from support.http_calendar import CALENDAR, FakeCalendarServer, Route, serve
from support.ports import free_port

TRUNCATED = CALENDAR[: CALENDAR.index("END:VEVENT")]
HTML_PAGE = b"<!DOCTYPE html>\n<html><body><h1>Sign in</h1></body></html>\n"
LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"
CUT_OFF = "calendar is cut off: no END:VCALENDAR at the end; was the file still being written?"
HTML_HINT = "got an HTML page, not an iCalendar file; check the URL and credentials"


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False  # a proxy from the environment must not stand between us and 127.0.0.1
        yield s


@pytest.fixture
def closed_port() -> int:
    """A port that was bound and then closed, so connecting to it is refused."""
    return free_port()


def _source(url: str, session: requests.Session, timeout: float = 5.0) -> IcsUrlSource:
    return IcsUrlSource("coaching", url, timeout=timeout, session=session)


def _origin(server: FakeCalendarServer) -> str:
    return f'calendar "coaching" (http://127.0.0.1:{server.server_address[1]}/…)'


def _fetch_error(source: IcsUrlSource | IcsFileSource, state: dict[str, str] | None = None) -> SourceError:
    with pytest.raises(SourceError) as info:
        source.fetch(state or {})
    return info.value


# --- ensure_complete_calendar -------------------------------------------------------------------


def test_complete_calendar_is_returned_as_text() -> None:
    assert ensure_complete_calendar(CALENDAR.encode(), "cal") == CALENDAR


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (CALENDAR.replace("\r\n", "\n"), "LF line endings"),
        (CALENDAR.lower(), "names are case-insensitive"),
        ("\n\n  " + CALENDAR + "\r\n\r\n", "blank lines around the calendar"),
        (CALENDAR + CALENDAR, "two concatenated calendars, each whole"),
    ],
)
def test_complete_variants_are_accepted(text: str, why: str) -> None:
    assert ensure_complete_calendar(text.encode(), "cal") == text, why


def test_utf8_bom_is_stripped() -> None:
    assert ensure_complete_calendar(b"\xef\xbb\xbf" + CALENDAR.encode(), "cal") == CALENDAR


def test_charset_from_content_type_is_honoured() -> None:
    text = CALENDAR.replace("Alice", "Zoé")
    decoded = ensure_complete_calendar(text.encode("latin-1"), "cal", "text/calendar; charset=ISO-8859-1")
    assert "SUMMARY:Coaching with Zoé" in decoded


def test_undecodable_bytes_in_a_value_are_replaced() -> None:
    """A Latin-1 export is read; only the bytes that are not UTF-8 are lost, and a warning names their lines."""
    data = CALENDAR.replace("Alice", "Zoé").encode("latin-1")

    assert ensure_complete_calendar(data, "cal") == CALENDAR.replace("Alice", "Zo\ufffd")


def test_undecodable_bytes_outside_a_value_are_an_error() -> None:
    data = CALENDAR.replace("SUMMARY", "SUMM\xc4RY").encode("latin-1")
    with pytest.raises(SourceError) as info:
        ensure_complete_calendar(data, "cal")
    assert str(info.value) == (
        "cal: line 9 is not valid UTF-8 and not a property whose value could be repaired; "
        "the file is damaged or not a calendar; save or serve it as UTF-8"
    )


def test_unknown_charset_is_an_error() -> None:
    with pytest.raises(SourceError, match=r"^cal: the server declares an unknown charset 'klingon'; serve"):
        ensure_complete_calendar(CALENDAR.encode(), "cal", "text/calendar; charset=klingon")


@pytest.mark.parametrize(
    ("data", "content_type", "message"),
    [
        (b"", None, "cal: calendar is empty; check that it points at the exported calendar"),
        (b" \r\n\t\n", None, "cal: calendar is empty; check that it points at the exported calendar"),
        (HTML_PAGE, "text/plain", f"cal: {HTML_HINT}"),
        (b"<html><body>Login</body></html>", None, f"cal: {HTML_HINT}"),
        (b"Forbidden\n", "text/html; charset=utf-8", f"cal: {HTML_HINT}"),
        (
            b'{"error": "not found"}',
            "application/json",
            "cal: not an iCalendar file (it does not start with BEGIN:VCALENDAR); "
            "check that it points at the .ics export",
        ),
        (TRUNCATED.encode(), None, f"cal: {CUT_OFF}"),
        (b"BEGIN:VCALENDAR\r\n", None, f"cal: {CUT_OFF}"),
        ((CALENDAR + "BEGIN:VEVENT\r\n").encode(), None, f"cal: {CUT_OFF}"),
        # A line starting with a space continues the previous line; it is not an END.
        (CALENDAR.replace("\r\nEND:VCALENDAR", "\r\n END:VCALENDAR").encode(), None, f"cal: {CUT_OFF}"),
        (
            CALENDAR.replace("END:VEVENT\r\n", "").encode(),
            None,
            "cal: calendar is truncated or damaged: 1 BEGIN:VEVENT but 0 END:VEVENT lines; export the calendar again",
        ),
        (
            ("BEGIN:VCALENDAR\r\n" + CALENDAR).encode(),
            None,
            "cal: calendar is truncated or damaged: 2 BEGIN:VCALENDAR but 1 END:VCALENDAR lines; "
            "export the calendar again",
        ),
    ],
    ids=[
        "empty",
        "whitespace",
        "html-doctype",
        "html-tag",
        "html-content-type",
        "json",
        "no-end-vevent-no-end-vcalendar",
        "only-begin",
        "trailing-begin",
        "folded-end",
        "unbalanced-vevent",
        "unbalanced-vcalendar",
    ],
)
def test_incomplete_calendars_are_errors(data: bytes, content_type: str | None, message: str) -> None:
    with pytest.raises(SourceError) as info:
        ensure_complete_calendar(data, "cal", content_type)
    assert str(info.value) == message


def test_a_real_calendar_served_as_text_html_is_accepted() -> None:
    """Misconfigured servers exist; a body that proves itself complete wins over the header."""
    assert ensure_complete_calendar(CALENDAR.encode(), "cal", "text/html") == CALENDAR


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://calendar.google.com/calendar/ical/me%40gmail.com/private-abc123/basic.ics",
            "https://calendar.google.com/…",
        ),
        ("https://user:pw@Example.COM:8443/cal.ics?token=s3cret", "https://example.com:8443/…"),
        ("https://example.com/?token=s3cret", "https://example.com/…"),
        ("http://[::1]:8080/cal.ics", "http://[::1]:8080/…"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/", "https://example.com/"),
        ("not a url", "<unparsable URL>"),
        ("https://host:99999999/x", "<unparsable URL>"),
    ],
)
def test_redact_url_keeps_only_scheme_host_and_port(url: str, shown: str) -> None:
    assert redact_url(url) == shown


# --- IcsFileSource ------------------------------------------------------------------------------


# A whole file, an empty or cut-off one, a missing one: SourceContract (TestIcsFileSource).


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            CALENDAR.replace("END:VEVENT\r\n", ""),
            "calendar is truncated or damaged: 1 BEGIN:VEVENT but 0 END:VEVENT lines; export the calendar again",
        ),
    ],
    ids=["unbalanced-vevent"],
)
def test_file_incomplete(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "coaching.ics"
    path.write_text(content, newline="")
    assert str(_fetch_error(IcsFileSource("coaching", path))) == f'calendar "coaching" ({path}): {problem}'


def test_file_is_a_directory(tmp_path: Path) -> None:
    error = _fetch_error(IcsFileSource("coaching", tmp_path))
    assert str(error) == (
        f'calendar "coaching" ({tmp_path}): is a directory, not a file; point ics_file at the .ics file'
    )


_DENIED = "permission denied; let the user running coachsync read the file"


def test_file_permission_denied_even_as_root(tmp_path: Path) -> None:
    """Root bypasses file modes, so stand in a path whose read the OS refuses."""

    class DeniedPath(type(tmp_path)):  # type: ignore[misc]
        def open(self, *args: object, **kwargs: object) -> NoReturn:
            raise PermissionError(13, "Permission denied", str(self))

    path = DeniedPath(tmp_path / "coaching.ics")
    assert str(_fetch_error(IcsFileSource("coaching", path))) == f'calendar "coaching" ({path}): {_DENIED}'


# --- IcsUrlSource: success and conditional GET --------------------------------------------------


def test_url_ok_sends_user_agent(server: FakeCalendarServer, session: requests.Session) -> None:
    server.routes["/cal.ics"] = Route()
    fetched = _source(server.url("/cal.ics"), session).fetch({})
    assert fetched == Fetched(CALENDAR, {})
    assert server.seen[0].headers["User-Agent"] == f"coachsync/{__version__}"


def test_url_honours_charset(server: FakeCalendarServer, session: requests.Session) -> None:
    text = CALENDAR.replace("Alice", "Zoé")
    server.routes["/cal.ics"] = Route(
        body=text.encode("latin-1"), headers={"Content-Type": "text/calendar; charset=ISO-8859-1"}
    )
    assert _source(server.url("/cal.ics"), session).fetch({}).text == text


def test_url_gzip_body_passes_the_length_check(server: FakeCalendarServer, session: requests.Session) -> None:
    """Content-Length counts compressed bytes; the check must not misfire on it."""
    server.routes["/cal.ics"] = Route(
        body=gzip.compress(CALENDAR.encode()),
        headers={"Content-Type": "text/calendar", "Content-Encoding": "gzip"},
    )
    assert _source(server.url("/cal.ics"), session).fetch({}).text == CALENDAR


def test_conditional_get_with_etag(server: FakeCalendarServer, session: requests.Session) -> None:
    server.routes["/cal.ics"] = Route(etag='"v1"')
    source = _source(server.url("/cal.ics"), session)

    first = source.fetch({})
    assert first == Fetched(CALENDAR, {"etag": '"v1"'})
    assert "If-None-Match" not in server.seen[0].headers

    second = source.fetch(first.state)
    assert second == Fetched(None, {"etag": '"v1"'})
    assert server.seen[1].headers["If-None-Match"] == '"v1"'


def test_changed_etag_returns_the_new_text(server: FakeCalendarServer, session: requests.Session) -> None:
    server.routes["/cal.ics"] = Route(etag='"v2"')
    fetched = _source(server.url("/cal.ics"), session).fetch({"etag": '"v1"'})
    assert fetched == Fetched(CALENDAR, {"etag": '"v2"'})
    assert server.seen[0].headers["If-None-Match"] == '"v1"'


def test_conditional_get_with_last_modified(server: FakeCalendarServer, session: requests.Session) -> None:
    server.routes["/cal.ics"] = Route(last_modified=LAST_MODIFIED)
    source = _source(server.url("/cal.ics"), session)

    first = source.fetch({})
    assert first == Fetched(CALENDAR, {"last_modified": LAST_MODIFIED})

    second = source.fetch(first.state)
    assert second == Fetched(None, {"last_modified": LAST_MODIFIED})
    assert server.seen[1].headers["If-Modified-Since"] == LAST_MODIFIED
    assert "If-None-Match" not in server.seen[1].headers


def test_304_to_an_unconditional_request_is_an_error(server: FakeCalendarServer, session: requests.Session) -> None:
    server.routes["/cal.ics"] = Route(status=304, body=b"")
    error = _fetch_error(_source(server.url("/cal.ics"), session))
    assert str(error) == (
        f"{_origin(server)}: answered HTTP 304 Not Modified; the request was not conditional, "
        "so there is nothing to reuse; check the server or a proxy in between"
    )


# --- IcsUrlSource: every way a URL can fail -----------------------------------------------------


# An HTML page with 200, an empty 200, a close-delimited body cut short, a refused connection:
# SourceContract (TestIcsUrlSource).


@pytest.mark.parametrize(
    ("route", "problem"),
    [
        (
            Route(status=500, body=HTML_PAGE, headers={"Content-Type": "text/html"}),
            "answered HTTP 500 Internal Server Error; the server has a problem; try again later",
        ),
        (
            Route(status=503, body=b"busy"),
            "answered HTTP 503 Service Unavailable; the server has a problem; try again later",
        ),
        (
            Route(status=401, body=b"no"),
            "answered HTTP 401 Unauthorized; "
            "check the credentials or the calendar's private address (it may have been reset)",
        ),
        (
            Route(status=403, body=b"no"),
            "answered HTTP 403 Forbidden; "
            "check the credentials or the calendar's private address (it may have been reset)",
        ),
        (
            Route(status=204, body=b""),
            "answered HTTP 204 No Content; expected 200 OK with the whole calendar; check the URL",
        ),
        (
            Route(extra_length=100),
            "the download was cut short or damaged; check the network and try again",
        ),
    ],
    ids=["html-500", "503", "401", "403", "204", "short-body"],
)
def test_url_errors(server: FakeCalendarServer, session: requests.Session, route: Route, problem: str) -> None:
    server.routes["/cal.ics"] = route
    assert str(_fetch_error(_source(server.url("/cal.ics"), session))) == f"{_origin(server)}: {problem}"


def test_url_404(server: FakeCalendarServer, session: requests.Session) -> None:
    error = _fetch_error(_source(server.url("/gone.ics"), session))
    assert str(error) == (
        f"{_origin(server)}: answered HTTP 404 Not Found; "
        "check the URL; the calendar may have been moved, deleted or unshared"
    )


def test_url_timeout(server: FakeCalendarServer, session: requests.Session) -> None:
    server.routes["/slow.ics"] = Route(delay=10)
    started = time.monotonic()
    error = _fetch_error(_source(server.url("/slow.ics"), session, timeout=0.5))
    assert time.monotonic() - started < 3
    assert str(error) == (
        f"{_origin(server)}: did not answer within 0.5 s; check the URL and the network, or raise the timeout"
    )


def test_webcal_is_fetched_over_https(server: FakeCalendarServer, session: requests.Session) -> None:
    """The plain-HTTP test server cannot speak TLS, which proves the client tried https."""
    port = server.server_address[1]
    error = _fetch_error(_source(f"webcal://127.0.0.1:{port}/cal.ics", session))
    assert str(error) == (
        f'calendar "coaching" (https://127.0.0.1:{port}/…): '
        "the TLS/SSL handshake failed; check that the URL's scheme and port are right"
    )


def test_untrusted_certificate(tmp_path: Path, session: requests.Session) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    httpd = FakeCalendarServer()
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    httpd.routes["/cal.ics"] = Route()
    with serve(httpd):
        port = httpd.server_address[1]
        error = _fetch_error(_source(f"https://127.0.0.1:{port}/cal.ics", session))
    assert str(error).startswith(
        f'calendar "coaching" (https://127.0.0.1:{port}/…): the TLS certificate could not be verified ('
    )
    assert str(error).endswith("); check the URL's host name")


def test_unsupported_scheme_is_refused_up_front() -> None:
    with pytest.raises(SourceError) as info:
        IcsUrlSource("coaching", "ftp://files.example.com/cal.ics")
    assert str(info.value) == (
        'calendar "coaching" (ftp://files.example.com/…): unsupported URL scheme; use https://, http:// or webcal://'
    )


# --- secrets in the URL never reach a message or a traceback ------------------------------------


@pytest.mark.parametrize("failure", ["http-500", "timeout", "refused", "short-body"])
def test_url_secrets_are_redacted(
    server: FakeCalendarServer, session: requests.Session, closed_port: int, failure: str
) -> None:
    path = "/private-TOKEN123/basic.ics"
    server.routes[path] = {
        "http-500": Route(status=500, body=b"oops"),
        "timeout": Route(delay=10),
        "refused": Route(),
        "short-body": Route(extra_length=100),
    }[failure]
    url = server.url(path, userinfo="user:secret@")
    if failure == "refused":
        url = url.replace(f":{server.server_address[1]}/", f":{closed_port}/")

    error = _fetch_error(_source(url, session, timeout=0.5))

    shown = "".join(traceback.format_exception(error))
    assert "secret" not in shown and "TOKEN123" not in shown
    assert "(http://127.0.0.1:" in str(error)
    if failure == "http-500":
        assert "answered HTTP 500 Internal Server Error" in str(error)
        # The credentials were still used, just never shown.
        assert server.seen[0].headers["Authorization"] == "Basic " + base64.b64encode(b"user:secret").decode()
