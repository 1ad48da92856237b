"""The pure planner, without SQLite or files: what a pass re-reads and what it writes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from coachsync.ics import EventGroup, ParsedGroups, SplitCalendar, Window
from coachsync.model import CalendarState, ChangeKind, GroupSnapshot, Occurrence
from coachsync.plan import Known, MassChange, Selection, cancelled_by, judge_mass_change, plan_pass, select_groups

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WINDOW = Window(NOW - 30 * DAY, NOW + 365 * DAY)
ZONE = "Europe/Berlin"


def state(zone: str = ZONE, header: str = "h1") -> CalendarState:
    return CalendarState("coaching", "digest", header, zone, {}, NOW - DAY)


def split(header: str = "h1", **digests: str) -> SplitCalendar:
    groups = {uid: EventGroup(uid, (f"BEGIN:VEVENT\nUID:{uid}\nEND:VEVENT",), 1, d) for uid, d in digests.items()}
    return SplitCalendar("BEGIN:VCALENDAR", header, groups)


def session(uid: str, start: datetime, summary: str = "Coaching", attendees: Sequence[str] = ()) -> Occurrence:
    return Occurrence("coaching", uid, "", start, start + HOUR, summary, attendees=tuple(attendees))


def by_alias(attendees: Sequence[str], summary: str) -> str | None:
    return "Alice Example" if "Alice" in summary else None


def plan(
    known: Known,
    calendar: SplitCalendar,
    parsed: dict[str, list[Occurrence]],
    stored: Sequence[Occurrence],
    *,
    failed: frozenset[str] = frozenset(),
    upcoming: int | None = 0,
    accept: bool = False,
):  # type: ignore[no-untyped-def]
    selection = select_groups(known, calendar, ZONE)
    return plan_pass(
        known,
        selection,
        calendar,
        ParsedGroups(parsed, set(failed)),
        stored,
        now=NOW,
        window=WINDOW,
        match_client=by_alias,
        upcoming=upcoming,
        accept_mass_change=accept,
    )


def test_first_sight_is_a_baseline_that_reads_everything() -> None:
    assert select_groups(Known(None, {}), split(a="1", b="2"), ZONE) == Selection(True, False, ("a", "b"), ())


def test_only_groups_whose_fingerprint_changed_are_read_again_and_vanished_ones_are_removed() -> None:
    known = Known(state(), {"a": ("1", NOW), "b": ("2", NOW), "gone": ("3", NOW)})

    assert select_groups(known, split(a="1", b="changed", new="4"), ZONE) == Selection(
        False, False, ("b", "new"), ("gone",)
    )


def test_changed_time_zones_in_the_header_read_everything_but_are_no_baseline() -> None:
    known = Known(state(header="old"), {"a": ("1", NOW), "b": ("2", NOW)})

    assert select_groups(known, split(header="new", a="1", b="2"), ZONE) == Selection(False, False, ("a", "b"), ())


def test_a_new_coach_time_zone_takes_a_new_baseline() -> None:
    known = Known(state(zone="Europe/London"), {"a": ("1", NOW)})

    assert select_groups(known, split(a="1"), ZONE) == Selection(True, True, ("a",), ())


def test_a_move_becomes_one_change_for_the_client_matched_afresh_with_the_new_snapshot() -> None:
    old = session("a", NOW + 2 * DAY, "Alice")
    new = session("a", NOW + 3 * DAY, "Alice")
    known = Known(state(), {"a": ("1", NOW + 300 * DAY)})

    result = plan(known, split(a="2"), {"a": [new]}, [old], upcoming=1)

    [change] = result.changes
    assert (change.kind, change.client, change.old_start, change.new_start) == (
        ChangeKind.MOVED,
        "Alice Example",
        NOW + 2 * DAY,
        NOW + 3 * DAY,
    )
    assert result.baseline is False
    assert result.groups == {"a": GroupSnapshot("2", WINDOW.end, (new,))}
    assert result.tombstones == ()
    assert result.mass_change is None


def test_a_vanished_upcoming_session_is_kept_as_a_tombstone_and_a_past_one_is_not() -> None:
    upcoming = session("a", NOW + 2 * DAY, "Alice")
    past = session("p", NOW - 2 * DAY, "Alice")
    known = Known(state(), {"a": ("1", NOW), "p": ("2", NOW)})

    result = plan(known, split(), {}, [upcoming, past], upcoming=5)

    assert result.removed == ("a", "p")
    assert [(t.uid, t.cancelled, t.client) for t in result.tombstones] == [("a", True, "Alice Example")]
    assert [c.kind for c in result.changes] == [ChangeKind.CANCELLED]


def test_an_unreadable_group_is_never_read_as_cancelled() -> None:
    old = session("a", NOW + 2 * DAY, "Alice")
    known = Known(state(), {"a": ("1", NOW)})

    result = plan(known, split(a="broken"), {}, [old], failed=frozenset({"a"}), upcoming=1)

    assert result.changes == ()
    assert result.tombstones == ()


def test_cancelling_half_of_the_upcoming_sessions_is_a_mass_change_until_accepted() -> None:
    stored = [session(f"s{i}", NOW + (i + 1) * DAY) for i in range(4)]
    known = Known(state(), {o.uid: ("1", NOW) for o in stored})
    calendar = split(s2="1", s3="1")
    kept = {o.uid: [o] for o in stored[2:]}

    refused = plan(known, calendar, kept, stored[:2], upcoming=4)
    accepted = plan(known, calendar, kept, stored[:2], upcoming=4, accept=True)

    assert refused.mass_change == MassChange(cancelled=2, upcoming=4)
    assert accepted.mass_change is None
    assert len(accepted.changes) == 2


def test_a_plan_made_without_the_count_gets_the_same_verdict_once_counted() -> None:
    stored = [session(f"s{i}", NOW + (i + 1) * DAY) for i in range(4)]
    known = Known(state(), {o.uid: ("1", NOW) for o in stored})
    calendar = split(s2="1", s3="1")
    kept = {o.uid: [o] for o in stored[2:]}

    deferred = plan(known, calendar, kept, stored[:2], upcoming=None)

    assert (deferred.mass_change, cancelled_by(deferred)) == (None, 2)
    assert judge_mass_change(deferred, 4) == plan(known, calendar, kept, stored[:2], upcoming=4)
    assert judge_mass_change(deferred, 5).mass_change is None  # 2 of 5 is less than half
    assert judge_mass_change(deferred, 4, accept_mass_change=True) == deferred
    nothing_cancelled = plan(known, split(s0="1", s1="1", s2="1", s3="1"), {o.uid: [o] for o in stored}, stored)
    assert cancelled_by(nothing_cancelled) == 0


def test_a_baseline_records_no_changes() -> None:
    result = plan(Known(None, {}), split(a="1"), {"a": [session("a", NOW + DAY)]}, [])

    assert (result.baseline, result.changes, result.mass_change) == (True, (), None)
