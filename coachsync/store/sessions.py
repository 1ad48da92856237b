"""Short references for sessions ("S142"), stable across passes and moves."""

from __future__ import annotations

from collections.abc import Iterable

from .database import Database

SessionKey = tuple[str, str, str]  # (calendar, uid, recurrence_id), as an occurrence is keyed


class Sessions:
    def __init__(self, db: Database) -> None:
        self._db = db

    def refs(self, keys: Iterable[SessionKey]) -> dict[SessionKey, int]:
        """The reference number of each session, given one the first time it is asked for."""
        wanted = list(dict.fromkeys(keys))
        with self._db.transaction():
            found = {}
            for key in wanted:
                self._db.execute(
                    "INSERT OR IGNORE INTO session_refs (calendar, uid, recurrence_id) VALUES (?, ?, ?)", key
                )
                row = self._db.execute(
                    "SELECT id FROM session_refs WHERE calendar = ? AND uid = ? AND recurrence_id = ?", key
                ).fetchone()
                found[key] = int(row[0])
        return found

    def key(self, ref: int) -> SessionKey | None:
        row = self._db.execute("SELECT calendar, uid, recurrence_id FROM session_refs WHERE id = ?", (ref,)).fetchone()
        return None if row is None else (str(row[0]), str(row[1]), str(row[2]))
