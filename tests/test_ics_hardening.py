"""Calendars as real applications write them, read through real files and real passes.

Podio's trailing comments, Latin-1 bytes and folds that split a character,
KOrganizer's folded UID, a broken VTODO or alarm beside healthy events,
duplicated events, Exchange's UID-less events, and an event that lost its UID.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from coachsync.app import App
from coachsync.errors import SourceError
from coachsync.sources.base import ensure_complete_calendar
from coachsync.sync import Outcome

from support.ical import HOUR, session, vcalendar, vevent
from support.scenario import NOW, Coach

DEC_10 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
DEC_11 = datetime(2026, 12, 11, 9, 0, tzinfo=UTC)
CUT_OFF = "calendar is cut off: no END:VCALENDAR at the end; was the file still being written?"


def kinds(app: App) -> list[str]:
    return [record.change.kind.value for record in app.store.history.records()]


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# --- 11: text after END:VCALENDAR ------------------------------------------


def test_comment_lines_after_the_calendar_are_ignored_with_one_warning(
    coach: Coach, app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """Podio appends X-COMMENT lines after END:VCALENDAR."""
    trailer = "X-COMMENT:exported by Podio\r\nX-COMMENT:2 events\r\n"
    coach.write_raw(vcalendar(session("alice-1", DEC_10)) + trailer)

    with caplog.at_level(logging.WARNING):
        first = app.sync_calendar("coaching", NOW)
    coach.write_raw(vcalendar(session("alice-1", DEC_11)) + trailer)
    with caplog.at_level(logging.WARNING):
        second = app.sync_calendar("coaching", NOW + HOUR)

    assert (first.outcome, first.events, second.outcome) == (Outcome.BASELINE, 1, Outcome.UPDATED)
    assert kinds(app) == ["moved"]
    assert warnings(caplog) == [
        f'calendar "coaching" ({coach.calendar}): ignored 2 lines after END:VCALENDAR; '
        "they are not part of the calendar"
    ]


def test_trailing_lines_are_cut_from_the_text_handed_on() -> None:
    text = vcalendar(session("alice-1", DEC_10))

    assert ensure_complete_calendar((text + "X-COMMENT:Podio\r\n\r\n").encode(), "cal") == text


@pytest.mark.parametrize(
    "tail",
    ["BEGIN:VEVENT\r\nUID:late\r\n", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n", "X-COMMENT:a\r\nBEGIN:VTODO\r\n"],
    ids=["event-begun", "second-calendar-begun", "todo-begun"],
)
def test_a_component_begun_after_the_end_is_still_a_cut_off_calendar(tail: str) -> None:
    with pytest.raises(SourceError) as info:
        ensure_complete_calendar((vcalendar(session("alice-1", DEC_10)) + tail).encode(), "cal")

    assert str(info.value).startswith("cal: calendar ")
    assert "cut off" in str(info.value) or "truncated or damaged" in str(info.value)


def test_a_calendar_that_ends_early_is_still_refused() -> None:
    text = vcalendar(session("alice-1", DEC_10))

    with pytest.raises(SourceError) as info:
        ensure_complete_calendar(text[: text.index("END:VCALENDAR")].encode(), "cal")

    assert str(info.value) == f"cal: {CUT_OFF}"


# --- 12: bytes that are not UTF-8 as they stand ------------------------------


def test_a_latin1_export_is_read_with_one_warning_naming_its_lines(
    coach: Coach, app: App, caplog: pytest.LogCaptureFixture
) -> None:
    text = vcalendar(
        session("alice-1", DEC_10, summary="Coaching with Zoé"),
        session("bob-1", DEC_11, "bob@example.com", "Coaching with Bob", extra=["LOCATION:Café Müller"]),
        fold_lines=False,
    )
    coach.calendar.write_bytes(text.encode("latin-1"))
    lines = [number for number, line in enumerate(text.splitlines(), 1) if not line.isascii()]

    with caplog.at_level(logging.WARNING):
        first = app.sync_calendar("coaching", NOW)
        again = app.sync_calendar("coaching", NOW + HOUR)

    assert (first.outcome, first.events, first.skipped, again.outcome) == (
        Outcome.BASELINE,
        2,
        0,
        Outcome.UNCHANGED,
    )
    assert [o.summary for o in app.store.snapshots.occurrences("coaching")] == [
        "Coaching with Zo\ufffd",
        "Coaching with Bob",
    ]
    assert warnings(caplog) == [
        f'calendar "coaching" ({coach.calendar}): lines {lines[0]} and {lines[1]} are not valid UTF-8; '
        "their undecodable bytes were replaced with \ufffd; save or serve the calendar as UTF-8"
    ]


def test_a_few_bad_bytes_in_free_text_cost_nothing_else() -> None:
    text = vcalendar(
        session("alice-1", DEC_10, summary="Coaching with Zoé", extra=["DESCRIPTION:bring notes"]),
        fold_lines=False,
    )
    data = text.encode().replace(b"bring", b"br\xffing")

    decoded = ensure_complete_calendar(data, "cal")

    assert decoded == text.replace("bring", "br\ufffding")


def test_a_fold_splitting_a_character_beside_a_bad_byte_keeps_the_character() -> None:
    text = vcalendar(session("alice-1", DEC_10, summary="Coaching with Zoé"), fold_lines=False)
    data = text.encode().replace(b"Coaching", b"Co\xe0ching")
    split_at = data.index("é".encode()) + 1

    decoded = ensure_complete_calendar(data[:split_at] + b"\r\n " + data[split_at:], "cal")

    assert "SUMMARY:Co\ufffdching with Zoé\r\n" in decoded


@pytest.mark.parametrize(
    ("damage", "line"),
    [
        (lambda data: data.replace(b"BEGIN:VEVENT", b"BEGIN:VEV\xc9NT"), 4),
        (lambda data: data.replace(b"SUMMARY:", b"SUMM\xc4RY:"), 9),
        (lambda data: data.replace(b"END:VEVENT\r\n", b"END:VEVENT\r\n\x89PNG\x00\x1a\xff\r\n"), 12),
    ],
    ids=["component-line", "property-name", "binary-line"],
)
def test_bad_bytes_outside_property_values_refuse_the_calendar(damage: Callable[[bytes], bytes], line: int) -> None:
    data = damage(vcalendar(session("alice-1", DEC_10), fold_lines=False).encode())

    with pytest.raises(SourceError) as info:
        ensure_complete_calendar(data, "cal")

    assert str(info.value) == (
        f"cal: line {line} is not valid UTF-8 and not a property whose value could be repaired; "
        "the file is damaged or not a calendar; save or serve it as UTF-8"
    )


def test_a_fold_between_the_two_bytes_of_a_character_is_read_whole(coach: Coach, app: App) -> None:
    """RFC 5545 folds between octets; some exporters cut a UTF-8 character in two."""
    data = vcalendar(session("alice-1", DEC_10, summary="Coaching with Zoé"), fold_lines=False).encode("utf-8")
    split_at = data.index("é".encode()) + 1
    coach.calendar.write_bytes(data[:split_at] + b"\r\n " + data[split_at:])

    report = app.sync_calendar("coaching", NOW)

    assert (report.outcome, report.events, report.skipped) == (Outcome.BASELINE, 1, 0)
    assert [o.summary for o in app.store.snapshots.occurrences("coaching")] == ["Coaching with Zoé"]


# --- 4: a UID folded right after its name ------------------------------------

KORGANIZER_FOLD = "\r\n "
MOZILLA_FOLD = "\r\n\r\n "


def fold_uids(text: str, fold: str) -> str:
    """Fold every UID line right after its name, as KOrganizer (and Mozilla, with a blank line) do."""
    return text.replace("\r\nUID:", f"\r\nUID{fold}:")


@pytest.mark.parametrize("fold", [KORGANIZER_FOLD, MOZILLA_FOLD], ids=["korganizer", "mozilla"])
def test_a_uid_folded_after_its_name_keys_the_event_and_reordering_records_nothing(
    coach: Coach, app: App, fold: str, caplog: pytest.LogCaptureFixture
) -> None:
    alice = session("alice-1", DEC_10)
    bob = session("bob-1", DEC_11, "bob@example.com")
    coach.write_raw(fold_uids(vcalendar(alice, bob), fold))
    app.sync_calendar("coaching", NOW)

    coach.write_raw(fold_uids(vcalendar(bob, alice), fold))
    with caplog.at_level(logging.WARNING):
        report = app.sync_calendar("coaching", NOW + HOUR)

    assert (report.outcome, report.events, report.skipped, report.changes) == (Outcome.UPDATED, 2, 0, ())
    assert sorted(app.store.snapshots.group_digests("coaching")) == ["alice-1", "bob-1"]
    assert warnings(caplog) == []


def test_a_folded_uid_moves_only_its_own_session(coach: Coach, app: App) -> None:
    alice = session("alice-1", DEC_10)
    coach.write_raw(fold_uids(vcalendar(session("bob-1", DEC_11, "bob@example.com"), alice), KORGANIZER_FOLD))
    app.sync_calendar("coaching", NOW)

    moved = session("alice-1", DEC_10 + 3 * HOUR)
    coach.write_raw(fold_uids(vcalendar(session("bob-1", DEC_11, "bob@example.com"), moved), KORGANIZER_FOLD))
    app.sync_calendar("coaching", NOW + HOUR)

    assert [(r.change.kind.value, r.change.uid) for r in app.store.history.records()] == [("moved", "alice-1")]


# --- 5: a broken VTODO or VALARM beside healthy events -----------------------

BROKEN_TODO = (
    "BEGIN:VTODO\r\nUID:todo-1\r\nDTSTAMP:20260101T000000Z\r\nDUE:garbage\r\nSUMMARY:Invoices\r\nEND:VTODO\r\n"
)
BROKEN_ALARM = ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Train leaves", "TRIGGER:PT-2H", "END:VALARM"]


def test_an_unreadable_todo_costs_no_event(coach: Coach, app: App) -> None:
    """Mozilla exports tasks beside events; one with a bad DUE made every event unreadable."""
    coach.write_raw(vcalendar(session("alice-1", DEC_10), BROKEN_TODO, session("bob-1", DEC_11, "bob@example.com")))
    first = app.sync_calendar("coaching", NOW)
    coach.write_raw(
        vcalendar(session("alice-1", DEC_10 + HOUR), BROKEN_TODO, session("bob-1", DEC_11, "bob@example.com"))
    )

    second = app.sync_calendar("coaching", NOW + HOUR)

    assert (first.outcome, first.events, first.skipped) == (Outcome.BASELINE, 2, 0)
    assert (second.parsed, second.skipped) == (1, 0)
    assert [(r.change.kind.value, r.change.uid) for r in app.store.history.records()] == [("moved", "alice-1")]


def test_an_unreadable_alarm_costs_not_its_event(coach: Coach, app: App) -> None:
    """A railway ticket file: TRIGGER:PT-2H is no valid duration, but the journey is still on."""
    coach.write_raw(
        vcalendar(session("alice-1", DEC_10, extra=BROKEN_ALARM), session("bob-1", DEC_11, "bob@example.com"))
    )
    first = app.sync_calendar("coaching", NOW)
    coach.write_raw(
        vcalendar(session("alice-1", DEC_10 + HOUR, extra=BROKEN_ALARM), session("bob-1", DEC_11, "bob@example.com"))
    )

    second = app.sync_calendar("coaching", NOW + HOUR)

    assert (first.outcome, first.events, first.skipped, second.skipped) == (Outcome.BASELINE, 2, 0, 0)
    assert sorted(o.uid for o in app.store.snapshots.occurrences("coaching")) == ["alice-1", "bob-1"]
    assert [(r.change.kind.value, r.change.uid) for r in app.store.history.records()] == [("moved", "alice-1")]


# --- 9: the same event twice -------------------------------------------------

ORDERS = pytest.mark.parametrize("order", ["as-written", "reversed"])


def twice(first: str, second: str, order: str) -> str:
    return vcalendar(first, second) if order == "as-written" else vcalendar(second, first)


@ORDERS
def test_a_duplicate_with_the_same_sequence_records_nothing_and_keeps_what_was_known(
    coach: Coach, app: App, order: str, caplog: pytest.LogCaptureFixture
) -> None:
    known = session("alice-1", DEC_10, extra=("SEQUENCE:1",))
    later = session("alice-1", DEC_10 + 5 * HOUR, extra=("SEQUENCE:1",))
    coach.write_raw(vcalendar(known))
    app.sync_calendar("coaching", NOW)

    coach.write_raw(twice(known, later, order))
    with caplog.at_level(logging.WARNING):
        during = app.sync_calendar("coaching", NOW + HOUR)
    coach.write_raw(vcalendar(known))
    after = app.sync_calendar("coaching", NOW + 2 * HOUR)

    assert (during.changes, during.skipped, after.changes) == ((), 0, ())
    assert app.store.history.records() == []
    assert [o.start for o in app.store.snapshots.occurrences("coaching")] == [DEC_10]
    [warning] = warnings(caplog)
    assert warning.startswith("calendar=coaching uid=alice-1 line=")
    assert warning.endswith(
        ": the same event appears twice with the same SEQUENCE, LAST-MODIFIED and DTSTAMP; "
        "keeping what was known of it; delete one of them"
    )


def test_a_duplicate_seen_first_is_kept_the_same_whatever_the_order(coach: Coach, open_app) -> None:
    one = session("alice-1", DEC_10, extra=("SEQUENCE:1",))
    other = session("alice-1", DEC_10 + 5 * HOUR, extra=("SEQUENCE:1",))
    starts = {}
    for order in ("as-written", "reversed"):
        (coach.root / order).mkdir()
        world = Coach(coach.root / order)
        world.write_raw(twice(one, other, order))
        application = open_app(world)
        report = application.sync_calendar("coaching", NOW)
        starts[order] = ([o.start for o in application.store.snapshots.occurrences("coaching")], report.skipped)

    assert starts["as-written"] == starts["reversed"]
    assert len(starts["as-written"][0]) == 1


@ORDERS
@pytest.mark.parametrize(
    ("older", "newer"),
    [
        (("SEQUENCE:1",), ("SEQUENCE:2",)),
        (("SEQUENCE:1", "LAST-MODIFIED:20261201T080000Z"), ("SEQUENCE:1", "LAST-MODIFIED:20261201T090000Z")),
        (("SEQUENCE:1",), ("SEQUENCE:1", "LAST-MODIFIED:20261201T090000Z")),
    ],
    ids=["sequence", "last-modified", "last-modified-only-on-one"],
)
def test_a_duplicate_is_resolved_by_sequence_then_last_modified_whatever_the_order(
    coach: Coach, app: App, order: str, older: tuple[str, ...], newer: tuple[str, ...]
) -> None:
    coach.write_raw(vcalendar(session("alice-1", DEC_10, extra=older)))
    app.sync_calendar("coaching", NOW)

    coach.write_raw(twice(session("alice-1", DEC_10, extra=older), session("alice-1", DEC_11, extra=newer), order))
    app.sync_calendar("coaching", NOW + HOUR)

    assert [(r.change.kind.value, r.change.new_start) for r in app.store.history.records()] == [("moved", DEC_11)]


@ORDERS
def test_a_duplicate_is_resolved_by_dtstamp_last(coach: Coach, app: App, order: str) -> None:
    coach.write_raw(vcalendar(session("alice-1", DEC_10)))
    app.sync_calendar("coaching", NOW)
    newer = session("alice-1", DEC_11).replace("DTSTAMP:20260101T000000Z", "DTSTAMP:20261201T090000Z")

    coach.write_raw(twice(session("alice-1", DEC_10), newer, order))
    app.sync_calendar("coaching", NOW + HOUR)

    assert [(r.change.kind.value, r.change.new_start) for r in app.store.history.records()] == [("moved", DEC_11)]


# --- 13: a calendar whose events have no UID at all --------------------------


def owa_session(start: datetime, email: str | None = "alice@example.com", summary: str = "Coaching") -> str:
    """An Exchange 2010 OWA published event: everything but a UID."""
    return vevent(None, start, start + HOUR, summary=summary, attendees=(email,) if email else ())


def test_events_without_any_uid_are_known_by_their_content(
    coach: Coach, app: App, caplog: pytest.LogCaptureFixture
) -> None:
    alice, bob = owa_session(DEC_10), owa_session(DEC_11, "bob@example.com")
    coach.write_raw(vcalendar(alice, bob))
    with caplog.at_level(logging.WARNING):
        first = app.sync_calendar("coaching", NOW)
    coach.write_raw(vcalendar(bob, alice))
    reordered = app.sync_calendar("coaching", NOW + HOUR)

    assert (first.outcome, first.events, first.skipped) == (Outcome.BASELINE, 2, 0)
    assert (reordered.outcome, reordered.changes) == (Outcome.UPDATED, ())
    assert sorted((o.start, o.attendees) for o in app.store.snapshots.occurrences("coaching")) == [
        (DEC_10, ("alice@example.com",)),
        (DEC_11, ("bob@example.com",)),
    ]
    assert warnings(caplog) == [
        "calendar=coaching: 2 events have no UID; each is known by its start, title and organizer instead, "
        "so moving one reads as cancelling it and booking a new one"
    ]


def test_a_moved_event_without_uid_is_a_rebooking_and_a_deleted_one_a_cancellation(coach: Coach, app: App) -> None:
    coach.write_raw(vcalendar(owa_session(DEC_10), owa_session(DEC_11, "bob@example.com")))
    app.sync_calendar("coaching", NOW)

    coach.write_raw(vcalendar(owa_session(DEC_10 + 2 * HOUR), owa_session(DEC_11, "bob@example.com")))
    app.sync_calendar("coaching", NOW + HOUR)
    coach.write_raw(vcalendar(owa_session(DEC_10 + 2 * HOUR)))
    app.sync_calendar("coaching", NOW + 2 * HOUR)

    assert [(r.change.kind.value, r.change.client, r.change.old_start) for r in app.store.history.records()] == [
        ("rebooked", "Alice Example", DEC_10),
        ("cancelled", "Bob Builder", DEC_11),
    ]


# --- 8: one event among others loses its UID line ----------------------------


def test_an_event_that_lost_its_uid_line_is_unreadable_not_cancelled(
    coach: Coach, app: App, caplog: pytest.LogCaptureFixture
) -> None:
    bob = session("bob-1", DEC_11, "bob@example.com")
    coach.write_raw(vcalendar(session("alice-1", DEC_10), bob))
    app.sync_calendar("coaching", NOW)

    coach.write_raw(vcalendar(owa_session(DEC_10), bob))  # the same event, its UID line gone
    with caplog.at_level(logging.WARNING):
        broken = app.sync_calendar("coaching", NOW + HOUR)
    coach.write_raw(vcalendar(session("alice-1", DEC_10), bob))
    fixed = app.sync_calendar("coaching", NOW + 2 * HOUR)

    assert (broken.changes, broken.skipped, fixed.changes, fixed.skipped) == ((), 1, (), 0)
    assert app.store.history.records() == []
    assert sorted((o.uid, o.start) for o in app.store.snapshots.occurrences("coaching")) == [
        ("alice-1", DEC_10),
        ("bob-1", DEC_11),
    ]
    [warning] = warnings(caplog)
    assert warning.startswith('calendar=coaching uid="(no UID) ')
    assert warning.endswith(
        " line=4: skipped an event that cannot be read (no UID, though the calendar's other events have one; "
        "until it has one again, no session is read as deleted); fix it in the calendar"
    )


def test_a_session_deleted_while_another_lost_its_uid_is_cancelled_once_the_uid_is_back(coach: Coach, app: App) -> None:
    bob = session("bob-1", DEC_11, "bob@example.com")
    carmen = session("carmen-1", DEC_11 + 3 * HOUR, None, "Coaching with Carmen")
    coach.write_raw(vcalendar(session("alice-1", DEC_10), bob, carmen))
    app.sync_calendar("coaching", NOW)

    coach.write_raw(vcalendar(owa_session(DEC_10), carmen))  # Bob's session deleted, Alice's UID line lost
    held = app.sync_calendar("coaching", NOW + HOUR)
    coach.write_raw(vcalendar(session("alice-1", DEC_10), carmen))
    app.sync_calendar("coaching", NOW + 2 * HOUR)

    assert (held.changes, held.skipped) == ((), 1)
    assert [(r.change.kind.value, r.change.uid) for r in app.store.history.records()] == [("cancelled", "bob-1")]
