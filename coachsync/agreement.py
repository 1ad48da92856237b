"""What counts against a client: the one rule every command and policy uses.

A record counts against its client unless it is a restoration, was excused,
or is a cancellation that a later restoration undid (the session, or the
whole series, came back). Pure: records in, records out.
"""

from __future__ import annotations

from collections.abc import Iterable

from .model import ChangeKind, Record

RESCHEDULE_KINDS = frozenset({ChangeKind.MOVED, ChangeKind.REBOOKED, ChangeKind.SERIES_MOVED})


def counts_against(records: Iterable[Record]) -> list[Record]:
    """The records that count against the client, in the order given (oldest first)."""
    counted: list[Record] = []
    for record in records:
        change = record.change
        if change.kind is ChangeKind.RESTORED:
            _undo_cancellations(counted, record)
        elif not record.excused:
            counted.append(record)
    return counted


def _undo_cancellations(counted: list[Record], restoration: Record) -> None:
    """The sessions are back: the most recent cancellations of them no longer count.

    A restoration of one instance of a series undoes that instance's cancellation.
    A restoration of a whole event or series (no RECURRENCE-ID) undoes the event's
    latest cancellations, newest first, until as many sessions as came back are
    accounted for: one deleted series put back, or several skipped sessions at once.
    """
    change = restoration.change
    left = max(change.instances, 1)
    for index in range(len(counted) - 1, -1, -1):
        earlier = counted[index].change
        if earlier.kind is not ChangeKind.CANCELLED or (earlier.calendar, earlier.uid) != (change.calendar, change.uid):
            continue
        if change.recurrence_id and earlier.recurrence_id != change.recurrence_id:
            continue
        del counted[index]
        left -= earlier.instances
        if left <= 0:
            return


def is_late(record: Record, notice_hours: float) -> bool:
    """Late means less notice than the agreement asks for."""
    return record.change.notice_hours < notice_hours
