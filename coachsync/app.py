"""Wiring: from a validated config to sources, a store and passes over every calendar."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from .clients import ClientMatcher
from .config import CalendarConfig, Config
from .errors import CoachsyncError
from .ics import window_around
from .mail import DeliveryReport, deliver_outbox
from .model import ChangeKind
from .plugins import Plugins, load_plugins
from .policies import PolicyRunner
from .sources.base import Source
from .sources.caldav import CaldavSource
from .sources.ics_file import IcsFileSource
from .sources.ics_url import IcsUrlSource
from .store import Record, Store
from .sync import PassReport, PassSettings, run_pass

RESCHEDULE_KINDS = frozenset({ChangeKind.MOVED, ChangeKind.REBOOKED, ChangeKind.SERIES_MOVED})


def build_source(calendar: CalendarConfig) -> Source:
    if calendar.ics_file is not None:
        return IcsFileSource(calendar.name, calendar.ics_file)
    if calendar.ics_url is not None:
        return IcsUrlSource(calendar.name, calendar.ics_url, timeout=calendar.timeout)
    if calendar.caldav is not None:
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
        )
    raise CoachsyncError(f"calendar {calendar.name!r} has no source; set ics_file, ics_url or caldav")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PassFailure:
    calendar: str
    error: CoachsyncError

    def summary(self) -> str:
        return f"{self.calendar}: FAILED: {self.error}"


@dataclass(frozen=True, slots=True)
class ClientSummary:
    name: str
    upcoming: int
    reschedules: int
    late: int
    cancellations: int
    excused: int


class App:
    """A config bound to its database; the CLI and the daemon both drive this."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        self.zone: tzinfo = config.tzinfo()
        self.match_client = ClientMatcher.from_settings(config.clients)
        self.sources: dict[str, Source] = {c.name: build_source(c) for c in config.calendars}
        # Loaded here so that a broken plugin stops the CLI and the daemon before their first pass.
        self.plugins: Plugins = load_plugins(config)
        self.policies = PolicyRunner(config, self.plugins, self.match_client, self.zone)

    def settings(self, now: datetime, accept_mass_change: bool = False) -> PassSettings:
        window = window_around(now, self.config.window.days_back, self.config.window.days_ahead)
        policies = self.policies.for_pass(self.store, now)
        return PassSettings(window, self.zone, self.match_client, accept_mass_change, policies)

    def sync_calendar(self, name: str, now: datetime, accept_mass_change: bool = False) -> PassReport:
        # Plugins that failed on earlier changes run first, so a change is never tried twice in one pass.
        self.policies.retry(self.store, name, now)
        return run_pass(self.store, self.sources[name], now, self.settings(now, accept_mass_change))

    def sync_all(self, now: datetime, accept_mass_change: bool = False) -> Iterator[PassReport | PassFailure]:
        """One pass per calendar; a calendar that fails does not stop the others."""
        for name in self.sources:
            try:
                yield self.sync_calendar(name, now, accept_mass_change)
            except CoachsyncError as error:
                yield PassFailure(name, error)

    def deliver_mail(self, now: datetime) -> DeliveryReport:
        """Send (or write, in outbox mode) every queued email that is due."""
        return deliver_outbox(self.store, self.config.mail, now)

    def client_summaries(self, now: datetime) -> list[ClientSummary]:
        upcoming: Counter[str] = Counter()
        for calendar in self.sources:
            for occurrence in self.store.occurrences(calendar):
                if occurrence.start > now and not occurrence.cancelled:
                    client = self.match_client(occurrence.attendees, occurrence.summary)
                    if client is not None:
                        upcoming[client] += 1
        history = self.store.history()
        return [self._summary(client.name, upcoming[client.name], history) for client in self.config.clients]

    def _summary(self, name: str, upcoming: int, history: list[Record]) -> ClientSummary:
        own = [r for r in history if r.change.client == name]
        late_limit = self.config.late_notice_hours
        return ClientSummary(
            name=name,
            upcoming=upcoming,
            reschedules=sum(r.change.kind in RESCHEDULE_KINDS for r in own),
            late=sum(
                r.change.kind is not ChangeKind.RESTORED and r.change.notice_hours < late_limit and not r.excused
                for r in own
            ),
            cancellations=sum(r.change.kind is ChangeKind.CANCELLED for r in own),
            excused=sum(r.excused for r in own),
        )
