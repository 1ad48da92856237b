"""What a policy may read about clients during one run, read once from the store and never written.

A record's standing against its client's agreement is worked out here, by the
one rule in `coachsync.standing`, from the client's history and engagement log.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo

from ..agreement import Agreement
from ..model import ClientInfo, EngagementEvent, Occurrence, Record
from ..standing import Standing, standings

MatchClient = Callable[[Sequence[str], str], str | None]
ReadHistory = Callable[[str], list[Record]]
ReadSessions = Callable[[datetime], list[Occurrence]]
ReadEvents = Callable[[str], list[EngagementEvent]]
AgreementFor = Callable[[str | None], Agreement]


class PolicyViews:
    """A client's history and upcoming sessions, each read at most once per run and only when asked."""

    def __init__(
        self,
        read_history: ReadHistory,
        read_sessions: ReadSessions,
        match_client: MatchClient,
        now: datetime,
        *,
        read_events: ReadEvents,
        agreement_for: AgreementFor,
        zone: tzinfo,
    ) -> None:
        self._read_history = read_history
        self._read_sessions = read_sessions
        self._match_client = match_client
        self._now = now
        self._read_events = read_events
        self._agreement_for = agreement_for
        self._zone = zone
        self._history: dict[str, list[Record]] = {}
        self._events: dict[str, list[EngagementEvent]] = {}
        self._standings: dict[int, Standing] = {}
        self._sessions: dict[str | None, list[Occurrence]] | None = None

    def agreement(self, client: str | None) -> Agreement:
        """The client's effective agreement (the practice's for a session of no client)."""
        return self._agreement_for(client)

    def standing(self, record: Record) -> Standing:
        """The record against its client's agreement, counting only what came before it; worked out
        once per record, however many plugins are called for it."""
        if record.id in self._standings:
            return self._standings[record.id]
        client = record.change.client
        earlier = list(self.history(record))
        events: list[EngagementEvent] = []
        if client is not None:
            if client not in self._events:
                self._events[client] = self._read_events(client)
            events = self._events[client]
        found = standings([*earlier, record], self.agreement(client), events, self._zone)[-1]
        self._standings[record.id] = found
        return found

    def history(self, record: Record) -> tuple[Record, ...]:
        """The same client's records before this one, oldest first."""
        client = record.change.client
        if client is None:
            return ()
        if client not in self._history:
            self._history[client] = self._read_history(client)
        return tuple(r for r in self._history[client] if r.id < record.id)

    def sessions(self, client: ClientInfo | None) -> tuple[Occurrence, ...]:
        """The client's upcoming, not-cancelled sessions, earliest first, matched with today's config."""
        if client is None:
            return ()
        if self._sessions is None:
            self._sessions = {}
            for occurrence in self._read_sessions(self._now):
                owner = self._match_client(occurrence.attendees, occurrence.summary)
                self._sessions.setdefault(owner, []).append(dataclasses.replace(occurrence, client=owner))
        return tuple(self._sessions.get(client.name, ()))
