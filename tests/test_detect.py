"""Detection, told as a coach's week: what moved, what was cancelled, what came back.

``detect`` is pure, so every test builds two snapshots of Occurrence values by
hand and checks the exact changes: kind, starts, notice, instances.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coachsync.detect import DetectRules, cancelled_sessions, detect, is_mass_cancellation
from coachsync.model import Change, ChangeKind, Occurrence

UTC = UTC
CAL = "coaching"
# Monday 2 March 2026, 09:00 UTC: the moment this pass runs.
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = timedelta(weeks=1)

Snapshot = dict[tuple[str, str, str], Occurrence]


def session(
    uid: str,
    start: datetime,
    *,
    client: str | None = None,
    cancelled: bool = False,
    last_modified: datetime | None = None,
    summary: str = "Coaching",
) -> Occurrence:
    """A one-off session (no recurrence): recurrence_id is empty."""
    return Occurrence(
        calendar=CAL,
        uid=uid,
        recurrence_id="",
        start=start,
        end=start + HOUR,
        summary=summary,
        client=client,
        cancelled=cancelled,
        last_modified=last_modified,
    )


def instance(
    uid: str,
    original_start: datetime,
    start: datetime | None = None,
    *,
    client: str | None = None,
    cancelled: bool = False,
    last_modified: datetime | None = None,
) -> Occurrence:
    """One instance of a series, keyed by its original start; ``start`` differs when it was moved (an override)."""
    start = original_start if start is None else start
    return Occurrence(
        calendar=CAL,
        uid=uid,
        recurrence_id=original_start.astimezone(UTC).isoformat(),
        start=start,
        end=start + HOUR,
        summary="Weekly coaching",
        recurring=True,
        client=client,
        cancelled=cancelled,
        last_modified=last_modified,
    )


def weekly(uid: str, first: datetime, count: int, *, client: str | None = None) -> list[Occurrence]:
    return [instance(uid, first + i * WEEK, client=client) for i in range(count)]


def snapshot(*parts: Occurrence | Iterable[Occurrence]) -> Snapshot:
    found: Snapshot = {}
    for part in parts:
        for occurrence in [part] if isinstance(part, Occurrence) else part:
            found[occurrence.key] = occurrence
    return found


def hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


# --- moved -----------------------------------------------------------------


def test_late_move_is_recorded_with_its_notice() -> None:
    old = session("alice-1", NOW + 30 * HOUR, client="Alice")
    new = replace(old, start=NOW + 3 * DAY, end=NOW + 3 * DAY + HOUR)

    changes = detect(snapshot(old), snapshot(new), NOW)

    assert changes == [
        Change(
            kind=ChangeKind.MOVED,
            calendar=CAL,
            uid="alice-1",
            recurrence_id="",
            client="Alice",
            summary="Coaching",
            old_start=NOW + 30 * HOUR,
            new_start=NOW + 3 * DAY,
            notice_hours=30.0,
            changed_at=NOW,
            new_uid=None,
            instances=1,
        )
    ]


def test_move_is_dated_by_its_last_modified_since_the_previous_pass() -> None:
    edited = NOW - 90 * timedelta(minutes=1)
    old = session("alice-1", NOW + 24 * HOUR, client="Alice")
    new = replace(old, start=NOW + 2 * DAY, last_modified=edited)

    [change] = detect(snapshot(old), snapshot(new), NOW, DetectRules(previous_pass_at=NOW - 2 * HOUR))

    assert change.kind is ChangeKind.MOVED
    assert change.changed_at == edited
    assert change.notice_hours == 25.5


@pytest.mark.parametrize(
    ("previous_pass_at", "last_modified", "why"),
    [
        (NOW - 2 * HOUR, NOW - 3 * HOUR, "edited before the previous pass: an old stamp, not this change"),
        (NOW - 2 * HOUR, NOW - 2 * HOUR, "stamped exactly at the previous pass: already seen then"),
        (NOW - 2 * HOUR, NOW + HOUR, "stamped in the future: a wrong clock"),
        (None, NOW - HOUR, "no previous pass to bound the stamp"),
    ],
)
def test_move_is_dated_now_when_last_modified_is_not_believable(
    previous_pass_at: datetime | None, last_modified: datetime, why: str
) -> None:
    old = session("alice-1", NOW + 24 * HOUR, client="Alice")
    new = replace(old, start=NOW + 2 * DAY, last_modified=last_modified)

    [change] = detect(snapshot(old), snapshot(new), NOW, DetectRules(previous_pass_at=previous_pass_at))

    assert (change.kind, change.changed_at, change.notice_hours) == (ChangeKind.MOVED, NOW, 24.0), why


def test_first_sight_of_a_calendar_is_a_baseline() -> None:
    current = snapshot(
        session("alice-1", NOW + DAY, client="Alice"), weekly("bob-weekly", NOW + 2 * DAY, 5, client="Bob")
    )

    assert detect({}, current, NOW) == []


def test_unchanged_session_with_a_new_title_is_no_reschedule() -> None:
    old = session("alice-1", NOW + DAY, client="Alice")

    assert detect(snapshot(old), snapshot(replace(old, summary="Coaching (Zoom)")), NOW) == []


# --- cancelled -------------------------------------------------------------


def test_deleted_session_is_a_cancellation() -> None:
    old = session("alice-1", NOW + 12 * HOUR, client="Alice")

    changes = detect(snapshot(old), {}, NOW)

    assert [
        (c.kind, c.uid, c.recurrence_id, c.old_start, c.new_start, c.notice_hours, c.changed_at, c.instances)
        for c in changes
    ] == [(ChangeKind.CANCELLED, "alice-1", "", NOW + 12 * HOUR, None, 12.0, NOW, 1)]
    assert changes[0].client == "Alice"
    assert changes[0].new_uid is None


def test_status_cancelled_session_is_a_cancellation_dated_by_its_edit() -> None:
    edited = NOW - 30 * timedelta(minutes=1)
    old = session("alice-1", NOW + 6 * HOUR, client="Alice")
    new = replace(old, cancelled=True, last_modified=edited)

    changes = detect(snapshot(old), snapshot(new), NOW, DetectRules(previous_pass_at=NOW - HOUR))

    assert [(c.kind, c.old_start, c.new_start, c.notice_hours, c.changed_at, c.new_uid) for c in changes] == [
        (ChangeKind.CANCELLED, NOW + 6 * HOUR, None, 6.5, edited, None)
    ]


def test_session_already_cancelled_stays_quiet() -> None:
    tombstone = session("alice-1", NOW + DAY, client="Alice", cancelled=True)

    assert detect(snapshot(tombstone), {}, NOW) == []
    assert detect(snapshot(tombstone), snapshot(tombstone), NOW) == []


def test_cancelled_session_that_returns_is_restored() -> None:
    tombstone = session("alice-1", NOW + DAY, client="Alice", cancelled=True)
    back = session("alice-1", NOW + DAY + 2 * HOUR, client="Alice")

    changes = detect(snapshot(tombstone), snapshot(back), NOW)

    assert [(c.kind, c.uid, c.old_start, c.new_start, c.notice_hours, c.client) for c in changes] == [
        (ChangeKind.RESTORED, "alice-1", NOW + DAY, NOW + DAY + 2 * HOUR, 24.0, "Alice")
    ]


# --- rebooked --------------------------------------------------------------


def test_cancel_and_rebook_for_the_same_client_is_one_rebooking() -> None:
    old = session("calendly-1", NOW + 20 * HOUR, client="Alice")
    booked = session("calendly-2", NOW + 4 * DAY, client="Alice")

    changes = detect(snapshot(old), snapshot(booked), NOW)

    assert [
        (c.kind, c.uid, c.new_uid, c.old_start, c.new_start, c.notice_hours, c.client, c.instances) for c in changes
    ] == [(ChangeKind.REBOOKED, "calendly-1", "calendly-2", NOW + 20 * HOUR, NOW + 4 * DAY, 20.0, "Alice", 1)]


def test_status_cancel_and_rebook_for_the_same_client_is_one_rebooking() -> None:
    old = session("cal-com-1", NOW + 2 * DAY, client="Alice")
    booked = session("cal-com-2", NOW + 3 * DAY, client="Alice")

    changes = detect(snapshot(old), snapshot(replace(old, cancelled=True), booked), NOW)

    assert [(c.kind, c.uid, c.new_uid, c.new_start) for c in changes] == [
        (ChangeKind.REBOOKED, "cal-com-1", "cal-com-2", NOW + 3 * DAY)
    ]


def test_each_booking_rebooks_one_cancellation_the_nearest_first() -> None:
    early = session("alice-early", NOW + DAY, client="Alice")
    late = session("alice-late", NOW + 10 * DAY, client="Alice")
    near_early = session("alice-new-1", NOW + 2 * DAY, client="Alice")
    near_late = session("alice-new-2", NOW + 11 * DAY, client="Alice")

    both = detect(snapshot(early, late), snapshot(near_late, near_early), NOW)
    one = detect(snapshot(early, late), snapshot(near_early), NOW)

    assert [(c.kind, c.uid, c.new_uid) for c in both] == [
        (ChangeKind.REBOOKED, "alice-early", "alice-new-1"),
        (ChangeKind.REBOOKED, "alice-late", "alice-new-2"),
    ]
    assert [(c.kind, c.uid, c.new_uid) for c in one] == [
        (ChangeKind.REBOOKED, "alice-early", "alice-new-1"),
        (ChangeKind.CANCELLED, "alice-late", None),
    ]


def test_cancellation_and_another_clients_booking_are_not_a_rebooking() -> None:
    old = session("alice-1", NOW + DAY, client="Alice")
    booked = session("bob-1", NOW + 2 * DAY, client="Bob")

    changes = detect(snapshot(old), snapshot(booked), NOW)

    assert [(c.kind, c.uid, c.client, c.new_uid, c.new_start) for c in changes] == [
        (ChangeKind.CANCELLED, "alice-1", "Alice", None, None)
    ]


def test_cancellation_charged_to_nobody_is_never_a_rebooking() -> None:
    old = session("block-1", NOW + DAY)
    booked = session("block-2", NOW + 2 * DAY)

    changes = detect(snapshot(old), snapshot(booked), NOW)

    assert [(c.kind, c.uid, c.client, c.new_uid) for c in changes] == [(ChangeKind.CANCELLED, "block-1", None, None)]


# --- series ----------------------------------------------------------------


def test_shifted_series_is_one_series_move() -> None:
    """Moving the series' DTSTART by an hour gives every instance a new RECURRENCE-ID."""
    first = NOW - 2 * WEEK + DAY + HOUR  # Tuesdays 10:00, two already past
    before = weekly("alice-weekly", first, 8, client="Alice")
    after = weekly("alice-weekly", first + HOUR, 8, client="Alice")

    changes = detect(snapshot(before), snapshot(after), NOW)

    assert [
        (c.kind, c.uid, c.recurrence_id, c.instances, c.old_start, c.new_start, c.new_uid, c.notice_hours)
        for c in changes
    ] == [(ChangeKind.SERIES_MOVED, "alice-weekly", "", 6, NOW + DAY + HOUR, NOW + DAY + 2 * HOUR, None, 25.0)]


def test_series_whose_sessions_all_moved_by_the_same_offset_is_one_series_move() -> None:
    first = NOW + DAY
    before = weekly("alice-weekly", first, 4, client="Alice")
    after = [instance("alice-weekly", first + i * WEEK, first + i * WEEK + 2 * DAY, client="Alice") for i in range(4)]

    changes = detect(snapshot(before), snapshot(after), NOW)

    assert [(c.kind, c.recurrence_id, c.instances, c.old_start, c.new_start) for c in changes] == [
        (ChangeKind.SERIES_MOVED, "", 4, first, first + 2 * DAY)
    ]


def test_series_with_two_sessions_left_moves_as_one() -> None:
    first = NOW + DAY
    before = weekly("alice-weekly", first, 2, client="Alice")
    shifted = weekly("alice-weekly", first + 30 * timedelta(minutes=1), 2, client="Alice")
    overridden = [instance("alice-weekly", o.start, o.start + DAY, client="Alice") for o in before]

    for after in (shifted, overridden):
        changes = detect(snapshot(before), snapshot(after), NOW)
        assert [(c.kind, c.recurrence_id, c.instances, c.old_start, c.new_start) for c in changes] == [
            (ChangeKind.SERIES_MOVED, "", 2, first, after[0].start)
        ]


def test_two_sessions_of_a_series_moved_by_different_offsets_are_two_moves() -> None:
    first = NOW + DAY
    before = weekly("alice-weekly", first, 4, client="Alice")
    after = [
        before[0],
        instance("alice-weekly", first + WEEK, first + WEEK + HOUR, client="Alice"),
        instance("alice-weekly", first + 2 * WEEK, first + 2 * WEEK + DAY, client="Alice"),
        before[3],
    ]

    changes = detect(snapshot(before), snapshot(after), NOW)

    assert [(c.kind, c.recurrence_id, c.old_start, c.new_start, c.instances) for c in changes] == [
        (ChangeKind.MOVED, before[1].recurrence_id, first + WEEK, first + WEEK + HOUR, 1),
        (ChangeKind.MOVED, before[2].recurrence_id, first + 2 * WEEK, first + 2 * WEEK + DAY, 1),
    ]


def test_deleted_series_is_one_cancellation() -> None:
    first = NOW - 3 * WEEK + 2 * DAY  # Wednesdays, three already past
    before = weekly("alice-weekly", first, 10, client="Alice")

    changes = detect(snapshot(before), {}, NOW)

    assert [
        (c.kind, c.uid, c.recurrence_id, c.instances, c.old_start, c.new_start, c.notice_hours) for c in changes
    ] == [(ChangeKind.CANCELLED, "alice-weekly", "", 7, NOW + 2 * DAY, None, 48.0)]
    assert cancelled_sessions(changes) == 7


def test_series_split_this_and_following_is_one_series_move_to_the_new_series() -> None:
    """The old UID keeps two upcoming sessions; from the third on, a new UID carries the series an hour later."""
    first = NOW - WEEK + DAY  # Tuesdays, one already past
    before = weekly("alice-weekly", first, 8, client="Alice")
    kept = before[:3]
    following = weekly("alice-weekly-2", first + 3 * WEEK + HOUR, 5, client="Alice")

    changes = detect(snapshot(before), snapshot(kept, following), NOW)

    assert [(c.kind, c.uid, c.recurrence_id, c.new_uid, c.instances, c.old_start, c.new_start) for c in changes] == [
        (ChangeKind.SERIES_MOVED, "alice-weekly", "", "alice-weekly-2", 5, first + 3 * WEEK, first + 3 * WEEK + HOUR)
    ]


def test_series_cut_short_while_another_client_starts_a_series_is_a_cancellation() -> None:
    first = NOW + DAY
    before = weekly("alice-weekly", first, 6, client="Alice")
    bob = weekly("bob-weekly", first + 3 * WEEK + HOUR, 3, client="Bob")

    changes = detect(snapshot(before), snapshot(before[:3], bob), NOW)

    assert [(c.kind, c.uid, c.recurrence_id, c.new_uid, c.instances, c.old_start) for c in changes] == [
        (ChangeKind.CANCELLED, "alice-weekly", "", None, 3, first + 3 * WEEK)
    ]


# --- bugs: see the report; these describe what the coach expects ------------


def test_two_sessions_skipped_in_a_continuing_series_are_two_cancellations() -> None:
    """Two EXDATEs (a holiday) leave the series running: two sessions cancelled, not the series."""
    first = NOW + DAY
    before = weekly("alice-weekly", first, 8, client="Alice")
    after = [o for i, o in enumerate(before) if i not in (2, 3)]

    changes = detect(snapshot(before), snapshot(after), NOW)

    assert [(c.kind, c.recurrence_id, c.old_start, c.instances) for c in changes] == [
        (ChangeKind.CANCELLED, before[2].recurrence_id, first + 2 * WEEK, 1),
        (ChangeKind.CANCELLED, before[3].recurrence_id, first + 3 * WEEK, 1),
    ]


def test_cancelling_a_whole_series_by_status_is_one_cancellation() -> None:
    """STATUS:CANCELLED on the series itself ends it as a whole, like deleting it: one record, not one per session."""
    first = NOW + DAY
    before = weekly("alice-weekly", first, 6, client="Alice")
    after = [replace(o, cancelled=True) for o in before]

    changes = detect(snapshot(before), snapshot(after), NOW)

    assert [(c.kind, c.uid, c.recurrence_id, c.instances, c.old_start, c.new_start) for c in changes] == [
        (ChangeKind.CANCELLED, "alice-weekly", "", 6, first, None)
    ]


def test_shifting_a_series_with_one_session_left_moves_that_session() -> None:
    """Its last upcoming session gets a new RECURRENCE-ID; that is a move, not a cancel plus a booking."""
    last = NOW + DAY
    before = [
        *weekly("alice-weekly", last - 3 * WEEK, 3, client="Alice"),
        instance("alice-weekly", last, client="Alice"),
    ]
    after = weekly("alice-weekly", last - 3 * WEEK + HOUR, 4, client="Alice")

    changes = detect(snapshot(before), snapshot(after), NOW)

    assert [(c.kind, c.uid, c.recurrence_id, c.new_uid, c.instances, c.old_start, c.new_start) for c in changes] == [
        (ChangeKind.MOVED, "alice-weekly", last.isoformat(), None, 1, last, last + HOUR)
    ]


# --- the past is history ---------------------------------------------------


def test_past_sessions_edited_or_deleted_are_history() -> None:
    moved = session("alice-1", NOW - DAY, client="Alice")
    deleted = session("alice-2", NOW - 2 * DAY, client="Alice")
    cancelled = session("alice-3", NOW - 3 * DAY, client="Alice")
    past_series = weekly("bob-weekly", NOW - 4 * WEEK, 3, client="Bob")

    changes = detect(
        snapshot(moved, deleted, cancelled, past_series),
        snapshot(replace(moved, start=NOW + DAY), replace(cancelled, cancelled=True)),
        NOW,
    )

    assert changes == []


def test_session_that_already_started_is_not_rescheduled() -> None:
    running = session("alice-1", NOW - 30 * timedelta(minutes=1), client="Alice")
    starting = session("alice-2", NOW, client="Alice")

    assert detect(snapshot(running, starting), snapshot(replace(running, start=NOW + DAY)), NOW) == []
    assert detect(snapshot(running, starting), {}, NOW) == []


# --- horizons --------------------------------------------------------------


@pytest.mark.parametrize(
    ("horizons", "expected"),
    [
        ({"alice-weekly": NOW + 3 * WEEK}, [(ChangeKind.CANCELLED, "alice-1", None)]),
        ({}, [(ChangeKind.REBOOKED, "alice-1", "alice-weekly")]),
    ],
    ids=["beyond-the-horizon-is-not-a-booking", "without-a-horizon-it-would-be"],
)
def test_series_instance_coming_into_view_is_not_a_rebooking(
    horizons: dict[str, datetime], expected: list[tuple[ChangeKind, str, str | None]]
) -> None:
    """As the window slides, Alice's weekly series shows one more week: that is not a new booking."""
    cancelled = session("alice-1", NOW + DAY, client="Alice")
    series = weekly("alice-weekly", NOW + 2 * DAY, 4, client="Alice")  # up to NOW + 23 days
    previous = snapshot(cancelled, series[:3])
    current = snapshot(series)

    changes = detect(previous, current, NOW, DetectRules(horizons=horizons))

    assert [(c.kind, c.uid, c.new_uid) for c in changes] == expected


# --- mass cancellation -----------------------------------------------------


@pytest.mark.parametrize(
    ("cancelled", "upcoming", "alarming"),
    [(3, 3, False), (2, 4, True), (1, 4, False), (4, 8, True), (3, 8, False), (0, 0, False)],
)
def test_mass_cancellation_needs_half_of_at_least_four(cancelled: int, upcoming: int, alarming: bool) -> None:
    assert is_mass_cancellation(cancelled, upcoming) is alarming


def test_cancelled_sessions_counts_every_session_of_a_deleted_series() -> None:
    series = weekly("alice-weekly", NOW + DAY, 5, client="Alice")
    single = session("bob-1", NOW + 2 * DAY, client="Bob")
    moved = session("carol-1", NOW + 3 * DAY, client="Carol")

    changes = detect(snapshot(series, single, moved), snapshot(replace(moved, start=NOW + 4 * DAY)), NOW)

    assert sorted(c.kind for c in changes) == [ChangeKind.CANCELLED, ChangeKind.CANCELLED, ChangeKind.MOVED]
    assert cancelled_sessions(changes) == 6


# --- properties ------------------------------------------------------------

offsets = st.integers(min_value=-30 * 24, max_value=365 * 24).map(lambda h: NOW + h * HOUR)
clients = st.sampled_from([None, "Alice", "Bob", "Carol"])


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    occurrences: list[Occurrence] = []
    for n in range(draw(st.integers(0, 8))):
        occurrences.append(session(f"single-{n}", draw(offsets), client=draw(clients), cancelled=draw(st.booleans())))
    for n in range(draw(st.integers(0, 3))):
        client = draw(clients)
        first = draw(offsets)
        for i in range(draw(st.integers(1, 6))):
            original = first + i * WEEK
            moved = draw(st.sampled_from([original, original + HOUR, original - DAY]))
            occurrences.append(instance(f"series-{n}", original, moved, client=client, cancelled=draw(st.booleans())))
    return snapshot(occurrences)


@settings(max_examples=200, deadline=None)
@given(snapshots(), st.one_of(st.none(), offsets))
def test_an_unchanged_calendar_has_no_changes(calendar: Snapshot, previous_pass_at: datetime | None) -> None:
    horizons = {o.uid: NOW + 400 * DAY for o in calendar.values()}
    assert detect(calendar, calendar, NOW, DetectRules(previous_pass_at=previous_pass_at, horizons=horizons)) == []
    assert detect(calendar, dict(calendar), NOW) == []


@st.composite
def moved_sessions(
    draw: st.DrawFn, with_clients: bool
) -> tuple[Snapshot, Snapshot, dict[str, tuple[datetime, datetime]]]:
    """Single sessions, some moved to distinct future times; returns both snapshots and the moves that count."""
    count = draw(st.integers(1, 25))
    starts = draw(st.lists(offsets, min_size=count, max_size=count))
    before = [
        session(f"s-{n}", start, client=draw(clients) if with_clients else None) for n, start in enumerate(starts)
    ]
    chosen = draw(st.sets(st.integers(0, count - 1)))
    targets = draw(
        st.lists(
            st.integers(min_value=1, max_value=365 * 24).map(lambda h: NOW + h * HOUR),
            min_size=len(chosen),
            max_size=len(chosen),
            unique=True,
        )
    )
    after = list(before)
    moves: dict[str, tuple[datetime, datetime]] = {}
    for index, target in zip(sorted(chosen), targets, strict=True):
        old = before[index]
        if target == old.start:
            continue
        after[index] = replace(old, start=target, end=target + HOUR)
        if old.start > NOW:  # a session already past is history, even if edited
            moves[old.uid] = (old.start, target)
    return snapshot(before), snapshot(after), moves


def _assert_exactly_these_moves(changes: list[Change], moves: dict[str, tuple[datetime, datetime]]) -> None:
    assert all(c.kind is ChangeKind.MOVED for c in changes)
    assert sorted(c.uid for c in changes) == sorted(moves)
    for change in changes:
        assert (change.old_start, change.new_start) == moves[change.uid]
        assert change.notice_hours == hours(change.old_start - NOW)
        assert change.instances == 1 and change.new_uid is None


@settings(max_examples=200, deadline=None)
@given(moved_sessions(with_clients=False))
def test_every_moved_session_is_one_move(case: tuple[Snapshot, Snapshot, dict[str, tuple[datetime, datetime]]]) -> None:
    before, after, moves = case
    _assert_exactly_these_moves(detect(before, after, NOW), moves)


@settings(max_examples=200, deadline=None)
@given(moved_sessions(with_clients=True))
def test_moves_for_clients_are_never_read_as_rebookings(
    case: tuple[Snapshot, Snapshot, dict[str, tuple[datetime, datetime]]],
) -> None:
    before, after, moves = case
    _assert_exactly_these_moves(detect(before, after, NOW), moves)
