"""Databases written by earlier releases, checked in under tests/data, set up as a coach's directory holds them."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"


def install_old_database(fixture: Path, root: Path) -> Path:
    """Copy the fixture's database to `root/state/` and its calendar beside the config; the database's path."""
    state = root / "state"
    state.mkdir()
    shutil.copy(fixture / "coachsync.db", state / "coachsync.db")
    shutil.copy(fixture / "coaching.ics", root / "coaching.ics")
    return state / "coachsync.db"


def schema_version_of(database: Path) -> int:
    """The schema a database was written at, read without opening it for writing."""
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()
