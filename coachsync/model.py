"""Values that flow through the pipeline: occurrences in, changes and records out, the ledger's entries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum


class ChangeKind(StrEnum):
    MOVED = "moved"
    CANCELLED = "cancelled"
    RESTORED = "restored"
    REBOOKED = "rebooked"
    SERIES_MOVED = "series_moved"
    NO_SHOW = "no_show"  # marked by the coach (`coachsync noshow`): the session stayed, the client did not come


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


@dataclass(frozen=True, slots=True)
class Excuse:
    """One excuse the coach gave for a change, or took back (`taken_back`, with why, if said); `at` is None
    for one given before excuses were kept."""

    reason: str | None
    at: datetime | None
    taken_back: bool = False


@dataclass(frozen=True, slots=True)
class Record:
    """A change as recorded: the detected change plus what the coach said about it."""

    id: int
    change: Change
    detected_at: datetime
    excused: bool
    reason: str | None
    # Every excuse given or taken back, oldest first; `reason` is the standing excuse's, None when there is none.
    excuses: tuple[Excuse, ...] = ()
    # A no-show the coach took back (`coachsync noshow REF --undo`): kept, but it no longer counts.
    withdrawn: bool = False


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """The client a change belongs to, as the coach configured them."""

    name: str
    emails: tuple[str, ...]


class EngagementKind(StrEnum):
    """What the coach did with a client's engagement (`coachsync agreement revisit`, `coachsync client …`)."""

    REVISIT = "revisit"
    PAUSE = "pause"
    RESUME = "resume"
    END = "end"


@dataclass(frozen=True, slots=True)
class EngagementEvent:
    """One step of a client's engagement, as the coach recorded it; `id` is 0 until written."""

    id: int
    client: str
    kind: EngagementKind
    at: datetime
    by: str
    reason: str | None = None
    until: date | None = None  # a pause with --until ends by itself on this day


@dataclass(frozen=True, slots=True)
class CalendarState:
    """What the last successful pass left behind for one calendar."""

    name: str
    content_digest: str | None
    header_digest: str | None
    zone: str | None
    sync_state: Mapping[str, str]
    last_pass_at: datetime | None


@dataclass(frozen=True, slots=True)
class GroupSnapshot:
    """The new state of one event group (one UID): its fingerprint, expansion horizon and occurrences."""

    digest: str
    expanded_to: datetime
    occurrences: tuple[Occurrence, ...]


# --- the ledger: what policies asked for, as recorded -------------------------------------------
# Each value is the same class whether a policy just produced it or it was read back; `id` is 0
# until the store has written it (SQLite's row ids start at 1).
# `key` is its idempotency key: "{change id}:{plugin}:{kind}[:{key}]" or "{plugin}:{kind}:{once_per}".


class FeeStatus(StrEnum):
    OWED = "owed"
    PAID = "paid"
    WAIVED = "waived"


class MailStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    QUEUED = "queued"
    SENT = "sent"
    WRITTEN = "written"  # outbox mode: an .eml file was written, nothing was sent
    FAILED = "failed"
    DISCARDED = "discarded"


@dataclass(frozen=True, slots=True)
class FeeEntry:
    """A fee in the ledger: owed until the coach records it paid, waives it, or excuses its change."""

    id: int
    change_id: int
    plugin: str
    client: str | None
    amount: Decimal
    currency: str
    status: FeeStatus
    reason: str
    waived_reason: str | None
    created_at: datetime
    key: str = field(default="", compare=False)
    paid_on: date | None = None
    # Every change of its status after it was raised, oldest first.
    steps: tuple[FeeStep, ...] = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class FeeStep:
    """One change of a fee's status, as the coach recorded it."""

    status: FeeStatus
    at: datetime | None  # None for a waiver recorded before these steps were kept
    note: str | None = None
    on: date | None = None  # the day it was paid, for `paid`


@dataclass(frozen=True, slots=True)
class SuggestionEntry:
    """Advice a policy gave the coach about a client; `change_id` is None for the daily hook's."""

    id: int
    change_id: int | None
    plugin: str
    client: str | None
    text: str
    created_at: datetime
    key: str = field(default="", compare=False)
    dismissed_at: datetime | None = None  # the coach dismissed it; it stays, out of the default listing
    dismissal_reason: str | None = None


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One email in the outbox; `message_id` is fixed when the row is written, so a resend
    carries the same Message-ID and the receiver can drop the duplicate."""

    id: int
    message_id: str
    change_id: int | None  # None for an email the daily hook asked for
    plugin: str
    client: str | None
    recipient: str | None
    subject: str
    body: str
    status: MailStatus
    attempts: int
    next_attempt_at: datetime | None
    error: str | None
    created_at: datetime
    sent_at: datetime | None
    key: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with an outbox message; its name is always ours, never calendar text."""

    filename: str
    content_type: str  # "text/html"
    content: bytes


@dataclass(frozen=True, slots=True)
class CalendarFailure:
    """A calendar whose last pass failed: since its first failure in a row, with the last error's one line."""

    calendar: str
    since: datetime
    last_failed_at: datetime
    error: str


@dataclass(frozen=True, slots=True)
class PolicyFailure:
    """A plugin raised or returned something invalid for a change; retried on the next pass."""

    change_id: int
    plugin: str
    error: str
    attempts: int = 1
    failed_at: datetime | None = None
