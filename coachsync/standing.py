"""What counts against a client, and where each record stands against the agreement: the one rule.

A record counts against its client when it is not a restoration, not excused,
not undone by a later restoration (the session, or the whole series, came
back), not from before the agreement started, and not made while the
engagement was paused or ended. A record that counts takes its place in the
allowance of its period (`1 of 2`, `2 of 2`, then over). `clients`,
`history`, every built-in policy and the report read the standing from here,
and plugins receive it as a hook argument. Pure: records in, standings out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from .agreement import Agreement, Period, PeriodKind
from .engagement import Status, engagement_at, local_midnight, term_start
from .model import ChangeKind, EngagementEvent, Record

RESCHEDULE_KINDS = frozenset({ChangeKind.MOVED, ChangeKind.REBOOKED, ChangeKind.SERIES_MOVED})

# Why a record does not count, in the words `history` shows.
RESTORATION = "restoration"
EXCUSED = "excused"
RESTORED = "restored"
PAUSED = "paused"
ENDED = "ended"
BEFORE_START = "before the agreement started"
NO_CLIENT = "no client"
WITHDRAWN = "taken back"


@dataclass(frozen=True, slots=True)
class Standing:
    """One record against its client's agreement."""

    record_id: int
    late: bool  # less notice than the agreement asks for
    counts: bool
    why_not: str | None  # set exactly when it does not count
    allowance_used: int  # its place among the changes that count in its period; 0 when it does not count
    allowance: int
    period_start: datetime | None  # the start of its allowance period, when it counts
    term_start: datetime | None  # the start or last revisit of the agreement it falls under
    periods_over: int  # periods of that agreement, up to this record, that went over the allowance
    period_ids: tuple[int, ...] = ()  # the records that count in its period, up to and including it

    @property
    def over(self) -> bool:
        """Over the allowance of its period."""
        return self.counts and self.allowance_used > self.allowance

    @property
    def first_over(self) -> bool:
        """The change that took its period over the allowance."""
        return self.counts and self.allowance_used == self.allowance + 1

    def describe(self) -> str:
        """As `history` shows it: "1 of 2", "3 of 2 (over)", or why it does not count."""
        if not self.counts:
            return f"- ({self.why_not})"
        text = f"{self.allowance_used} of {self.allowance}"
        return text + " (over)" if self.over else text

    def words(self) -> str:
        """As `history` and the report say it: "late, 1 of 2", "on time, 3 of 2, over",
        "late, not counted (excused)"."""
        notice = "late" if self.late else "on time"
        if not self.counts:
            return f"{notice}, not counted ({self.why_not})"
        return f"{notice}, {self.allowance_used} of {self.allowance}" + (", over" if self.over else "")


def is_late(record: Record, notice_hours: float) -> bool:
    """Late means less notice than the agreement asks for."""
    return record.change.notice_hours < notice_hours


def counts_against(records: Iterable[Record]) -> list[Record]:
    """The records that are neither restorations, excused, no-shows taken back, nor undone by a later restoration.

    The part of the rule that needs no agreement; `standings` applies the rest.
    """
    records = list(records)
    undone = _undone(records)
    return [
        r
        for r in records
        if r.change.kind is not ChangeKind.RESTORED and not r.excused and not r.withdrawn and r.id not in undone
    ]


def standings(
    records: Sequence[Record],
    agreement: Agreement,
    events: Sequence[EngagementEvent],
    zone: tzinfo,
) -> list[Standing]:
    """The standing of each of one client's records, oldest first as given."""
    undone = _undone(records)
    anchor = _anchor(records, zone) if records else None
    used: dict[tuple[datetime | None, datetime], list[int]] = {}
    over: dict[datetime | None, int] = {}
    found: list[Standing] = []
    for record in records:
        moment = record.change.changed_at
        why_not = _why_not(record, undone, agreement, events, zone)
        late = record.change.kind is not ChangeKind.RESTORED and is_late(record, agreement.notice_hours)
        term = term_start(events, agreement.started, moment, zone)
        if why_not is not None:
            found.append(
                Standing(record.id, late, False, why_not, 0, agreement.allowance, None, term, over.get(term, 0))
            )
            continue
        assert anchor is not None  # there is at least this record
        start = period_start(moment, agreement.per, term, anchor, zone)
        period = used.setdefault((term, start), [])
        period.append(record.id)
        if len(period) == agreement.allowance + 1:
            over[term] = over.get(term, 0) + 1
        found.append(
            Standing(
                record.id,
                late,
                True,
                None,
                len(period),
                agreement.allowance,
                start,
                term,
                over.get(term, 0),
                tuple(period),
            )
        )
    return found


def used_now(
    records: Sequence[Record],
    found: Sequence[Standing],
    agreement: Agreement,
    events: Sequence[EngagementEvent],
    now: datetime,
    zone: tzinfo,
) -> int:
    """How much of the allowance the client has used in the period `now` falls in."""
    if not records:
        return 0
    term = term_start(events, agreement.started, now, zone)
    current = current_period_start(records, agreement, events, now, zone)
    return sum(1 for s in found if s.counts and s.term_start == term and s.period_start == current)


def current_period_start(
    records: Sequence[Record], agreement: Agreement, events: Sequence[EngagementEvent], now: datetime, zone: tzinfo
) -> datetime:
    """When the allowance period `now` falls in began. With no record and no start or revisit to
    count from, a period of N days is taken to end now."""
    term = term_start(events, agreement.started, now, zone)
    if records:
        anchor = _anchor(records, zone)
    else:
        anchor = local_midnight((now - timedelta(days=max(agreement.per.days, 1) - 1)).astimezone(zone).date(), zone)
    return period_start(now, agreement.per, term, anchor, zone)


def period_start(moment: datetime, per: Period, term: datetime | None, anchor: datetime, zone: tzinfo) -> datetime:
    """The start of the allowance period `moment` falls in.

    `term` is when the agreement in force began (its start or last revisit), if known: no period
    begins before it. Periods of N days, and the agreement itself, count from it, or without one
    from `anchor`, the day of the client's first record. Months and quarters are the calendar's.
    """
    local = moment.astimezone(zone)
    base = term or anchor
    if per.kind is PeriodKind.AGREEMENT:
        return base
    if per.kind is PeriodKind.DAYS:
        span = timedelta(days=per.days)
        return base + span * ((local - base) // span)
    month = local.month if per.kind is PeriodKind.MONTH else 3 * ((local.month - 1) // 3) + 1
    calendar_start = local_midnight(local.date().replace(month=month, day=1), zone)
    return max(calendar_start, term) if term is not None else calendar_start


def _anchor(records: Sequence[Record], zone: tzinfo) -> datetime:
    """The day of the client's earliest change, where periods of N days count from without an agreement start.

    The earliest by when it happened, not by when it was recorded: a no-show is marked after the session,
    often after later changes were recorded, and must fall in the period its session was in.
    """
    return local_midnight(min(r.change.changed_at for r in records).astimezone(zone).date(), zone)


def _why_not(
    record: Record, undone: set[int], agreement: Agreement, events: Sequence[EngagementEvent], zone: tzinfo
) -> str | None:
    moment = record.change.changed_at
    if record.change.client is None:
        return NO_CLIENT
    if record.change.kind is ChangeKind.RESTORED:
        return RESTORATION
    if record.withdrawn:
        return WITHDRAWN
    if record.excused:
        return EXCUSED
    if record.id in undone:
        return RESTORED
    status = engagement_at(events, moment, zone).status
    if status is Status.ENDED:
        return ENDED
    if status is Status.PAUSED:
        return PAUSED
    if agreement.started is not None and moment < local_midnight(agreement.started, zone):
        return BEFORE_START
    return None


def _undone(records: Sequence[Record]) -> set[int]:
    """The cancellations a later restoration undid.

    A restoration of one instance of a series undoes that instance's cancellation.
    A restoration of a whole event or series (no RECURRENCE-ID) undoes the event's
    latest cancellations, newest first, until as many sessions as came back are
    accounted for: one deleted series put back, or several skipped sessions at once.
    Excused cancellations are not candidates: they never counted.
    """
    open_cancellations: list[Record] = []
    undone: set[int] = set()
    for record in records:
        change = record.change
        if change.kind is ChangeKind.CANCELLED and not record.excused:
            open_cancellations.append(record)
        elif change.kind is ChangeKind.RESTORED:
            left = max(change.instances, 1)
            for index in range(len(open_cancellations) - 1, -1, -1):
                earlier = open_cancellations[index].change
                if (earlier.calendar, earlier.uid) != (change.calendar, change.uid):
                    continue
                if change.recurrence_id and earlier.recurrence_id != change.recurrence_id:
                    continue
                undone.add(open_cancellations.pop(index).id)
                left -= earlier.instances
                if left <= 0:
                    break
    return undone
