"""A calendar whose pass fails is marked failing, since its first failure in a row, with the last error's
line and never a secret; its next good pass clears it, and a good idle poll writes nothing."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from coachsync.model import CalendarFailure
from coachsync.store import Store

from support.cli import cli, invoke
from support.http_calendar import FakeCalendarServer, Route
from support.ical import session
from support.scenario import NOW, Coach, OpenApp

HOUR = timedelta(hours=1)
CUT_OFF = (
    'calendar "coaching" ({path}): calendar is cut off: no END:VCALENDAR at the end; was the file still being written?'
)


def failures(database: Path) -> list[CalendarFailure]:
    with Store(database) as store:
        return store.calendar_failures.all()


def test_failing_passes_keep_the_first_failure_and_the_last_error_until_a_good_pass(tmp_path: Path) -> None:
    coach = Coach(tmp_path)
    coach.write(session("a1", NOW + 48 * HOUR))
    assert cli(coach, "sync", at=NOW).exit_code == 0
    coach.write_raw("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")

    cli(coach, "sync", at=NOW + HOUR)
    cli(coach, "sync", at=NOW + 2 * HOUR)

    error = CUT_OFF.format(path=coach.calendar)
    assert failures(coach.database) == [CalendarFailure("coaching", NOW + HOUR, NOW + 2 * HOUR, error)]

    coach.write(session("a1", NOW + 48 * HOUR))
    assert cli(coach, "sync", at=NOW + 3 * HOUR).exit_code == 0
    assert failures(coach.database) == []


def test_a_good_idle_poll_writes_nothing(tmp_path: Path, open_app: OpenApp) -> None:
    coach = Coach(tmp_path)
    coach.write(session("a1", NOW + 48 * HOUR))
    app = open_app(coach)
    app.sync_calendar("coaching", NOW)
    statements: list[str] = []
    app.store._db.connection.set_trace_callback(statements.append)

    app.sync_calendar("coaching", NOW + HOUR)

    assert statements  # the pass did read the store
    assert [s for s in statements if s.split()[0].upper() not in ("SELECT", "WITH")] == []


def test_a_url_calendar_that_fails_is_recorded_without_its_password(tmp_path: Path, server: FakeCalendarServer) -> None:
    server.routes["/cal.ics"] = Route(status=503, body=b"down for maintenance")
    url = server.url("/cal.ics", userinfo="coach:s3cret-token@")
    config = tmp_path / "config.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            database: state/coachsync.db
            timezone: Europe/Berlin
            calendars:
              - name: booking
                ics_url: {url}
            """
        ),
        encoding="utf-8",
    )
    result = invoke("--config", str(config), "sync", at=NOW)

    [failure] = failures(tmp_path / "state" / "coachsync.db")
    assert (failure.calendar, failure.since) == ("booking", NOW)
    assert failure.error in result.stderr
    assert "503" in failure.error and "127.0.0.1" in failure.error
    assert "s3cret-token" not in failure.error and "coach:" not in failure.error
    with Store(tmp_path / "state" / "coachsync.db") as store:
        dump = "\n".join(store._db.connection.iterdump())
    assert "s3cret-token" not in dump


def test_an_unexpected_error_is_recorded_by_its_kind_alone(tmp_path: Path, open_app: OpenApp) -> None:
    coach = Coach(tmp_path)
    coach.write(session("a1", NOW + 48 * HOUR))
    app = open_app(coach)

    def broken(*_: object) -> None:
        raise KeyError("/home/coach/private notes")

    app.sources["coaching"].fetch = broken  # type: ignore[method-assign]
    with pytest.raises(KeyError):
        app.sync_calendar("coaching", NOW)

    assert app.store.calendar_failures.all() == [CalendarFailure("coaching", NOW, NOW, "unexpected KeyError")]
