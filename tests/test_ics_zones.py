"""TZIDs without a VTIMEZONE: Outlook's display names are resolved, an unknown zone is read in the coach's
zone with one warning naming it and its events, and `check` lists it. Real files, real passes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from coachsync import ics
from coachsync.app import App
from coachsync.zones import Resolved, resolve_tzid

from support.cli import cli
from support.ical import HOUR, vcalendar, vevent
from support.scenario import NOW, Coach

EASTERN = "(UTC-05:00) Eastern Time (US & Canada)"
CUSTOM = "tzone://Microsoft/Custom"
CUSTOM_VTIMEZONE = [
    "BEGIN:VTIMEZONE",
    f"TZID:{CUSTOM}",
    "BEGIN:STANDARD",
    "DTSTART:16010101T000000",
    "TZOFFSETFROM:-0300",
    "TZOFFSETTO:-0300",
    "END:STANDARD",
    "END:VTIMEZONE",
]


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test is a new daemon: what an earlier test was warned about must not silence this one."""
    monkeypatch.setattr(ics, "_zones_warned", {})


def event(uid: str, tzid: str, local: str = "20261210T090000") -> str:
    quoted = f'"{tzid}"' if any(c in tzid for c in ':;,"') else tzid
    return vevent(uid, f"DTSTART;TZID={quoted}:{local}", f"DTEND;TZID={quoted}:{local[:9]}100000")


def starts(app: App) -> dict[str, datetime]:
    return {o.uid: o.start.astimezone(UTC) for o in app.store.snapshots.occurrences("coaching")}


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@pytest.mark.parametrize(
    ("tzid", "resolved"),
    [
        (EASTERN, Resolved("America/New_York")),
        ("(UTC-08:00) Pacific Time (US & Canada)", Resolved("America/Los_Angeles")),
        ("(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna", Resolved("Europe/Amsterdam")),
        ("(UTC+05:30) Chennai, Kolkata, Mumbai, New Delhi", Resolved("Asia/Kolkata")),
        ("(UTC-10:00) Hawaii", Resolved("Pacific/Honolulu")),
        ("(UTC-03:00) Brasília", Resolved("Etc/GMT+3", exact=False)),
        ("W. Europe Standard Time", Resolved("Europe/Berlin")),
        ("/mozilla.org/20050126_1/Europe/Berlin", Resolved("Europe/Berlin")),
        ("Europe/Berlin", Resolved("Europe/Berlin")),
        (CUSTOM, None),
        ("foo", None),
        ("(UTC+05:17) Nowhere", None),
    ],
)
def test_what_a_tzid_resolves_to(tzid: str, resolved: Resolved | None) -> None:
    assert resolve_tzid(tzid) == resolved


def test_outlook_display_names_and_a_present_vtimezone_place_sessions_right(
    coach: Coach, app: App, caplog: pytest.LogCaptureFixture
) -> None:
    coach.write_raw(
        vcalendar(
            event("eastern", EASTERN),
            event("custom", CUSTOM),
            event("paris", "(UTC+01:00) Brussels, Copenhagen, Madrid, Paris"),
            header=CUSTOM_VTIMEZONE,
        )
    )

    with caplog.at_level(logging.WARNING):
        app.sync_calendar("coaching", NOW)

    assert starts(app) == {
        "eastern": datetime(2026, 12, 10, 14, 0, tzinfo=UTC),
        "custom": datetime(2026, 12, 10, 12, 0, tzinfo=UTC),
        "paris": datetime(2026, 12, 10, 8, 0, tzinfo=UTC),
    }
    assert warnings(caplog) == []


def test_an_unknown_zone_is_read_in_the_coachs_zone_with_one_warning_per_zone(
    coach: Coach, app: App, caplog: pytest.LogCaptureFixture
) -> None:
    coach.write_raw(
        vcalendar(event("a", CUSTOM), event("b", CUSTOM), event("c", "foo"), event("d", "(UTC-03:00) Brasília"))
    )
    with caplog.at_level(logging.WARNING):
        app.sync_calendar("coaching", NOW)
    first = warnings(caplog)
    caplog.clear()
    coach.write_raw(
        vcalendar(
            event("a", CUSTOM),
            event("b", CUSTOM, "20261211T090000"),
            event("c", "foo"),
            event("d", "(UTC-03:00) Brasília"),
        )
    )
    with caplog.at_level(logging.WARNING):
        app.sync_calendar("coaching", NOW)

    assert starts(app) == {
        "a": datetime(2026, 12, 10, 8, 0, tzinfo=UTC),  # 09:00 in Europe/Berlin, the coach's zone
        "b": datetime(2026, 12, 11, 8, 0, tzinfo=UTC),
        "c": datetime(2026, 12, 10, 8, 0, tzinfo=UTC),
        "d": datetime(2026, 12, 10, 12, 0, tzinfo=UTC),
    }
    assert first == [
        f"calendar=coaching tzid={CUSTOM}: unknown time zone, defined by no VTIMEZONE in the calendar; "
        "2 events (a, b) are read in the coach's time zone, Europe/Berlin, and may be hours off; "
        "export the calendar with its time zones",
        "calendar=coaching tzid=foo: unknown time zone, defined by no VTIMEZONE in the calendar; "
        "1 event (c) is read in the coach's time zone, Europe/Berlin, and may be hours off; "
        "export the calendar with its time zones",
        'calendar=coaching tzid="(UTC-03:00) Brasília": unknown time zone, defined by no VTIMEZONE in the calendar; '
        "1 event (d) is read at a fixed UTC-03:00, without daylight saving time; "
        "export the calendar with its time zones",
    ]
    assert warnings(caplog) == []


def test_check_lists_the_unknown_zones(coach: Coach) -> None:
    coach.write_raw(vcalendar(event("a", CUSTOM), event("b", "foo"), event("c", EASTERN)))

    result = cli(coach, "check", at=NOW)

    assert result.exit_code == 0
    lines = result.output.splitlines()
    at = lines.index("calendar coaching: ok, 3 events")
    assert lines[at + 1 : at + 3] == [
        f'  time zone "{CUSTOM}": unknown, 1 event (a) read in Europe/Berlin',
        '  time zone "foo": unknown, 1 event (b) read in Europe/Berlin',
    ]


def test_an_edited_custom_vtimezone_is_read_anew_and_never_places_another_calendars_events(
    coach: Coach, app: App
) -> None:
    coach.write_raw(vcalendar(event("custom", CUSTOM), header=CUSTOM_VTIMEZONE))
    app.sync_calendar("coaching", NOW)
    coach.write_raw(
        vcalendar(event("custom", CUSTOM), header=[line.replace("-0300", "-0400") for line in CUSTOM_VTIMEZONE])
    )
    app.sync_calendar("coaching", NOW)
    moved = starts(app)
    coach.write_raw(vcalendar(event("custom", CUSTOM)))  # the same name, now defined nowhere
    app.sync_calendar("coaching", NOW, accept_mass_change=True)

    assert (moved, starts(app)) == (
        {"custom": datetime(2026, 12, 10, 13, 0, tzinfo=UTC)},
        {"custom": datetime(2026, 12, 10, 8, 0, tzinfo=UTC)},
    )
    assert [r.change.kind.value for r in app.store.history.records()] == ["moved", "moved"]


def test_an_unknown_zone_that_comes_back_after_a_fix_is_warned_about_again(
    coach: Coach, app: App, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        for tzid, at in (("foo", NOW), ("Europe/Berlin", NOW + HOUR), ("foo", NOW + 2 * HOUR)):
            coach.write_raw(vcalendar(event("a", tzid)))
            app.sync_calendar("coaching", at)

    assert [w.split(":")[0] for w in warnings(caplog)] == ["calendar=coaching tzid=foo"] * 2


def test_an_unknown_zone_in_a_calendar_with_x_wr_timezone_is_read_and_named_in_that_zone(
    coach: Coach, app: App, caplog: pytest.LogCaptureFixture
) -> None:
    coach.write_raw(vcalendar(event("a", "foo"), header=["X-WR-TIMEZONE:America/New_York"]))

    with caplog.at_level(logging.WARNING):
        app.sync_calendar("coaching", NOW)
    listed = cli(coach, "check", at=NOW).output.splitlines()

    assert starts(app) == {"a": datetime(2026, 12, 10, 14, 0, tzinfo=UTC)}
    assert warnings(caplog) == [
        "calendar=coaching tzid=foo: unknown time zone, defined by no VTIMEZONE in the calendar; "
        "1 event (a) is read in the calendar's X-WR-TIMEZONE, America/New_York, and may be hours off; "
        "export the calendar with its time zones"
    ]
    assert '  time zone "foo": unknown, 1 event (a) read in America/New_York' in listed
