"""The durable record: calendar snapshots and the reschedule history, in SQLite.

Each pass over a calendar is written in one transaction (snapshot, event
fingerprints and changes together), so a crash leaves the old state or the
new one and a repeated pass never records a change twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from .errors import CoachsyncError, NotFoundError
from .model import Change, ChangeKind, Occurrence

_MIGRATIONS: tuple[str, ...] = (
    # version 1
    """
    CREATE TABLE calendars (
        name            TEXT PRIMARY KEY,
        content_digest  TEXT,
        header_digest   TEXT,
        zone            TEXT,
        sync_state      TEXT NOT NULL DEFAULT '{}',
        last_pass_at    TEXT
    );
    CREATE TABLE event_groups (
        calendar      TEXT NOT NULL,
        uid           TEXT NOT NULL,
        digest        TEXT NOT NULL,
        expanded_to   TEXT NOT NULL,
        PRIMARY KEY (calendar, uid)
    ) WITHOUT ROWID;
    CREATE TABLE occurrences (
        calendar       TEXT NOT NULL,
        uid            TEXT NOT NULL,
        recurrence_id  TEXT NOT NULL,
        start          TEXT NOT NULL,
        end            TEXT NOT NULL,
        summary        TEXT NOT NULL,
        all_day        INTEGER NOT NULL,
        cancelled      INTEGER NOT NULL,
        recurring      INTEGER NOT NULL,
        attendees      TEXT NOT NULL,
        sequence       INTEGER NOT NULL,
        last_modified  TEXT,
        PRIMARY KEY (calendar, uid, recurrence_id)
    ) WITHOUT ROWID;
    CREATE TABLE changes (
        id             INTEGER PRIMARY KEY,
        calendar       TEXT NOT NULL,
        client         TEXT,
        uid            TEXT NOT NULL,
        recurrence_id  TEXT NOT NULL,
        kind           TEXT NOT NULL,
        summary        TEXT NOT NULL,
        old_start      TEXT NOT NULL,
        new_start      TEXT,
        notice_hours   REAL NOT NULL,
        changed_at     TEXT NOT NULL,
        detected_at    TEXT NOT NULL,
        new_uid        TEXT,
        instances      INTEGER NOT NULL DEFAULT 1,
        excused        INTEGER NOT NULL DEFAULT 0,
        reason         TEXT
    );
    CREATE INDEX changes_by_client ON changes (client, detected_at);
    """,
    # version 2: what policies asked for. Every action row carries a UNIQUE idempotency key,
    # "{change id}:{plugin}:{kind}[:{key}]", or "{plugin}:{kind}:{once_per}" for actions that
    # are once per client rather than once per change; re-running a pass can never add a second.
    """
    CREATE TABLE fees (
        id               INTEGER PRIMARY KEY,
        idempotency_key  TEXT NOT NULL UNIQUE,
        change_id        INTEGER NOT NULL REFERENCES changes (id),
        plugin           TEXT NOT NULL,
        client           TEXT,
        amount           TEXT NOT NULL,
        currency         TEXT NOT NULL,
        status           TEXT NOT NULL DEFAULT 'owed' CHECK (status IN ('owed', 'waived')),
        reason           TEXT NOT NULL,
        waived_reason    TEXT,
        created_at       TEXT NOT NULL
    );
    CREATE TABLE suggestions (
        id               INTEGER PRIMARY KEY,
        idempotency_key  TEXT NOT NULL UNIQUE,
        change_id        INTEGER NOT NULL REFERENCES changes (id),
        plugin           TEXT NOT NULL,
        client           TEXT,
        text             TEXT NOT NULL,
        created_at       TEXT NOT NULL
    );
    CREATE TABLE outbox (
        id               INTEGER PRIMARY KEY,
        idempotency_key  TEXT NOT NULL UNIQUE,
        message_id       TEXT NOT NULL UNIQUE,
        change_id        INTEGER NOT NULL REFERENCES changes (id),
        plugin           TEXT NOT NULL,
        client           TEXT,
        recipient        TEXT,
        subject          TEXT NOT NULL,
        body             TEXT NOT NULL,
        status           TEXT NOT NULL
                         CHECK (status IN ('pending_approval', 'queued', 'sent', 'failed', 'discarded')),
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  TEXT,
        error            TEXT,
        created_at       TEXT NOT NULL,
        sent_at          TEXT
    );
    CREATE INDEX outbox_by_status ON outbox (status, next_attempt_at);
    CREATE TABLE policy_failures (
        change_id   INTEGER NOT NULL REFERENCES changes (id),
        plugin      TEXT NOT NULL,
        error       TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 1,
        failed_at   TEXT NOT NULL,
        PRIMARY KEY (change_id, plugin)
    );
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)


@dataclass(frozen=True, slots=True)
class CalendarState:
    """What the last successful pass left behind for one calendar."""

    name: str
    content_digest: str | None
    header_digest: str | None
    zone: str | None
    sync_state: Mapping[str, str]
    last_pass_at: datetime | None


@dataclass(frozen=True, slots=True)
class Record:
    """A change as recorded: the detected change plus what the coach said about it."""

    id: int
    change: Change
    detected_at: datetime
    excused: bool
    reason: str | None


@dataclass(frozen=True, slots=True)
class GroupSnapshot:
    """The new state of one event group: its fingerprint, expansion horizon and occurrences."""

    digest: str
    expanded_to: datetime
    occurrences: tuple[Occurrence, ...]


# --- policies: what a pass's policies ask to record, and the ledger they fill ---


@dataclass(frozen=True, slots=True)
class NewFee:
    """A fee to record; `waived_reason` is set when its change is already excused."""

    key: str
    change_id: int
    plugin: str
    client: str | None
    amount: Decimal
    currency: str
    reason: str
    waived_reason: str | None = None


@dataclass(frozen=True, slots=True)
class NewSuggestion:
    key: str
    change_id: int
    plugin: str
    client: str | None
    text: str


@dataclass(frozen=True, slots=True)
class NewEmail:
    """An outbox row; `status` is pending_approval, queued, or failed with `error` saying why."""

    key: str
    message_id: str
    change_id: int
    plugin: str
    client: str | None
    recipient: str | None
    subject: str
    body: str
    status: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyFailure:
    """A plugin raised or returned something invalid for a change; retried on the next pass."""

    change_id: int
    plugin: str
    error: str
    attempts: int = 1
    failed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PolicyResults:
    """Everything the policies produced for some changes, written in the caller's transaction."""

    fees: tuple[NewFee, ...] = ()
    suggestions: tuple[NewSuggestion, ...] = ()
    emails: tuple[NewEmail, ...] = ()
    failures: tuple[PolicyFailure, ...] = ()
    # (change id, plugin) pairs that ran cleanly, so an earlier failure of theirs is cleared.
    succeeded: tuple[tuple[int, str], ...] = ()


# Runs the policies over changes just written, inside the same transaction.
RunPolicies = Callable[[Sequence[Record]], PolicyResults]
# Runs one plugin again per (change, plugin) pair that failed before.
RetryPolicies = Callable[[Sequence[tuple[Record, str]]], PolicyResults]


@dataclass(frozen=True, slots=True)
class FeeEntry:
    """A fee in the ledger: `owed` until the coach waives it or excuses its change."""

    id: int
    change_id: int
    plugin: str
    client: str | None
    amount: Decimal
    currency: str
    status: str
    reason: str
    waived_reason: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SuggestionEntry:
    id: int
    change_id: int
    plugin: str
    client: str | None
    text: str
    created_at: datetime


class MailStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    DISCARDED = "discarded"


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One email in the outbox; `message_id` is fixed when the row is written, so a resend
    carries the same Message-ID and the receiver can drop the duplicate."""

    id: int
    message_id: str
    change_id: int
    plugin: str
    client: str | None
    recipient: str | None
    subject: str
    body: str
    status: MailStatus
    attempts: int
    next_attempt_at: datetime | None
    error: str | None
    created_at: datetime
    sent_at: datetime | None


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _excused_reason(reason: str | None) -> str:
    return f"change excused: {reason}" if reason else "change excused"


class Store:
    """One SQLite database; open it once per process and share it."""

    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # One connection per process, used by one thread at a time (the daemon's loop),
            # which need not be the thread that opened it.
            self._db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
        except (OSError, sqlite3.Error) as error:
            raise CoachsyncError(
                f"cannot open the database {path}: {error}; check `database:` in the config"
            ) from error
        self.path = path
        self._migrate()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _migrate(self) -> None:
        """Apply forward migrations; the version is read under the write lock, since the daemon
        and a CLI command may open a new database at the same moment."""
        while True:
            with self._transaction() as db:
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise CoachsyncError(
                        f"the database {self.path} was written by a newer coachsync (schema {version});"
                        " upgrade coachsync"
                    )
                if version == SCHEMA_VERSION:
                    return
                for statement in _MIGRATIONS[version].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {version + 1}")

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    # --- snapshots -------------------------------------------------------

    def calendar_state(self, name: str) -> CalendarState | None:
        row = self._db.execute(
            "SELECT content_digest, header_digest, zone, sync_state, last_pass_at FROM calendars WHERE name = ?",
            (name,),
        ).fetchone()
        if row is None:
            return None
        return CalendarState(name, row[0], row[1], row[2], json.loads(row[3]), _moment(row[4]))

    def save_sync_state(self, name: str, sync_state: Mapping[str, str]) -> None:
        """Keep a source's new sync state (a CalDAV sync-token) after a pass that found nothing to record."""
        with self._transaction() as db:
            db.execute("UPDATE calendars SET sync_state = ? WHERE name = ?", (json.dumps(dict(sync_state)), name))

    def group_digests(self, calendar: str) -> dict[str, tuple[str, datetime]]:
        """Each known UID's fingerprint and how far ahead it was expanded."""
        rows = self._db.execute("SELECT uid, digest, expanded_to FROM event_groups WHERE calendar = ?", (calendar,))
        return {uid: (digest, datetime.fromisoformat(expanded_to)) for uid, digest, expanded_to in rows}

    def occurrences(self, calendar: str, uids: Iterable[str] | None = None) -> list[Occurrence]:
        """Stored occurrences (tombstones included) of a calendar, or of some of its UIDs."""
        query = "SELECT * FROM occurrences WHERE calendar = ?"
        if uids is None:
            return [self._occurrence(row) for row in self._db.execute(query, (calendar,))]
        wanted = list(uids)
        found: list[Occurrence] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"{query} AND uid IN ({marks})", (calendar, *chunk))
            found.extend(self._occurrence(row) for row in rows)
        return found

    @staticmethod
    def _occurrence(row: tuple) -> Occurrence:
        (
            calendar,
            uid,
            recurrence_id,
            start,
            end,
            summary,
            all_day,
            cancelled,
            recurring,
            attendees,
            sequence,
            modified,
        ) = row
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
            last_modified=_moment(modified),
        )

    def upcoming_count(self, calendar: str, now: datetime) -> int:
        row = self._db.execute(
            "SELECT count(*) FROM occurrences WHERE calendar = ? AND cancelled = 0 AND start > ?",
            (calendar, _iso(now)),
        ).fetchone()
        return int(row[0])

    def commit_pass(
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
        changes: Iterable[Change],
        policies: RunPolicies | None = None,
    ) -> list[int]:
        """Write one pass atomically: calendar state, changed groups, new changes and what the
        policies made of them. Returns change ids.

        `policies` runs inside the transaction and reads through this store's one connection,
        so it sees the new snapshot and records; if anything fails, nothing of the pass is kept.
        """
        with self._transaction() as db:
            db.execute(
                "INSERT INTO calendars (name, content_digest, header_digest, zone, sync_state, last_pass_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET content_digest = excluded.content_digest,"
                " header_digest = excluded.header_digest, zone = excluded.zone, sync_state = excluded.sync_state,"
                " last_pass_at = excluded.last_pass_at",
                (calendar, content_digest, header_digest, zone, json.dumps(dict(sync_state)), _iso(passed_at)),
            )
            for uid in removed_groups:
                db.execute("DELETE FROM event_groups WHERE calendar = ? AND uid = ?", (calendar, uid))
                db.execute("DELETE FROM occurrences WHERE calendar = ? AND uid = ?", (calendar, uid))
            for uid, snapshot in groups.items():
                db.execute(
                    "INSERT OR REPLACE INTO event_groups (calendar, uid, digest, expanded_to) VALUES (?, ?, ?, ?)",
                    (calendar, uid, snapshot.digest, _iso(snapshot.expanded_to)),
                )
                db.execute("DELETE FROM occurrences WHERE calendar = ? AND uid = ?", (calendar, uid))
            db.executemany(
                "INSERT OR REPLACE INTO occurrences VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self._occurrence_row(occurrence)
                    for occurrences in ([s for g in groups.values() for s in g.occurrences], tombstones)
                    for occurrence in occurrences
                ),
            )
            # Tombstones only matter while the session could still come back.
            db.execute(
                "DELETE FROM occurrences WHERE calendar = ? AND cancelled = 1 AND start <= ?",
                (calendar, _iso(passed_at)),
            )
            ids = [self._insert_change(db, change, passed_at) for change in changes]
            if policies is not None and ids:
                self._write_results(db, policies([self.record(i) for i in ids]), passed_at)
            return ids

    @staticmethod
    def _occurrence_row(o: Occurrence) -> tuple:
        return (
            o.calendar,
            o.uid,
            o.recurrence_id,
            _iso(o.start),
            _iso(o.end),
            o.summary,
            int(o.all_day),
            int(o.cancelled),
            int(o.recurring),
            json.dumps(list(o.attendees)),
            o.sequence,
            _iso(o.last_modified),
        )

    @staticmethod
    def _insert_change(db: sqlite3.Connection, change: Change, detected_at: datetime) -> int:
        cursor = db.execute(
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
                _iso(change.old_start),
                _iso(change.new_start),
                change.notice_hours,
                _iso(change.changed_at),
                _iso(detected_at),
                change.new_uid,
                change.instances,
            ),
        )
        return int(cursor.lastrowid or 0)

    # --- history ---------------------------------------------------------

    def history(self, client: str | None = None, since: datetime | None = None) -> list[Record]:
        """Recorded changes, oldest first, optionally for one client and since a moment."""
        query = "SELECT * FROM changes WHERE 1 = 1"
        arguments: list[object] = []
        if client is not None:
            query += " AND lower(client) = lower(?)"
            arguments.append(client)
        if since is not None:
            query += " AND detected_at >= ?"
            arguments.append(_iso(since))
        query += " ORDER BY detected_at, id"
        return [self._record(row) for row in self._db.execute(query, arguments)]

    def record(self, change_id: int) -> Record:
        row = self._db.execute("SELECT * FROM changes WHERE id = ?", (change_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no recorded change with id {change_id}; see `coachsync history`")
        return self._record(row)

    def excuse(self, change_id: int, reason: str) -> Record:
        """Mark a change excused (illness, emergency, coach-initiated): it never counts against the client,
        and the fees it raised are waived in the same transaction."""
        self.record(change_id)  # raises NotFoundError naming the fix
        with self._transaction() as db:
            db.execute("UPDATE changes SET excused = 1, reason = ? WHERE id = ?", (reason, change_id))
            db.execute(
                "UPDATE fees SET status = 'waived', waived_reason = ? WHERE change_id = ? AND status = 'owed'",
                (_excused_reason(reason), change_id),
            )
        return self.record(change_id)

    @staticmethod
    def _record(row: tuple) -> Record:
        (
            id_,
            calendar,
            client,
            uid,
            recurrence_id,
            kind,
            summary,
            old_start,
            new_start,
            notice_hours,
            changed_at,
            detected_at,
            new_uid,
            instances,
            excused,
            reason,
        ) = row
        change = Change(
            kind=ChangeKind(kind),
            calendar=calendar,
            uid=uid,
            recurrence_id=recurrence_id,
            client=client,
            summary=summary,
            old_start=datetime.fromisoformat(old_start),
            new_start=_moment(new_start),
            notice_hours=notice_hours,
            changed_at=datetime.fromisoformat(changed_at),
            new_uid=new_uid,
            instances=instances,
        )
        return Record(id_, change, datetime.fromisoformat(detected_at), bool(excused), reason)

    # --- policies: fees, suggestions, new outbox rows, failures ----------

    def upcoming_sessions(self, now: datetime) -> list[Occurrence]:
        """Every calendar's sessions still ahead and not cancelled, earliest first."""
        rows = self._db.execute(
            "SELECT * FROM occurrences WHERE cancelled = 0 AND start > ? ORDER BY start, calendar, uid, recurrence_id",
            (_iso(now),),
        )
        return [self._occurrence(row) for row in rows]

    def retry_policies(self, calendar: str, retry: RetryPolicies, now: datetime) -> PolicyResults:
        """Run the plugins that failed on this calendar's changes again, recording what they
        return in one transaction; a pair that succeeds is no longer pending."""
        if not self.policy_failures(calendar):
            return PolicyResults()  # the common case takes no write lock
        with self._transaction() as db:
            pending = [(self.record(f.change_id), f.plugin) for f in self.policy_failures(calendar)]
            results = retry(pending) if pending else PolicyResults()
            self._write_results(db, results, now)
            return results

    def policy_failures(self, calendar: str | None = None) -> list[PolicyFailure]:
        """(change, plugin) pairs still waiting for a successful run, oldest change first."""
        query = (
            "SELECT f.change_id, f.plugin, f.error, f.attempts, f.failed_at FROM policy_failures f"
            " JOIN changes c ON c.id = f.change_id"
        )
        arguments: tuple[str, ...] = ()
        if calendar is not None:
            query += " WHERE c.calendar = ?"
            arguments = (calendar,)
        rows = self._db.execute(query + " ORDER BY f.change_id, f.plugin", arguments)
        return [PolicyFailure(c, p, e, a, datetime.fromisoformat(t)) for c, p, e, a, t in rows]

    @staticmethod
    def _write_results(db: sqlite3.Connection, results: PolicyResults, now: datetime) -> None:
        # ON CONFLICT on the key alone: a repeat is skipped, while any other broken constraint still fails.
        created = _iso(now)
        db.executemany(
            "INSERT INTO fees (idempotency_key, change_id, plugin, client, amount, currency, status, reason,"
            " waived_reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (idempotency_key) DO NOTHING",
            [
                (
                    f.key,
                    f.change_id,
                    f.plugin,
                    f.client,
                    str(f.amount),
                    f.currency,
                    "owed" if f.waived_reason is None else "waived",
                    f.reason,
                    f.waived_reason,
                    created,
                )
                for f in results.fees
            ],
        )
        db.executemany(
            "INSERT INTO suggestions (idempotency_key, change_id, plugin, client, text, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
            [(s.key, s.change_id, s.plugin, s.client, s.text, created) for s in results.suggestions],
        )
        db.executemany(
            "INSERT INTO outbox (idempotency_key, message_id, change_id, plugin, client, recipient, subject, body,"
            " status, error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (idempotency_key) DO NOTHING",
            [
                (e.key, e.message_id, e.change_id, e.plugin, e.client, e.recipient, e.subject, e.body, e.status)
                + (e.error, created)
                for e in results.emails
            ],
        )
        db.executemany(
            "INSERT INTO policy_failures (change_id, plugin, error, failed_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (change_id, plugin) DO UPDATE SET error = excluded.error,"
            " attempts = attempts + 1, failed_at = excluded.failed_at",
            [(f.change_id, f.plugin, f.error, created) for f in results.failures],
        )
        db.executemany("DELETE FROM policy_failures WHERE change_id = ? AND plugin = ?", results.succeeded)

    def fees(self, client: str | None = None) -> list[FeeEntry]:
        """The fee ledger, oldest first, optionally for one client (any upper/lower case)."""
        query = "SELECT * FROM fees"
        arguments: tuple[str, ...] = ()
        if client is not None:
            query += " WHERE lower(client) = lower(?)"
            arguments = (client,)
        return [self._fee(row) for row in self._db.execute(query + " ORDER BY id", arguments)]

    def fee(self, fee_id: int) -> FeeEntry:
        row = self._db.execute("SELECT * FROM fees WHERE id = ?", (fee_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no fee with id {fee_id}; see `coachsync fees`")
        return self._fee(row)

    def waive_fee(self, fee_id: int, reason: str) -> FeeEntry:
        """Waive an owed fee; a fee already waived keeps its first reason."""
        self.fee(fee_id)  # raises NotFoundError naming the fix
        with self._transaction() as db:
            db.execute(
                "UPDATE fees SET status = 'waived', waived_reason = ? WHERE id = ? AND status = 'owed'",
                (reason, fee_id),
            )
        return self.fee(fee_id)

    def suggestions(self) -> list[SuggestionEntry]:
        rows = self._db.execute(
            "SELECT id, change_id, plugin, client, text, created_at FROM suggestions ORDER BY id"
        ).fetchall()
        return [SuggestionEntry(i, c, p, cl, t, datetime.fromisoformat(at)) for i, c, p, cl, t, at in rows]

    @staticmethod
    def _fee(row: tuple) -> FeeEntry:
        id_, _key, change_id, plugin, client, amount, currency, status, reason, waived_reason, created_at = row
        return FeeEntry(
            id=id_,
            change_id=change_id,
            plugin=plugin,
            client=client,
            amount=Decimal(amount),
            currency=currency,
            status=status,
            reason=reason,
            waived_reason=waived_reason,
            created_at=datetime.fromisoformat(created_at),
        )

    # --- outbox ----------------------------------------------------------
    # Delivery moves a row queued -> sent | failed (or back to queued with a later attempt);
    # every update is conditional on the status it expects, so a row the coach discarded
    # while a send was under way is never marked sent or retried.

    _OUTBOX_COLUMNS = (
        "id, message_id, change_id, plugin, client, recipient, subject, body, status, attempts,"
        " next_attempt_at, error, created_at, sent_at"
    )

    def outbox(self, status: MailStatus | None = None) -> list[OutboxMessage]:
        """Outbox rows, oldest first, optionally only those with one status."""
        query = f"SELECT {self._OUTBOX_COLUMNS} FROM outbox"
        arguments: tuple[str, ...] = ()
        if status is not None:
            query += " WHERE status = ?"
            arguments = (MailStatus(status).value,)
        return [self._message(row) for row in self._db.execute(query + " ORDER BY id", arguments)]

    def message(self, message_id: int) -> OutboxMessage:
        row = self._db.execute(f"SELECT {self._OUTBOX_COLUMNS} FROM outbox WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no outbox message with id {message_id}; see `coachsync outbox`")
        return self._message(row)

    def approve_message(self, message_id: int) -> OutboxMessage:
        """pending_approval -> queued: the coach read it and wants it sent."""
        return self._move_message(message_id, (MailStatus.PENDING_APPROVAL,), MailStatus.QUEUED, "approve")

    def discard_message(self, message_id: int) -> OutboxMessage:
        """Never send it; a sent message cannot be discarded, and discarding twice is harmless."""
        if self.message(message_id).status is MailStatus.DISCARDED:
            return self.message(message_id)
        waiting = (MailStatus.PENDING_APPROVAL, MailStatus.QUEUED, MailStatus.FAILED)
        return self._move_message(message_id, waiting, MailStatus.DISCARDED, "discard")

    def _move_message(
        self, message_id: int, allowed: tuple[MailStatus, ...], to: MailStatus, verb: str
    ) -> OutboxMessage:
        with self._transaction() as db:
            row = db.execute("SELECT status FROM outbox WHERE id = ?", (message_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no outbox message with id {message_id}; see `coachsync outbox`")
            if row[0] not in allowed:
                need = " or ".join(s.value for s in allowed)
                raise CoachsyncError(f"cannot {verb} outbox message {message_id}: it is {row[0]}, not {need}")
            db.execute("UPDATE outbox SET status = ? WHERE id = ?", (to.value, message_id))
        return self.message(message_id)

    def due_messages(self, now: datetime) -> list[OutboxMessage]:
        """Queued rows whose next attempt is due, oldest first."""
        rows = self._db.execute(
            f"SELECT {self._OUTBOX_COLUMNS} FROM outbox WHERE status = 'queued'"
            " AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id",
            (_iso(now),),
        )
        return [self._message(row) for row in rows]

    def mark_sent(self, message_id: int, sent_at: datetime) -> None:
        self._update_queued(
            message_id,
            "status = 'sent', attempts = attempts + 1, sent_at = ?, error = NULL, next_attempt_at = NULL",
            (_iso(sent_at),),
        )

    def mark_retry(self, message_id: int, error: str, next_attempt_at: datetime) -> None:
        """Count a failed attempt and keep the row queued until `next_attempt_at`."""
        self._update_queued(
            message_id, "attempts = attempts + 1, error = ?, next_attempt_at = ?", (error, _iso(next_attempt_at))
        )

    def mark_failed(self, message_id: int, error: str) -> None:
        """Give up: a permanent refusal, an invalid address, or too many temporary failures."""
        self._update_queued(
            message_id, "status = 'failed', attempts = attempts + 1, error = ?, next_attempt_at = NULL", (error,)
        )

    def _update_queued(self, message_id: int, assignments: str, arguments: tuple[str | None, ...]) -> None:
        with self._transaction() as db:
            db.execute(f"UPDATE outbox SET {assignments} WHERE id = ? AND status = 'queued'", (*arguments, message_id))

    @staticmethod
    def _message(row: tuple) -> OutboxMessage:
        (id_, message_id, change_id, plugin, client, recipient, subject, body, status, attempts, next_at, error,
         created_at, sent_at) = row  # fmt: skip
        return OutboxMessage(
            id=id_,
            message_id=message_id,
            change_id=change_id,
            plugin=plugin,
            client=client,
            recipient=recipient,
            subject=subject,
            body=body,
            status=MailStatus(status),
            attempts=attempts,
            next_attempt_at=_moment(next_at),
            error=error,
            created_at=datetime.fromisoformat(created_at),
            sent_at=_moment(sent_at),
        )
