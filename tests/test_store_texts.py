"""Free text is kept once per distinct value and at most 1,000 characters: a 2 MB title on a weekly
series no longer makes a 100 MB database. Real files, real passes, real SQLite."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from coachsync.app import App
from coachsync.model import ChangeKind

from support.ical import vevent
from support.scenario import NOW, Coach

MONDAY = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
HUGE = "Coaching " + "x" * (2 * 1024 * 1024)
KEPT = HUGE[:999] + "…"


def weekly(summary: str, start: datetime = MONDAY) -> str:
    return vevent("series", start, start + timedelta(hours=1), summary=summary, rrule="FREQ=WEEKLY",
                  attendees=("alice@example.com",))  # fmt: skip


def database_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def test_a_huge_title_on_a_weekly_series_is_kept_once_and_cut(coach: Coach, app: App) -> None:
    coach.write(weekly(HUGE))
    app.sync_calendar("coaching", NOW)
    coach.write(weekly(HUGE, MONDAY + timedelta(hours=2)))
    app.sync_calendar("coaching", NOW + timedelta(hours=1))
    occurrences = app.store.snapshots.occurrences("coaching")
    records = app.store.history.records()
    app.close()

    assert len(occurrences) > 50
    assert {o.summary for o in occurrences} == {KEPT}
    assert [(r.change.kind, r.change.summary) for r in records] == [(ChangeKind.SERIES_MOVED, KEPT)]
    assert database_bytes(coach.root / "state" / "coachsync.db") < 1024 * 1024


def test_each_distinct_text_is_stored_once_and_dropped_with_its_last_occurrence(coach: Coach, app: App) -> None:
    coach.write(weekly("Coaching"), vevent("one", MONDAY, MONDAY + timedelta(hours=1), summary="Coaching"))
    app.sync_calendar("coaching", NOW)
    path = app.database_path
    texts = sqlite3.connect(path).execute("SELECT text FROM texts ORDER BY text").fetchall()
    coach.write(vevent("one", MONDAY, MONDAY + timedelta(hours=1), summary="Intake"))
    app.sync_calendar("coaching", NOW, accept_mass_change=True)
    later = sqlite3.connect(path).execute("SELECT text FROM texts ORDER BY text").fetchall()

    assert texts == [("Coaching",), ('["alice@example.com"]',), ("[]",)]
    # The series' tombstones keep their texts until they lie in the past; the old title of "one" is gone.
    assert later == [("Coaching",), ("Intake",), ('["alice@example.com"]',), ("[]",)]


def test_an_upgrade_keeps_every_occurrence_with_its_texts_once_and_cut(tmp_path: Path) -> None:
    from coachsync.store import Store
    from coachsync.store.schema import MIGRATIONS

    path = tmp_path / "coachsync.db"
    db = sqlite3.connect(path)
    for version, script in enumerate(MIGRATIONS[:5], 1):  # the database as schema 5 left it
        db.executescript(script)
        db.execute(f"PRAGMA user_version = {version}")
    rows = [
        ("coaching", "series", f"2026-12-{day:02}T09:00:00+00:00", f"2026-12-{day:02}T09:00:00+00:00",
         f"2026-12-{day:02}T10:00:00+00:00", HUGE, 0, 0, 1, '["alice@example.com"]', 0, None)
        for day in (7, 14, 21)
    ]  # fmt: skip
    rows.append(
        (
            "coaching",
            "one",
            "",
            "2026-12-08T09:00:00+00:00",
            "2026-12-08T10:00:00+00:00",
            "Intake",
            0,
            0,
            0,
            "[]",
            0,
            None,
        )
    )
    db.executemany("INSERT INTO occurrences VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()

    with Store(path) as store:
        kept = [(o.uid, o.recurrence_id[:10], o.summary, o.attendees) for o in store.snapshots.occurrences("coaching")]
    texts = sqlite3.connect(path).execute("SELECT count(*) FROM texts").fetchone()

    assert sorted(kept) == [
        ("one", "", "Intake", ()),
        ("series", "2026-12-07", KEPT, ("alice@example.com",)),
        ("series", "2026-12-14", KEPT, ("alice@example.com",)),
        ("series", "2026-12-21", KEPT, ("alice@example.com",)),
    ]
    assert texts == (4,)
