"""End to end over real files and a real SQLite database: what a coach sees after each pass."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from coachsync.app import App, PassFailure
from coachsync.errors import MassChangeError, SourceError
from coachsync.model import ChangeKind
from coachsync.sync import Outcome

from support.http_calendar import FakeCalendarServer, Route
from support.ical import HOUR, session, vcalendar, vevent
from support.scenario import CLIENTS_YAML, NOW, Coach, OpenApp

BERLIN = ZoneInfo("Europe/Berlin")
DEC_10 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
DEC_11 = datetime(2026, 12, 11, 9, 0, tzinfo=UTC)


def alice(uid: str = "alice-1", start: datetime = DEC_10, **kwargs) -> str:
    return session(uid, start, **kwargs)


def kinds(app: App) -> list[str]:
    return [record.change.kind.value for record in app.store.history.records()]


def test_first_pass_is_a_baseline_not_a_change(coach: Coach, app: App) -> None:
    coach.write(alice(), vevent("bob-1", DEC_11, DEC_11 + HOUR, attendees=("bob@example.com",)))

    report = app.sync_calendar("coaching", NOW)

    assert (report.outcome, report.events, report.changes) == (Outcome.BASELINE, 2, ())
    assert app.store.history.records() == []


def test_a_pass_with_no_change_adds_nothing(coach: Coach, app: App) -> None:
    coach.write(alice())
    app.sync_calendar("coaching", NOW)
    coach.write(alice(start=DEC_11))
    app.sync_calendar("coaching", NOW)

    again = app.sync_calendar("coaching", NOW + HOUR)
    coach.write(alice(start=DEC_11))  # rewritten, same content
    once_more = app.sync_calendar("coaching", NOW + 2 * HOUR)

    assert (again.outcome, once_more.outcome) == (Outcome.UNCHANGED, Outcome.UNCHANGED)
    assert kinds(app) == ["moved"]


def test_moved_session_is_recorded_with_its_notice(coach: Coach, app: App) -> None:
    coach.write(alice())
    app.sync_calendar("coaching", NOW)
    coach.write(alice(start=DEC_11))

    report = app.sync_calendar("coaching", NOW)

    [record] = app.store.history.records()
    change = record.change
    assert report.change_ids == (record.id,)
    assert (change.kind, change.client, change.uid, change.recurrence_id) == (
        ChangeKind.MOVED,
        "Alice Example",
        "alice-1",
        "",
    )
    assert (change.old_start, change.new_start) == (DEC_10, DEC_11)
    assert change.notice_hours == (DEC_10 - NOW) / HOUR == 213.0
    assert (record.detected_at, record.excused, record.reason) == (NOW, False, None)


def test_notice_is_measured_from_last_modified_when_it_is_recent(coach: Coach, app: App) -> None:
    coach.write(alice())
    app.sync_calendar("coaching", NOW)
    edited = NOW + 2 * HOUR
    coach.write(alice(start=DEC_11, extra=(f"LAST-MODIFIED:{edited.strftime('%Y%m%dT%H%M%SZ')}",)))

    app.sync_calendar("coaching", NOW + 5 * HOUR)

    [record] = app.store.history.records()
    assert record.change.changed_at == edited
    assert record.change.notice_hours == (DEC_10 - edited) / HOUR


def test_cancelled_session_by_deletion_and_by_status(coach: Coach, app: App) -> None:
    coach.write(alice(), alice("alice-2", DEC_11), vevent("x", DEC_10, DEC_10 + HOUR, summary="Admin"))
    app.sync_calendar("coaching", NOW)
    coach.write(
        alice("alice-2", DEC_11, extra=("STATUS:CANCELLED",)), vevent("x", DEC_10, DEC_10 + HOUR, summary="Admin")
    )

    app.sync_calendar("coaching", NOW)

    records = app.store.history.records()
    assert [(r.change.kind, r.change.uid, r.change.new_start) for r in records] == [
        (ChangeKind.CANCELLED, "alice-1", None),
        (ChangeKind.CANCELLED, "alice-2", None),
    ]


def test_cancelled_then_restored(coach: Coach, app: App) -> None:
    coach.write(alice())
    app.sync_calendar("coaching", NOW)
    coach.write(alice(extra=("STATUS:CANCELLED",)))
    app.sync_calendar("coaching", NOW)
    coach.write(alice())

    app.sync_calendar("coaching", NOW + HOUR)

    assert kinds(app) == ["cancelled", "restored"]


def test_deleted_session_that_comes_back_is_restored(coach: Coach, app: App) -> None:
    coach.write(alice(), alice("alice-2", DEC_11))
    app.sync_calendar("coaching", NOW)
    coach.write(alice())
    app.sync_calendar("coaching", NOW)
    coach.write(alice(), alice("alice-2", DEC_11))

    app.sync_calendar("coaching", NOW + HOUR)

    assert [(k.change.kind.value, k.change.uid) for k in app.store.history.records()] == [
        ("cancelled", "alice-2"),
        ("restored", "alice-2"),
    ]


def weekly(uid: str, first: str, *extra: str, until: str | None = None) -> str:
    rule = "RRULE:FREQ=WEEKLY" + (f";UNTIL={until}" if until else ";COUNT=10")
    return vevent(
        uid,
        f"DTSTART;TZID=Europe/Berlin:{first}",
        f"DTEND;TZID=Europe/Berlin:{first[:9]}{int(first[9:11]) + 1:02d}{first[11:]}",
        summary="Weekly with Carmen",
        extra=(rule, *extra),
    )


def test_override_instance_of_a_weekly_series_moved(coach: Coach, app: App) -> None:
    coach.write(weekly("carmen-weekly", "20261203T100000"))
    app.sync_calendar("coaching", NOW)
    override = vevent(
        "carmen-weekly",
        "DTSTART;TZID=Europe/Berlin:20261211T150000",
        "DTEND;TZID=Europe/Berlin:20261211T160000",
        summary="Weekly with Carmen",
        extra=("RECURRENCE-ID;TZID=Europe/Berlin:20261210T100000", "SEQUENCE:1"),
    )
    coach.write(weekly("carmen-weekly", "20261203T100000"), override)

    app.sync_calendar("coaching", NOW)

    [record] = app.store.history.records()
    change = record.change
    assert (change.kind, change.client, change.recurrence_id) == (
        ChangeKind.MOVED,
        "Carmen Diaz",
        "2026-12-10T09:00:00+00:00",
    )
    assert (change.old_start, change.new_start) == (
        datetime(2026, 12, 10, 10, 0, tzinfo=BERLIN),
        datetime(2026, 12, 11, 15, 0, tzinfo=BERLIN),
    )


def test_exdate_on_a_series_is_a_cancellation_of_that_instance(coach: Coach, app: App) -> None:
    coach.write(weekly("carmen-weekly", "20261203T100000"))
    app.sync_calendar("coaching", NOW)
    coach.write(weekly("carmen-weekly", "20261203T100000", "EXDATE;TZID=Europe/Berlin:20261217T100000"))

    app.sync_calendar("coaching", NOW)

    [record] = app.store.history.records()
    assert (record.change.kind, record.change.recurrence_id) == (ChangeKind.CANCELLED, "2026-12-17T09:00:00+00:00")


def test_series_shifted_as_a_whole_is_one_record(coach: Coach, app: App) -> None:
    coach.write(weekly("carmen-weekly", "20261203T100000"))
    app.sync_calendar("coaching", NOW)
    coach.write(weekly("carmen-weekly", "20261204T140000"))

    app.sync_calendar("coaching", NOW)

    [record] = app.store.history.records()
    change = record.change
    assert (change.kind, change.recurrence_id, change.client) == (ChangeKind.SERIES_MOVED, "", "Carmen Diaz")
    assert (change.old_start, change.new_start) == (
        datetime(2026, 12, 3, 10, 0, tzinfo=BERLIN),
        datetime(2026, 12, 4, 14, 0, tzinfo=BERLIN),
    )
    assert change.instances == 10


def test_series_moved_back_to_its_old_time_is_a_second_series_move(coach: Coach, app: App) -> None:
    coach.write(weekly("carmen-weekly", "20261203T100000"))
    app.sync_calendar("coaching", NOW)
    coach.write(weekly("carmen-weekly", "20261203T113000"))
    app.sync_calendar("coaching", NOW)
    coach.write(weekly("carmen-weekly", "20261203T100000"))

    app.sync_calendar("coaching", NOW + HOUR)

    records = app.store.history.records()
    assert [(r.change.kind.value, r.change.instances) for r in records] == [("series_moved", 10), ("series_moved", 10)]
    assert (records[1].change.old_start, records[1].change.new_start) == (
        datetime(2026, 12, 3, 11, 30, tzinfo=BERLIN),
        datetime(2026, 12, 3, 10, 0, tzinfo=BERLIN),
    )


def test_google_feed_with_only_x_wr_timezone(coach: Coach, app: App) -> None:
    header = ("X-WR-TIMEZONE:America/New_York",)
    coach.write(vevent("g1", "DTSTART:20261210T090000", "DTEND:20261210T100000", summary="Alice call"), header=header)
    app.sync_calendar("coaching", NOW)
    coach.write(vevent("g1", "DTSTART:20261210T130000", "DTEND:20261210T140000", summary="Alice call"), header=header)

    app.sync_calendar("coaching", NOW)

    [record] = app.store.history.records()
    new_york = ZoneInfo("America/New_York")
    assert (record.change.client, record.change.old_start, record.change.new_start) == (
        "Alice Example",
        datetime(2026, 12, 10, 9, 0, tzinfo=new_york),
        datetime(2026, 12, 10, 13, 0, tzinfo=new_york),
    )


def test_outlook_windows_time_zone_name(coach: Coach, app: App) -> None:
    tzid = ";TZID=W. Europe Standard Time:"
    coach.write(
        vevent("o1", f"DTSTART{tzid}20261210T090000", f"DTEND{tzid}20261210T100000", attendees=("bob@example.com",))
    )
    app.sync_calendar("coaching", NOW)
    coach.write(
        vevent("o1", f"DTSTART{tzid}20261210T110000", f"DTEND{tzid}20261210T120000", attendees=("bob@example.com",))
    )

    app.sync_calendar("coaching", NOW)

    [record] = app.store.history.records()
    assert (record.change.client, record.change.old_start, record.change.new_start) == (
        "Bob Builder",
        datetime(2026, 12, 10, 8, 0, tzinfo=UTC),
        datetime(2026, 12, 10, 10, 0, tzinfo=UTC),
    )


def test_all_day_event_moved(coach: Coach, app: App) -> None:
    coach.write(vevent("day", date(2026, 12, 14), date(2026, 12, 15), summary="Intensive day with Carmen"))
    app.sync_calendar("coaching", NOW)
    coach.write(vevent("day", date(2026, 12, 16), date(2026, 12, 17), summary="Intensive day with Carmen"))

    app.sync_calendar("coaching", NOW)

    [record] = app.store.history.records()
    assert (record.change.kind, record.change.client) == (ChangeKind.MOVED, "Carmen Diaz")
    assert (record.change.old_start, record.change.new_start) == (
        datetime(2026, 12, 14, tzinfo=BERLIN),
        datetime(2026, 12, 16, tzinfo=BERLIN),
    )


def test_cancel_and_rebook_in_one_pass_is_one_rebooked_record(coach: Coach, app: App) -> None:
    coach.write(alice("calendly-1"), vevent("bob-1", DEC_11, DEC_11 + HOUR, attendees=("bob@example.com",)))
    app.sync_calendar("coaching", NOW)
    coach.write(
        alice("calendly-2", DEC_11 + 3 * HOUR), vevent("bob-1", DEC_11, DEC_11 + HOUR, attendees=("bob@example.com",))
    )

    app.sync_calendar("coaching", NOW)

    [record] = app.store.history.records()
    change = record.change
    assert (change.kind, change.client, change.uid, change.new_uid) == (
        ChangeKind.REBOOKED,
        "Alice Example",
        "calendly-1",
        "calendly-2",
    )
    assert (change.old_start, change.new_start) == (DEC_10, DEC_11 + 3 * HOUR)


def test_editing_past_sessions_is_not_a_reschedule(coach: Coach, app: App) -> None:
    yesterday = NOW - timedelta(days=1)
    started = NOW - timedelta(minutes=30)
    coach.write(alice("past", yesterday), alice("started", started), alice("future"))
    app.sync_calendar("coaching", NOW)
    coach.write(alice("past", yesterday + 2 * HOUR), alice("future"))

    report = app.sync_calendar("coaching", NOW)

    assert report.changes == ()
    assert app.store.history.records() == []


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ("", "calendar is empty"),
        ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:alice-1\r\n", "cut off"),
        ("<!DOCTYPE html><html><body>Service unavailable</body></html>", "HTML"),
    ],
    ids=["empty", "truncated", "html"],
)
def test_unreadable_calendar_records_nothing_and_keeps_the_snapshot(
    coach: Coach, app: App, broken: str, message: str
) -> None:
    coach.write(alice(), alice("alice-2", DEC_11))
    app.sync_calendar("coaching", NOW)
    before = sorted(app.store.snapshots.occurrences("coaching"), key=lambda o: o.uid)
    coach.write_raw(broken)

    with pytest.raises(SourceError, match=message):
        app.sync_calendar("coaching", NOW)

    assert app.store.history.records() == []
    assert sorted(app.store.snapshots.occurrences("coaching"), key=lambda o: o.uid) == before
    coach.write(alice(), alice("alice-2", DEC_11 + HOUR))
    app.sync_calendar("coaching", NOW + HOUR)
    assert [(r.change.kind.value, r.change.uid) for r in app.store.history.records()] == [("moved", "alice-2")]


def test_one_unreadable_event_is_skipped_and_not_read_as_cancelled(coach: Coach, app: App) -> None:
    coach.write(alice(), alice("alice-2", DEC_11))
    app.sync_calendar("coaching", NOW)
    damaged = "BEGIN:VEVENT\r\nUID:alice-2\r\nDTSTART:2026130XT100000\r\nSUMMARY:Alice\r\nEND:VEVENT\r\n"
    coach.write(alice(start=DEC_10 + HOUR), damaged)

    report = app.sync_calendar("coaching", NOW)

    assert report.skipped == 1
    assert [(r.change.kind.value, r.change.uid) for r in app.store.history.records()] == [("moved", "alice-1")]


def test_mass_change_is_refused_until_accepted(coach: Coach, app: App) -> None:
    sessions = [alice(f"a{day}", DEC_10 + timedelta(days=day)) for day in range(6)]
    coach.write(*sessions)
    app.sync_calendar("coaching", NOW)
    coach.write(*sessions[:3])

    with pytest.raises(MassChangeError, match="cancel 3 of 6 upcoming sessions"):
        app.sync_calendar("coaching", NOW)
    assert app.store.history.records() == []

    report = app.sync_calendar("coaching", NOW, accept_mass_change=True)
    assert [c.kind.value for c in report.changes] == ["cancelled"] * 3


def test_fewer_cancellations_pass_the_guard(coach: Coach, app: App) -> None:
    sessions = [alice(f"a{day}", DEC_10 + timedelta(days=day)) for day in range(6)]
    coach.write(*sessions)
    app.sync_calendar("coaching", NOW)
    coach.write(*sessions[:4])

    report = app.sync_calendar("coaching", NOW)

    assert len(report.changes) == 2


def test_clients_are_matched_by_attendee_and_by_alias(coach: Coach, app: App) -> None:
    events = [
        vevent("by-email", DEC_10, DEC_10 + HOUR, summary="Session", attendees=("BOB@Example.com",)),
        vevent("by-alias", DEC_10, DEC_10 + HOUR, summary="Call with Carmen"),
        vevent("no-one", DEC_10, DEC_10 + HOUR, summary="Carmenère tasting"),
    ]
    coach.write(*events)
    app.sync_calendar("coaching", NOW)
    coach.write()  # three cancellations of three: below the guard's minimum of four

    app.sync_calendar("coaching", NOW)

    assert {r.change.uid: r.change.client for r in app.store.history.records()} == {
        "by-email": "Bob Builder",
        "by-alias": "Carmen Diaz",
        "no-one": None,
    }


def test_a_crash_before_commit_records_nothing_and_the_rerun_records_once(
    coach: Coach, app: App, open_app: OpenApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    coach.write(alice(), alice("alice-2", DEC_11))
    app.sync_calendar("coaching", NOW)
    coach.write(alice(start=DEC_10 + HOUR), alice("alice-2", DEC_11 + HOUR))
    original = app.store.history._insert
    calls = []

    def crash_on_second(change, detected_at):  # type: ignore[no-untyped-def]
        calls.append(change)
        if len(calls) == 2:
            raise KeyboardInterrupt("power cut")
        return original(change, detected_at)

    monkeypatch.setattr(app.store.history, "_insert", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        app.sync_calendar("coaching", NOW)
    monkeypatch.undo()
    assert app.store.history.records() == []

    restarted = open_app(coach)
    restarted.sync_calendar("coaching", NOW)
    restarted.sync_calendar("coaching", NOW + HOUR)
    assert kinds(restarted) == ["moved", "moved"]


def test_one_failing_calendar_does_not_stop_the_others(coach: Coach, app: App) -> None:
    coach.write(alice())
    coach.calendar.write_text("")

    [result] = list(app.sync_all(NOW))

    assert isinstance(result, PassFailure)
    assert "calendar is empty" in result.summary()


def url_coach(tmp_path, url: str) -> Coach:  # type: ignore[no-untyped-def]
    coach = Coach(tmp_path)
    coach.config_path.write_text(
        f"database: state/coachsync.db\ntimezone: Europe/Berlin\n"
        f"calendars:\n  - name: coaching\n    ics_url: {url}\n    timeout: 2\n" + CLIENTS_YAML,
        encoding="utf-8",
    )
    return coach


def test_ics_url_calendar_end_to_end_with_conditional_get(  # type: ignore[no-untyped-def]
    tmp_path, server: FakeCalendarServer, open_app: OpenApp
) -> None:
    server.routes["/coach.ics"] = Route(body=vcalendar(alice()).encode(), etag='"v1"')
    coach = url_coach(tmp_path, server.url("/coach.ics"))
    app = open_app(coach)

    first = app.sync_calendar("coaching", NOW)
    idle = app.sync_calendar("coaching", NOW + HOUR)
    server.routes["/coach.ics"] = Route(body=vcalendar(alice(start=DEC_11)).encode(), etag='"v2"')
    moved = app.sync_calendar("coaching", NOW + 2 * HOUR)

    assert [first.outcome, idle.outcome, moved.outcome] == [Outcome.BASELINE, Outcome.UNCHANGED, Outcome.UPDATED]
    assert [seen.headers.get("If-None-Match") for seen in server.seen] == [None, '"v1"', '"v1"']
    assert [(r.change.kind.value, r.change.new_start) for r in app.store.history.records()] == [("moved", DEC_11)]


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (
            Route(status=200, body=b"<html><body>Please sign in</body></html>", headers={"Content-Type": "text/html"}),
            "HTML",
        ),
        (Route(status=503, body=b"busy"), "HTTP 503"),
        (Route(status=200, body=b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"), "cut off"),
    ],
    ids=["html-page", "server-error", "truncated"],
)
def test_ics_url_failure_records_nothing_and_keeps_the_snapshot(  # type: ignore[no-untyped-def]
    tmp_path, server: FakeCalendarServer, open_app: OpenApp, route: Route, message: str
) -> None:
    server.routes["/coach.ics"] = Route(body=vcalendar(alice(), alice("alice-2", DEC_11)).encode())
    coach = url_coach(tmp_path, server.url("/coach.ics"))
    app = open_app(coach)
    app.sync_calendar("coaching", NOW)
    server.routes["/coach.ics"] = route

    with pytest.raises(SourceError, match=message):
        app.sync_calendar("coaching", NOW + HOUR)

    assert app.store.history.records() == []
    assert app.store.snapshots.upcoming_count("coaching", NOW) == 2


def test_changing_the_coachs_time_zone_takes_a_new_baseline_instead_of_moving_all_day_sessions(
    coach: Coach, app: App, open_app: OpenApp
) -> None:
    day = vevent("day", date(2026, 12, 14), date(2026, 12, 15), summary="Intensive day with Carmen")
    coach.write(day, alice())
    app.sync_calendar("coaching", NOW)
    coach.config_path.write_text(coach.config_path.read_text().replace("Europe/Berlin", "America/New_York"))
    moved_abroad = open_app(coach)

    rebaselined = moved_abroad.sync_calendar("coaching", NOW + HOUR)
    coach.write(day, alice(start=DEC_11))
    later = moved_abroad.sync_calendar("coaching", NOW + 2 * HOUR)

    assert rebaselined.outcome is Outcome.BASELINE
    assert [(c.kind.value, c.uid) for c in later.changes] == [("moved", "alice-1")]
