"""Where a client's engagement stands at a moment: active, paused (until when) or ended, and since when
the current agreement runs. Pure: the coach's recorded steps in, a status out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from enum import StrEnum

from .model import EngagementEvent, EngagementKind


class Status(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Engagement:
    """A client's engagement at one moment."""

    status: Status = Status.ACTIVE
    since: datetime | None = None  # when the pause or end was recorded
    until: date | None = None  # a pause's last day is the day before this
    reason: str | None = None

    def describe(self) -> str:
        """As `clients` shows it: "active", "paused until 2027-01-10", "ended"."""
        if self.status is Status.PAUSED and self.until is not None:
            return f"paused until {self.until.isoformat()}"
        return self.status.value


_STEP_WORDS = {
    EngagementKind.REVISIT: "agreement revisited",
    EngagementKind.PAUSE: "paused",
    EngagementKind.RESUME: "resumed",
    EngagementKind.END: "ended",
}


def step_words(event: EngagementEvent) -> str:
    """A step as `history` and the report name it: "agreement revisited", "paused until 2027-01-10"…"""
    if event.kind is EngagementKind.PAUSE and event.until is not None:
        return f"paused until {event.until.isoformat()}"
    return _STEP_WORDS[event.kind]


def local_midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def engagement_at(events: Sequence[EngagementEvent], moment: datetime, zone: tzinfo) -> Engagement:
    """Replay the steps recorded up to `moment`; a pause with an end day is over from that day on."""
    current = Engagement()
    for event in sorted(events, key=lambda e: (e.at, e.id)):
        if event.at > moment:
            break
        if event.kind is EngagementKind.PAUSE:
            current = Engagement(Status.PAUSED, event.at, event.until, event.reason)
        elif event.kind is EngagementKind.END:
            current = Engagement(Status.ENDED, event.at, None, event.reason)
        elif event.kind is EngagementKind.RESUME:
            current = Engagement()
    if current.status is Status.PAUSED and current.until is not None and moment >= local_midnight(current.until, zone):
        return Engagement()
    return current


def term_start(
    events: Sequence[EngagementEvent], started: date | None, moment: datetime, zone: tzinfo
) -> datetime | None:
    """When the agreement in force at `moment` began: its last revisit, else the day it started, else None."""
    revisits = [e.at for e in events if e.kind is EngagementKind.REVISIT and e.at <= moment]
    if revisits:
        return max(revisits)
    if started is not None and local_midnight(started, zone) <= moment:
        return local_midnight(started, zone)
    return None


def refusal(events: Sequence[EngagementEvent], kind: EngagementKind, now: datetime, zone: tzinfo) -> str | None:
    """Why this step cannot be recorded now, in words for the coach; None when it can."""
    current = engagement_at(events, now, zone)
    ended = current.since.astimezone(zone).date().isoformat() if current.since else "earlier"
    if kind is EngagementKind.RESUME and current.status is Status.ACTIVE:
        return "is neither paused nor ended; there is nothing to resume"
    if kind is EngagementKind.END and current.status is Status.ENDED:
        return f"has already ended (on {ended})"
    if kind in (EngagementKind.PAUSE, EngagementKind.REVISIT) and current.status is Status.ENDED:
        return f"has ended (on {ended}); `coachsync client resume` first"
    return None
