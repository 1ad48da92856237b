"""Calendar snapshots: each calendar's last state, its event fingerprints and stored occurrences.

The snapshot is what the next pass compares against. Vanished upcoming sessions
stay as cancelled tombstones, so that their return reads as `restored`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from ..model import CalendarState, GroupSnapshot, Occurrence
from .database import Database, iso, moment

_CHUNK = 500  # well under SQLite's limit of host parameters per statement
# An occurrence names its title and attendees by id in `texts`, where each distinct text is stored once.
_SELECT = (
    "SELECT o.calendar, o.uid, o.recurrence_id, o.start, o.end, s.text, o.all_day, o.cancelled, o.recurring,"
    " a.text, o.sequence, o.last_modified"
    " FROM occurrences AS o JOIN texts AS s ON s.id = o.summary_id JOIN texts AS a ON a.id = o.attendees_id"
)


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

    def group_digests(self, calendar: str, uids: Iterable[str] | None = None) -> dict[str, tuple[str, datetime]]:
        """Each known UID's fingerprint and how far ahead it was expanded; of some UIDs only, if named."""
        query = "SELECT uid, digest, expanded_to FROM event_groups WHERE calendar = ?"
        if uids is None:
            rows = list(self._db.execute(query, (calendar,)))
        else:
            wanted = list(uids)
            rows = []
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows.extend(self._db.execute(f"{query} AND uid IN ({marks})", (calendar, *chunk)))
        return {uid: (digest, datetime.fromisoformat(expanded_to)) for uid, digest, expanded_to in rows}

    def occurrences(self, calendar: str, uids: Iterable[str] | None = None) -> list[Occurrence]:
        """Stored occurrences (tombstones included) of a calendar, or of some of its UIDs."""
        query = f"{_SELECT} WHERE o.calendar = ?"
        if uids is None:
            return [_occurrence(row) for row in self._db.execute(query, (calendar,))]
        wanted = list(uids)
        found: list[Occurrence] = []
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"{query} AND o.uid IN ({marks})", (calendar, *chunk))
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
            f"{_SELECT} WHERE o.cancelled = 0 AND o.start > ? ORDER BY o.start, o.calendar, o.uid, o.recurrence_id",
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
            removed, tombstones = list(removed_groups), list(tombstones)
            # Texts of rows about to be deleted or replaced: dropped at the end unless another row still names them.
            orphans = self._text_ids(calendar, {*removed, *groups, *(t.uid for t in tombstones)})
            for uid in removed:
                db.execute("DELETE FROM event_groups WHERE calendar = ? AND uid = ?", (calendar, uid))
                db.execute("DELETE FROM occurrences WHERE calendar = ? AND uid = ?", (calendar, uid))
            for uid, snapshot in groups.items():
                db.execute(
                    "INSERT OR REPLACE INTO event_groups (calendar, uid, digest, expanded_to) VALUES (?, ?, ?, ?)",
                    (calendar, uid, snapshot.digest, iso(snapshot.expanded_to)),
                )
                db.execute("DELETE FROM occurrences WHERE calendar = ? AND uid = ?", (calendar, uid))
            text_id = _TextIds(db)
            db.connection.executemany(
                "INSERT OR REPLACE INTO occurrences VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _occurrence_row(occurrence, text_id)
                    for occurrences in ([s for g in groups.values() for s in g.occurrences], tombstones)
                    for occurrence in occurrences
                ),
            )
            # Tombstones only matter while the session could still come back.
            past = (calendar, iso(passed_at))
            where_past = "WHERE calendar = ? AND cancelled = 1 AND start <= ?"
            for ids in db.execute(f"SELECT summary_id, attendees_id FROM occurrences {where_past}", past):
                orphans.update(ids)
            db.execute(f"DELETE FROM occurrences {where_past}", past)
            db.connection.executemany(
                "DELETE FROM texts WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM occurrences WHERE summary_id = ?1)"
                " AND NOT EXISTS (SELECT 1 FROM occurrences WHERE attendees_id = ?1)",
                ((text,) for text in orphans),
            )

    def _text_ids(self, calendar: str, uids: Iterable[str]) -> set[int]:
        wanted = list(uids)
        found: set[int] = set()
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT DISTINCT summary_id, attendees_id FROM occurrences WHERE calendar = ? AND uid IN ({marks})",
                (calendar, *chunk),
            )
            for ids in rows:
                found.update(ids)
        return found


class _TextIds:
    """The id of each text in `texts`, added when new; remembered for one write, where a series repeats them."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._known: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        known = self._known.get(text)
        if known is None:
            self._db.execute("INSERT INTO texts (text) VALUES (?) ON CONFLICT (text) DO NOTHING", (text,))
            known = int(self._db.execute("SELECT id FROM texts WHERE text = ?", (text,)).fetchone()[0])
            self._known[text] = known
        return known


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


def _occurrence_row(o: Occurrence, text_id: Callable[[str], int]) -> tuple:
    return (
        o.calendar,
        o.uid,
        o.recurrence_id,
        iso(o.start),
        iso(o.end),
        text_id(o.summary),
        int(o.all_day),
        int(o.cancelled),
        int(o.recurring),
        text_id(json.dumps(list(o.attendees))),
        o.sequence,
        iso(o.last_modified),
    )
