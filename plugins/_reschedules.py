"""What the built-in policies share: a client's pattern of reschedules, and how records read.

Which records count against a client is coachsync's one rule, `counts_against`;
moves, rebookings, series moves and cancellations all count as reschedules here.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Literal

from coachsync.api import (
    Agreement,
    ChangeKind,
    ClientInfo,
    PeriodKind,
    PolicySettings,
    Record,
    Standing,
    counts_against,
)

_KIND_WORDS = {
    ChangeKind.MOVED: "moved",
    ChangeKind.CANCELLED: "cancelled",
    ChangeKind.REBOOKED: "rebooked",
    ChangeKind.SERIES_MOVED: "series moved",
    ChangeKind.RESTORED: "restored",
    ChangeKind.NO_SHOW: "missed",
}


def with_current(record: Record, history: Sequence[Record]) -> list[Record]:
    """The client's history followed by the record itself, whichever way the caller passed it."""
    return [r for r in history if r.id != record.id] + [record]


def within(records: Iterable[Record], end: datetime, days: int) -> list[Record]:
    """Records that happened in the `days` before `end`; one exactly `days` ago still counts."""
    start = end - timedelta(days=days)
    return [r for r in records if start <= r.change.changed_at <= end]


def reached_step(count: int, after: int) -> int:
    """Step n is reached by the client's (n × after)-th unexcused reschedule; 0 before the first."""
    return count // after


class TriggeredSettings(PolicySettings):
    """Settings of a policy that reacts to a pattern of reschedules: over the agreed allowance (the
    default), or `after` of them within `within_days` (the rule before agreements; it stays the rule
    when `after` or `within_days` is given without a `trigger`)."""

    trigger: Literal["over_allowance", "after"] | None = None

    @property
    def rule(self) -> str:
        if self.trigger is not None:
            return self.trigger
        return "after" if {"after", "within_days"} & self.model_fields_set else "over_allowance"


@dataclass(frozen=True, slots=True)
class Pattern:
    """A client's run of reschedules: the step it reached, and the records inside the window."""

    step: int
    recent: tuple[Record, ...]


def pattern(record: Record, history: Sequence[Record], after: int, within_days: int) -> Pattern | None:
    """The step this change keeps its client at, while `after` of them fall within `within_days`; else None."""
    if record.change.kind is ChangeKind.RESTORED or record.excused:
        return None
    counted = counts_against(with_current(record, history))
    # Anchored at the change itself, so a pass retried later decides exactly as the first one would.
    recent = within(counted, record.change.changed_at, within_days)
    if len(recent) < after:
        return None
    return Pattern(reached_step(len(counted), after), tuple(recent))


def in_period(standing: Standing, history: Sequence[Record], record: Record) -> tuple[Record, ...]:
    """The records that count in this change's allowance period, up to and including it, oldest first."""
    by_id = {r.id: r for r in with_current(record, history)}
    return tuple(by_id[i] for i in standing.period_ids if i in by_id)


def once_per_period(client: ClientInfo, standing: Standing) -> str:
    """The `once_per` key of "once per client and allowance period"."""
    start = standing.period_start.isoformat() if standing.period_start else ""
    return f"{client.name}:period-{start}"


def allowance_words(agreement: Agreement) -> str:
    """How the allowance's period reads in a sentence: "within 90 days", "a month", "a quarter"."""
    per = agreement.per
    if per.kind is PeriodKind.DAYS:
        return f"within {per}"
    if per.kind is PeriodKind.AGREEMENT:
        return "between two reviews of our agreement"
    return f"a {per.kind.value}"


def day(moment: datetime | None, zone: tzinfo) -> str:
    """A date as a coach reads it: "Tue 1 Dec 2026"."""
    if moment is None:
        return "-"
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y}"


def when(moment: datetime | None, zone: tzinfo) -> str:
    """A date and time as a coach reads it, in the coach's zone: "Tue 8 Dec 2026, 10:00"."""
    if moment is None:
        return "-"
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M}"


def describe(record: Record, zone: tzinfo) -> str:
    """One history line: what happened to which session, with how much notice."""
    change = record.change
    if change.kind is ChangeKind.NO_SHOW:
        return f"{when(change.old_start, zone)}: did not come to the session (no-show)"
    what = _KIND_WORDS[change.kind]
    line = f"{when(change.changed_at, zone)}: {what} the session of {when(change.old_start, zone)}"
    if change.new_start is not None and change.kind is not ChangeKind.CANCELLED:
        line += f" to {when(change.new_start, zone)}"
    if change.instances > 1:
        line += f" ({change.instances} sessions)"
    return line + f", {hours(change.notice_hours)} notice"


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """ "1 time", "5 times": a count with its noun, as people write it."""
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


def hours(value: float) -> str:
    """Notice as people say it: "6 h", "2.5 h", "3 days"."""
    if value >= 72:
        return f"{value / 24:.0f} days"
    return f"{value:.1f}".removesuffix(".0") + " h"


def shell_word(text: str) -> str:
    """A client's name as the coach would type it in a shell: quoted when it has spaces or quotes."""
    return shlex.quote(text)


def first_name(client: ClientInfo) -> str:
    return client.name.split()[0] if client.name.split() else client.name
