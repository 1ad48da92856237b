"""Calendar snapshots: each calendar's last state, its event fingerprints and stored occurrences.

The snapshot is what the next pass compares against. Vanished upcoming sessions
stay as cancelled tombstones, so that their return reads as `restored`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime

from ..model import CalendarState, GroupSnapshot, Occurrence
from .database import Database, iso, moment

_CHUNK = 500  # well under SQLite's limit of host parameters per statement


class Snapshots:
    def __init__(self, db: Database) -> None:
        self._db = db

    def state(self, name: str) -> CalendarState | None:
        row = self._db.execute(
            "SELECT content_digest, header_digest, zone, sync_state, last_pass_at FROM calendars WHERE name = ?",
            (name,),
        ).fetchone()
        if row is None:
            return None
        return CalendarState(name, row[0], row[1], row[2], json.loads(row[3]), moment(row[4]))

    def group_digests(self, calendar: str) -> dict[str, tuple[str, datetime]]:
        """Each known UID's fingerprint and how far ahead it was expanded."""
        rows = self._db.execute("SELECT uid, digest, expanded_to FROM event_groups WHERE calendar = ?", (calendar,))
        return {uid: (digest, datetime.fromisoformat(expanded_to)) for uid, digest, expanded_to in rows}

    def occurrences(self, calendar: str, uids: Iterable[str] | None = None) -> list[Occurrence]:
        """Stored occurrences (tombstones included) of a calendar, or of some of its UIDs."""
        query = "SELECT * FROM occurrences WHERE calendar = ?"
        if uids is None:
            return [_occurrence(row) for row in self._db.execute(query, (calendar,))]
        wanted = list(uids)
        found: list[Occurrence] = []
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"{query} AND uid IN ({marks})", (calendar, *chunk))
            found.extend(_occurrence(row) for row in rows)
        return found

    def upcoming_count(self, calendar: str, now: datetime) -> int:
        row = self._db.execute(
            "SELECT count(*) FROM occurrences WHERE calendar = ? AND cancelled = 0 AND start > ?",
            (calendar, iso(now)),
        ).fetchone()
        return int(row[0])

    def upcoming_sessions(self, now: datetime) -> list[Occurrence]:
        """Every calendar's sessions still ahead and not cancelled, earliest first."""
        rows = self._db.execute(
            "SELECT * FROM occurrences WHERE cancelled = 0 AND start > ? ORDER BY start, calendar, uid, recurrence_id",
            (iso(now),),
        )
        return [_occurrence(row) for row in rows]

    def save_sync_state(self, name: str, sync_state: Mapping[str, str]) -> None:
        """Keep a source's new sync state (a CalDAV sync-token) after a pass that found nothing to record."""
        with self._db.transaction():
            self._db.execute("UPDATE calendars SET sync_state = ? WHERE name = ?", (json.dumps(dict(sync_state)), name))

    def write(
        self,
        calendar: str,
        *,
        content_digest: str,
        header_digest: str,
        zone: str,
        sync_state: Mapping[str, str],
        passed_at: datetime,
        groups: Mapping[str, GroupSnapshot],
        removed_groups: Iterable[str],
        tombstones: Iterable[Occurrence],
    ) -> None:
        """Replace the snapshot of the groups a pass re-read, and drop tombstones now in the past."""
        db = self._db
        with db.transaction():
            db.execute(
                "INSERT INTO calendars (name, content_digest, header_digest, zone, sync_state, last_pass_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET content_digest = excluded.content_digest,"
                " header_digest = excluded.header_digest, zone = excluded.zone, sync_state = excluded.sync_state,"
                " last_pass_at = excluded.last_pass_at",
                (calendar, content_digest, header_digest, zone, json.dumps(dict(sync_state)), iso(passed_at)),
            )
            for uid in removed_groups:
                db.execute("DELETE FROM event_groups WHERE calendar = ? AND uid = ?", (calendar, uid))
                db.execute("DELETE FROM occurrences WHERE calendar = ? AND uid = ?", (calendar, uid))
            for uid, snapshot in groups.items():
                db.execute(
                    "INSERT OR REPLACE INTO event_groups (calendar, uid, digest, expanded_to) VALUES (?, ?, ?, ?)",
                    (calendar, uid, snapshot.digest, iso(snapshot.expanded_to)),
                )
                db.execute("DELETE FROM occurrences WHERE calendar = ? AND uid = ?", (calendar, uid))
            db.connection.executemany(
                "INSERT OR REPLACE INTO occurrences VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _occurrence_row(occurrence)
                    for occurrences in ([s for g in groups.values() for s in g.occurrences], tombstones)
                    for occurrence in occurrences
                ),
            )
            # Tombstones only matter while the session could still come back.
            db.execute(
                "DELETE FROM occurrences WHERE calendar = ? AND cancelled = 1 AND start <= ?",
                (calendar, iso(passed_at)),
            )


def _occurrence(row: tuple) -> Occurrence:
    calendar, uid, recurrence_id, start, end, summary, all_day, cancelled, recurring, attendees, sequence, modified = (
        row
    )
    return Occurrence(
        calendar=calendar,
        uid=uid,
        recurrence_id=recurrence_id,
        start=datetime.fromisoformat(start),
        end=datetime.fromisoformat(end),
        summary=summary,
        all_day=bool(all_day),
        cancelled=bool(cancelled),
        recurring=bool(recurring),
        attendees=tuple(json.loads(attendees)),
        sequence=sequence,
        last_modified=moment(modified),
    )


def _occurrence_row(o: Occurrence) -> tuple:
    return (
        o.calendar,
        o.uid,
        o.recurrence_id,
        iso(o.start),
        iso(o.end),
        o.summary,
        int(o.all_day),
        int(o.cancelled),
        int(o.recurring),
        json.dumps(list(o.attendees)),
        o.sequence,
        iso(o.last_modified),
    )
