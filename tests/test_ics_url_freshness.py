"""An ICS URL whose server says how long its calendar stays fresh is not downloaded again before then.

A feed without ETag or Last-Modified is downloaded whole on every poll; when its server
sends Cache-Control: max-age or Expires, coachsync waits that long (a day at most).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import time_machine

from coachsync.sources import IcsUrlSource
from coachsync.sources.ics_url import MAX_FRESH_SECONDS, has_validators

from support.cli import cli
from support.http_calendar import CALENDAR, FakeCalendarServer, Route
from support.scenario import NOW, Coach

START = 1_800_000_000  # a moment on the frozen clock, in seconds since the epoch
TEXT = {"Content-Type": "text/calendar; charset=utf-8"}


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False  # a proxy from the environment must not stand between us and 127.0.0.1
        yield s


def _source(server: FakeCalendarServer, http: requests.Session) -> IcsUrlSource:
    return IcsUrlSource("coaching", server.url("/cal.ics"), timeout=5.0, session=http)


def _requests(server: FakeCalendarServer) -> int:
    return sum(1 for seen in server.seen if seen.path == "/cal.ics")


def test_max_age_keeps_the_copy_until_it_is_stale(server: FakeCalendarServer, http: requests.Session) -> None:
    server.routes["/cal.ics"] = Route(headers={**TEXT, "Cache-Control": "public, max-age=3600", "Age": "600"})
    source = _source(server, http)
    with time_machine.travel(START, tick=False) as clock:
        first = source.fetch({})
        clock.shift(3000 - 1)
        fresh = source.fetch(first.state)
        clock.shift(1)
        stale = source.fetch(fresh.state)

    assert dict(first.state) == {"fresh_until": str(START + 3000)}  # max-age less the Age it already had
    assert (fresh.text, fresh.state) == (None, first.state)
    assert stale.text == CALENDAR
    assert _requests(server) == 2


def test_expires_is_read_against_the_servers_date(server: FakeCalendarServer, http: requests.Session) -> None:
    headers = {**TEXT, "Date": "Fri, 15 Jan 2027 08:00:00 GMT", "Expires": "Fri, 15 Jan 2027 08:30:00 GMT"}
    server.routes["/cal.ics"] = Route(headers=headers)
    with time_machine.travel(START, tick=False):
        fetched = _source(server, http).fetch({})

    assert dict(fetched.state) == {"fresh_until": str(START + 1800)}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Cache-Control": "no-cache, max-age=3600"},
        {"Cache-Control": "max-age=0"},
        {"Expires": "0"},
        {"Date": "Fri, 15 Jan 2027 08:00:00 GMT", "Expires": "Fri, 15 Jan 2027 07:00:00 GMT"},
    ],
    ids=["nothing", "no-cache", "max-age-0", "invalid-expires", "expires-in-the-past"],
)
def test_a_copy_the_server_does_not_call_fresh_is_asked_for_on_every_poll(
    server: FakeCalendarServer, http: requests.Session, headers: dict[str, str]
) -> None:
    server.routes["/cal.ics"] = Route(headers={**TEXT, **headers})
    source = _source(server, http)
    with time_machine.travel(START, tick=False):
        first = source.fetch({})
        second = source.fetch(first.state)

    assert (dict(first.state), second.text, _requests(server)) == ({}, CALENDAR, 2)
    assert not has_validators(first.state)


def test_freshness_is_capped_at_a_day(server: FakeCalendarServer, http: requests.Session) -> None:
    server.routes["/cal.ics"] = Route(headers={**TEXT, "Cache-Control": "max-age=31536000"}, etag='"v1"')
    source = _source(server, http)
    with time_machine.travel(START, tick=False) as clock:
        first = source.fetch({})
        clock.shift(MAX_FRESH_SECONDS)
        again = source.fetch(first.state)

    assert dict(first.state) == {"etag": '"v1"', "fresh_until": str(START + MAX_FRESH_SECONDS)}
    assert has_validators(first.state)
    assert again.text is None and _requests(server) == 2  # asked again after a day: a 304


def test_a_clock_set_back_asks_again(server: FakeCalendarServer, http: requests.Session) -> None:
    server.routes["/cal.ics"] = Route(headers={**TEXT, "Cache-Control": "max-age=3600"})
    source = _source(server, http)
    with time_machine.travel(START, tick=False) as clock:
        first = source.fetch({})
        clock.shift(-2 * MAX_FRESH_SECONDS)
        source.fetch(first.state)

    assert _requests(server) == 2


# --- what `coachsync check` says about such a feed ------------------------------------------------


@pytest.mark.parametrize(
    ("route", "noted"),
    [
        (Route(), True),
        (Route(etag='"v1"'), False),
        (Route(headers={**TEXT, "Last-Modified": "Wed, 21 Oct 2015 07:28:00 GMT"}), False),
        (Route(headers={**TEXT, "Cache-Control": "max-age=900"}), False),
    ],
    ids=["no-validators", "etag", "last-modified", "max-age"],
)
def test_check_notes_a_feed_that_is_downloaded_whole_on_every_poll(
    tmp_path: Path, server: FakeCalendarServer, route: Route, noted: bool
) -> None:
    server.routes["/cal.ics"] = route
    coach = Coach(tmp_path)
    coach.write()
    text = coach.config_path.read_text()
    coach.config_path.write_text(
        text.replace("calendars:\n", f"calendars:\n  - name: booking\n    ics_url: {server.url('/cal.ics')}\n")
    )

    result = cli(coach, "check", at=NOW)

    assert result.exit_code == 0, result.output
    size = len(CALENDAR.encode()) / 1024 / 1024
    note = (
        "  note: the server sends no ETag, Last-Modified or Cache-Control: max-age, so every poll downloads the"
        f" whole calendar ({size:.1f} MB); a longer poll_interval for this calendar costs less"
    )
    [booking] = [n for n, line in enumerate(result.output.splitlines()) if line.startswith("calendar booking: ok")]
    following = result.output.splitlines()[booking + 1]
    assert (following == note) is noted
