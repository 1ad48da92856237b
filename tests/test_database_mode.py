"""Who may read the database: the coach alone, as for the .eml files."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from coachsync.store import Store


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_and_its_directory_are_readable_by_the_coach_alone(tmp_path: Path, umask_022: None) -> None:
    database = tmp_path / "state" / "nested" / "coachsync.db"

    with Store(database) as store:
        with store.transaction():
            store.snapshots.save_sync_state("coaching", {})
        files = [database, database.with_name("coachsync.db-wal"), database.with_name("coachsync.db-shm")]
        modes = {path.name: mode(path) for path in files if path.exists()}

    assert mode(database.parent) == 0o700
    assert modes == {"coachsync.db": 0o600, "coachsync.db-wal": 0o600, "coachsync.db-shm": 0o600}


def test_an_existing_state_directory_keeps_its_mode(tmp_path: Path, umask_022: None) -> None:
    (tmp_path / "state").mkdir(mode=0o750)

    with Store(tmp_path / "state" / "coachsync.db"):
        pass

    assert (mode(tmp_path / "state"), mode(tmp_path / "state" / "coachsync.db")) == (0o750, 0o600)
