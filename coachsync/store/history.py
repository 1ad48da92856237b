"""The reschedule history: every recorded change, whether the coach excused it, and no-shows taken back."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ..errors import NotFoundError
from ..model import Change, ChangeKind, Excuse, Record
from .database import Database, iso, moment


class History:
    def __init__(self, db: Database) -> None:
        self._db = db

    def records(self, client: str | None = None, since: datetime | None = None) -> list[Record]:
        """Recorded changes, oldest first, optionally for one client (any case) and since a moment."""
        query = "SELECT * FROM changes WHERE 1 = 1"
        arguments: list[object] = []
        if client is not None:
            query += " AND lower(client) = lower(?)"
            arguments.append(client)
        if since is not None:
            query += " AND detected_at >= ?"
            arguments.append(iso(since))
        query += " ORDER BY detected_at, id"
        rows = self._db.execute(query, arguments).fetchall()
        trails: dict[int, list[Excuse]] = {}
        # Few changes are ever excused: one pass over the trail table serves the whole history.
        for change_id, *step in self._db.execute("SELECT change_id, reason, at, taken_back FROM excuses ORDER BY id"):
            trails.setdefault(change_id, []).append(_excuse(step))
        withdrawn = {row[0] for row in self._db.execute("SELECT change_id FROM withdrawals")}
        return [_record(row, trails.get(row[0], ()), row[0] in withdrawn) for row in rows]

    def records_of(self, client: str) -> list[Record]:
        """One client's records, oldest first, by the exact name the config gives them (what their
        standing is worked out over; `records(client=...)` also matches another case, for the CLI)."""
        return [r for r in self.records(client=client) if r.change.client == client]

    def record(self, change_id: int) -> Record:
        row = self._db.execute("SELECT * FROM changes WHERE id = ?", (change_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no recorded change with id {change_id}; see `coachsync history`")
        trail = self._db.execute(
            "SELECT reason, at, taken_back FROM excuses WHERE change_id = ? ORDER BY id", (change_id,)
        )
        excuses = [_excuse(step) for step in trail]
        withdrawn = self._db.execute("SELECT 1 FROM withdrawals WHERE change_id = ?", (change_id,)).fetchone()
        return _record(row, excuses, withdrawn is not None)

    def withdraw(self, change_id: int, at: datetime, by: str) -> Record:
        """Take a no-show back: the record stays in the history, marked, and no longer counts."""
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO withdrawals (change_id, at, by_user) VALUES (?, ?, ?)", (change_id, iso(at), by)
            )
        return self.record(change_id)

    def add(self, changes: Iterable[Change], detected_at: datetime) -> list[Record]:
        """Record changes detected at one moment; returns them as read back, with their ids, in order."""
        with self._db.transaction():
            ids = [self._insert(change, detected_at) for change in changes]
            return [self.record(change_id) for change_id in ids]

    def mark_excused(self, change_id: int, reason: str, at: datetime) -> Record:
        """Excuse the change for `reason`, which becomes its reason; the trail keeps every earlier one."""
        self.record(change_id)  # raises NotFoundError naming the fix
        with self._db.transaction():
            self._db.execute("UPDATE changes SET excused = 1, reason = ? WHERE id = ?", (reason, change_id))
            self._db.execute(
                "INSERT INTO excuses (change_id, reason, at) VALUES (?, ?, ?)", (change_id, reason, iso(at))
            )
        return self.record(change_id)

    def take_back_excuse(self, change_id: int, at: datetime, reason: str | None = None) -> Record:
        """The change is no longer excused; the trail keeps the excuse and this step, with why if given."""
        with self._db.transaction():
            self._db.execute("UPDATE changes SET excused = 0, reason = NULL WHERE id = ?", (change_id,))
            self._db.execute(
                "INSERT INTO excuses (change_id, reason, at, taken_back) VALUES (?, ?, ?, 1)",
                (change_id, reason, iso(at)),
            )
        return self.record(change_id)

    def _insert(self, change: Change, detected_at: datetime) -> int:
        cursor = self._db.execute(
            "INSERT INTO changes (calendar, client, uid, recurrence_id, kind, summary, old_start, new_start,"
            " notice_hours, changed_at, detected_at, new_uid, instances)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                change.calendar,
                change.client,
                change.uid,
                change.recurrence_id,
                change.kind.value,
                change.summary,
                iso(change.old_start),
                iso(change.new_start),
                change.notice_hours,
                iso(change.changed_at),
                iso(detected_at),
                change.new_uid,
                change.instances,
            ),
        )
        return int(cursor.lastrowid or 0)


def _excuse(step: Iterable[object]) -> Excuse:
    reason, at, taken_back = step
    return Excuse(None if reason is None else str(reason), moment(None if at is None else str(at)), bool(taken_back))


def _record(row: tuple, trail: Iterable[Excuse] = (), withdrawn: bool = False) -> Record:
    (id_, calendar, client, uid, recurrence_id, kind, summary, old_start, new_start, notice_hours, changed_at,
     detected_at, new_uid, instances, excused, reason) = row  # fmt: skip
    change = Change(
        kind=ChangeKind(kind),
        calendar=calendar,
        uid=uid,
        recurrence_id=recurrence_id,
        client=client,
        summary=summary,
        old_start=datetime.fromisoformat(old_start),
        new_start=moment(new_start),
        notice_hours=notice_hours,
        changed_at=datetime.fromisoformat(changed_at),
        new_uid=new_uid,
        instances=instances,
    )
    return Record(id_, change, datetime.fromisoformat(detected_at), bool(excused), reason, tuple(trail), withdrawn)
