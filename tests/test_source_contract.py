"""One contract every calendar source passes, as vdirsyncer's StorageTests do for its storages.

`SourceContract` holds the tests; each subclass says how its calendar is published,
damaged and made unreachable, against real components: a file on disk, a web
server on 127.0.0.1, a Radicale or Xandikos server on a port chosen at run time.
A source must return a complete calendar whole, say "no change" when it can
tell, and raise SourceError (never return part of a calendar) when it cannot
prove it read the whole calendar.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests

from coachsync.errors import SourceError
from coachsync.ics import event_uids
from coachsync.sources import Fetched, IcsFileSource, IcsUrlSource, Source
from coachsync.sources.caldav import PASSWORD_ENV, CaldavSource
from coachsync.store import Store
from coachsync.store.resources import ResourceRow

from support.caldav_servers import PASSWORD, CaldavServer, running
from support.http_calendar import FakeCalendarServer, Route
from support.ical import session, unfold, vcalendar

DEC_10 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
DEC_11 = datetime(2026, 12, 11, 9, 0, tzinfo=UTC)
ALICE = session("alice-1", DEC_10)
ALICE_MOVED = session("alice-1", DEC_11 + timedelta(hours=3))
BOB = session("bob-1", DEC_11, "bob@example.com", "Coaching mit Jürgen ☕")  # not all of a calendar is ASCII

EMPTY = "calendar is empty; check that it points at the exported calendar"
CUT_OFF = "calendar is cut off: no END:VCALENDAR at the end; was the file still being written?"
HTML_HINT = "got an HTML page, not an iCalendar file; check the URL and credentials"
REFUSED = "refused the connection; check the host and port, and that the server is running"
HTML_PAGE = b"<!DOCTYPE html>\n<html><body><h1>Sign in</h1></body></html>\n"
DAMAGE = ["truncated", "empty", "html"]


class Calendar:
    """One coach's calendar as a source reads it; each kind of source publishes and breaks it its own way."""

    origin: str  # how the source's messages name the calendar
    state_keys: frozenset[str] = frozenset()  # what the sync state of a successful fetch holds

    def source(self) -> Source:
        """A new source for this calendar, as the daemon builds one at start-up."""
        raise NotImplementedError

    def publish(self, *events: str) -> None:
        """Make the calendar hold exactly these events."""
        raise NotImplementedError

    def fetch(self, source: Source, state: Mapping[str, str]) -> Fetched:
        """One fetch as a pass makes it; a source of deltas is given what the store holds."""
        return source.fetch(state)

    def expected(self, *events: str) -> str:
        """The text the source returns for a calendar of these events."""
        return vcalendar(*events)

    def normalise(self, text: str | None) -> str | None:
        """What of the text must be exactly as expected: all of it, unless a server rewrites it."""
        return text

    def damage(self, kind: str) -> str:
        """Make the next read see a damaged calendar ("truncated", "empty", "html"); return the error's text."""
        raise NotImplementedError

    def make_unreachable(self) -> str:
        """Make the calendar impossible to reach; return the error's text."""
        raise NotImplementedError


class SourceContract:
    """The tests every source passes; a subclass provides the `calendar` fixture."""

    # True: an unchanged calendar comes back as "no change" (text None); False: the source cannot tell, and
    # the caller's content hash decides.
    tells_unchanged: ClassVar[bool]

    @pytest.fixture
    def calendar(self) -> Calendar:
        raise NotImplementedError

    def test_a_complete_calendar_is_returned_whole_with_its_text(self, calendar: Calendar) -> None:
        calendar.publish(ALICE, BOB)

        fetched = calendar.fetch(calendar.source(), {})

        assert calendar.normalise(fetched.text) == calendar.normalise(calendar.expected(ALICE, BOB))
        assert set(fetched.state) == calendar.state_keys

    def test_an_unchanged_calendar_is_no_change_on_the_next_fetch(self, calendar: Calendar) -> None:
        calendar.publish(ALICE, BOB)
        source = calendar.source()
        first = calendar.fetch(source, {})

        second = calendar.fetch(source, first.state)

        if self.tells_unchanged:
            assert (second.text, second.state) == (None, first.state)
        else:
            assert (second.text, second.state) == (first.text, first.state)

    def test_a_moved_session_returns_the_whole_new_calendar(self, calendar: Calendar) -> None:
        calendar.publish(ALICE, BOB)
        source = calendar.source()
        first = calendar.fetch(source, {})
        calendar.publish(ALICE_MOVED, BOB)

        second = calendar.fetch(source, first.state)
        third = calendar.fetch(source, second.state)

        assert calendar.normalise(second.text) == calendar.normalise(calendar.expected(ALICE_MOVED, BOB))
        assert set(second.state) == calendar.state_keys
        assert third.text == (None if self.tells_unchanged else second.text)

    def test_a_deleted_session_is_gone_from_the_new_calendar(self, calendar: Calendar) -> None:
        calendar.publish(ALICE, BOB)
        source = calendar.source()
        first = calendar.fetch(source, {})
        calendar.publish(ALICE)

        second = calendar.fetch(source, first.state)

        assert calendar.normalise(second.text) == calendar.normalise(calendar.expected(ALICE))

    @pytest.mark.parametrize("kind", DAMAGE)
    @pytest.mark.parametrize("read_before", [False, True], ids=["first-fetch", "after-a-good-fetch"])
    def test_a_damaged_calendar_is_an_error_and_never_partial_text(
        self, calendar: Calendar, kind: str, read_before: bool
    ) -> None:
        calendar.publish(ALICE, BOB)
        source = calendar.source()
        state = dict(calendar.fetch(source, {}).state) if read_before else {}
        given = dict(state)
        message = calendar.damage(kind)

        with pytest.raises(SourceError) as raised:
            calendar.fetch(source, state)

        assert str(raised.value) == message
        assert state == given  # the state handed in is left as it was, so the pass can simply be retried

    def test_the_next_fetch_after_a_failure_reads_the_calendar_again(self, calendar: Calendar) -> None:
        calendar.publish(ALICE, BOB)
        source = calendar.source()
        first = calendar.fetch(source, {})
        calendar.damage("truncated")
        with pytest.raises(SourceError):
            calendar.fetch(source, first.state)
        calendar.publish(ALICE_MOVED, BOB)

        repaired = calendar.fetch(source, first.state)

        assert calendar.normalise(repaired.text) == calendar.normalise(calendar.expected(ALICE_MOVED, BOB))

    def test_an_unreachable_calendar_is_an_error(self, calendar: Calendar) -> None:
        calendar.publish(ALICE, BOB)
        source = calendar.source()
        first = calendar.fetch(source, {})
        message = calendar.make_unreachable()

        with pytest.raises(SourceError) as raised:
            calendar.fetch(source, first.state)

        assert str(raised.value) == message

    def test_the_sync_state_round_trips_through_json_and_a_restart(self, calendar: Calendar) -> None:
        calendar.publish(ALICE, BOB)
        first = calendar.fetch(calendar.source(), {})
        stored = json.loads(json.dumps(dict(first.state)))  # as the store keeps it

        after_restart = calendar.fetch(calendar.source(), stored)

        assert stored == dict(first.state)
        assert all(isinstance(key, str) and isinstance(value, str) for key, value in stored.items())
        if self.tells_unchanged:
            assert (after_restart.text, dict(after_restart.state)) == (None, stored)
        else:
            assert (after_restart.text, dict(after_restart.state)) == (first.text, stored)


# --- an exported .ics file ------------------------------------------------------------------------


class FileCalendar(Calendar):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.origin = f'calendar "coaching" ({path})'

    def source(self) -> IcsFileSource:
        return IcsFileSource("coaching", self.path)

    def publish(self, *events: str) -> None:
        self.path.write_bytes(vcalendar(*events).encode("utf-8"))

    def damage(self, kind: str) -> str:
        text = self.path.read_bytes()
        broken = {"truncated": text[: text.rindex(b"END:VEVENT")], "empty": b"", "html": HTML_PAGE}[kind]
        self.path.write_bytes(broken)  # an export still being written; an empty file; a saved sign-in page
        return f"{self.origin}: {dict(truncated=CUT_OFF, empty=EMPTY, html=HTML_HINT)[kind]}"

    def make_unreachable(self) -> str:
        self.path.unlink()
        return f"{self.origin}: file not found; check the ics_file path"


class TestIcsFileSource(SourceContract):
    tells_unchanged = False  # a file has no sync state; the pass hashes the text instead

    @pytest.fixture
    def calendar(self, tmp_path: Path) -> FileCalendar:
        return FileCalendar(tmp_path / "coaching.ics")


# --- a calendar published at a URL ----------------------------------------------------------------


class UrlCalendar(Calendar):
    def __init__(self, server: FakeCalendarServer, http: requests.Session, etags: bool) -> None:
        self.server = server
        self.http = http
        self.etags = etags
        self.origin = f'calendar "coaching" (http://127.0.0.1:{server.server_address[1]}/…)'
        self.state_keys = frozenset({"etag"} if etags else ())

    def source(self) -> IcsUrlSource:
        return IcsUrlSource("coaching", self.server.url("/coaching.ics"), timeout=5.0, session=self.http)

    def publish(self, *events: str) -> None:
        body = vcalendar(*events).encode("utf-8")
        etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"' if self.etags else None
        self.server.routes["/coaching.ics"] = Route(body=body, etag=etag)

    def damage(self, kind: str) -> str:
        body = self.server.routes["/coaching.ics"].body
        self.server.routes["/coaching.ics"] = {
            # HTTP/1.0 style: no Content-Length, the body ends when the connection closes; here, early
            "truncated": Route(body=body[: body.rindex(b"END:VEVENT")], content_length=False),
            "empty": Route(body=b""),
            "html": Route(body=HTML_PAGE, headers={"Content-Type": "text/html; charset=utf-8"}),
        }[kind]
        return f"{self.origin}: {dict(truncated=CUT_OFF, empty=EMPTY, html=HTML_HINT)[kind]}"

    def make_unreachable(self) -> str:
        self.server.shutdown()  # the server is gone; its port refuses connections
        self.server.server_close()
        return f"{self.origin}: {REFUSED}"


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False  # a proxy from the environment must not stand between us and 127.0.0.1
        yield s


class TestIcsUrlSource(SourceContract):
    """A server that sends an ETag, so the source asks with If-None-Match and an unchanged calendar is a 304."""

    tells_unchanged = True

    @pytest.fixture
    def calendar(self, server: FakeCalendarServer, http: requests.Session) -> UrlCalendar:
        return UrlCalendar(server, http, etags=True)


class TestIcsUrlSourceWithoutValidators(SourceContract):
    """A server that sends neither ETag nor Last-Modified: every fetch downloads the whole calendar."""

    tells_unchanged = False

    @pytest.fixture
    def calendar(self, server: FakeCalendarServer, http: requests.Session) -> UrlCalendar:
        return UrlCalendar(server, http, etags=False)


# --- a CalDAV collection --------------------------------------------------------------------------

_HREF = re.compile(rb"<D:href>([^<]+)</D:href>")


class CaldavCalendar(Calendar):
    """One resource per event, named for its UID; damage comes from the server's answers (a proxy in between)."""

    state_keys = frozenset({"format", "collection", "listing", "sync_token", "listed_at"})

    def __init__(self, server: CaldavServer, store: Store) -> None:
        self.server = server
        self.store = store  # the resources a pass would hold, in a real database
        self.origin = f'calendar "coaching" (http://127.0.0.1:{server.port}/…)'
        self.names: set[str] = set()

    def source(self) -> CaldavSource:
        return CaldavSource(
            "coaching", self.server.url(self.server.collection), username=self.server.username, timeout=5
        )

    def fetch(self, source: Source, state: Mapping[str, str]) -> Fetched:
        """The delta, applied to the held resources as a pass does; the text is then the whole held calendar."""
        fetched = source.fetch(state, self.store.resources.held("coaching"))  # type: ignore[call-arg]
        delta = fetched.delta
        if delta is None:
            return fetched
        rows = [
            ResourceRow(href, r.etag, r.events, r.zones, *event_uids(r.events)) for href, r in delta.changed.items()
        ]
        applied = self.store.resources.apply("coaching", rows, delta.gone, delta.zones)
        text = self.store.resources.calendar_text("coaching") if applied.content_changed else None
        return Fetched(text, fetched.state)

    def publish(self, *events: str) -> None:
        self.server.middleware.fault = None  # whatever was in between is gone
        wanted = {f"{_uid(event)}.ics": event for event in events}
        for name in sorted(self.names - set(wanted)):
            self.server.delete(name)
        for name, event in wanted.items():
            self.server.put(name, vcalendar(event))
        self.names = set(wanted)

    def expected(self, *events: str) -> str:
        """The source assembles the collection: its own header, then each resource's events by name."""
        head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//coachsync//CalDAV collection//EN\r\n"
        return head + "".join(sorted(events, key=_uid)) + "END:VCALENDAR\r\n"

    def normalise(self, text: str | None) -> str | None:
        """Radicale and Xandikos store an event's properties in an order of their own (RFC 5545 gives none)."""
        if text is None:
            return None
        lines, event = [], list[str]()
        for line in unfold(text).split("\r\n"):
            if event or line == "BEGIN:VEVENT":
                event.append(line)
                if line == "END:VEVENT":
                    lines += [event[0], *sorted(event[1:-1]), event[-1]]
                    event = []
            else:
                lines.append(line)
        return "\r\n".join(lines)

    def damage(self, kind: str) -> str:
        self.publish(ALICE_MOVED, BOB)  # a change, so that the next poll downloads alice-1.ics
        if kind == "html":  # a sign-in page from a proxy, with 200 OK, instead of the server's answer
            self.server.middleware.fault = _answer_reports("200 OK", "text/html; charset=utf-8", HTML_PAGE)
            return f"{self.origin}: answered HTTP 200 to a sync-collection REPORT, expected 207 Multi-Status"
        data = {"truncated": "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:alice-1\r\n", "empty": ""}[kind]
        self.server.middleware.fault = _cut_calendar_data(data)
        return f"{self.origin}, event alice-1.ics: {dict(truncated=CUT_OFF, empty=EMPTY)[kind]}"

    def make_unreachable(self) -> str:
        self.server.stop()
        return f"{self.origin}: {REFUSED}"


def _uid(event: str) -> str:
    [uid] = re.findall(r"^UID:(.*)\r$", event, re.MULTILINE)
    return uid


def _answer_reports(status: str, content_type: str, body: bytes) -> Any:
    def fault(environ: dict[str, Any], request: bytes) -> tuple[str, list[tuple[str, str]], bytes] | None:
        if environ["REQUEST_METHOD"] == "REPORT":
            return status, [("Content-Type", content_type)], body
        return None

    return fault


def _cut_calendar_data(data: str) -> Any:
    """Answer every calendar-multiget with `data` as each event's calendar-data, in the order of the hrefs' names."""

    def fault(environ: dict[str, Any], request: bytes) -> tuple[str, list[tuple[str, str]], bytes] | None:
        if b"calendar-multiget" not in request:
            return None
        responses = b"".join(
            b"<D:response><D:href>" + href + b'</D:href><D:propstat><D:prop><D:getetag>"cut"</D:getetag>'
            b"<C:calendar-data>" + data.encode() + b"</C:calendar-data></D:prop>"
            b"<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
            for href in sorted(_HREF.findall(request))
        )
        body = (
            b'<?xml version="1.0"?><D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            + responses
            + b"</D:multistatus>"
        )
        return "207 Multi-Status", [("Content-Type", "application/xml")], body

    return fault


class TestCaldavSource(SourceContract):
    tells_unchanged = True  # an idle poll is one sync-collection REPORT that lists nothing

    @pytest.fixture(params=["radicale", "xandikos"])
    def calendar(
        self, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[CaldavCalendar]:
        monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
        monkeypatch.setenv(PASSWORD_ENV, PASSWORD)  # only Radicale asks for it
        with running(request.param, tmp_path / "server") as server, Store(tmp_path / "state.sqlite") as store:
            yield CaldavCalendar(server, store)

    def test_a_read_holding_nothing_returns_the_whole_calendar_whatever_the_state(
        self, calendar: CaldavCalendar
    ) -> None:
        calendar.publish(ALICE, BOB)
        first = calendar.fetch(calendar.source(), {})
        calendar.publish(ALICE_MOVED, BOB)

        whole = calendar.source().fetch(first.state)  # `coachsync check` and `init`: no resources held

        assert calendar.normalise(whole.text) == calendar.normalise(calendar.expected(ALICE_MOVED, BOB))
        assert whole.delta is not None and sorted(whole.delta.changed) == sorted(
            calendar.server.collection + f"{name}.ics" for name in ("alice-1", "bob-1")
        )
