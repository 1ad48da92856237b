"""The engagement log: each revisit, pause, resume and end the coach recorded, with when, why and by whom."""

from __future__ import annotations

from datetime import date

from ..model import EngagementEvent, EngagementKind
from .database import Database, iso, moment


class Engagements:
    def __init__(self, db: Database) -> None:
        self._db = db

    def events(self, client: str | None = None) -> list[EngagementEvent]:
        """Recorded steps, oldest first, optionally for one client (any case)."""
        query = "SELECT * FROM engagement_events"
        arguments: tuple[object, ...] = ()
        if client is not None:
            query += " WHERE lower(client) = lower(?)"
            arguments = (client,)
        return [_event(row) for row in self._db.execute(query + " ORDER BY at, id", arguments)]

    def add(self, event: EngagementEvent) -> EngagementEvent:
        with self._db.transaction():
            cursor = self._db.execute(
                "INSERT INTO engagement_events (client, kind, at, by_user, reason, until) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    event.client,
                    event.kind.value,
                    iso(event.at),
                    event.by,
                    event.reason,
                    event.until.isoformat() if event.until else None,
                ),
            )
            row = self._db.execute("SELECT * FROM engagement_events WHERE id = ?", (cursor.lastrowid,)).fetchone()
        return _event(row)


def _event(row: tuple[object, ...]) -> EngagementEvent:
    id_, client, kind, at, by_user, reason, until = row
    at_moment = moment(str(at))
    assert at_moment is not None  # NOT NULL
    return EngagementEvent(
        id=int(str(id_)),
        client=str(client),
        kind=EngagementKind(str(kind)),
        at=at_moment,
        by=str(by_user),
        reason=None if reason is None else str(reason),
        until=None if until is None else date.fromisoformat(str(until)),
    )
