"""The resources of each CalDAV collection: one row per resource, written row by row inside the pass.

A row keeps the resource's href, ETag, VEVENT blocks, the UIDs they hold and the time zones it
carried; each distinct VTIMEZONE text is stored once per calendar. The time zones of the whole
calendar are, per TZID, the one carried by the first resource (by href) that carries that TZID:
`caldav_header` keeps that choice, so a pass that touches one resource reads one resource's rows,
never the calendar's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .database import Database

_CHUNK = 500  # well under SQLite's limit of host parameters per statement
_PREAMBLE = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//coachsync//CalDAV collection//EN\r\n"
_END = "END:VCALENDAR\r\n"


@dataclass(frozen=True, slots=True)
class ResourceRow:
    """One resource as the store keeps it."""

    href: str
    etag: str
    events: str
    zones: tuple[str, ...]  # digests into the calendar's zone texts
    uids: tuple[str, ...]  # the UIDs of its VEVENTs, each once
    keyless: bool  # a VEVENT without a UID: the calendar must then be read whole


@dataclass(frozen=True, slots=True)
class Applied:
    """What writing a delta changed: the UID groups to read again, and whether the shared time zones changed."""

    touched: frozenset[str]
    content_changed: bool
    header_changed: bool
    held_before: bool  # whether any resource was held before the delta: else nothing to compare against


class HeldRows:
    """The held resources of one calendar, read only as a delta source asks (see sources.base.HeldResources)."""

    def __init__(self, db: Database, calendar: str) -> None:
        self._db = db
        self._calendar = calendar

    def etags(self, hrefs: Iterable[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(list(hrefs)):
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT href, etag FROM caldav_resources WHERE calendar = ? AND href IN ({marks})",
                (self._calendar, *chunk),
            )
            found.update(rows)
        return found

    def all_etags(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT href, etag FROM caldav_resources WHERE calendar = ?", (self._calendar,)))


class Resources:
    def __init__(self, db: Database) -> None:
        self._db = db

    def held(self, calendar: str) -> HeldRows:
        return HeldRows(self._db, calendar)

    def apply(
        self,
        calendar: str,
        rows: Sequence[ResourceRow],
        gone: Iterable[str],
        zones: Mapping[str, tuple[str, str]],
    ) -> Applied:
        """Write new and changed resources and delete gone ones; say which UID groups that touched.

        A row whose content is what is held only gets its new ETag. Runs in the caller's transaction,
        so a pass that fails after some rows leaves every row as it was.
        """
        db = self._db
        with db.transaction():
            held_before = db.execute(
                "SELECT 1 FROM caldav_resources WHERE calendar = ? LIMIT 1", (calendar,)
            ).fetchone()
            gone = list(gone)
            old = self._rows(calendar, [*(r.href for r in rows), *gone])
            touched: set[str] = set()
            tzids: set[str] = set()
            changed_content = False
            for row in rows:
                before = old.get(row.href)
                if before is not None and (before.events, before.zones) == (row.events, row.zones):
                    if before.etag != row.etag:
                        db.execute(
                            "UPDATE caldav_resources SET etag = ? WHERE calendar = ? AND href = ?",
                            (row.etag, calendar, row.href),
                        )
                    continue
                changed_content = True
                if before is not None:
                    touched.update(before.uids)
                    tzids.update(self._forget(calendar, before))
                touched.update(row.uids)
                for digest in row.zones:
                    tzid, body = zones[digest]
                    db.execute(
                        "INSERT INTO caldav_zones (calendar, digest, tzid, body) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT DO NOTHING",
                        (calendar, digest, tzid, body),
                    )
                    # Only the first zone of a TZID in one resource counts, as in the calendar text.
                    db.execute(
                        "INSERT INTO caldav_resource_zones (calendar, tzid, href, digest) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT DO NOTHING",
                        (calendar, tzid, row.href, digest),
                    )
                    tzids.add(tzid)
                db.execute(
                    "INSERT INTO caldav_resources (calendar, href, etag, events, zones, uids, keyless)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (calendar, row.href, row.etag, row.events, " ".join(row.zones), "\n".join(row.uids), row.keyless),
                )
                db.connection.executemany(
                    "INSERT INTO caldav_resource_uids (calendar, uid, href) VALUES (?, ?, ?)",
                    ((calendar, uid, row.href) for uid in row.uids),
                )
            for href in gone:
                before = old.get(href)
                if before is not None:
                    changed_content = True
                    touched.update(before.uids)
                    tzids.update(self._forget(calendar, before))
            header_changed = any([self._choose_zone(calendar, tzid) for tzid in sorted(tzids)])
        return Applied(frozenset(touched), changed_content, header_changed, held_before is not None)

    def _forget(self, calendar: str, row: ResourceRow) -> set[str]:
        """Delete a held row and what names it; returns the TZIDs it carried."""
        db = self._db
        db.execute("DELETE FROM caldav_resources WHERE calendar = ? AND href = ?", (calendar, row.href))
        db.execute("DELETE FROM caldav_resource_uids WHERE calendar = ? AND href = ?", (calendar, row.href))
        carried = db.execute(
            "SELECT tzid, digest FROM caldav_resource_zones WHERE calendar = ? AND href = ?", (calendar, row.href)
        ).fetchall()
        db.execute("DELETE FROM caldav_resource_zones WHERE calendar = ? AND href = ?", (calendar, row.href))
        for _, digest in carried:
            db.execute(
                "DELETE FROM caldav_zones WHERE calendar = ?1 AND digest = ?2 AND NOT EXISTS"
                " (SELECT 1 FROM caldav_resource_zones WHERE calendar = ?1 AND digest = ?2)",
                (calendar, digest),
            )
        return {tzid for tzid, _ in carried}

    def _choose_zone(self, calendar: str, tzid: str) -> bool:
        """Let the first resource (by href) carrying `tzid` give the calendar its zone; True if that changed."""
        db = self._db
        first = db.execute(
            "SELECT digest FROM caldav_resource_zones WHERE calendar = ? AND tzid = ? ORDER BY href LIMIT 1",
            (calendar, tzid),
        ).fetchone()
        chosen = db.execute(
            "SELECT digest FROM caldav_header WHERE calendar = ? AND tzid = ?", (calendar, tzid)
        ).fetchone()
        if (first and first[0]) == (chosen and chosen[0]):
            return False
        if first is None:
            db.execute("DELETE FROM caldav_header WHERE calendar = ? AND tzid = ?", (calendar, tzid))
        else:
            db.execute(
                "INSERT INTO caldav_header (calendar, tzid, digest) VALUES (?, ?, ?)"
                " ON CONFLICT (calendar, tzid) DO UPDATE SET digest = excluded.digest",
                (calendar, tzid, first[0]),
            )
        return True

    def _rows(self, calendar: str, hrefs: list[str]) -> dict[str, ResourceRow]:
        found: dict[str, ResourceRow] = {}
        for chunk in _chunks(hrefs):
            marks = ",".join("?" * len(chunk))
            for href, etag, events, zones, uids, keyless in self._db.execute(
                "SELECT href, etag, events, zones, uids, keyless FROM caldav_resources"
                f" WHERE calendar = ? AND href IN ({marks})",
                (calendar, *chunk),
            ):
                found[href] = ResourceRow(
                    href, etag, events, tuple(zones.split()), tuple(uids.split("\n")) if uids else (), bool(keyless)
                )
        return found

    def has_keyless(self, calendar: str) -> bool:
        """Whether a held resource has an event without a UID."""
        row = self._db.execute(
            "SELECT 1 FROM caldav_resources WHERE calendar = ? AND keyless = 1 LIMIT 1", (calendar,)
        ).fetchone()
        return row is not None

    def group_count(self, calendar: str) -> int:
        """How many UID groups the held resources make."""
        # Grouped along the primary key, which is in UID order: no temporary B-tree for DISTINCT.
        row = self._db.execute(
            "SELECT count(*) FROM (SELECT uid FROM caldav_resource_uids WHERE calendar = ? GROUP BY uid)", (calendar,)
        ).fetchone()
        return int(row[0])

    def calendar_text(self, calendar: str) -> str:
        """The whole calendar: each TZID once, then every resource's events by href."""
        rows = self._db.execute("SELECT events FROM caldav_resources WHERE calendar = ? ORDER BY href", (calendar,))
        return "".join([self._header(calendar), *(events for (events,) in rows), _END])

    def groups_text(self, calendar: str, uids: Iterable[str]) -> str:
        """A calendar of the shared time zones and only the resources holding `uids`, in the same order
        as in the whole calendar, so each group splits into the very blocks and fingerprint it has there."""
        hrefs: set[str] = set()
        for chunk in _chunks(list(uids)):
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT href FROM caldav_resource_uids WHERE calendar = ? AND uid IN ({marks})", (calendar, *chunk)
            )
            hrefs.update(href for (href,) in rows)
        held = self._rows(calendar, sorted(hrefs))
        return "".join([self._header(calendar), *(held[href].events for href in sorted(held)), _END])

    def _header(self, calendar: str) -> str:
        rows = self._db.execute(
            "SELECT h.tzid, z.body FROM caldav_header AS h JOIN caldav_zones AS z"
            " ON z.calendar = h.calendar AND z.digest = h.digest WHERE h.calendar = ?",
            (calendar,),
        )
        return _PREAMBLE + "".join(body for _, body in sorted(rows))


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
