"""What changed between two views of a calendar: a pure function, no I/O, no clock."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from .model import Change, ChangeKind, Occurrence

Key = tuple[str, str, str]
_T = TypeVar("_T")

# A series counts as moved as a whole once this many of its upcoming sessions move together.
SERIES_MIN_INSTANCES = 2


@dataclass(frozen=True, slots=True)
class DetectRules:
    """What detection needs to know about the previous pass.

    ``previous_pass_at`` bounds which LAST-MODIFIED stamps are believable as the
    moment of a change; ``horizons`` says, per UID, how far ahead that event was
    last expanded, so a series instance that merely came into view as time
    passed is not a new booking.
    """

    previous_pass_at: datetime | None = None
    horizons: Mapping[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Move:
    old: Occurrence
    new: Occurrence


def _changed_at(evidence: Occurrence | None, now: datetime, rules: DetectRules) -> datetime:
    """When the change happened: the event's LAST-MODIFIED if it falls since the last pass, else now."""
    stamp = evidence.last_modified if evidence is not None else None
    if stamp is not None and rules.previous_pass_at is not None and rules.previous_pass_at < stamp <= now:
        return stamp
    return now


def _change(
    kind: ChangeKind,
    old: Occurrence,
    new: Occurrence | None,
    now: datetime,
    rules: DetectRules,
    *,
    recurrence_id: str | None = None,
    instances: int = 1,
) -> Change:
    changed_at = _changed_at(new, now, rules)
    return Change(
        kind=kind,
        calendar=old.calendar,
        uid=old.uid,
        recurrence_id=old.recurrence_id if recurrence_id is None else recurrence_id,
        client=old.client if old.client is not None else (new.client if new else None),
        summary=old.summary or (new.summary if new else ""),
        old_start=old.start,
        new_start=new.start if new is not None and kind is not ChangeKind.CANCELLED else None,
        notice_hours=round((old.start - changed_at).total_seconds() / 3600, 2),
        changed_at=changed_at,
        new_uid=new.uid if new is not None and new.uid != old.uid else None,
        instances=instances,
    )


def detect(
    previous: Mapping[Key, Occurrence],
    current: Mapping[Key, Occurrence],
    now: datetime,
    rules: DetectRules = DetectRules(),
) -> list[Change]:
    """Compare two snapshots of the same calendar and return its reschedules.

    ``previous`` may hold tombstones (cancelled occurrences kept so that a later
    return is seen as ``restored``). Sessions that had started by ``now`` are
    history, not reschedules.
    """
    diff = _Diff()
    for key, old in previous.items():
        if old.start <= now:
            continue
        new = current.get(key)
        if new is None:
            if not old.cancelled:
                diff.vanished.append(old)
        elif old.cancelled and not new.cancelled:
            diff.restored.append(_Move(old, new))
        elif new.cancelled and not old.cancelled:
            diff.status_cancels.append(_Move(old, new))
        elif not old.cancelled and new.start != old.start:
            diff.moves.append(_Move(old, new))
    diff.appeared = [
        new
        for key, new in current.items()
        if key not in previous
        and not new.cancelled
        and new.start > now
        and (new.uid not in rules.horizons or new.start <= rules.horizons[new.uid])
    ]

    changes: list[Change] = []
    series_cancels = _whole_series(diff, current, changes, now, rules)
    _pair_series_splits(series_cancels, diff.appeared, changes, now, rules)
    _pair_rebookings(diff.vanished, diff.status_cancels, diff.appeared, changes, now, rules)
    changes.extend(_change(ChangeKind.RESTORED, m.old, m.new, now, rules) for m in diff.restored)
    changes.extend(_change(ChangeKind.MOVED, m.old, m.new, now, rules) for m in diff.moves)
    changes.sort(key=lambda change: (change.old_start, change.uid, change.recurrence_id, change.kind))
    return changes


@dataclass
class _Diff:
    """Per-occurrence differences, before they are folded into series and rebookings."""

    moves: list[_Move] = field(default_factory=list)
    vanished: list[Occurrence] = field(default_factory=list)
    status_cancels: list[_Move] = field(default_factory=list)
    restored: list[_Move] = field(default_factory=list)
    appeared: list[Occurrence] = field(default_factory=list)

    def drop(self, uids: set[str]) -> None:
        """Forget what was already explained as a whole-series change."""
        self.moves = [m for m in self.moves if m.old.uid not in uids]
        self.vanished = [o for o in self.vanished if o.uid not in uids]
        self.status_cancels = [m for m in self.status_cancels if m.old.uid not in uids]
        self.restored = [m for m in self.restored if m.old.uid not in uids]
        self.appeared = [o for o in self.appeared if o.uid not in uids]


def _by_uid(items: list[_T], occurrence_of: Callable[[_T], Occurrence]) -> dict[str, list[_T]]:
    """Group the instances of recurring series by UID."""
    grouped: dict[str, list[_T]] = defaultdict(list)
    for item in items:
        occurrence = occurrence_of(item)
        if occurrence.recurring:
            grouped[occurrence.uid].append(item)
    return grouped


def _whole_series(
    diff: _Diff,
    current: Mapping[Key, Occurrence],
    changes: list[Change],
    now: datetime,
    rules: DetectRules,
) -> list[list[Occurrence]]:
    """Fold changes that touch many instances of one series into one record.

    Shifting a series changes every instance's RECURRENCE-ID, so it shows as
    instances vanishing and others appearing (or, when it goes back to an
    earlier time, returning) under the same UID; overrides moved by one common
    offset are a shift too. A series cancelled or deleted from some session on
    is one cancellation, and a series put back is one restoration; sessions
    skipped in a series that goes on are each their own. Returns whole-series cancellations still unexplained (a "this
    and following" edit may have re-created them under a new UID) and leaves
    in ``diff`` what is left to judge one by one.
    """
    moved_by_uid = _by_uid(diff.moves, lambda m: m.old)
    vanished_by_uid = _by_uid(diff.vanished, lambda o: o)
    status_by_uid = _by_uid(diff.status_cancels, lambda m: m.old)
    returned_by_uid = _by_uid(diff.restored, lambda m: m.new)
    appeared_by_uid: dict[str, list[Occurrence]] = defaultdict(list)
    for new in diff.appeared:
        appeared_by_uid[new.uid].append(new)
    last_active: dict[str, datetime] = {}
    for occurrence in current.values():
        if not occurrence.cancelled and occurrence.start > now:
            known = last_active.get(occurrence.uid)
            if known is None or occurrence.start > known:
                last_active[occurrence.uid] = occurrence.start

    folded: set[str] = set()
    series_cancels: list[list[Occurrence]] = []
    for uid in set(moved_by_uid) | set(vanished_by_uid) | set(status_by_uid):
        uid_moves = moved_by_uid.get(uid, [])
        gone = vanished_by_uid.get(uid, [])
        status_gone = [m.old for m in status_by_uid.get(uid, [])]
        uniform_shift = len({m.new.start - m.old.start for m in uid_moves}) == 1
        affected = [m.old for m in uid_moves] + gone
        arrived = (
            [m.new for m in uid_moves] + appeared_by_uid.get(uid, []) + [m.new for m in returned_by_uid.get(uid, [])]
        )
        shifted = gone and arrived and not status_gone
        if shifted or (not gone and len(uid_moves) >= SERIES_MIN_INSTANCES and uniform_shift):
            first_old = min(affected, key=lambda o: o.start)
            first_new = min(arrived, key=lambda o: o.start)
            if len(affected) == 1:  # a series down to its last session: that session moved
                changes.append(_change(ChangeKind.MOVED, first_old, first_new, now, rules))
            else:
                series_move = _change(
                    ChangeKind.SERIES_MOVED, first_old, first_new, now, rules, recurrence_id="", instances=len(affected)
                )
                changes.append(series_move)
            folded.add(uid)
        elif len(gone) + len(status_gone) >= SERIES_MIN_INSTANCES and not uid_moves and not arrived:
            ended = sorted(gone + status_gone, key=lambda o: o.start)
            if last_active.get(uid, ended[0].start) <= ended[0].start:  # nothing of the series goes on after
                series_cancels.append(ended)
                folded.add(uid)
    # A series put back (a deleted series restored from a backup, EXDATEs removed) is one restoration,
    # as its deletion was one cancellation; it names how many sessions came back.
    for uid, returned in returned_by_uid.items():
        if uid in folded or uid in moved_by_uid or uid in vanished_by_uid or uid in status_by_uid:
            continue
        if len(returned) >= SERIES_MIN_INSTANCES:
            first = min(returned, key=lambda m: m.old.start)
            changes.append(
                _change(
                    ChangeKind.RESTORED, first.old, first.new, now, rules, recurrence_id="", instances=len(returned)
                )
            )
            folded.add(uid)
    diff.drop(folded)
    return series_cancels


def _pair_series_splits(
    series_cancels: list[list[Occurrence]],
    appeared: list[Occurrence],
    changes: list[Change],
    now: datetime,
    rules: DetectRules,
) -> None:
    """A series cut short while a new series starts for the same client is one shift, not a cancellation."""
    new_series: dict[str, list[Occurrence]] = defaultdict(list)
    for new in appeared:
        if new.recurring:
            new_series[new.uid].append(new)
    for gone in series_cancels:
        first_old = gone[0]
        partner = next(
            (
                uid
                for uid, instances in new_series.items()
                if len(instances) >= SERIES_MIN_INSTANCES
                and first_old.client is not None
                and instances[0].client == first_old.client
            ),
            None,
        )
        if partner is None:
            changes.append(
                _change(ChangeKind.CANCELLED, first_old, None, now, rules, recurrence_id="", instances=len(gone))
            )
            continue
        instances = new_series.pop(partner)
        first_new = min(instances, key=lambda o: o.start)
        changes.append(
            _change(ChangeKind.SERIES_MOVED, first_old, first_new, now, rules, recurrence_id="", instances=len(gone))
        )
        appeared[:] = [o for o in appeared if o.uid != partner]


def _pair_rebookings(
    vanished: list[Occurrence],
    status_cancels: list[_Move],
    appeared: list[Occurrence],
    changes: list[Change],
    now: datetime,
    rules: DetectRules,
) -> None:
    """Pair each cancellation with a new session for the same client seen in the same pass.

    That is how booking tools (Calendly, Cal.com) reschedule: cancel the old
    event, create a new one. Each new booking is used once, the nearest first.
    """
    bookings: dict[str, list[Occurrence]] = defaultdict(list)
    for uid_first in _first_per_uid(appeared):
        if uid_first.client is not None:
            bookings[uid_first.client].append(uid_first)
    cancellations = [(old, None) for old in vanished] + [(m.old, m.new) for m in status_cancels]
    cancellations.sort(key=lambda pair: pair[0].start)
    for old, cancelled_copy in cancellations:
        candidates = bookings.get(old.client, []) if old.client is not None else []
        if not candidates:
            changes.append(_change(ChangeKind.CANCELLED, old, cancelled_copy, now, rules))
            continue
        booking = min(candidates, key=lambda o: abs(o.start - old.start))
        candidates.remove(booking)
        changes.append(_change(ChangeKind.REBOOKED, old, booking, now, rules))


def _first_per_uid(occurrences: list[Occurrence]) -> list[Occurrence]:
    first: dict[str, Occurrence] = {}
    for occurrence in occurrences:
        known = first.get(occurrence.uid)
        if known is None or occurrence.start < known.start:
            first[occurrence.uid] = occurrence
    return list(first.values())


def is_mass_cancellation(cancelled_sessions: int, upcoming_sessions: int) -> bool:
    """At least half of at least four upcoming sessions cancelled at once looks like an accident."""
    return upcoming_sessions >= 4 and 2 * cancelled_sessions >= upcoming_sessions


def cancelled_sessions(changes: list[Change]) -> int:
    return sum(change.instances for change in changes if change.kind is ChangeKind.CANCELLED)
