"""One SQLite connection per process and the transaction every write goes through."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from ..errors import CoachsyncError
from .schema import migrate

T = TypeVar("T")
# What the WAL is cut back to after a checkpoint, in bytes.
JOURNAL_SIZE_LIMIT = 4 * 1024 * 1024


def iso(moment: datetime | None) -> str | None:
    """Moments are stored as UTC ISO text, so that text order is time order."""
    return None if moment is None else moment.astimezone(UTC).isoformat()


def moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _create_private(path: Path) -> None:
    """An empty file (which SQLite reads as an empty database) that only its owner can read."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


class Database:
    """The connection and its transactions; repositories share it, so one transaction spans them all."""

    def __init__(self, path: Path) -> None:
        try:
            # The coach's alone, like the .eml files: the state directory when it is created here,
            # and the database, whose mode SQLite gives its -wal and -shm files too.
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _create_private(path)
            # One connection per process, used by one thread at a time (the daemon's loop),
            # which need not be the thread that opened it.
            self.connection = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
            self.connection.execute("PRAGMA journal_mode=WAL")
            # A first sync of a large calendar grows the WAL to tens of MB; without a limit it keeps that size.
            self.connection.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
            # A write inside a pass is a savepoint, whose statement journal would go to a temporary file:
            # a first sync of 2,000 events wrote 116 MB there, besides 2.5 MB to the database.
            self.connection.execute("PRAGMA temp_store=MEMORY")
            self.connection.execute("PRAGMA synchronous=FULL")
            self.connection.execute("PRAGMA foreign_keys=ON")
        except (OSError, sqlite3.Error) as error:
            raise CoachsyncError(
                f"cannot open the database {path}: {error}; check `database:` in the config"
            ) from error
        self.path = path
        self._depth = 0
        migrate(self.connection, path)

    @classmethod
    def copy_of(cls, path: Path) -> Database:
        """An in-memory copy of the database at `path`, migrated in memory; nothing on disk is written.

        For `coachsync check`, which records nothing: it sees what the next pass would see. A database
        closed cleanly has no -wal file, and is read as immutable so that SQLite creates no -wal and
        -shm beside it; one with a -wal (the daemon has it open) is read through it, read-only.
        """
        immutable = "&immutable=1" if not Path(f"{path}-wal").exists() else ""
        try:
            source = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro{immutable}", uri=True, timeout=30)
            try:
                connection = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
                source.backup(connection)
            finally:
                source.close()
        except (OSError, sqlite3.Error) as error:
            raise CoachsyncError(
                f"cannot read the database {path}: {error}; check `database:` in the config"
            ) from error
        return cls._over(connection, path)

    @classmethod
    def in_memory(cls, path: Path) -> Database:
        """An empty database in memory standing for `path`, which does not exist yet."""
        return cls._over(sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False), path)

    @classmethod
    def _over(cls, connection: sqlite3.Connection, path: Path) -> Database:
        database = cls.__new__(cls)
        database.connection = connection
        database.path = path
        database._depth = 0
        connection.execute("PRAGMA foreign_keys=ON")
        migrate(connection, path)
        return database

    def execute(self, sql: str, arguments: object = ()) -> sqlite3.Cursor:
        return self.connection.execute(sql, arguments)  # type: ignore[arg-type]

    def insert_new(self, sql: str, items: Iterable[T], row: Callable[[T], tuple[object, ...]]) -> tuple[T, ...]:
        """Run an INSERT … ON CONFLICT DO NOTHING for each item; returns the items it inserted, in order."""
        with self.transaction():
            return tuple(item for item in items if self.connection.execute(sql, row(item)).rowcount == 1)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing. A block inside another becomes a savepoint: if it fails, only its own
        writes are undone and the error goes on to the outer block, which decides for the whole."""
        db = self.connection
        depth = self._depth
        if depth == 0:
            db.execute("BEGIN IMMEDIATE")
        else:
            db.execute(f"SAVEPOINT nested_{depth}")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth = depth
            if depth == 0:
                db.execute("ROLLBACK")
            else:
                db.execute(f"ROLLBACK TO nested_{depth}")
                db.execute(f"RELEASE nested_{depth}")
            raise
        self._depth = depth
        db.execute("COMMIT" if depth == 0 else f"RELEASE nested_{depth}")

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @property
    def schema_version(self) -> int:
        return int(self.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        self.connection.close()
