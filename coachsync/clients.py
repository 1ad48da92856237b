"""Which client a session belongs to: by attendee email first, then by a name in the summary."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ClientRule:
    name: str
    emails: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


class ClientSettings(Protocol):
    """The shape of a configured client (see ``config.ClientConfig``)."""

    @property
    def name(self) -> str: ...
    @property
    def emails(self) -> Sequence[str]: ...
    @property
    def aliases(self) -> Sequence[str]: ...


class ClientMatcher:
    """Matches an occurrence's attendees and summary against the configured clients.

    Emails compare case-insensitively; aliases match as whole words, so the
    alias "Al" does not claim "Alice's session".
    """

    def __init__(self, clients: Iterable[ClientRule]) -> None:
        self._by_email: dict[str, str] = {}
        self._aliases: list[tuple[re.Pattern[str], str]] = []
        for client in clients:
            for email in client.emails:
                self._by_email.setdefault(email.lower(), client.name)
            for alias in (*client.aliases, client.name):
                pattern = re.compile(rf"(?<!\w){re.escape(alias)}(?!\w)", re.IGNORECASE)
                self._aliases.append((pattern, client.name))

    @classmethod
    def from_settings(cls, clients: Iterable[ClientSettings]) -> ClientMatcher:
        return cls(ClientRule(c.name, tuple(str(e) for e in c.emails), tuple(c.aliases)) for c in clients)

    def __call__(self, attendees: Sequence[str], summary: str) -> str | None:
        for email in attendees:
            name = self._by_email.get(email.lower())
            if name is not None:
                return name
        for pattern, name in self._aliases:
            if pattern.search(summary):
                return name
        return None
