"""Values that flow through the pipeline: occurrences in, changes out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ChangeKind(StrEnum):
    MOVED = "moved"
    CANCELLED = "cancelled"
    RESTORED = "restored"
    REBOOKED = "rebooked"
    SERIES_MOVED = "series_moved"


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One session as the calendar shows it now.

    Keyed by ``(calendar, uid, recurrence_id)``; ``recurrence_id`` is "" for a
    plain event and the ISO original start (UTC) of a recurring instance.
    ``start``/``end`` are aware datetimes; an all-day event starts at local
    midnight of the coach's time zone and has ``all_day`` set.
    """

    calendar: str
    uid: str
    recurrence_id: str
    start: datetime
    end: datetime
    summary: str = ""
    all_day: bool = False
    cancelled: bool = False
    recurring: bool = False
    client: str | None = None
    attendees: tuple[str, ...] = ()
    sequence: int = 0
    last_modified: datetime | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.calendar, self.uid, self.recurrence_id)


@dataclass(frozen=True, slots=True)
class Change:
    """One reschedule, cancellation or restoration, as detected in one pass."""

    kind: ChangeKind
    calendar: str
    uid: str
    recurrence_id: str
    client: str | None
    summary: str
    old_start: datetime
    new_start: datetime | None
    notice_hours: float
    changed_at: datetime
    new_uid: str | None = None
    instances: int = 1
