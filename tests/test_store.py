"""The database: versioned schema, WAL with full sync, atomic passes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from coachsync.errors import CoachsyncError
from coachsync.store import SCHEMA_VERSION, Store
from coachsync.store.database import JOURNAL_SIZE_LIMIT


def test_new_database_is_migrated_to_the_current_schema_in_wal_mode(tmp_path: Path) -> None:
    with Store(tmp_path / "state" / "coachsync.db") as store:
        journal = store._db.execute("PRAGMA journal_mode").fetchone()[0]
        synchronous = store._db.execute("PRAGMA synchronous").fetchone()[0]
        tables = {row[0] for row in store._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

        assert (store.schema_version, journal, synchronous) == (SCHEMA_VERSION, "wal", 2)
        assert {"calendars", "event_groups", "occurrences", "changes"} <= tables


def test_reopening_keeps_data_and_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "coachsync.db"
    with Store(path) as store:
        store._db.execute("INSERT INTO calendars (name) VALUES ('coaching')")

    with Store(path) as store:
        assert store.snapshots.state("coaching") is not None
        assert store.schema_version == SCHEMA_VERSION


def test_database_from_a_newer_coachsync_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "coachsync.db"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(CoachsyncError, match=r"written by a newer coachsync .*; upgrade coachsync"):
        Store(path)


def test_unwritable_database_location_names_the_config_key(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")

    with pytest.raises(CoachsyncError, match=r"cannot open the database .*; check `database:` in the config"):
        Store(blocker / "coachsync.db")


def test_the_wal_is_cut_back_to_its_limit_once_checkpointed(tmp_path: Path) -> None:
    path = tmp_path / "coachsync.db"
    wal = Path(f"{path}-wal")
    with Store(path) as store:
        db = store._db
        with store.transaction():  # a first sync of a large calendar: one transaction of many MB
            db.execute("CREATE TABLE filler (data BLOB)")
            db.connection.executemany("INSERT INTO filler VALUES (?)", ((bytes(4000),) for _ in range(3000)))
        grown = wal.stat().st_size
        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        with store.transaction():  # the next write starts the WAL over, and cuts the file back
            db.execute("INSERT INTO filler VALUES (x'00')")

        assert (grown > 3 * JOURNAL_SIZE_LIMIT, wal.stat().st_size <= JOURNAL_SIZE_LIMIT) == (True, True)


def test_statement_journals_and_temporary_tables_stay_in_memory(tmp_path: Path) -> None:
    with Store(tmp_path / "coachsync.db") as store:
        assert store._db.execute("PRAGMA temp_store").fetchone() == (2,)  # MEMORY
