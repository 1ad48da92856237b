"""A client's sessions around today and how they went: upcoming, held, no-show, cancelled, moved; attendance.

The calendar shows where sessions are; the history shows what happened to
them. A session is `held` once its start has passed and it was neither
cancelled nor marked as a no-show: nobody has to confirm it. Pure: the
snapshot's occurrences and the history in, rows and figures out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .model import ChangeKind, Occurrence, Record
from .standing import Standing

SessionKey = tuple[str, str, str]


class SessionState(StrEnum):
    UPCOMING = "upcoming"
    HELD = "held"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    MOVED = "moved"


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One session as `coachsync sessions` lists it."""

    key: SessionKey
    client: str
    start: datetime
    summary: str
    state: SessionState
    moved_to: datetime | None = None  # for a `moved` row: where the session went
    record_id: int | None = None  # the no-show, cancellation or move that says so


def no_shows(records: Iterable[Record]) -> dict[SessionKey, Record]:
    """The no-shows that stand (not taken back), by the session they are about."""
    return {
        (r.change.calendar, r.change.uid, r.change.recurrence_id): r
        for r in records
        if r.change.kind is ChangeKind.NO_SHOW and not r.withdrawn
    }


def session_rows(
    occurrences: Iterable[Occurrence],
    records: Sequence[Record],
    client: str,
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[SessionRow]:
    """The client's sessions from `start` to `end`, earliest first.

    `occurrences` are the calendar's sessions as they are now, already matched to their
    clients; `records` the client's history. A moved session shows twice: at its old time as
    `moved` (with where to), and at its new time with its own state.
    """
    marked = no_shows(records)
    rows: list[SessionRow] = []
    for occurrence in occurrences:
        if occurrence.client != client or not start <= occurrence.start <= end:
            continue
        key = occurrence.key
        if occurrence.cancelled:
            continue  # a cancellation shows from the history below (a tombstone may be a moved series' old slot)
        if key in marked:
            state = SessionState.NO_SHOW
        elif occurrence.start <= now:
            state = SessionState.HELD
        else:
            state = SessionState.UPCOMING
        found = marked.get(key)
        rows.append(
            SessionRow(key, client, occurrence.start, occurrence.summary, state, None, found.id if found else None)
        )
    shown = {(row.key, row.start) for row in rows}
    for record in records:
        change = record.change
        key = (change.calendar, change.uid, change.recurrence_id)
        if change.instances != 1 or not start <= change.old_start <= end or (key, change.old_start) in shown:
            continue
        if change.kind in (ChangeKind.MOVED, ChangeKind.REBOOKED):
            state, moved_to = SessionState.MOVED, change.new_start
        elif change.kind is ChangeKind.CANCELLED:
            state, moved_to = SessionState.CANCELLED, None
        else:
            continue
        rows.append(SessionRow(key, client, change.old_start, change.summary, state, moved_to, record.id))
        shown.add((key, change.old_start))
    return sorted(rows, key=lambda row: (row.start, row.key))


@dataclass(frozen=True, slots=True)
class Attendance:
    """Held ÷ (held + unexcused no-shows + unexcused late cancellations) over a span of time."""

    held: int
    no_shows: int
    late_cancellations: int

    @property
    def rate(self) -> float | None:
        """From 0 to 1; None when nothing happened that could be attended."""
        total = self.held + self.no_shows + self.late_cancellations
        return self.held / total if total else None

    def describe(self) -> str:
        return "-" if self.rate is None else f"{round(100 * self.rate)}%"


def attendance(
    rows: Iterable[SessionRow], records: Sequence[Record], found: Mapping[int, Standing], since: datetime, now: datetime
) -> Attendance:
    """Attendance from `since` to `now`: held sessions from the rows, no-shows and late cancellations that
    count (by the client's standing) from the records."""
    held = sum(1 for row in rows if row.state is SessionState.HELD and since <= row.start <= now)
    counted = [r for r in records if found[r.id].counts and since <= r.change.old_start <= now]
    missed = sum(1 for r in counted if r.change.kind is ChangeKind.NO_SHOW)
    late = sum(r.change.instances for r in counted if r.change.kind is ChangeKind.CANCELLED and found[r.id].late)
    return Attendance(held, missed, late)
