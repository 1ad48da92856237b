"""The weekly digest: one plain-text email to the coach about the week, with the report attached.

`coachsync run` queues one per ISO week, on `mail.digest.weekday` at
`mail.digest.time` in the coach's time zone; the week is claimed in the
transaction that queues the message, so a crash leaves either both or
neither, and a restart never queues it twice. `coachsync digest` builds one
on demand. When a digest is due is decided by `digest_due` alone (pure); what
it says by `digest_text` alone (pure), from the `DigestData` that `gather`
reads from the store.
"""

from __future__ import annotations

import textwrap
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING

from .config import DigestConfig
from .errors import CoachsyncError, ConfigError
from .model import (
    Attachment,
    CalendarFailure,
    ChangeKind,
    FeeEntry,
    FeeStatus,
    MailStatus,
    OutboxMessage,
    Record,
    SuggestionEntry,
)
from .standing import Standing
from .text import one_line

if TYPE_CHECKING:
    from .app import App, ClientSummary

WEEK = timedelta(days=7)
# A daemon that was down at the digest's moment still sends it when it starts within this time after it;
# later, the digest would come closer to the next week's than to its own, so it waits for that one.
CATCH_UP = timedelta(days=3)
REPORT_DAYS = 90
WIDTH = 78  # our own lines are wrapped to this; an email's, a suggestion's or an error's text is quoted as is
_When = Callable[[datetime], str]
PLUGIN = "digest"  # the outbox's PLUGIN column for the digest's messages


@dataclass(frozen=True, slots=True)
class DigestDue:
    """The digest of ISO week `week` ("2026-W49"), due since `moment`; it covers the week before it."""

    week: str
    moment: datetime

    @property
    def since(self) -> datetime:
        return _days_before(self.moment, 7)


def digest_due(now: datetime, zone: tzinfo, settings: DigestConfig) -> DigestDue | None:
    """The digest due at `now`: that of the ISO week whose weekday and time (in `zone`) came at most
    CATCH_UP before `now`; None before it and after the catch-up time. Whether it was sent is the store's."""
    local = now.astimezone(zone)
    monday = local.date() - timedelta(days=local.isoweekday() - 1)
    for week_start in (monday, monday - WEEK):  # a Sunday evening digest is still due on Monday morning
        day = week_start + timedelta(days=settings.isoweekday - 1)
        moment = datetime.combine(day, settings.clock, tzinfo=zone)
        if moment <= now < moment + CATCH_UP:
            return DigestDue(iso_week(day), moment)
    return None


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def report_name(week: str) -> str:
    """Our name for the attached report: from the week alone, never from calendar text."""
    return f"coachsync-report-{week}.html"


# --- what the digest says ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientWeek:
    """One client's changes of the week, each with its standing, and where the client stands now."""

    name: str
    summary: ClientSummary | None  # None for changes that belong to no client
    changes: tuple[tuple[Record, Standing], ...]


@dataclass(frozen=True, slots=True)
class DigestData:
    """Everything the digest shows, read from the store at one moment."""

    week: str
    since: datetime
    until: datetime
    zone: tzinfo
    clients: tuple[ClientWeek, ...]
    no_shows: tuple[tuple[Record, Standing], ...]
    new_fees: tuple[FeeEntry, ...]
    owed: tuple[FeeEntry, ...]
    waiting: tuple[OutboxMessage, ...]
    suggestions: tuple[SuggestionEntry, ...]
    failures: tuple[CalendarFailure, ...]
    attachment: str | None  # the report's file name, when one is attached


def digest_subject(week: str) -> str:
    return f"coachsync weekly digest, {week}"


def digest_text(data: DigestData) -> str:
    """The plain-text body: a short heading per section; an empty section is one sentence."""

    def when(moment: datetime) -> str:
        return moment.astimezone(data.zone).strftime("%a %d %b %H:%M")

    def day(moment: datetime) -> str:
        return moment.astimezone(data.zone).strftime("%a %d %b %Y, %H:%M")

    lines = [f"Week {data.week}: from {day(data.since)} to {day(data.until)}.", f"All times are in {data.zone}."]
    lines += _section("Changes this week", _changes(data, when), "No changes this week.")
    lines += _section("No-shows", _no_shows(data, when), "No no-shows this week.")
    lines += _section("Fees", _fees(data), "No new fees this week, and nothing is owed.")
    lines += _section("Waiting for your approval", _waiting(data), "No message is waiting for your approval.")
    lines += _section("Open suggestions", _suggestions(data), "No open suggestions.")
    lines += _section("Calendars not read", _failures(data, day), "Every calendar was read in its last pass.")
    if data.attachment is not None:
        lines += ["", f"Attached: {data.attachment}, the report of the last {REPORT_DAYS} days."]
    return "\n".join(lines) + "\n"


def _section(heading: str, body: list[str], empty: str) -> list[str]:
    return ["", heading, "-" * len(heading), *(body or [empty])]


def _wrap(text: str, indent: str = "") -> list[str]:
    """One of our lines, wrapped; a continuation is indented two more, and a path or command is never split."""
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=indent,
        subsequent_indent=indent + "  ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def _changes(data: DigestData, when: _When) -> list[str]:
    lines: list[str] = []
    for client in data.clients:
        if lines:
            lines.append("")
        lines += _wrap(f"{client.name}: {_allowance(client.summary)}" if client.summary else client.name)
        for record, standing in client.changes:
            lines += _wrap(_change(record, standing, when), "  ")
    return lines


def _allowance(summary: ClientSummary) -> str:
    agreement = summary.agreement
    text = f"{summary.allowance_used} of {agreement.allowance} reschedules used, per {agreement.per}"
    if summary.allowance_used > agreement.allowance:
        text += ": over the allowance"
    status = summary.engagement.describe()
    return text if status == "active" else f"{text} ({status})"


_KINDS = {
    ChangeKind.MOVED: "moved",
    ChangeKind.CANCELLED: "cancelled",
    ChangeKind.RESTORED: "restored",
    ChangeKind.REBOOKED: "rebooked",
    ChangeKind.SERIES_MOVED: "series moved",
    ChangeKind.NO_SHOW: "no-show",
}


def _change(record: Record, standing: Standing, when: _When) -> str:
    change = record.change
    what = f"{when(change.old_start)} {_KINDS[change.kind]}"
    if change.new_start is not None and change.kind is not ChangeKind.RESTORED:
        what += f" to {when(change.new_start)}"
    if change.kind is not ChangeKind.RESTORED:
        what += f" with {change.notice_hours:.0f} hours' notice"
    return f"{what}: {_standing(standing)} ({one_line(change.summary, 60)})"


def _standing(standing: Standing) -> str:
    notice = "late" if standing.late else "on time"
    if not standing.counts:
        return f"{notice}, not counted ({standing.why_not})"
    over = ", over the allowance" if standing.over else ""
    return f"{notice}, counts {standing.allowance_used} of {standing.allowance}{over}"


def _no_shows(data: DigestData, when: _When) -> list[str]:
    lines = []
    for record, standing in data.no_shows:
        if standing.counts:
            counted = f"counts {standing.allowance_used} of {standing.allowance}"
            counted += ", over the allowance" if standing.over else ""
        else:
            counted = f"not counted ({standing.why_not})"
        summary = one_line(record.change.summary, 60)
        lines += _wrap(f"{record.change.client}: {when(record.change.old_start)}, {counted} ({summary})")
    return lines


def _fees(data: DigestData) -> list[str]:
    lines = []
    if data.new_fees:
        lines.append("New this week:")
        for fee in data.new_fees:
            amount = _money(fee.amount, fee.currency)
            lines += _wrap(
                f"{fee.client or 'no client'}: {amount} (fee {fee.id}, {fee.status.value}): {fee.reason}", "  "
            )
    if data.owed:
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for fee in data.owed:
            totals[fee.currency] += fee.amount
        lines.append(
            "Owed in total: " + ", ".join(_money(amount, currency) for currency, amount in sorted(totals.items()))
        )
        by_client: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for fee in data.owed:
            by_client[(fee.client or "no client", fee.currency)] += fee.amount
        lines += [f"  {client}: {_money(amount, currency)}" for (client, currency), amount in sorted(by_client.items())]
    elif data.new_fees:
        lines.append("Nothing is owed now.")
    return lines


def _money(amount: Decimal, currency: str) -> str:
    return f"{format(amount, 'f')} {currency}"


def _waiting(data: DigestData) -> list[str]:
    lines: list[str] = []
    for message in data.waiting:
        if lines:
            lines.append("")
        to = f"{message.recipient} ({message.client})" if message.client else f"{message.recipient}"
        lines += [f"Message {message.id} to {to}", f"Subject: {message.subject}", ""]
        lines += [f"    {line}".rstrip() for line in message.body.splitlines()]
        lines += [
            "",
            f"  Approve: coachsync outbox approve {message.id}",
            f"  Edit first: coachsync outbox edit {message.id}",
            f"  Discard: coachsync outbox discard {message.id}",
        ]
    return lines


def _suggestions(data: DigestData) -> list[str]:
    lines: list[str] = []
    for suggestion in data.suggestions:
        if lines:
            lines.append("")
        made = suggestion.created_at.astimezone(data.zone).strftime("%a %d %b")
        lines.append(f"{suggestion.client or 'No client'}, {made}:")
        lines += [f"    {line}".rstrip() for line in suggestion.text.splitlines()]
        lines += ["", f"  Dismiss when done: coachsync suggestions dismiss {suggestion.id}"]
    return lines


def _failures(data: DigestData, when: _When) -> list[str]:
    lines = []
    for failure in data.failures:
        lines += [f"{failure.calendar}: failing since {when(failure.since)}:", f"    {failure.error}"]
    return lines


# --- reading it from the store, and queueing it ---------------------------------------------------


def gather(app: App, now: datetime, since: datetime, week: str, attachment: str | None) -> DigestData:
    """What the digest shows for `since` up to `now`, as the store holds it."""
    records = [r for r in app.history(since=since) if r.detected_at < now and not r.withdrawn]
    standings = app.history_standings(records)
    summaries = {s.name: s for s in app.client_summaries(now)}
    by_client: dict[str | None, list[tuple[Record, Standing]]] = defaultdict(list)
    no_shows = []
    for record in records:
        if record.change.kind is ChangeKind.NO_SHOW:
            no_shows.append((record, standings[record.id]))
        else:
            by_client[record.change.client].append((record, standings[record.id]))
    order = [c.name for c in app.reading.clients if c.name in by_client] + ([None] if None in by_client else [])
    clients = tuple(
        ClientWeek(name or "No client", summaries.get(name) if name else None, tuple(by_client[name])) for name in order
    )
    fees = app.fees()
    calendars = set(app.reading.calendars)
    return DigestData(
        week=week,
        since=since,
        until=now,
        zone=app.zone,
        clients=clients,
        no_shows=tuple(no_shows),
        new_fees=tuple(f for f in fees if since <= f.created_at < now),
        owed=tuple(f for f in fees if f.status is FeeStatus.OWED),
        waiting=tuple(app.outbox(MailStatus.PENDING_APPROVAL)),
        suggestions=tuple(app.suggestions()),  # the open ones: those the coach dismissed are left out
        failures=tuple(f for f in app.store.calendar_failures.all() if f.calendar in calendars),
        attachment=attachment,
    )


def report_attachment(app: App, now: datetime, week: str) -> Attachment:
    """The HTML report of the last REPORT_DAYS days, under our own file name."""
    from .report import render_report

    html = render_report(app, now=now, since=now - timedelta(days=REPORT_DAYS))
    return Attachment(report_name(week), "text/html", html.encode("utf-8"))


def queue_weekly_digest(app: App, now: datetime) -> OutboxMessage | None:
    """Queue the digest due now unless its week already has one; returns the message queued, or None."""
    due = digest_due(now, app.zone, app.config.mail.digest) if app.config.mail.digest.enabled else None
    if due is None or app.store.ledger.digest_queued(due.week):
        return None  # the common case: one lookup, no write lock
    # A digest sent late covered up to its sending; the next one starts there, so nothing is told twice.
    last = app.store.ledger.last_digest_at()
    since = max(due.since, last) if last is not None else due.since
    message, attachment = _digest_message(app, now, since, due.week, f"digest:week:{due.week}")
    with app.store.transaction():
        if app.store.ledger.digest_queued(due.week):  # another process queued it meanwhile
            return None
        queued = app.store.outbox.add_with_attachments(message, [attachment])
        if queued is None:
            return None
        app.store.ledger.mark_digest(due.week, queued.id, now)
    return queued


def queue_digest_now(app: App, now: datetime) -> OutboxMessage:
    """A digest of the last seven days, queued now on request; the week's scheduled digest still comes."""
    week = iso_week(now.astimezone(app.zone).date())
    message, attachment = _digest_message(app, now, now - WEEK, week, f"digest:on-demand:{now.isoformat()}")
    queued = app.store.outbox.add_with_attachments(message, [attachment])
    if queued is None:
        raise CoachsyncError("a digest was already queued at this very moment; see `coachsync outbox`")
    return queued


def digest_now_text(app: App, now: datetime) -> str:
    """The text of a digest of the last seven days, for `coachsync digest --print`."""
    week = iso_week(now.astimezone(app.zone).date())
    return digest_text(gather(app, now, now - WEEK, week, report_name(week)))


def _digest_message(app: App, now: datetime, since: datetime, week: str, key: str) -> tuple[OutboxMessage, Attachment]:
    from .policies.checks import message_id

    mail = app.config.mail
    if mail.coach_email is None:
        raise ConfigError(str(app.config.path), None, "mail.coach_email", "not set: the digest goes to that address")
    attachment = report_attachment(app, now, week)
    body = digest_text(gather(app, now, since, week, attachment.filename))
    message = OutboxMessage(
        id=0,
        message_id=message_id(key, mail.sender),
        change_id=None,
        plugin=PLUGIN,
        client=None,
        recipient=mail.coach_email,
        subject=digest_subject(week),
        body=body,
        status=MailStatus.QUEUED,  # to the coach themself: nothing to approve
        attempts=0,
        next_attempt_at=None,
        error=None,
        created_at=now,
        sent_at=None,
        key=key,
    )
    return message, attachment


def _days_before(moment: datetime, days: int) -> datetime:
    """The same local time `days` calendar days earlier (not 24-hour days: a DST change keeps 08:00)."""
    local = moment.astimezone(moment.tzinfo)
    return datetime.combine(local.date() - timedelta(days=days), local.timetz())
