"""What counts against a client: the one rule every command and policy uses.

A record counts against its client unless it is a restoration, was excused,
or is a cancellation that a later restoration undid (the session took place
after all). Pure: records in, records out.
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
            # The session is back: the most recent cancellation of that very session no longer counts.
            session = (change.calendar, change.uid, change.recurrence_id)
            for index in range(len(counted) - 1, -1, -1):
                earlier = counted[index].change
                if earlier.kind is ChangeKind.CANCELLED and (earlier.calendar, earlier.uid, earlier.recurrence_id) == (
                    session
                ):
                    del counted[index]
                    break
        elif not record.excused:
            counted.append(record)
    return counted


def is_late(record: Record, notice_hours: float) -> bool:
    """Late means less notice than the agreement asks for."""
    return record.change.notice_hours < notice_hours
