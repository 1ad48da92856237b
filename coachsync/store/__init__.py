"""The durable record in SQLite: one connection, one public transaction, a repository per aggregate.

- `snapshots`: each calendar's last state, event fingerprints and occurrences;
- `history`: every recorded change and whether the coach excused it;
- `ledger`: fees, suggestions, and policy runs waiting for a retry;
- `outbox`: emails and their delivery state;
- `engagements`: each revisit, pause, resume and end of a client's engagement;
- `sessions`: the short, stable references of sessions;
- `resources`: each CalDAV collection's resources, one row per resource;
- `calendar_failures`: each calendar whose last pass failed, since when and why.

A pass writes through several of them inside one `with store.transaction():`,
so a crash leaves the old state or the new one. The store is told what to
write; it never calls business logic.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .calendar_failures import CalendarFailures
from .database import Database
from .engagements import Engagements
from .history import History
from .ledger import Ledger
from .outbox import Outbox
from .resources import Resources
from .schema import SCHEMA_VERSION
from .sessions import Sessions
from .snapshots import Snapshots

__all__ = ["SCHEMA_VERSION", "Store"]


class Store:
    """One SQLite database; open it once per process and share it."""

    def __init__(self, path: Path, database: Database | None = None) -> None:
        self._db = database if database is not None else Database(path)
        self.path = path
        self.snapshots = Snapshots(self._db)
        self.history = History(self._db)
        self.ledger = Ledger(self._db)
        self.outbox = Outbox(self._db)
        self.engagements = Engagements(self._db)
        self.sessions = Sessions(self._db)
        self.resources = Resources(self._db)
        self.calendar_failures = CalendarFailures(self._db)

    @classmethod
    def copy_of(cls, path: Path) -> Store:
        """A store over an in-memory copy of the database at `path`, or an empty one when there is none
        yet: what `coachsync check` reads, writing nothing to disk."""
        return cls(path, Database.copy_of(path) if path.exists() else Database.in_memory(path))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all; a nested block is a savepoint."""
        with self._db.transaction():
            yield

    @property
    def in_transaction(self) -> bool:
        return self._db.in_transaction

    @property
    def schema_version(self) -> int:
        return self._db.schema_version

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


# Values that lived here before they moved to coachsync.model; kept importable for one release.
_MOVED = {
    "Record",
    "CalendarState",
    "GroupSnapshot",
    "FeeEntry",
    "SuggestionEntry",
    "OutboxMessage",
    "MailStatus",
    "PolicyFailure",
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        warnings.warn(
            f"coachsync.store.{name} moved; import it from coachsync.api (plugins) or coachsync.model",
            DeprecationWarning,
            stacklevel=2,
        )
        from .. import model

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
