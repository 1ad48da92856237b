"""What the report shows, as plain rows: built from the app's views, before any chart or HTML.

Pure: the client summaries `clients` prints, each client's records with their standing, their
session rows, engagement steps, fees and suggestions go in; rows and one-line summaries come out.
No rule is worked out here again: lateness, counting and allowance places are the standing's,
session states the attendance module's, status and pauses the engagement log's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal

from ..agreement import Agreement
from ..attendance import SessionRow, SessionState
from ..engagement import local_midnight, step_words
from ..model import ChangeKind, EngagementEvent, EngagementKind, FeeEntry, FeeStatus, Record, SuggestionEntry
from ..standing import Standing

# How far past today the timeline reaches: where moved sessions went, and what is booked next.
AHEAD = timedelta(days=28)

# The changes the notice chart shows: the ones given with some notice (a no-show has none).
NOTICE_KINDS = frozenset({ChangeKind.MOVED, ChangeKind.REBOOKED, ChangeKind.SERIES_MOVED, ChangeKind.CANCELLED})

KIND_WORDS = {
    ChangeKind.MOVED: "moved",
    ChangeKind.CANCELLED: "cancelled",
    ChangeKind.RESTORED: "put back",
    ChangeKind.REBOOKED: "rebooked",
    ChangeKind.SERIES_MOVED: "series moved",
    ChangeKind.NO_SHOW: "no-show",
}

STATE_WORDS = {
    SessionState.UPCOMING: "upcoming",
    SessionState.HELD: "held",
    SessionState.NO_SHOW: "no-show",
    SessionState.CANCELLED: "cancelled",
    SessionState.MOVED: "moved",
}


@dataclass(frozen=True, slots=True)
class ClientInputs:
    """One client's views, as the app gives them."""

    name: str
    status: str  # as `clients` shows it: "active", "paused until 2027-01-10", "ended"
    agreement: Agreement
    attendance: str  # the current period's, as `clients` shows it
    held: int
    allowance_used: int
    late: int
    no_shows: int
    standings: Sequence[tuple[Record, Standing]]  # the client's whole history, oldest first
    sessions: Sequence[tuple[int, SessionRow]]  # from `since` to a little past now, with references
    events: Sequence[EngagementEvent]
    fees: Sequence[FeeEntry]
    suggestions: Sequence[SuggestionEntry]  # the open ones: not dismissed


@dataclass(frozen=True, slots=True)
class OverviewRow:
    name: str
    status: str
    attendance: str
    held: int
    allowance: str  # "1 of 2 per 90 days"
    allowance_used: int
    allowance_total: int
    late: int
    no_shows: int
    fees_owed: str  # "60.00 EUR", "-" when nothing is owed
    suggestions: int
    anchor: str  # the id of the client's section


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    ref: int
    start: datetime  # local time
    state: SessionState
    moved_to: datetime | None  # local time, for a moved session
    excused: bool
    summary: str

    @property
    def state_words(self) -> str:
        return STATE_WORDS[self.state] + (" (excused)" if self.excused else "")


@dataclass(frozen=True, slots=True)
class NoticePoint:
    record_id: int
    changed_at: datetime  # local
    session: datetime  # local: the session's time before the change
    kind: str
    notice_hours: float
    late: bool
    counts: bool
    why_not: str | None


@dataclass(frozen=True, slots=True)
class AllowancePoint:
    record_id: int
    at: datetime  # local: when the change was made
    kind: str
    used: int  # its place in its period's allowance
    period_start: datetime  # local
    over: bool


@dataclass(frozen=True, slots=True)
class Span:
    """A pause, from when it was recorded to when sessions started again (or to the report's end)."""

    start: datetime
    end: datetime
    label: str


@dataclass(frozen=True, slots=True)
class GapPoint:
    session: datetime  # local: the held session that ended the gap
    days: float  # since the held session before it


@dataclass(frozen=True, slots=True)
class FeeRow:
    id: int
    raised: datetime
    change_id: int
    amount: str
    status: str
    reason: str


@dataclass(frozen=True, slots=True)
class SuggestionRow:
    id: int
    created: datetime
    plugin: str
    text: str


@dataclass(frozen=True, slots=True)
class HistoryRow:
    id: str
    when: datetime
    what: str
    session: datetime | None
    new_time: datetime | None
    notice_hours: str
    standing: str
    excused: str
    summary: str


@dataclass(frozen=True, slots=True)
class ClientReport:
    name: str
    anchor: str
    status: str
    terms: str  # the agreement in one line
    notice_threshold: float
    allowance: int
    cadence_days: int | None
    timeline: tuple[TimelinePoint, ...]
    timeline_summary: str
    notice: tuple[NoticePoint, ...]
    notice_summary: str
    counts: tuple[AllowancePoint, ...]
    period_starts: tuple[datetime, ...]
    revisits: tuple[datetime, ...]
    pauses: tuple[Span, ...]
    counts_summary: str
    gaps: tuple[GapPoint, ...]
    cadence_summary: str
    fees: tuple[FeeRow, ...]
    fees_summary: str
    suggestions: tuple[SuggestionRow, ...]
    history: tuple[HistoryRow, ...]


@dataclass(frozen=True, slots=True)
class ReportData:
    title: str
    now: datetime  # local
    since: datetime  # local
    until: datetime  # local: the timeline's right edge
    zone: str
    overview: tuple[OverviewRow, ...]
    clients: tuple[ClientReport, ...]


def build_report(
    inputs: Sequence[ClientInputs], *, now: datetime, since: datetime, zone: tzinfo, zone_name: str
) -> ReportData:
    """The report's rows for these clients, from `since` to `now` (the timeline reaches a little further)."""
    local_now, local_since = now.astimezone(zone), since.astimezone(zone)
    clients = tuple(_client(item, index, local_now, local_since, zone) for index, item in enumerate(inputs, 1))
    overview = tuple(_overview(item, report, local_since) for item, report in zip(inputs, clients, strict=True))
    title = f"Coaching report: {clients[0].name}" if len(clients) == 1 else "Coaching report"
    return ReportData(title, local_now, local_since, local_now + AHEAD, zone_name, overview, clients)


def owed_totals(fees: Sequence[FeeEntry]) -> str:
    """What is still owed, per currency: "60.00 EUR", "-" for nothing."""
    totals: dict[str, Decimal] = {}
    for fee in fees:
        if fee.status is FeeStatus.OWED:
            totals[fee.currency] = totals.get(fee.currency, Decimal("0")) + fee.amount
    return ", ".join(_money(amount, currency) for currency, amount in sorted(totals.items())) or "-"


def _overview(item: ClientInputs, report: ClientReport, since: datetime) -> OverviewRow:
    agreement = item.agreement
    return OverviewRow(
        name=item.name,
        status=item.status,
        attendance=item.attendance,
        held=item.held,
        allowance=f"{item.allowance_used} of {agreement.allowance} per {agreement.per}",
        allowance_used=item.allowance_used,
        allowance_total=agreement.allowance,
        late=item.late,
        no_shows=item.no_shows,
        fees_owed=owed_totals(item.fees),
        suggestions=len(report.suggestions),
        anchor=report.anchor,
    )


def _client(item: ClientInputs, index: int, now: datetime, since: datetime, zone: tzinfo) -> ClientReport:
    agreement = item.agreement
    records = {record.id: record for record, _ in item.standings}
    timeline = tuple(
        TimelinePoint(
            ref,
            row.start.astimezone(zone),
            row.state,
            row.moved_to.astimezone(zone) if row.moved_to else None,
            row.record_id is not None and row.record_id in records and records[row.record_id].excused,
            row.summary,
        )
        for ref, row in item.sessions
    )
    in_span = [(r, s) for r, s in item.standings if since <= r.change.changed_at <= now]
    notice = tuple(
        NoticePoint(
            r.id,
            r.change.changed_at.astimezone(zone),
            r.change.old_start.astimezone(zone),
            KIND_WORDS[r.change.kind],
            r.change.notice_hours,
            s.late,
            s.counts,
            s.why_not,
        )
        for r, s in in_span
        if r.change.kind in NOTICE_KINDS
    )
    counts = tuple(
        AllowancePoint(
            r.id,
            r.change.changed_at.astimezone(zone),
            KIND_WORDS[r.change.kind],
            s.allowance_used,
            s.period_start.astimezone(zone),
            s.over,
        )
        for r, s in in_span
        if s.counts and s.period_start is not None
    )
    period_starts = tuple(sorted({p.period_start for p in counts if p.period_start >= since}))
    revisits = tuple(
        e.at.astimezone(zone) for e in item.events if e.kind is EngagementKind.REVISIT and since <= e.at <= now
    )
    pauses = _pauses(item.events, since, now, zone)
    gaps = _gaps(timeline)
    fees = tuple(
        FeeRow(f.id, f.created_at.astimezone(zone), f.change_id, _money(f.amount, f.currency), _fee_status(f), f.reason)
        for f in item.fees
        if f.created_at >= since or f.status is FeeStatus.OWED
    )
    # Open is not dismissed: an open suggestion is shown however old it is.
    suggestions = tuple(SuggestionRow(s.id, s.created_at.astimezone(zone), s.plugin, s.text) for s in item.suggestions)
    return ClientReport(
        name=item.name,
        anchor=f"client-{index}",
        status=item.status,
        terms=_terms(agreement),
        notice_threshold=agreement.notice_hours,
        allowance=agreement.allowance,
        cadence_days=agreement.cadence.days if agreement.cadence else None,
        timeline=timeline,
        timeline_summary=_timeline_summary(timeline, now),
        notice=notice,
        notice_summary=_notice_summary(notice, agreement),
        counts=counts,
        period_starts=period_starts,
        revisits=revisits,
        pauses=pauses,
        counts_summary=_counts_summary(item, counts, revisits, pauses),
        gaps=gaps,
        cadence_summary=_cadence_summary(gaps, agreement),
        fees=fees,
        fees_summary=f"Still owed: {owed_totals(item.fees)}." if owed_totals(item.fees) != "-" else "Nothing owed.",
        suggestions=suggestions,
        history=_history(item, since, zone),
    )


def _terms(agreement: Agreement) -> str:
    hours = f"{agreement.notice_hours:g}"
    parts = [
        f"{hours} hours' notice",
        f"{agreement.allowance} reschedule{'s' if agreement.allowance != 1 else ''} per {agreement.per}",
    ]
    if agreement.cadence is not None:
        parts.append(f"sessions {agreement.cadence}")
    if agreement.started is not None:
        parts.append(f"since {agreement.started.isoformat()}")
    return "; ".join(parts)


def _fee_status(fee: FeeEntry) -> str:
    if fee.status is FeeStatus.PAID:
        return f"paid {fee.paid_on.isoformat()}" if fee.paid_on else "paid"
    if fee.status is FeeStatus.WAIVED:
        return f"waived: {fee.waived_reason}" if fee.waived_reason else "waived"
    return "owed"


def _pauses(events: Sequence[EngagementEvent], since: datetime, now: datetime, zone: tzinfo) -> tuple[Span, ...]:
    """Each pause (and the end, if any) as a span: until the resume, its --until day, or now."""
    spans: list[Span] = []
    ordered = sorted(events, key=lambda e: (e.at, e.id))
    for index, event in enumerate(ordered):
        if event.kind not in (EngagementKind.PAUSE, EngagementKind.END):
            continue
        later = [e.at for e in ordered[index + 1 :] if e.kind in (EngagementKind.RESUME, EngagementKind.PAUSE)]
        end = min(later) if later else now
        if event.kind is EngagementKind.PAUSE and event.until is not None:
            end = min(end, local_midnight(event.until, zone))
        if end < since or event.at > now:
            continue
        if event.kind is EngagementKind.END:
            label = "ended"
        else:
            label = f"paused until {event.until.isoformat()}" if event.until else "paused"
        spans.append(Span(max(event.at, since).astimezone(zone), min(end, now).astimezone(zone), label))
    return tuple(spans)


def _gaps(timeline: Sequence[TimelinePoint]) -> tuple[GapPoint, ...]:
    held = sorted(p.start for p in timeline if p.state is SessionState.HELD)
    return tuple(
        GapPoint(later, round((later - earlier).total_seconds() / 86400, 1))
        for earlier, later in zip(held, held[1:], strict=False)
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _timeline_summary(timeline: Sequence[TimelinePoint], now: datetime) -> str:
    if not timeline:
        return "No sessions in this time."
    by_state = {state: sum(1 for p in timeline if p.state is state) for state in SessionState}
    parts = [
        f"{by_state[SessionState.HELD]} held",
        f"{by_state[SessionState.MOVED]} moved",
        f"{by_state[SessionState.CANCELLED]} cancelled",
        _plural(by_state[SessionState.NO_SHOW], "no-show"),
    ]
    text = ", ".join(parts)
    excused = sum(1 for p in timeline if p.excused)
    if excused:
        text += f" ({excused} of them excused)"
    upcoming = by_state[SessionState.UPCOMING]
    if upcoming:
        text += f"; {upcoming} upcoming"
    return text[0].upper() + text[1:] + "."


def _notice_summary(notice: Sequence[NoticePoint], agreement: Agreement) -> str:
    hours = f"{agreement.notice_hours:g}"
    if not notice:
        return f"No moves or cancellations in this time. The agreement asks for {hours} hours' notice."
    late = sum(1 for p in notice if p.late)
    excused = sum(1 for p in notice if p.late and p.why_not == "excused")
    text = f"{_plural(len(notice), 'change')}; {late} with less than the {hours} hours' notice the agreement asks for"
    if excused:
        text += f" ({excused} of them excused)"
    return text + "."


def _counts_summary(
    item: ClientInputs, counts: Sequence[AllowancePoint], revisits: Sequence[datetime], pauses: Sequence[Span]
) -> str:
    agreement = item.agreement
    text = f"This period: {item.allowance_used} of {agreement.allowance} used (per {agreement.per})."
    over = sum(1 for p in counts if p.over)
    if over:
        text += f" {_plural(over, 'change')} went over the allowance in this time."
    if revisits:
        text += f" Agreement revisited {_plural(len(revisits), 'time')}: counting started again."
    if pauses:
        text += f" {_plural(len(pauses), 'pause')} (nothing counts while paused)."
    return text


def _cadence_summary(gaps: Sequence[GapPoint], agreement: Agreement) -> str:
    agreed = (
        f"The agreement says {agreement.cadence} (every {agreement.cadence.days} days)."
        if agreement.cadence
        else "The agreement sets no cadence."
    )
    if not gaps:
        return f"Fewer than two sessions held in this time. {agreed}"
    average = sum(g.days for g in gaps) / len(gaps)
    longest = max(g.days for g in gaps)
    return f"Held sessions came every {average:.1f} days on average; the longest gap was {longest:g} days. {agreed}"


def _history(item: ClientInputs, since: datetime, zone: tzinfo) -> tuple[HistoryRow, ...]:
    rows: list[tuple[datetime, HistoryRow]] = []
    for record, standing in item.standings:
        if record.detected_at < since:
            continue
        change = record.change
        rows.append(
            (
                record.detected_at,
                HistoryRow(
                    str(record.id),
                    record.detected_at.astimezone(zone),
                    KIND_WORDS[change.kind],
                    change.old_start.astimezone(zone),
                    change.new_start.astimezone(zone) if change.new_start else None,
                    f"{change.notice_hours:.1f}",
                    standing.words(),
                    _excused_words(record),
                    change.summary,
                ),
            )
        )
    for event in item.events:
        if event.at < since:
            continue
        rows.append(
            (
                event.at,
                HistoryRow(
                    "-", event.at.astimezone(zone), step_words(event), None, None, "-", "-", "-", event.reason or ""
                ),
            )
        )
    return tuple(row for _, row in sorted(rows, key=lambda item: item[0]))


def _excused_words(record: Record) -> str:
    if not record.excused:
        return "no"
    return f"yes: {record.reason}" if record.reason else "yes"


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:.2f} {currency}"


__all__ = ["ClientInputs", "ClientReport", "ReportData", "build_report"]
