"""Wiring: from a validated config to sources, a store and passes over every calendar.

The CLI and the daemon go through `App` alone. It builds only what a command
uses: reading the history opens the database, while sources, plugins and
their imports (caldav, requests, Jinja2) wait until a pass needs them.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .agreement import Agreement
from .attendance import Attendance, SessionRow, attendance, no_shows, session_rows
from .clients import ClientMatcher
from .engagement import Engagement, engagement_at, refusal
from .errors import CoachsyncError, NotFoundError, RefusedError
from .model import (
    Change,
    ChangeKind,
    EngagementEvent,
    EngagementKind,
    FeeEntry,
    MailStatus,
    Occurrence,
    OutboxMessage,
    PolicyFailure,
    Record,
    SuggestionEntry,
)
from .reading import ReadingConfig
from .standing import RESCHEDULE_KINDS, Standing, current_period_start, standings, used_now
from .store import Store

if TYPE_CHECKING:
    from .config import CalendarConfig, Config
    from .excuses import Excused, TakenBack
    from .mail import DeliveryReport
    from .outbox_review import Edited
    from .plugins import Plugins
    from .policies import PolicyRunner
    from .sources.base import Source
    from .sync import Acted, PassReport, PassSettings

# Set to 1 to log every plugin hook call with its duration.
TRACE_PLUGINS_ENV = "COACHSYNC_TRACE_PLUGINS"


def build_source(calendar: CalendarConfig) -> Source:
    if calendar.ics_file is not None:
        from .sources.ics_file import IcsFileSource

        return IcsFileSource(calendar.name, calendar.ics_file, max_calendar_mb=calendar.max_calendar_mb)
    if calendar.ics_url is not None:
        from .sources.ics_url import IcsUrlSource

        return IcsUrlSource(
            calendar.name, calendar.ics_url, timeout=calendar.timeout, max_calendar_mb=calendar.max_calendar_mb
        )
    if calendar.caldav is not None:
        from .sources.caldav import CaldavSource

        dav = calendar.caldav
        return CaldavSource(
            calendar.name,
            dav.url,
            username=dav.username,
            password_command=dav.password_command,
            calendar=dav.calendar,
            verify_tls=dav.verify_tls,
            ca_file=dav.ca_file,
            timeout=calendar.timeout,
            full_listing_hours=dav.full_listing_hours,
        )
    raise CoachsyncError(f"calendar {calendar.name!r} has no source; set ics_file, ics_url or caldav")


def utc_now() -> datetime:
    return datetime.now(UTC)


def _local_user() -> str:
    """Who ran a command, for the engagement log: the login name, as the shell knows it."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return f"uid {os.getuid()}"


@dataclass(frozen=True, slots=True)
class PassFailure:
    calendar: str
    error: CoachsyncError

    def summary(self) -> str:
        return f"{self.calendar}: FAILED: {self.error}"


@dataclass(frozen=True, slots=True)
class ClientSummary:
    """A client's standing: upcoming sessions, and what counts against them."""

    name: str
    upcoming: int
    reschedules: int
    late: int
    cancellations: int
    excused: int
    engagement: Engagement
    allowance_used: int  # in the current period
    agreement: Agreement
    attendance: Attendance  # in the current period

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "upcoming": self.upcoming,
            "reschedules": self.reschedules,
            "late": self.late,
            "cancellations": self.cancellations,
            "excused": self.excused,
            "status": self.engagement.status.value,
            "paused_until": self.engagement.until.isoformat() if self.engagement.until else None,
            "allowance_used": self.allowance_used,
            "held": self.attendance.held,
            "no_shows": self.attendance.no_shows,
            "late_cancellations": self.attendance.late_cancellations,
            "attendance": self.attendance.rate,
            "agreement": self.agreement.as_json(),
        }


class App:
    """A config bound to its database; the CLI and the daemon both drive this."""

    def __init__(self, config: Config | ReadingConfig, store: Store, *, prepare: bool = True) -> None:
        """`prepare=False` leaves sources and plugins to their first use, for commands that only read the store.

        Given only the settings a reading command needs (a config snapshot, see `coachsync.reading`), the app
        validates the whole config file the first time something asks for `config`."""
        if isinstance(config, ReadingConfig):
            self._config: Config | None = None
            self.reading = config
        else:
            self._config = config
            self.reading = config.reading()
        self.store = store
        self.zone: tzinfo = self.reading.tzinfo()
        self.match_client = ClientMatcher.from_settings(self.reading.clients)
        if prepare:
            self.prepare()

    @property
    def config(self) -> Config:
        if self._config is None:
            from .config import load_config

            self._config = load_config(self.reading.path)
        return self._config

    @classmethod
    def open(cls, config: Config | ReadingConfig, *, prepare: bool = True) -> App:
        """Open (and if needed create or migrate) the config's database; it is closed again if preparing fails."""
        app = cls(config, Store(config.database), prepare=False)
        if prepare:
            try:
                app.prepare()
            except BaseException:
                app.close()  # a plugin that cannot load stops the command; the database is left as it was
                raise
        return app

    @property
    def database_path(self) -> Path:
        return self.store.path

    def close(self) -> None:
        self.store.close()

    # --- what a pass needs, built on first use ---

    @cached_property
    def sources(self) -> dict[str, Source]:
        return {c.name: build_source(c) for c in self.config.calendars}

    @cached_property
    def plugins(self) -> Plugins:
        from .plugins import load_plugins

        return load_plugins(self.config, trace=os.environ.get(TRACE_PLUGINS_ENV) == "1")

    @cached_property
    def policies(self) -> PolicyRunner:
        from .policies import PolicyRunner

        return PolicyRunner(self.config, self.plugins, self.zone)

    def prepare(self) -> None:
        """Build sources and load plugins now, so that a broken one stops a command before its first pass."""
        _ = self.sources, self.policies

    # --- passes ---

    def settings(self, now: datetime, accept_mass_change: bool = False) -> PassSettings:
        from .ics import window_around
        from .sync import PassSettings

        window = window_around(now, self.config.window.days_back, self.config.window.days_ahead)
        return PassSettings(window, self.zone, self.match_client, accept_mass_change, self.policies)

    def sync_calendar(self, name: str, now: datetime, accept_mass_change: bool = False) -> PassReport:
        from .sync import checked_pass, retry_policies

        settings = self.settings(now, accept_mass_change)
        # Plugins that failed on earlier changes run first, so a change is never tried twice in one pass.
        retry_policies(self.store, name, settings, now)
        return checked_pass(self.store, self.sources[name], now, settings)

    def sync_all(self, now: datetime, accept_mass_change: bool = False) -> Iterator[PassReport | PassFailure]:
        """One pass per calendar; a calendar that fails does not stop the others."""
        for name in self.sources:
            try:
                yield self.sync_calendar(name, now, accept_mass_change)
            except CoachsyncError as error:
                yield PassFailure(name, error)

    def run_daily(self, now: datetime) -> tuple[Acted, ...] | None:
        """The daily hooks, unless they ran today already (then None)."""
        from .daily import run_daily

        return run_daily(self.store, self.config, self.policies, self._occurrences, self.zone, now)

    def queue_weekly_digest(self, now: datetime) -> OutboxMessage | None:
        """The week's digest to the coach, when it is due and not yet queued (else None)."""
        from .digest import queue_weekly_digest

        return queue_weekly_digest(self, now)

    def open_policy_failures(self, calendar: str | None = None) -> list[PolicyFailure]:
        """Plugins that failed on a change and are retried on every pass; a plugin switched off since
        is left out, as it is not retried until it is back on."""
        enabled = set(self.policies.enabled)
        return [f for f in self.store.ledger.failures(calendar) if f.plugin in enabled]

    # --- mail ---

    def deliver_mail(self, now: datetime) -> DeliveryReport:
        """Send (or write, in outbox mode) every queued email that is due."""
        from .mail import deliver_outbox

        return deliver_outbox(self.store.outbox, self.config.mail, now)

    def outbox(self, status: MailStatus | None = None) -> list[OutboxMessage]:
        return self.store.outbox.messages(status)

    def message_as_sent(self, message_id: int) -> str:
        """Message `message_id` exactly as delivery would send or write it: headers and decoded body."""
        from .outbox_review import as_sent

        return as_sent(self.store.outbox.message(message_id), self.config.mail.sender)

    def editable_message(self, message_id: int) -> OutboxMessage:
        """The message, if its body may be edited (it waits for approval); else RefusedError."""
        from .outbox_review import editable

        return editable(self.store, message_id)

    def save_message_edit(self, message: OutboxMessage, text: str | None) -> Edited:
        """Keep the coach's edit of the body of `message` (as it read when the edit began)."""
        from .outbox_review import save_edit

        return save_edit(self.store, message, text, self.config.mail.sender, utc_now())

    def approve_message(self, message_id: int) -> OutboxMessage:
        return self.store.outbox.approve(message_id)

    def discard_message(self, message_id: int) -> OutboxMessage:
        return self.store.outbox.discard(message_id)

    # --- history and the ledger ---

    def history(self, client: str | None = None, since: datetime | None = None) -> list[Record]:
        return self.store.history.records(client=client, since=since)

    def excuse(self, change_id: int, reason: str, replace: bool = False) -> Excused:
        """The change stops counting against its client, and the fees it raised are waived; an excused
        change keeps its reason unless `replace`, and every reason given stays in its trail."""
        from .excuses import excuse

        return excuse(self.store, change_id, reason, utc_now(), replace=replace)

    def take_back_excuse(self, change_id: int, reason: str | None = None) -> TakenBack:
        """The change counts against its client again; the fees excusing waived stay waived."""
        from .excuses import take_back

        return take_back(self.store, change_id, utc_now(), reason)

    def fees(self, client: str | None = None) -> list[FeeEntry]:
        return self.store.ledger.fees(client)

    def invoice_export(self, kind: str, fees: Sequence[FeeEntry], now: datetime) -> str:
        """`fees` as invoices for the accounting tool `kind` (xero, quickbooks), issued today."""
        from .exports import invoice_csv

        sessions = {r.id: r.change.old_start.astimezone(self.zone).date() for r in self.store.history.records()}
        return invoice_csv(kind, fees, sessions, now.astimezone(self.zone).date(), self.config.fees.export)

    def fee(self, fee_id: int) -> FeeEntry:
        return self.store.ledger.fee(fee_id)

    def waive_fee(self, fee_id: int, reason: str) -> FeeEntry:
        return self.store.ledger.waive_fee(fee_id, reason, utc_now())

    def mark_fee_paid(self, fee_id: int, on: date, note: str | None = None) -> FeeEntry:
        return self.store.ledger.mark_paid(fee_id, on, utc_now(), note)

    def mark_fee_unpaid(self, fee_id: int, note: str | None = None) -> FeeEntry:
        return self.store.ledger.mark_unpaid(fee_id, utc_now(), note)

    def suggestions(self, dismissed: bool = False) -> list[SuggestionEntry]:
        """The suggestions, oldest first; the ones the coach dismissed only when `dismissed`."""
        return self.store.ledger.suggestions(dismissed)

    def dismiss_suggestion(self, suggestion_id: int, reason: str | None = None) -> tuple[SuggestionEntry, bool]:
        """Dismiss a suggestion; returns it and whether it was dismissed before (then it keeps that dismissal)."""
        before = self.store.ledger.suggestion(suggestion_id)
        return self.store.ledger.dismiss_suggestion(suggestion_id, utc_now(), reason), before.dismissed_at is not None

    def client_summaries(self, now: datetime) -> list[ClientSummary]:
        upcoming: Counter[str] = Counter()
        calendars = set(self.reading.calendars)
        for occurrence in self.store.snapshots.upcoming_sessions(now):
            if occurrence.calendar not in calendars:
                continue
            client = self.match_client(occurrence.attendees, occurrence.summary)
            if client is not None:
                upcoming[client] += 1
        history = self.store.history.records()
        sessions = self._occurrences()
        return [
            self._summary(client.name, upcoming[client.name], history, sessions, now) for client in self.reading.clients
        ]

    def standings(self, client: str) -> list[tuple[Record, Standing]]:
        """Each of the client's records with its standing against their agreement, oldest first."""
        own = self.store.history.records_of(client)
        found = standings(own, self.reading.agreement_for(client), self.store.engagements.events(client), self.zone)
        return list(zip(own, found, strict=True))

    def history_standings(self, records: Sequence[Record]) -> dict[int, Standing]:
        """The standing of each record, against its client's whole history (not only the records shown)."""
        found: dict[int, Standing] = {}
        for client in {r.change.client for r in records}:
            if client is None:
                found.update(
                    (s.record_id, s)
                    for s in standings(
                        [r for r in records if r.change.client is None], self.reading.agreement_for(None), (), self.zone
                    )
                )
                continue
            found.update((record.id, standing) for record, standing in self.standings(client))
        return found

    def engagement(self, client: str, now: datetime) -> Engagement:
        return engagement_at(self.store.engagements.events(client), now, self.zone)

    def engagement_events(self, client: str | None = None) -> list[EngagementEvent]:
        return self.store.engagements.events(client)

    def record_step(
        self, client: str, kind: EngagementKind, now: datetime, reason: str | None = None, until: date | None = None
    ) -> tuple[EngagementEvent, Engagement]:
        """Record a revisit, pause, resume or end; returns it and the engagement as it was just before."""
        events = self.store.engagements.events(client)
        problem = refusal(events, kind, now, self.zone)
        if problem is not None:
            raise RefusedError(f"{client} {problem}")
        if until is not None and until <= now.astimezone(self.zone).date():
            raise RefusedError(f"--until {until.isoformat()} is not after today; give the first day of sessions again")
        before = engagement_at(events, now, self.zone)
        event = EngagementEvent(0, client, kind, now, _local_user(), reason, until)
        return self.store.engagements.add(event), before

    def _summary(
        self, name: str, upcoming: int, history: list[Record], sessions: list[Occurrence], now: datetime
    ) -> ClientSummary:
        own = [r for r in history if r.change.client == name]
        agreement = self.reading.agreement_for(name)
        events = self.store.engagements.events(name)
        found = standings(own, agreement, events, self.zone)
        counted = [r for r, s in zip(own, found, strict=True) if s.counts]
        # A no-show gives no notice at all; it has its own column, so LATE is the changes made too late.
        late = sum(
            s.late for r, s in zip(own, found, strict=True) if s.counts and r.change.kind is not ChangeKind.NO_SHOW
        )
        engagement = engagement_at(events, now, self.zone)
        since = current_period_start(own, agreement, events, now, self.zone)
        rows = session_rows(sessions, own, name, since, now, now)
        return ClientSummary(
            name=name,
            upcoming=upcoming,
            reschedules=sum(r.change.kind in RESCHEDULE_KINDS for r in counted),
            late=late,
            cancellations=sum(r.change.kind is ChangeKind.CANCELLED for r in counted),
            excused=sum(r.excused for r in own),
            engagement=engagement,
            allowance_used=used_now(own, found, agreement, events, now, self.zone),
            agreement=agreement,
            attendance=attendance(rows, own, {s.record_id: s for s in found}, since, now),
        )

    # --- sessions and no-shows ---

    def _occurrences(self) -> list[Occurrence]:
        """Every session of the configured calendars as the last pass left it, matched to today's clients."""
        found = []
        for calendar in self.reading.calendars:
            for occurrence in self.store.snapshots.occurrences(calendar):
                owner = self.match_client(occurrence.attendees, occurrence.summary)
                found.append(dataclasses.replace(occurrence, client=owner))
        return found

    def sessions(self, client: str, start: datetime, end: datetime, now: datetime) -> list[tuple[int, SessionRow]]:
        """The client's sessions from `start` to `end`, each with its reference number."""
        return self.sessions_of([client], start, end, now)[client]

    def sessions_of(
        self, clients: Sequence[str], start: datetime, end: datetime, now: datetime
    ) -> dict[str, list[tuple[int, SessionRow]]]:
        """`sessions` for several clients, reading the calendars and the history once for all of them."""
        occurrences = self._occurrences()
        history = self.store.history.records()
        found: dict[str, list[tuple[int, SessionRow]]] = {}
        for client in clients:
            rows = session_rows(occurrences, [r for r in history if r.change.client == client], client, start, end, now)
            refs = self.store.sessions.refs(row.key for row in rows)
            found[client] = [(refs[row.key], row) for row in rows]
        return found

    def mark_no_show(self, ref: int, now: datetime, excused: str | None = None) -> Record:
        """Record that the client did not come to session `ref`, and run the policies for it."""
        from .sync import record_no_show

        occurrence, client = self._past_session(ref, now)
        earlier = self._no_show_of(occurrence.key)
        if earlier is not None:
            raise RefusedError(f"S{ref} is already marked as a no-show (change {earlier.id}); see `coachsync history`")
        change = Change(
            kind=ChangeKind.NO_SHOW,
            calendar=occurrence.calendar,
            uid=occurrence.uid,
            recurrence_id=occurrence.recurrence_id,
            client=client,
            summary=occurrence.summary,
            old_start=occurrence.start,
            new_start=None,
            notice_hours=0.0,
            changed_at=occurrence.start,  # it counts in the period of the session it is about
        )
        return record_no_show(self.store, change, self.settings(now), now, excused)

    def undo_no_show(self, ref: int, now: datetime) -> Record:
        """Take a no-show back: it stays in the history, stops counting, its fees are waived and its
        emails not yet sent are discarded."""
        key = self._session_key(ref)
        record = self._no_show_of(key)
        if record is None:
            raise RefusedError(f"S{ref} is not marked as a no-show; see `coachsync sessions`")
        with self.store.transaction():
            withdrawn = self.store.history.withdraw(record.id, now, _local_user())
            self.store.ledger.waive_fees_of_change(record.id, "no-show taken back", now)
            for message in self.store.outbox.messages():
                if message.change_id == record.id and message.status in (
                    MailStatus.PENDING_APPROVAL,
                    MailStatus.QUEUED,
                ):
                    self.store.outbox.discard(message.id)
        return withdrawn

    def _session_key(self, ref: int) -> tuple[str, str, str]:
        key = self.store.sessions.key(ref)
        if key is None:
            raise NotFoundError(f"no session S{ref}; see `coachsync sessions` for the references")
        return key

    def _past_session(self, ref: int, now: datetime) -> tuple[Occurrence, str]:
        key = self._session_key(ref)
        occurrence = next((o for o in self._occurrences() if o.key == key), None)
        if occurrence is None:
            raise RefusedError(f"S{ref} is no longer in the calendar")
        when = occurrence.start.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")
        if occurrence.cancelled:
            raise RefusedError(f"S{ref} ({when}) was cancelled; a cancelled session cannot be a no-show")
        if occurrence.start > now:
            raise RefusedError(f"S{ref} ({when}) is still upcoming; only a session that has begun can be a no-show")
        if occurrence.client is None:
            raise RefusedError(f"S{ref} ({when}) belongs to no client; add the client to the config first")
        return occurrence, occurrence.client

    def _no_show_of(self, key: tuple[str, str, str]) -> Record | None:
        return no_shows(self.store.history.records()).get(key)
