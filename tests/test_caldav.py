"""CalDAV calendars against real Radicale, Xandikos, Cyrus and DAViCal servers on 127.0.0.1.

Every pass goes through App and a real SQLite file. Radicale and Xandikos sit
behind a counting middleware, so the request counts and byte sizes asserted
here are what really crossed the wire. The scenarios (`twin`, `any_server`)
run on Cyrus and DAViCal too, as Debian installs them; those are marked
`servers` and run only in `make test-servers`.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from lxml import etree

from coachsync.app import App
from coachsync.errors import MassChangeError, SourceError
from coachsync.model import ChangeKind, Record
from coachsync.sources.caldav import PASSWORD_ENV
from coachsync.store import SCHEMA_VERSION, Store
from coachsync.store.schema import MIGRATIONS
from coachsync.sync import Outcome, PassReport

from support import cyrus, davical
from support.caldav_servers import (
    CALENDAR_NAME,
    PASSWORD,
    USERNAME,
    AnyServer,
    CaldavServer,
    Exchange,
    Fault,
    PackagedServer,
    running,
)
from support.ical import session, vevent, vtimezone_berlin
from support.scenario import CLIENTS_YAML, NOW, Coach, OpenApp

BERLIN = ZoneInfo("Europe/Berlin")
DEC_10 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
DEC_11 = datetime(2026, 12, 11, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)
KIB = 1024
# In-process, behind the counting middleware: every test can count requests and stage faults.
SERVERS = ["radicale", "xandikos"]
# Installed from Debian packages and started once per session; only `make test-servers` runs them.
PACKAGED = [pytest.param(kind, marks=pytest.mark.servers) for kind in ("cyrus", "davical")]
EVERY_SERVER = [*SERVERS, *PACKAGED]


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CaldavServer]:
    with running(request.param, tmp_path / "server") as dav:
        yield dav


@pytest.fixture
def cyrus_daemon() -> Iterator[cyrus.CyrusDaemon]:
    """One per test: it starts in a fraction of a second, and Cyrus refuses a UID that another of its
    users already has (unique-scheduling-object-resource), which every test's "alice-1" would be."""
    if (reason := cyrus.missing()) is not None:
        pytest.fail(reason)  # never a skip: `make test-servers` must not pass without the server
    daemon = cyrus.CyrusDaemon().start()
    yield daemon
    daemon.close()


@pytest.fixture(scope="session")
def davical_daemon() -> Iterator[davical.DavicalDaemon]:
    if (reason := davical.missing()) is not None:
        pytest.fail(reason)
    daemon = davical.DavicalDaemon().start()
    yield daemon
    daemon.close()


def _any_server(kind: str, request: pytest.FixtureRequest, root: Path) -> Iterator[AnyServer]:
    if kind in SERVERS:
        with running(kind, root) as dav:
            yield dav
        return
    daemon = request.getfixturevalue(f"{kind}_daemon")
    account = PackagedServer(kind, daemon)
    try:
        yield account
    finally:
        account.close()
        if not daemon.serving:
            daemon.start()  # a test that stopped it and failed must not take the next tests down too


@pytest.fixture(params=EVERY_SERVER)
def any_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AnyServer]:
    yield from _any_server(request.param, request, tmp_path / "server")


@pytest.fixture(params=["radicale", *PACKAGED])
def server_with_login(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AnyServer]:
    """Every server that asks for a password (Xandikos has no authentication)."""
    yield from _any_server(request.param, request, tmp_path / "server")


@pytest.fixture
def radicale(tmp_path: Path) -> Iterator[CaldavServer]:
    with running("radicale", tmp_path / "server") as dav:
        yield dav


@pytest.fixture(autouse=True)
def no_ambient_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the configured password_command may supply the password."""
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


# --- building the coach's world ----------------------------------------------------------------


def alice(uid: str = "alice-1", start: datetime = DEC_10) -> str:
    return session(uid, start)


def bob(uid: str = "bob-1", start: datetime = DEC_11) -> str:
    return session(uid, start, "bob@example.com", "Coaching session")


def weekly(uid: str = "carmen-weekly") -> str:
    return vevent(
        uid,
        "DTSTART;TZID=Europe/Berlin:20261203T100000",
        "DTEND;TZID=Europe/Berlin:20261203T110000",
        summary="Weekly with Carmen",
        extra=("RRULE:FREQ=WEEKLY;COUNT=8",),
    )


def carmen_override(uid: str = "carmen-weekly") -> str:
    return vevent(
        uid,
        "DTSTART;TZID=Europe/Berlin:20261211T150000",
        "DTEND;TZID=Europe/Berlin:20261211T160000",
        summary="Weekly with Carmen",
        extra=("RECURRENCE-ID;TZID=Europe/Berlin:20261210T100000", "SEQUENCE:1"),
    )


def resource(*events: str) -> str:
    """One calendar object resource as a calendar app PUTs it, with the VTIMEZONE its events use."""
    zone = "\r\n".join(vtimezone_berlin()) + "\r\n" if any("TZID=" in e for e in events) else ""
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//coachsync tests//EN\r\n"
    return head + zone + "".join(events) + "END:VCALENDAR\r\n"


def write_config(
    root: Path,
    server: AnyServer,
    *,
    url: str | None = None,
    calendar: str | None = None,
    timeout: float = 5,
    full_listing_hours: float | None = None,
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = [f"url: {url or server.url(server.collection)}"]
    if calendar is not None:
        lines.append(f"calendar: {calendar}")
    if full_listing_hours is not None:
        lines.append(f"full_listing_hours: {full_listing_hours:g}")
    if server.needs_password:
        (root / "password").write_text(PASSWORD + "\n", encoding="utf-8")
        lines += [f"username: {server.username}", f"password_command: cat {root / 'password'}"]
    caldav_yaml = "\n".join(f"      {line}" for line in lines)
    config = root / "config.yaml"
    config.write_text(
        textwrap.dedent(
            """\
            database: state/coachsync.db
            timezone: Europe/Berlin
            calendars:
              - name: coaching
                timeout: {timeout}
                caldav:
            """
        ).format(timeout=timeout)
        + caldav_yaml
        + "\n"
        + CLIENTS_YAML,
        encoding="utf-8",
    )
    return config


# Opens the app of a coach whose calendar is on `server` (see write_config); closed after the test.
CaldavApp = Callable[..., App]


@pytest.fixture
def caldav_app(open_app: OpenApp) -> CaldavApp:
    def open_caldav_app(root: Path, server: AnyServer, **settings: Any) -> App:
        return open_app(write_config(root, server, **settings))

    return open_caldav_app


@dataclass
class Twin:
    """The same calendar kept twice: as resources on a CalDAV server and as one ICS file.

    Each pass runs over both at the same moment; CalDAV must record exactly what the file records.
    """

    server: AnyServer
    dav: App
    ics: App
    coach: Coach
    resources: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def put(self, name: str, *events: str) -> None:
        self.server.put(f"{name}.ics", resource(*events))
        self.resources[name] = events
        self._write_file()

    def delete(self, name: str) -> None:
        self.server.delete(f"{name}.ics")
        del self.resources[name]
        self._write_file()

    def _write_file(self) -> None:
        events = [event for group in self.resources.values() for event in group]
        self.coach.write(*events, header=tuple(vtimezone_berlin()))

    @property
    def counted(self) -> CaldavServer:
        """The server, behind its counting middleware (in-process servers only)."""
        assert isinstance(self.server, CaldavServer)
        return self.server

    def sync(self, now: datetime = NOW) -> PassReport:
        if isinstance(self.server, CaldavServer):
            self.server.exchanges.clear()
        report = self.dav.sync_calendar("coaching", now)
        self.ics.sync_calendar("coaching", now)
        return report

    def history(self) -> list[Record]:
        """CalDAV's history, after checking it is the file's history exactly."""
        recorded = self.dav.store.history.records()
        assert recorded == self.ics.store.history.records()
        return recorded


def _twin(server: AnyServer, tmp_path: Path, caldav_app: CaldavApp, open_app: OpenApp) -> Twin:
    (tmp_path / "ics").mkdir()
    coach = Coach(tmp_path / "ics")
    return Twin(server, caldav_app(tmp_path / "dav", server), open_app(coach), coach)


@pytest.fixture
def twin(any_server: AnyServer, tmp_path: Path, caldav_app: CaldavApp, open_app: OpenApp) -> Twin:
    """On every server, Cyrus and DAViCal included."""
    return _twin(any_server, tmp_path, caldav_app, open_app)


@pytest.fixture
def counted_twin(server: CaldavServer, tmp_path: Path, caldav_app: CaldavApp, open_app: OpenApp) -> Twin:
    """On the in-process servers, whose requests are counted and whose answers a test may replace."""
    return _twin(server, tmp_path, caldav_app, open_app)


def requests_made(server: CaldavServer) -> list[tuple[str, str]]:
    return [(e.method, e.path) for e in server.exchanges]


def multigets(server: CaldavServer) -> list[Exchange]:
    return [e for e in server.exchanges if b"calendar-multiget" in e.body]


def failure(app: App, now: datetime = NOW) -> str:
    with pytest.raises(SourceError) as info:
        app.sync_calendar("coaching", now)
    return str(info.value)


def origin(server: AnyServer, path: str = "/…") -> str:
    return f'calendar "coaching" (http://127.0.0.1:{server.port}{path})'


# --- discovery ---------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["root", "principal", "collection"])
def test_the_calendar_is_found_from_the_root_the_principal_or_its_own_url(
    any_server: AnyServer, tmp_path: Path, caldav_app: CaldavApp, where: str
) -> None:
    server = any_server
    server.put("a.ics", resource(alice()))
    server.put("x.ics", resource(bob()), collection=server.other_collection)  # in "Personal": not ours
    url = {"root": server.url(server.root_path), "principal": server.url(server.principal), "collection": None}
    app = caldav_app(tmp_path, server, url=url[where], calendar=CALENDAR_NAME)

    report = app.sync_calendar("coaching", NOW)

    assert (report.outcome, report.events) == (Outcome.BASELINE, 1)
    assert [o.uid for o in app.store.snapshots.occurrences("coaching")] == ["alice-1"]
    if isinstance(server, CaldavServer):
        reports = [e for e in server.exchanges if e.method == "REPORT"]
        assert [e.path for e in reports] == [server.collection, server.collection]


def test_the_collection_url_alone_needs_no_calendar_name(
    any_server: AnyServer, tmp_path: Path, caldav_app: CaldavApp
) -> None:
    any_server.put("a.ics", resource(alice()))
    app = caldav_app(tmp_path, any_server)

    assert app.sync_calendar("coaching", NOW).events == 1


def test_url_and_calendar_name_that_disagree_is_one_clear_error(
    any_server: AnyServer, tmp_path: Path, caldav_app: CaldavApp
) -> None:
    app = caldav_app(tmp_path, any_server, calendar="Personal")

    assert failure(app) == (
        f'{origin(any_server)}: caldav.url is the calendar "Coaching" but caldav.calendar says "Personal" '
        '(calendars found: "Coaching", "Personal"); make them agree or drop caldav.calendar'
    )
    assert app.store.snapshots.state("coaching") is None


def test_an_unknown_calendar_name_lists_the_names_found(
    any_server: AnyServer, tmp_path: Path, caldav_app: CaldavApp
) -> None:
    app = caldav_app(tmp_path, any_server, url=any_server.url(any_server.principal), calendar="Work")

    assert failure(app) == (
        f'{origin(any_server)}: no calendar is named "Work" (calendars found: "Coaching", "Personal"); '
        "set caldav.calendar to one of them"
    )


def test_a_principal_with_several_calendars_needs_a_name(
    any_server: AnyServer, tmp_path: Path, caldav_app: CaldavApp
) -> None:
    server = any_server
    app = caldav_app(tmp_path, server, url=server.url(server.principal))

    assert failure(app) == (
        f'{origin(server)}: found 2 calendars ("Coaching", "Personal"); set caldav.calendar to one of them '
        "or point caldav.url at the calendar itself"
    )


def _fail_propfind(status: str) -> Fault:
    def fault(environ: dict, body: bytes) -> tuple[str, list[tuple[str, str]], bytes] | None:
        if environ["REQUEST_METHOD"] == "PROPFIND":
            return status, [("Content-Type", "text/html")], b"<html>Internal Server Error</html>"
        return None

    return fault


@pytest.mark.parametrize(
    ("status", "problem"),
    [
        ("500 Internal Server Error", "answered HTTP 500 to a PROPFIND; the server has a problem; try again later"),
        ("503 Service Unavailable", "answered HTTP 503 to a PROPFIND; the server has a problem; try again later"),
        ("400 Bad Request", "answered HTTP 400 to a PROPFIND, expected 207 Multi-Status; check caldav.url"),
    ],
)
def test_a_server_error_while_finding_the_calendar_names_the_status(
    radicale: CaldavServer, tmp_path: Path, caldav_app: CaldavApp, status: str, problem: str
) -> None:
    """As behind Apache when DAViCal's database is down: one line with the status and what it means."""
    app = caldav_app(tmp_path, radicale, url=radicale.url(radicale.principal), calendar=CALENDAR_NAME)
    radicale.middleware.fault = _fail_propfind(status)

    assert failure(app) == f"{origin(radicale)}: {problem}"
    assert app.store.snapshots.state("coaching") is None

    radicale.middleware.fault = None
    assert app.sync_calendar("coaching", NOW).outcome is Outcome.BASELINE


@pytest.mark.servers
def test_davical_with_its_database_down_names_the_status(
    davical_daemon: davical.DavicalDaemon, tmp_path: Path, caldav_app: CaldavApp
) -> None:
    account = PackagedServer("davical", davical_daemon)
    account.put("a.ics", resource(alice()))
    app = caldav_app(tmp_path, account, url=account.url(account.principal), calendar=CALENDAR_NAME)
    davical_daemon.stop_database()
    try:
        message = failure(app)
    finally:
        davical_daemon.start_database()
        account.close()

    assert message == (f"{origin(account)}: answered HTTP 500 to a PROPFIND; the server has a problem; try again later")
    assert app.store.snapshots.state("coaching") is None
    assert app.sync_calendar("coaching", NOW).events == 1


_ANONYMOUS_ROOT = (
    b'<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>/</D:href>'
    b"<D:propstat><D:prop><D:current-user-principal><D:unauthenticated/></D:current-user-principal>"
    b"<D:resourcetype><D:collection/></D:resourcetype></D:prop>"
    b"<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>"
)


def _answer_the_root_anonymously(environ: dict, body: bytes) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """What Cyrus does: a PROPFIND on / without credentials is a 207 naming no principal, not a 401."""
    if environ["REQUEST_METHOD"] == "PROPFIND" and environ["PATH_INFO"] == "/" and "HTTP_AUTHORIZATION" not in environ:
        return "207 Multi-Status", [("Content-Type", "application/xml; charset=utf-8")], _ANONYMOUS_ROOT
    return None


def test_a_root_that_answers_without_asking_for_a_login_gets_the_credentials_anyway(
    radicale: CaldavServer, tmp_path: Path, caldav_app: CaldavApp
) -> None:
    radicale.put("a.ics", resource(alice()))
    radicale.middleware.fault = _answer_the_root_anonymously
    app = caldav_app(tmp_path, radicale, url=radicale.url("/"), calendar=CALENDAR_NAME)

    report = app.sync_calendar("coaching", NOW)

    assert (report.outcome, report.events) == (Outcome.BASELINE, 1)


def test_a_root_that_answers_anonymously_without_a_username_says_which_url_did(
    radicale: CaldavServer, tmp_path: Path, open_app: OpenApp
) -> None:
    radicale.middleware.fault = _answer_the_root_anonymously
    config = write_config(tmp_path, radicale, url=radicale.url("/"), calendar=CALENDAR_NAME)
    config.write_text(
        config.read_text()
        .replace(f"      username: {USERNAME}\n", "")
        .replace(f"      password_command: cat {tmp_path / 'password'}\n", "")
    )
    app = open_app(config)

    assert failure(app) == (
        f"{origin(radicale, '/')}: {radicale.url('/')} answered without a login and named no calendars; "
        "set caldav.username and a password, or point caldav.url at the calendar itself"
    )


# --- what each poll costs ------------------------------------------------------------------------


@pytest.mark.parametrize("size", [3, 40])
def test_the_first_sync_takes_two_requests_whatever_the_size(
    server: CaldavServer, tmp_path: Path, caldav_app: CaldavApp, size: int
) -> None:
    for n in range(size):
        server.put(f"s{n}.ics", resource(alice(f"session-{n}", DEC_10 + n * HOUR)))
    app = caldav_app(tmp_path, server)

    report = app.sync_calendar("coaching", NOW)

    assert (report.outcome, report.events) == (Outcome.BASELINE, size)
    reports = [e for e in server.exchanges if e.method == "REPORT"]
    assert [b"sync-collection" in e.body for e in reports] == [True, False]
    assert [e.body.count(b"<D:href>") for e in multigets(server)] == [size]
    assert not [e for e in server.exchanges if e.method == "GET"]


def test_an_idle_poll_is_one_request_of_at_most_2_kib(counted_twin: Twin) -> None:
    for n in range(30):
        counted_twin.put(f"s{n}", alice(f"session-{n}", DEC_10 + n * HOUR))
    counted_twin.sync()

    report = counted_twin.sync(NOW + HOUR)

    [exchange] = counted_twin.server.exchanges
    assert (report.outcome, exchange.method, exchange.path, exchange.status) == (
        Outcome.UNCHANGED,
        "REPORT",
        counted_twin.server.collection,
        207,
    )
    assert exchange.request_bytes + exchange.response_bytes <= 2 * KIB
    assert counted_twin.history() == []


def test_one_change_downloads_only_that_event_in_two_requests(counted_twin: Twin) -> None:
    for n in range(30):
        counted_twin.put(f"s{n}", alice(f"session-{n}", DEC_10 + n * 3 * HOUR))
    counted_twin.sync()
    counted_twin.put("s7", alice("session-7", DEC_10 + 7 * 3 * HOUR + HOUR))

    report = counted_twin.sync()

    assert requests_made(counted_twin.server) == [("REPORT", counted_twin.server.collection)] * 2
    [multiget] = multigets(counted_twin.server)
    assert multiget.body.count(b"<D:href>") == 1 and b"/s7.ics</D:href>" in multiget.body
    assert (report.outcome, report.parsed) == (Outcome.UPDATED, 1)
    assert [(r.change.kind, r.change.uid) for r in counted_twin.history()] == [(ChangeKind.MOVED, "session-7")]
    assert counted_twin.sync().outcome is Outcome.UNCHANGED
    assert len(counted_twin.server.exchanges) == 1


# --- each kind of change, recorded exactly as from an ICS file ---------------------------------


def test_moved_session(twin: Twin) -> None:
    twin.put("alice", alice())
    twin.put("bob", bob())
    twin.sync()
    twin.put("alice", alice(start=DEC_11))

    twin.sync()

    [record] = twin.history()
    change = record.change
    assert (change.kind, change.client, change.uid, change.old_start, change.new_start) == (
        ChangeKind.MOVED,
        "Alice Example",
        "alice-1",
        DEC_10,
        DEC_11,
    )
    assert change.notice_hours == 213.0


def test_cancelled_session(twin: Twin) -> None:
    twin.put("alice", alice())
    twin.put("bob", bob())
    twin.sync()
    twin.delete("bob")

    twin.sync()

    [record] = twin.history()
    assert (record.change.kind, record.change.client, record.change.uid, record.change.old_start) == (
        ChangeKind.CANCELLED,
        "Bob Builder",
        "bob-1",
        DEC_11,
    )


def test_cancel_and_rebook_is_one_rebooked_record(twin: Twin) -> None:
    twin.put("calendly-1", alice("calendly-1"))
    twin.put("bob", bob())
    twin.sync()
    twin.delete("calendly-1")
    twin.put("calendly-2", alice("calendly-2", DEC_11 + 3 * HOUR))

    twin.sync()

    [record] = twin.history()
    change = record.change
    assert (change.kind, change.client, change.uid, change.new_uid, change.old_start, change.new_start) == (
        ChangeKind.REBOOKED,
        "Alice Example",
        "calendly-1",
        "calendly-2",
        DEC_10,
        DEC_11 + 3 * HOUR,
    )


def test_override_of_a_recurring_session_moved(twin: Twin) -> None:
    twin.put("carmen", weekly())
    twin.sync()
    twin.put("carmen", weekly(), carmen_override())

    twin.sync()

    [record] = twin.history()
    change = record.change
    assert (change.kind, change.client, change.recurrence_id, change.old_start, change.new_start) == (
        ChangeKind.MOVED,
        "Carmen Diaz",
        "2026-12-10T09:00:00+00:00",
        datetime(2026, 12, 10, 10, 0, tzinfo=BERLIN),
        datetime(2026, 12, 11, 15, 0, tzinfo=BERLIN),
    )


def test_session_cancelled_by_its_status(twin: Twin) -> None:
    twin.put("alice", alice())
    twin.put("bob", bob())
    twin.sync()
    twin.put("bob", session("bob-1", DEC_11, "bob@example.com", "Coaching session", extra=("STATUS:CANCELLED",)))

    twin.sync()

    [record] = twin.history()
    assert (record.change.kind, record.change.client, record.change.uid, record.change.old_start) == (
        ChangeKind.CANCELLED,
        "Bob Builder",
        "bob-1",
        DEC_11,
    )


def test_a_whole_series_shifted_is_one_series_moved_record(twin: Twin) -> None:
    twin.put("carmen", weekly())
    twin.sync()
    shifted = vevent(
        "carmen-weekly",
        "DTSTART;TZID=Europe/Berlin:20261203T140000",
        "DTEND;TZID=Europe/Berlin:20261203T150000",
        summary="Weekly with Carmen",
        extra=("RRULE:FREQ=WEEKLY;COUNT=8", "SEQUENCE:1"),
    )
    twin.put("carmen", shifted)

    twin.sync()

    [record] = twin.history()
    change = record.change
    assert (change.kind, change.client, change.uid, change.instances, change.old_start, change.new_start) == (
        ChangeKind.SERIES_MOVED,
        "Carmen Diaz",
        "carmen-weekly",
        8,
        datetime(2026, 12, 3, 10, 0, tzinfo=BERLIN),
        datetime(2026, 12, 3, 14, 0, tzinfo=BERLIN),
    )


# --- when the sync-token or the server lets us down ---------------------------------------------


def _replace_token(twin: Twin, token: str) -> None:
    with sqlite3.connect(twin.dav.config.database) as db:
        (raw,) = db.execute("SELECT sync_state FROM calendars WHERE name = 'coaching'").fetchone()
        state = json.loads(raw)
        state["sync_token"] = token
        db.execute("UPDATE calendars SET sync_state = ? WHERE name = 'coaching'", (json.dumps(state),))


def _unknown_token(server: CaldavServer) -> str:
    """Well-formed for the server, but never issued by it."""
    return "http://radicale.org/ns/sync/" + "0" * 64 if server.kind == "radicale" else "0" * 40


def _rejected(server: CaldavServer) -> int:
    return 403 if server.kind == "radicale" else 412  # Xandikos answers 412 with DAV:valid-sync-token


def _make_the_server_forget_its_tokens(twin: Twin) -> None:
    """Each server's own way of losing what an old sync-token meant."""
    server = twin.server
    if isinstance(server, CaldavServer):
        if server.kind == "radicale":
            server.reset_sync_state()  # its token files removed from disk
        else:
            _replace_token(twin, _unknown_token(server))  # Xandikos derives tokens from git; none to remove
    elif isinstance(server.daemon, davical.DavicalDaemon):
        server.daemon.forget_sync_tokens(server.collection)  # as its pruning of week-old tokens does
    else:
        _replace_token(twin, "data:,1-1")  # a token of another mailbox generation (UIDVALIDITY 1)


def test_a_forgotten_sync_token_loses_no_deletion(twin: Twin) -> None:
    twin.put("alice", alice())
    twin.put("bob", bob())
    twin.sync()
    twin.delete("bob")
    _make_the_server_forget_its_tokens(twin)

    report = twin.sync(NOW + HOUR)

    assert report.outcome is Outcome.UPDATED
    [record] = twin.history()
    assert (record.change.kind, record.change.client, record.change.uid) == (
        ChangeKind.CANCELLED,
        "Bob Builder",
        "bob-1",
    )
    assert twin.sync(NOW + 2 * HOUR).outcome is Outcome.UNCHANGED
    assert len(twin.history()) == 1


def test_a_token_the_server_does_not_know_lists_everything_and_records_no_phantom_change(counted_twin: Twin) -> None:
    for n in range(5):
        counted_twin.put(f"s{n}", alice(f"session-{n}", DEC_10 + n * 3 * HOUR))
    counted_twin.sync()
    _replace_token(counted_twin, _unknown_token(counted_twin.server))

    report = counted_twin.sync(NOW + HOUR)

    statuses = [(e.method, e.status) for e in counted_twin.server.exchanges]
    assert statuses == [("REPORT", _rejected(counted_twin.server)), ("REPORT", 207)]  # a listing; nothing downloaded
    assert (report.outcome, counted_twin.history()) == (Outcome.UNCHANGED, [])
    assert counted_twin.sync(NOW + 2 * HOUR).outcome is Outcome.UNCHANGED
    assert len(counted_twin.server.exchanges) == 1  # back to incremental sync


def test_sync_state_lost_on_the_server_downloads_only_what_changed(counted_twin: Twin) -> None:
    for n in range(5):
        counted_twin.put(f"s{n}", alice(f"session-{n}", DEC_10 + n * 3 * HOUR))
    counted_twin.sync()
    if counted_twin.server.kind == "radicale":
        counted_twin.server.reset_sync_state()  # its token files removed from disk
    else:
        _replace_token(
            counted_twin, _unknown_token(counted_twin.server)
        )  # Xandikos derives tokens from git; none to remove
    counted_twin.put("s2", alice("session-2", DEC_10 + 6 * HOUR + HOUR))

    counted_twin.sync(NOW + HOUR)

    statuses = [(e.method, e.status) for e in counted_twin.server.exchanges]
    assert statuses == [("REPORT", _rejected(counted_twin.server)), ("REPORT", 207), ("REPORT", 207)]
    [multiget] = multigets(counted_twin.server)
    assert multiget.body.count(b"<D:href>") == 1 and b"/s2.ics</D:href>" in multiget.body
    assert [(r.change.kind, r.change.uid) for r in counted_twin.history()] == [(ChangeKind.MOVED, "session-2")]


_TOKEN = re.compile(rb"<D:sync-token>[^<]*</D:sync-token>")


def _answer_tokens_with_the_whole_calendar(server: CaldavServer) -> Fault:
    """What DAViCal does with a token it has forgotten: 207 with every resource, as if asked without a token."""

    def fault(environ: dict, body: bytes) -> tuple[str, list[tuple[str, str]], bytes] | None:
        if environ["REQUEST_METHOD"] != "REPORT" or b"sync-collection" not in body:
            return None
        status, headers, answer = server.middleware.forward(environ, _TOKEN.sub(b"<D:sync-token></D:sync-token>", body))
        return status, headers, _without_deleted(answer)

    return fault


def _without_deleted(multistatus: bytes) -> bytes:
    """DAViCal's full listing names only what exists; Radicale's also names what it remembers deleting."""
    tree = etree.fromstring(multistatus)
    for response in tree.findall("{DAV:}response"):
        if "404" in (response.findtext("{DAV:}status") or ""):
            tree.remove(response)
    return bytes(etree.tostring(tree, xml_declaration=True, encoding="utf-8"))


def test_a_token_answered_with_the_whole_calendar_loses_no_deletion(counted_twin: Twin) -> None:
    counted_twin.put("alice", alice())
    counted_twin.put("bob", bob())
    counted_twin.sync()
    counted_twin.delete("bob")
    counted_twin.server.middleware.fault = _answer_tokens_with_the_whole_calendar(counted_twin.server)

    report = counted_twin.sync(NOW + HOUR)

    assert report.outcome is Outcome.UPDATED
    # the answer named alice unchanged: listed again without a token, trusted whole, nothing downloaded
    assert [b"<D:sync-token></D:sync-token>" in e.body for e in counted_twin.server.exchanges] == [False, True]
    [record] = counted_twin.history()
    assert (record.change.kind, record.change.uid) == (ChangeKind.CANCELLED, "bob-1")
    assert counted_twin.sync(NOW + 2 * HOUR).outcome is Outcome.UNCHANGED
    assert len(counted_twin.history()) == 1


def _answer_tokens_with_no_change(environ: dict, body: bytes) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """A server that silently lost a change: every token is answered with that same token and nothing else."""
    if environ["REQUEST_METHOD"] != "REPORT" or b"sync-collection" not in body:
        return None
    token = _TOKEN.search(body)
    if token is None or token.group(0) == b"<D:sync-token></D:sync-token>":
        return None
    return (
        "207 Multi-Status",
        [("Content-Type", "application/xml; charset=utf-8")],
        b'<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:">' + token.group(0) + b"</D:multistatus>",
    )


def test_a_deletion_the_server_never_reports_is_found_by_the_daily_full_listing(counted_twin: Twin) -> None:
    start = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=True):
        counted_twin.put("alice", alice())
        counted_twin.put("bob", bob())
        counted_twin.sync()
        counted_twin.delete("bob")
        counted_twin.server.middleware.fault = _answer_tokens_with_no_change
    with time_machine.travel(start + 23 * HOUR, tick=True):
        assert counted_twin.sync(NOW + HOUR).outcome is Outcome.UNCHANGED
        assert counted_twin.dav.store.history.records() == []

    with time_machine.travel(start + 24 * HOUR + 60 * SECOND, tick=True):
        report = counted_twin.sync(NOW + 2 * HOUR)

    assert report.outcome is Outcome.UPDATED
    [sync] = [e for e in counted_twin.server.exchanges if b"sync-collection" in e.body]
    assert b"<D:sync-token></D:sync-token>" in sync.body  # asked for the whole calendar
    [record] = counted_twin.dav.store.history.records()  # a pass later than the file, which said so at once
    assert (record.change.kind, record.change.uid, record.detected_at) == (
        ChangeKind.CANCELLED,
        "bob-1",
        NOW + 2 * HOUR,
    )


def test_full_listing_hours_sets_how_often_the_calendar_is_listed_whole(
    radicale: CaldavServer, tmp_path: Path, caldav_app: CaldavApp
) -> None:
    radicale.put("a.ics", resource(alice()))
    start = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    app = caldav_app(tmp_path, radicale, full_listing_hours=2)
    syncs: list[bool] = []
    for hours in (0, 1, 3, 4, 5.5):
        with time_machine.travel(start + hours * HOUR, tick=True):
            radicale.exchanges.clear()
            app.sync_calendar("coaching", NOW + hours * HOUR)
            [sync] = [e for e in radicale.exchanges if b"sync-collection" in e.body]
            syncs.append(b"<D:sync-token></D:sync-token>" in sync.body)

    assert syncs == [True, False, True, False, True]  # whole at 0 h, 3 h, 5.5 h: two hours after the last
    assert app.store.history.records() == []


def _refuse_sync_collection(environ: dict, body: bytes) -> tuple[str, list[tuple[str, str]], bytes] | None:
    if environ["REQUEST_METHOD"] == "REPORT" and b"sync-collection" in body:
        return "501 Not Implemented", [("Content-Type", "text/plain")], b"no sync here"
    return None


def test_a_server_without_sync_support_is_listed_with_propfind(counted_twin: Twin) -> None:
    counted_twin.server.middleware.fault = _refuse_sync_collection
    counted_twin.put("alice", alice())
    counted_twin.put("bob", bob())
    assert counted_twin.sync().outcome is Outcome.BASELINE

    idle = counted_twin.sync(NOW + HOUR)
    assert (idle.outcome, [(e.method, e.status) for e in counted_twin.server.exchanges]) == (
        Outcome.UNCHANGED,
        [("PROPFIND", 207)],
    )

    counted_twin.put("alice", alice(start=DEC_11))
    counted_twin.sync(NOW + 2 * HOUR)
    assert [e.method for e in counted_twin.server.exchanges] == ["PROPFIND", "REPORT"]
    assert [r.change.kind for r in counted_twin.history()] == [ChangeKind.MOVED]


def test_server_down_mid_run_records_nothing_then_recovers(twin: Twin) -> None:
    twin.put("alice", alice())
    twin.sync()
    before = twin.dav.store.snapshots.state("coaching")
    twin.server.stop()

    assert failure(twin.dav, NOW + HOUR) == (
        f"{origin(twin.server)}: refused the connection; check the host and port, and that the server is running"
    )
    assert twin.dav.store.snapshots.state("coaching") == before

    twin.server.start()
    twin.put("alice", alice(start=DEC_11))
    twin.sync(NOW + 2 * HOUR)
    assert [r.change.kind for r in twin.history()] == [ChangeKind.MOVED]


def _answer(status: str, body: bytes, content_type: str = "text/html") -> Fault:
    def fault(environ: dict, request_body: bytes) -> tuple[str, list[tuple[str, str]], bytes] | None:
        if environ["REQUEST_METHOD"] == "REPORT":
            return status, [("Content-Type", content_type)], body
        return None

    return fault


_CUT_MULTISTATUS = (
    b'<?xml version="1.0"?><D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
    b'<D:response><D:href>/x/a.ics</D:href><D:propstat><D:prop><D:getetag>"1"</D:getetag>'
)


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        (
            _answer("503 Service Unavailable", b"<html>down</html>"),
            "answered HTTP 503 to a sync-collection REPORT; the server has a problem; try again later",
        ),
        (
            _answer("207 Multi-Status", b"<!DOCTYPE html><html><body>Sign in</body></html>"),
            "got something other than a WebDAV multistatus (an HTML page?); check caldav.url and any proxy in between",
        ),
        (
            _answer("207 Multi-Status", _CUT_MULTISTATUS, "application/xml"),
            "the server's answer was cut short or is not valid XML; try again later",
        ),
    ],
    ids=["503", "html-page", "truncated-xml"],
)
def test_a_bad_answer_records_nothing(
    radicale: CaldavServer, tmp_path: Path, caldav_app: CaldavApp, fault: Fault, problem: str
) -> None:
    radicale.put("a.ics", resource(alice()))
    app = caldav_app(tmp_path, radicale)
    app.sync_calendar("coaching", NOW)
    before = app.store.snapshots.state("coaching")
    radicale.put("a.ics", resource(alice(start=DEC_11)))
    radicale.middleware.fault = fault

    assert failure(app, NOW + HOUR) == f"{origin(radicale)}: {problem}"
    assert (app.store.snapshots.state("coaching"), app.store.history.records()) == (before, [])

    radicale.middleware.fault = None
    app.sync_calendar("coaching", NOW + 2 * HOUR)
    assert [r.change.kind for r in app.store.history.records()] == [ChangeKind.MOVED]


def test_an_event_that_is_not_a_whole_calendar_records_nothing(
    radicale: CaldavServer, tmp_path: Path, caldav_app: CaldavApp
) -> None:
    radicale.put("a.ics", resource(alice()))
    app = caldav_app(tmp_path, radicale)
    app.sync_calendar("coaching", NOW)
    radicale.put("a.ics", resource(alice(start=DEC_11)))

    def cut_calendar_data(environ: dict, body: bytes) -> tuple[str, list[tuple[str, str]], bytes] | None:
        if b"calendar-multiget" not in body:
            return None
        href = f"{radicale.collection}a.ics".encode()
        return (
            "207 Multi-Status",
            [("Content-Type", "application/xml")],
            b'<?xml version="1.0"?><D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            b"<D:response><D:href>" + href + b'</D:href><D:propstat><D:prop><D:getetag>"2"</D:getetag>'
            b"<C:calendar-data>BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:alice-1\n</C:calendar-data></D:prop>"
            b"<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>",
        )

    radicale.middleware.fault = cut_calendar_data

    assert failure(app, NOW + HOUR) == (
        f"{origin(radicale)}, event a.ics: calendar is cut off: no END:VCALENDAR at the end; "
        "was the file still being written?"
    )
    assert app.store.history.records() == []


def test_a_slow_server_times_out(radicale: CaldavServer, tmp_path: Path, caldav_app: CaldavApp) -> None:
    app = caldav_app(tmp_path, radicale, timeout=0.3)
    app.sync_calendar("coaching", NOW)

    def slow(environ: dict, body: bytes) -> None:
        time.sleep(1.0)
        return None

    radicale.middleware.fault = slow

    assert failure(app, NOW + HOUR) == (
        f"{origin(radicale)}: did not answer within 0.3 s; check the URL and the network, or raise the timeout"
    )


# --- credentials -----------------------------------------------------------------------------------


def test_a_wrong_password_says_where_the_password_came_from(
    server_with_login: AnyServer, tmp_path: Path, caldav_app: CaldavApp
) -> None:
    app = caldav_app(tmp_path, server_with_login)
    (tmp_path / "password").write_text("not the password\n", encoding="utf-8")

    message = failure(app)

    assert message == (
        f'{origin(server_with_login)}: the server refused the login of user "{server_with_login.username}" '
        "(HTTP 401); check caldav.username and the password printed by caldav.password_command"
    )

    (tmp_path / "password").write_text(PASSWORD + "\n", encoding="utf-8")  # fixed without a restart
    assert app.sync_calendar("coaching", NOW).outcome is Outcome.BASELINE


def test_a_missing_password_says_how_to_give_one(radicale: CaldavServer, tmp_path: Path, open_app: OpenApp) -> None:
    config = write_config(tmp_path, radicale)
    config.write_text(config.read_text().replace(f"      password_command: cat {tmp_path / 'password'}\n", ""))
    app = open_app(config)

    assert failure(app) == (
        f'{origin(radicale)}: the server refused the login of user "coach" (HTTP 401); check caldav.username and '
        f"the password: none is configured (set caldav.password_command, ${PASSWORD_ENV} or the systemd "
        "credential caldav-password)"
    )


def test_the_password_never_reaches_the_database_or_the_logs(
    radicale: CaldavServer, tmp_path: Path, caldav_app: CaldavApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    radicale.put("a.ics", resource(alice()))
    app = caldav_app(tmp_path, radicale)
    app.sync_calendar("coaching", NOW)
    radicale.put("a.ics", resource(alice(start=DEC_11)))
    app.sync_calendar("coaching", NOW + HOUR)
    app.store.close()

    assert [r.change.kind for r in Store(app.config.database).history.records()] == [ChangeKind.MOVED]
    secret = PASSWORD.encode()
    files = sorted(p for p in (tmp_path / "state").iterdir())
    assert [p.name for p in files if secret in p.read_bytes()] == []
    assert len(caplog.records) > 0
    assert [r.getMessage() for r in caplog.records if PASSWORD in r.getMessage()] == []


# --- the resources in their own rows --------------------------------------------------------------


def _dump(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to compare a database's whole state before and after."""
    with sqlite3.connect(database) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {table: sorted(db.execute(f'SELECT * FROM "{table}"'), key=repr) for table in tables}


def test_a_crash_between_two_resource_rows_leaves_the_old_state_whole(counted_twin: Twin) -> None:
    counted_twin.put("alice", alice())
    counted_twin.put("bob", bob())
    counted_twin.sync()
    counted_twin.put("alice", alice(start=DEC_10 + 2 * HOUR))
    counted_twin.delete("bob")
    database = counted_twin.dav.config.database
    before = _dump(database)
    with sqlite3.connect(database) as db:  # the process dies as the second row of the pass is written
        db.execute(
            "CREATE TRIGGER crash BEFORE DELETE ON caldav_resources WHEN OLD.href LIKE '%/bob.ics'"
            " BEGIN SELECT RAISE(ABORT, 'crash'); END"
        )

    with pytest.raises(sqlite3.IntegrityError, match="crash"):
        counted_twin.dav.sync_calendar("coaching", NOW + HOUR)

    with sqlite3.connect(database) as db:
        db.execute("DROP TRIGGER crash")
    after = _dump(database)
    failed_at = (NOW + HOUR).isoformat()  # only the failed pass is noted, for the digest; the state is the old one
    assert after.pop("calendar_failures") == [("coaching", failed_at, failed_at, "unexpected IntegrityError")]
    assert before.pop("calendar_failures") == []
    assert after == before
    counted_twin.sync(NOW + 2 * HOUR)
    assert [(r.change.kind, r.change.uid) for r in counted_twin.history()] == [
        (ChangeKind.MOVED, "alice-1"),
        (ChangeKind.CANCELLED, "bob-1"),
    ]


def test_a_length_changing_edit_rewrites_one_resource_row(counted_twin: Twin) -> None:
    for n in range(5):
        counted_twin.put(f"s{n}", alice(f"session-{n}", DEC_10 + n * 3 * HOUR))
    counted_twin.sync()
    database = counted_twin.dav.config.database
    with sqlite3.connect(database) as db:
        before = dict(db.execute("SELECT href, events FROM caldav_resources"))
    retitled = session("session-2", DEC_10 + 6 * HOUR, summary="Coaching with a longer title")
    counted_twin.put("s2", retitled)

    counted_twin.sync(NOW + HOUR)

    with sqlite3.connect(database) as db:
        after = dict(db.execute("SELECT href, events FROM caldav_resources"))
        (state,) = db.execute("SELECT sync_state FROM calendars").fetchone()
    assert [href for href in after if after[href] != before[href]] == [counted_twin.server.collection + "s2.ics"]
    assert "with a longer title" in after[counted_twin.server.collection + "s2.ics"]
    assert sorted(json.loads(state)) == ["collection", "format", "listed_at", "listing", "sync_token"]
    assert counted_twin.history() == []  # a new title is no reschedule


# The schema version of the release before the resource rows.
_BEFORE_RESOURCE_ROWS = next(n for n, sql in enumerate(MIGRATIONS) if "CREATE TABLE caldav_resources" in sql)


def _as_before_resource_rows(database: Path) -> None:
    """Turn a database into what the release before the resource rows wrote: a JSON cache in the sync state."""
    with sqlite3.connect(database) as db:
        resources = {
            href: [etag, events, zones.split()]
            for href, etag, events, zones in db.execute("SELECT href, etag, events, zones FROM caldav_resources")
        }
        zones = {
            digest: [tzid, body] for digest, tzid, body in db.execute("SELECT digest, tzid, body FROM caldav_zones")
        }
        (raw,) = db.execute("SELECT sync_state FROM calendars WHERE name = 'coaching'").fetchone()
        state = {**json.loads(raw), "format": "1"}
        state["cache"] = json.dumps({"resources": resources, "zones": zones}, separators=(",", ":"))
        db.execute("UPDATE calendars SET sync_state = ? WHERE name = 'coaching'", (json.dumps(state),))
        for table in ("caldav_resources", "caldav_resource_uids", "caldav_resource_zones", "caldav_zones"):
            db.execute(f"DROP TABLE {table}")
        db.execute("DROP TABLE caldav_header")
        db.execute("DROP INDEX occurrences_tombstones")
        db.execute("DROP INDEX occurrences_upcoming")
        db.execute("DROP TABLE daily_runs")  # made by a later migration, which runs again after these
        db.execute("DROP TABLE suggestion_dismissals")  # the same
        db.execute("DROP TABLE outbox_edits")  # the same
        db.execute("ALTER TABLE excuses DROP COLUMN taken_back")  # the same
        for table in ("outbox_attachments", "digest_weeks", "calendar_failures"):  # the same
            db.execute(f"DROP TABLE {table}")
        db.execute(f"PRAGMA user_version = {_BEFORE_RESOURCE_ROWS}")


def test_a_database_of_the_previous_release_lists_once_and_records_nothing(
    counted_twin: Twin, caldav_app: CaldavApp, tmp_path: Path
) -> None:
    counted_twin.put("carmen", weekly())
    counted_twin.put("alice", alice())
    counted_twin.put("bob", bob())
    counted_twin.sync()
    counted_twin.dav.store.close()
    _as_before_resource_rows(counted_twin.dav.config.database)
    counted_twin.dav = caldav_app(tmp_path / "dav", counted_twin.server)  # the new release, on the old database

    report = counted_twin.sync(NOW + HOUR)

    assert counted_twin.dav.store.schema_version == SCHEMA_VERSION
    assert (report.outcome, counted_twin.history()) == (Outcome.UNCHANGED, [])
    [multiget] = multigets(counted_twin.server)  # the cache is rebuilt with one whole listing
    assert multiget.body.count(b"<D:href>") == 3
    with sqlite3.connect(counted_twin.dav.config.database) as db:
        (raw,) = db.execute("SELECT sync_state FROM calendars WHERE name = 'coaching'").fetchone()
        assert db.execute("SELECT count(*) FROM caldav_resources").fetchone() == (3,)
    assert "cache" not in json.loads(raw)
    counted_twin.put("bob", bob(start=DEC_11 + 2 * HOUR))
    counted_twin.sync(NOW + 2 * HOUR)
    assert [(r.change.kind, r.change.uid) for r in counted_twin.history()] == [(ChangeKind.MOVED, "bob-1")]


def test_a_delta_that_cancels_half_the_sessions_is_refused_and_writes_nothing(counted_twin: Twin) -> None:
    for n in range(6):
        counted_twin.put(f"s{n}", alice(f"session-{n}", DEC_10 + n * 3 * HOUR))
    counted_twin.sync()
    for n in range(3):
        counted_twin.delete(f"s{n}")
    database = counted_twin.dav.config.database
    before = _dump(database)

    with pytest.raises(MassChangeError, match="cancel 3 of 6 upcoming sessions"):
        counted_twin.dav.sync_calendar("coaching", NOW + HOUR)

    after = _dump(database)
    [(calendar, *_, error)] = after.pop("calendar_failures")  # the refusal is noted for the digest, nothing else
    assert (calendar, error.startswith("coaching: this pass would cancel 3 of 6")) == ("coaching", True)
    assert after == {key: rows for key, rows in before.items() if key != "calendar_failures"}
    report = counted_twin.dav.sync_calendar("coaching", NOW + HOUR, accept_mass_change=True)
    counted_twin.ics.sync_calendar("coaching", NOW + HOUR, accept_mass_change=True)
    assert [c.kind for c in report.changes] == [ChangeKind.CANCELLED] * 3
    assert [(r.change.kind, r.change.uid) for r in counted_twin.history()] == [
        (ChangeKind.CANCELLED, f"session-{n}") for n in range(3)
    ]
