"""Parsing real calendar text the way coaches' apps write it: Google, Outlook, Apple, Calendly.

Every test feeds iCalendar text (CRLF and LF) through ``split_calendar`` and
``parse_groups`` and checks the exact occurrences: keys, aware starts, flags.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from coachsync import ics
from coachsync.clients import ClientMatcher, ClientRule
from coachsync.ics import ParsedGroups, SplitCalendar, Window, parse_groups, split_calendar
from coachsync.model import Occurrence

from support.ical import valarm, vcalendar, vevent, vtimezone_berlin

UTC = UTC
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
CAL = "coaching"
WINDOW = Window(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 8, 1, tzinfo=UTC))
CLIENTS = ClientMatcher(
    [
        ClientRule("Alice Example", ("alice@example.com",), ("Alice",)),
        ClientRule("Albert", ("albert@example.com",), ("Al",)),
    ]
)
NEWLINES = pytest.mark.parametrize("newline", ["\r\n", "\n"], ids=["crlf", "lf"])


def parse(
    text: str, *, zone: ZoneInfo | timezone = BERLIN, window: Window = WINDOW, uids: list[str] | None = None
) -> tuple[SplitCalendar, ParsedGroups]:
    split = split_calendar(text)
    parsed = parse_groups(
        split,
        split.groups if uids is None else uids,
        calendar_name=CAL,
        window=window,
        zone=zone,
        match_client=CLIENTS,
    )
    return split, parsed


def by_start(occurrences: list[Occurrence]) -> list[Occurrence]:
    return sorted(occurrences, key=lambda o: o.start)


def begin_line(text: str, uid: str) -> int:
    """The 1-based line of the BEGIN:VEVENT that holds ``UID:uid``."""
    lines = text.splitlines()
    uid_at = lines.index(f"UID:{uid}")
    return max(i for i in range(uid_at) if lines[i] == "BEGIN:VEVENT") + 1


# --- one event, one series -------------------------------------------------


@NEWLINES
def test_plain_session_is_one_occurrence_without_recurrence_id(newline: str) -> None:
    text = vcalendar(
        vevent(
            "alice-1@calendly",
            "DTSTART;TZID=Europe/Berlin:20260305T100000",
            "DTEND;TZID=Europe/Berlin:20260305T110000",
            summary="Coaching: Alice",
            sequence=2,
            last_modified="20260301T120000Z",
            extra=["ATTENDEE;CN=Alice;ROLE=REQ-PARTICIPANT:mailto:alice@example.com"],
        ),
        header=vtimezone_berlin(),
        newline=newline,
    )

    split, parsed = parse(text)

    assert list(split.groups) == ["alice-1@calendly"]
    assert parsed.failed == set()
    assert parsed.occurrences == {
        "alice-1@calendly": [
            Occurrence(
                calendar=CAL,
                uid="alice-1@calendly",
                recurrence_id="",
                start=datetime(2026, 3, 5, 10, tzinfo=BERLIN),
                end=datetime(2026, 3, 5, 11, tzinfo=BERLIN),
                summary="Coaching: Alice",
                all_day=False,
                cancelled=False,
                recurring=False,
                client="Alice Example",
                attendees=("alice@example.com",),
                sequence=2,
                last_modified=datetime(2026, 3, 1, 12, tzinfo=UTC),
            )
        ]
    }
    assert parsed.occurrences["alice-1@calendly"][0].start.utcoffset() == timedelta(hours=1)


@NEWLINES
def test_cancelled_plain_session_is_kept_and_marked(newline: str) -> None:
    text = vcalendar(
        vevent("alice-1", "DTSTART:20260305T090000Z", "DTEND:20260305T100000Z", status="CANCELLED"), newline=newline
    )

    _, parsed = parse(text)

    assert [(o.start, o.cancelled) for o in parsed.occurrences["alice-1"]] == [
        (datetime(2026, 3, 5, 9, tzinfo=UTC), True)
    ]


@NEWLINES
def test_weekly_series_with_a_moved_a_skipped_and_a_cancelled_session(newline: str) -> None:
    """Mondays 10:00 Berlin from 2 March, six weeks: the 9th moved to the 10th, the 16th skipped, the 23rd cancelled."""
    text = vcalendar(
        vevent(
            "alice-weekly",
            "DTSTART;TZID=Europe/Berlin:20260302T100000",
            "DTEND;TZID=Europe/Berlin:20260302T110000",
            rrule="FREQ=WEEKLY;COUNT=6",
            exdates=["EXDATE;TZID=Europe/Berlin:20260316T100000"],
            summary="Coaching with Alice",
        ),
        vevent(
            "alice-weekly",
            "DTSTART;TZID=Europe/Berlin:20260310T150000",
            "DTEND;TZID=Europe/Berlin:20260310T160000",
            recurrence_id="RECURRENCE-ID;TZID=Europe/Berlin:20260309T100000",
            summary="Coaching with Alice",
        ),
        vevent(
            "alice-weekly",
            "DTSTART;TZID=Europe/Berlin:20260323T100000",
            "DTEND;TZID=Europe/Berlin:20260323T110000",
            recurrence_id="RECURRENCE-ID;TZID=Europe/Berlin:20260323T100000",
            status="CANCELLED",
            summary="Coaching with Alice",
        ),
        header=vtimezone_berlin(),
        newline=newline,
    )

    split, parsed = parse(text)

    assert list(split.groups) == ["alice-weekly"]
    assert len(split.groups["alice-weekly"].blocks) == 3
    found = by_start(parsed.occurrences["alice-weekly"])
    assert [(o.recurrence_id, o.start, o.cancelled) for o in found] == [
        ("2026-03-02T09:00:00+00:00", datetime(2026, 3, 2, 10, tzinfo=BERLIN), False),
        ("2026-03-09T09:00:00+00:00", datetime(2026, 3, 10, 15, tzinfo=BERLIN), False),
        ("2026-03-23T09:00:00+00:00", datetime(2026, 3, 23, 10, tzinfo=BERLIN), True),
        # after the switch to summer time the same 10:00 is 08:00 UTC
        ("2026-03-30T08:00:00+00:00", datetime(2026, 3, 30, 10, tzinfo=BERLIN), False),
        ("2026-04-06T08:00:00+00:00", datetime(2026, 4, 6, 10, tzinfo=BERLIN), False),
    ]
    assert all(o.recurring and o.client == "Alice Example" and o.uid == "alice-weekly" for o in found)
    assert [o.end - o.start for o in found] == [timedelta(hours=1)] * 5


def test_window_bounds_are_respected() -> None:
    window = Window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 20, tzinfo=UTC))
    text = vcalendar(
        vevent("before", "DTSTART:20260227T090000Z", "DTEND:20260227T100000Z"),
        vevent("inside", "DTSTART:20260310T090000Z", "DTEND:20260310T100000Z"),
        vevent("after", "DTSTART:20260321T090000Z", "DTEND:20260321T100000Z"),
        vevent("weekly", "DTSTART:20260206T090000Z", "DTEND:20260206T100000Z", rrule="FREQ=WEEKLY"),
    )

    _, parsed = parse(text, window=window, zone=UTC)

    assert parsed.failed == set()
    assert {uid: [o.start for o in by_start(found)] for uid, found in parsed.occurrences.items()} == {
        "before": [],
        "inside": [datetime(2026, 3, 10, 9, tzinfo=UTC)],
        "after": [],
        "weekly": [datetime(2026, 3, 6, 9, tzinfo=UTC), datetime(2026, 3, 13, 9, tzinfo=UTC)],
    }


def test_only_the_named_groups_are_parsed() -> None:
    text = vcalendar(
        vevent("alice-1", "DTSTART:20260305T090000Z"),
        vevent("bob-1", "DTSTART:20260306T090000Z"),
    )

    _, parsed = parse(text, uids=["bob-1"])

    assert list(parsed.occurrences) == ["bob-1"]
    assert [o.start for o in parsed.occurrences["bob-1"]] == [datetime(2026, 3, 6, 9, tzinfo=UTC)]


# --- time zones ------------------------------------------------------------


@NEWLINES
def test_google_feed_with_only_x_wr_timezone_reads_times_in_that_zone(newline: str) -> None:
    """No VTIMEZONE, no TZID: floating and UTC times both mean New York, whatever the coach's own zone."""
    text = vcalendar(
        vevent("floating", "DTSTART:20260305T090000", "DTEND:20260305T100000"),
        vevent("utc", "DTSTART:20260305T190000Z", "DTEND:20260305T200000Z"),
        vevent("weekly", "DTSTART:20260305T090000", "DTEND:20260305T100000", rrule="FREQ=WEEKLY;COUNT=2"),
        header=["X-WR-CALNAME:Coaching", "X-WR-TIMEZONE:America/New_York"],
        newline=newline,
    )

    _, parsed = parse(text, zone=BERLIN)

    [floating] = parsed.occurrences["floating"]
    assert floating.start == datetime(2026, 3, 5, 9, tzinfo=NEW_YORK)
    assert floating.start.utcoffset() == timedelta(hours=-5)
    [utc] = parsed.occurrences["utc"]
    assert (utc.start, utc.start.utcoffset()) == (datetime(2026, 3, 5, 14, tzinfo=NEW_YORK), timedelta(hours=-5))
    # New York switches to summer time on 8 March: 09:00 local is 14:00 UTC, then 13:00 UTC
    assert [(o.recurrence_id, o.start.utcoffset()) for o in by_start(parsed.occurrences["weekly"])] == [
        ("2026-03-05T14:00:00+00:00", timedelta(hours=-5)),
        ("2026-03-12T13:00:00+00:00", timedelta(hours=-4)),
    ]


def test_windows_time_zone_name_is_read_as_berlin() -> None:
    """Outlook writes TZID=W. Europe Standard Time and sometimes no VTIMEZONE at all."""
    text = vcalendar(
        vevent(
            "winter",
            "DTSTART;TZID=W. Europe Standard Time:20260305T090000",
            "DTEND;TZID=W. Europe Standard Time:20260305T100000",
        ),
        vevent(
            "summer",
            "DTSTART;TZID=W. Europe Standard Time:20260702T090000",
            "DTEND;TZID=W. Europe Standard Time:20260702T100000",
        ),
    )

    _, parsed = parse(text, zone=UTC)

    assert parsed.failed == set()
    [winter] = parsed.occurrences["winter"]
    [summer] = parsed.occurrences["summer"]
    assert (winter.start, winter.start.utcoffset()) == (datetime(2026, 3, 5, 9, tzinfo=BERLIN), timedelta(hours=1))
    assert (summer.start, summer.start.utcoffset()) == (datetime(2026, 7, 2, 9, tzinfo=BERLIN), timedelta(hours=2))


@pytest.mark.parametrize(
    ("zone", "offset"),
    [(NEW_YORK, timedelta(hours=-5)), (BERLIN, timedelta(hours=1)), (UTC, timedelta(0))],
    ids=["new-york", "berlin", "utc"],
)
def test_floating_time_without_x_wr_timezone_is_read_in_the_coachs_zone(
    zone: ZoneInfo | timezone, offset: timedelta
) -> None:
    text = vcalendar(vevent("floating", "DTSTART:20260305T090000", "DTEND:20260305T100000"))

    _, parsed = parse(text, zone=zone)

    [found] = parsed.occurrences["floating"]
    assert (found.start, found.start.utcoffset(), found.end) == (
        datetime(2026, 3, 5, 9, tzinfo=zone),
        offset,
        datetime(2026, 3, 5, 10, tzinfo=zone),
    )
    assert found.all_day is False


@NEWLINES
def test_all_day_event_starts_at_local_midnight(newline: str) -> None:
    text = vcalendar(
        vevent("retreat", "DTSTART;VALUE=DATE:20260306", "DTEND;VALUE=DATE:20260308", summary="Retreat with Alice"),
        newline=newline,
    )

    _, parsed = parse(text, zone=BERLIN)

    [found] = parsed.occurrences["retreat"]
    assert (found.all_day, found.start, found.end, found.recurrence_id) == (
        True,
        datetime(2026, 3, 6, 0, 0, tzinfo=BERLIN),
        datetime(2026, 3, 8, 0, 0, tzinfo=BERLIN),
        "",
    )
    assert found.start.utcoffset() == timedelta(hours=1)


# --- damaged calendars -----------------------------------------------------


@pytest.mark.parametrize("order", [(1, 3), (3, 1)], ids=["newer-last", "newer-first"])
def test_duplicate_uid_keeps_the_highest_sequence(order: tuple[int, int], caplog: pytest.LogCaptureFixture) -> None:
    start = {1: "DTSTART:20260305T090000Z", 3: "DTSTART:20260306T110000Z"}
    text = vcalendar(
        vevent("other", "DTSTART:20260304T090000Z"),
        *(vevent("dup", start[seq], sequence=seq, summary=f"version {seq}") for seq in order),
    )

    with caplog.at_level(logging.WARNING, logger="coachsync.ics"):
        _, parsed = parse(text, zone=UTC)

    assert [(o.sequence, o.summary, o.start) for o in parsed.occurrences["dup"]] == [
        (3, "version 3", datetime(2026, 3, 6, 11, tzinfo=UTC))
    ]
    assert [o.start for o in parsed.occurrences["other"]] == [datetime(2026, 3, 4, 9, tzinfo=UTC)]
    assert parsed.failed == set()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"uid=dup line={begin_line(text, 'dup')}" in warnings[0]
    assert "twice" in warnings[0] and "SEQUENCE" in warnings[0]


@NEWLINES
@pytest.mark.parametrize(
    ("dtstart", "problem"),
    [("DTSTART:2026130XT100000", "2026130XT100000"), (None, "no DTSTART")],
    ids=["bad-dtstart", "missing-dtstart"],
)
def test_malformed_event_is_skipped_with_its_uid_and_line(
    newline: str, dtstart: str | None, problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    text = vcalendar(
        vevent("alice-1", "DTSTART:20260305T090000Z"),
        vevent("broken", dtstart, summary="Session with Bob"),
        vevent("carol-1", "DTSTART:20260307T090000Z"),
        newline=newline,
    )

    with caplog.at_level(logging.WARNING, logger="coachsync.ics"):
        _, parsed = parse(text, zone=UTC)

    assert parsed.failed == {"broken"}
    assert {uid: [o.start for o in found] for uid, found in parsed.occurrences.items()} == {
        "alice-1": [datetime(2026, 3, 5, 9, tzinfo=UTC)],
        "carol-1": [datetime(2026, 3, 7, 9, tzinfo=UTC)],
    }
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"calendar={CAL} uid=broken line={begin_line(text, 'broken')}:" in warnings[0]
    assert begin_line(text, "broken") == 10
    assert problem in warnings[0]


# --- how groups are keyed --------------------------------------------------


@NEWLINES
def test_an_alarms_own_uid_does_not_rename_its_session(newline: str) -> None:
    text = vcalendar(
        vevent("session-1", "DTSTART:20260305T090000Z", nested=valarm("alarm-7F3A")),
        vevent("session-2", "DTSTART:20260306T090000Z", extra=valarm("alarm-9B1C")),
        newline=newline,
    )

    split, parsed = parse(text, zone=UTC)

    assert list(split.groups) == ["session-1", "session-2"]
    assert {uid: [o.uid for o in found] for uid, found in parsed.occurrences.items()} == {
        "session-1": ["session-1"],
        "session-2": ["session-2"],
    }


@NEWLINES
def test_folded_long_uid_is_read_whole(newline: str) -> None:
    uid = "040000008200E00074C5B7101A82E00800000000" + "A" * 60 + "@outlook.example.com"
    text = vcalendar(vevent(uid, "DTSTART:20260305T090000Z"), newline=newline)
    assert f"{newline} " in text  # really folded

    split, parsed = parse(text, zone=UTC)

    assert list(split.groups) == [uid]
    assert [o.uid for o in parsed.occurrences[uid]] == [uid]


def test_only_the_edited_sessions_digest_changes() -> None:
    events = [
        vevent("alice-1", "DTSTART:20260305T090000Z", summary="Alice"),
        vevent("bob-1", "DTSTART:20260306T090000Z", summary="Bob"),
        vevent("carol-1", "DTSTART:20260307T090000Z", summary="Carol"),
    ]
    edited = [events[0], vevent("bob-1", "DTSTART:20260306T100000Z", summary="Bob"), events[2]]

    before = split_calendar(vcalendar(*events))
    after = split_calendar(vcalendar(*edited))
    reordered = split_calendar(vcalendar(events[2], events[0], events[1]))

    assert after.header_digest == before.header_digest
    assert {uid: after.groups[uid].digest == group.digest for uid, group in before.groups.items()} == {
        "alice-1": True,
        "bob-1": False,
        "carol-1": True,
    }
    assert {uid: g.digest for uid, g in reordered.groups.items()} == {uid: g.digest for uid, g in before.groups.items()}


def test_a_fresh_dtstamp_alone_changes_no_digest() -> None:
    """Google stamps every event anew on each download; only a real edit should make a group be read again."""
    monday = [vevent("alice-1", "DTSTART:20260305T090000Z", dtstamp="DTSTAMP:20260302T080000Z")]
    tuesday = [vevent("alice-1", "DTSTART:20260305T090000Z", dtstamp="DTSTAMP:20260303T080000Z")]
    edited = [vevent("alice-1", "DTSTART:20260305T100000Z", dtstamp="DTSTAMP:20260303T080000Z")]

    digest = {
        name: split_calendar(vcalendar(*events)).groups["alice-1"].digest
        for name, events in [("monday", monday), ("tuesday", tuesday), ("edited", edited)]
    }

    assert digest["tuesday"] == digest["monday"]
    assert digest["edited"] != digest["monday"]


# --- clients ---------------------------------------------------------------


def test_attendees_are_lower_cased_and_claim_their_client() -> None:
    text = vcalendar(
        vevent(
            "session-1",
            "DTSTART:20260305T090000Z",
            summary="Coaching",
            extra=[
                "ATTENDEE;CN=Coach:mailto:Coach@Example.org",
                "ATTENDEE;CN=Alice;PARTSTAT=ACCEPTED:MAILTO:Alice@Example.COM",
            ],
        ),
    )

    _, parsed = parse(text, zone=UTC)

    [found] = parsed.occurrences["session-1"]
    assert found.attendees == ("coach@example.org", "alice@example.com")
    assert found.client == "Alice Example"


@pytest.mark.parametrize(
    ("summary", "attendee", "client"),
    [
        ("Coaching with Alice", None, "Alice Example"),
        ("Alice's check-in", None, "Alice Example"),
        ("Call with Al", None, "Albert"),
        ("Call with AL (phone)", None, "Albert"),
        ("Alfred's intake", None, None),
        ("Session with Hal", None, None),
        ("Quarterly planning", None, None),
        ("Call with Al", "mailto:alice@example.com", "Alice Example"),
    ],
)
def test_alias_claims_a_session_only_as_a_whole_word(summary: str, attendee: str | None, client: str | None) -> None:
    text = vcalendar(
        vevent(
            "session-1",
            "DTSTART:20260305T090000Z",
            summary=summary,
            extra=[f"ATTENDEE:{attendee}"] if attendee else [],
        )
    )

    _, parsed = parse(text, zone=UTC)

    assert [o.client for o in parsed.occurrences["session-1"]] == [client]


def test_alias_al_does_not_claim_alice() -> None:
    matcher = ClientMatcher([ClientRule("Albert", aliases=("Al",))])

    assert matcher([], "Coaching with Alice") is None
    assert matcher([], "Coaching with Al") == "Albert"


@NEWLINES
def test_back_to_back_events_are_each_their_own_group_and_never_part_of_the_header(newline: str) -> None:
    events = [vevent(f"s{n}", f"DTSTART:202603{n + 10:02d}T090000Z", summary="Alice") for n in range(5)]
    text = vcalendar(*events).replace("\r\n", newline)

    split = split_calendar(text)

    assert sorted(split.groups) == ["s0", "s1", "s2", "s3", "s4"]
    assert all(len(group.blocks) == 1 for group in split.groups.values())
    assert "VEVENT" not in split.header


def test_lower_case_property_names_are_still_split_into_events() -> None:
    text = vcalendar(vevent("s1", "DTSTART:20260310T090000Z"), vevent("s2", "DTSTART:20260311T090000Z"))
    text = text.replace("BEGIN:VEVENT", "begin:vevent").replace("END:VEVENT", "end:vevent")

    split = split_calendar(text)

    assert sorted(split.groups) == ["s1", "s2"]
    assert "vevent" not in split.header.lower()


def test_events_are_parsed_in_batches_and_a_damaged_one_is_isolated_in_its_batch(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(ics, "BATCH_SIZE", 2)
    events = [vevent(f"s{n}", f"DTSTART:202603{n + 10:02d}T090000Z", summary="Alice") for n in range(5)]
    events[3] = vevent("s3", "DTSTART:2026130XT100000", summary="Alice")

    split, parsed = parse(vcalendar(*events))

    assert sorted(parsed.occurrences) == ["s0", "s1", "s2", "s4"]
    assert parsed.failed == {"s3"}
    assert [len(found) for _, found in sorted(parsed.occurrences.items())] == [1, 1, 1, 1]
    assert "uid=s3" in caplog.text
