"""Calendars whose last pass failed: since when (the first failure in a row) and the last error's line.

A pass that fails records it here in a transaction of its own (the pass's
own was rolled back); the next good pass clears it.
"""

from __future__ import annotations

from datetime import datetime

from ..model import CalendarFailure
from .database import Database, iso


class CalendarFailures:
    def __init__(self, db: Database) -> None:
        self._db = db

    def all(self) -> list[CalendarFailure]:
        """Every calendar failing now, the longest failing first."""
        rows = self._db.execute(
            "SELECT calendar, since, last_failed_at, error FROM calendar_failures ORDER BY since, calendar"
        )
        return [CalendarFailure(c, datetime.fromisoformat(s), datetime.fromisoformat(f), e) for c, s, f, e in rows]

    def failing(self, calendar: str) -> bool:
        found = self._db.execute("SELECT 1 FROM calendar_failures WHERE calendar = ?", (calendar,)).fetchone()
        return found is not None

    def record(self, calendar: str, error: str, at: datetime) -> None:
        """A failed pass: the first in a row sets `since`; every one keeps the newest error."""
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO calendar_failures (calendar, since, last_failed_at, error) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (calendar) DO UPDATE SET last_failed_at = excluded.last_failed_at,"
                " error = excluded.error",
                (calendar, iso(at), iso(at), error),
            )

    def clear(self, calendar: str) -> None:
        with self._db.transaction():
            self._db.execute("DELETE FROM calendar_failures WHERE calendar = ?", (calendar,))
