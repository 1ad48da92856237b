"""The outbox: every email a policy asked for, and its state on the way out.

Delivery moves a row queued -> sent | failed (or back to queued with a later
attempt); every update is conditional on the status it expects, so a row the
coach discarded while a send was under way is never marked sent or retried.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ..errors import CoachsyncError, NotFoundError
from ..model import Attachment, MailStatus, OutboxMessage
from .database import Database, iso, moment

_COLUMNS = (
    "id, message_id, change_id, plugin, client, recipient, subject, body, status, attempts,"
    " next_attempt_at, error, created_at, sent_at, idempotency_key"
)
_WAITING = (MailStatus.PENDING_APPROVAL, MailStatus.QUEUED, MailStatus.FAILED)


class Outbox:
    def __init__(self, db: Database) -> None:
        self._db = db

    def messages(self, status: MailStatus | None = None) -> list[OutboxMessage]:
        """Outbox rows, oldest first, optionally only those with one status."""
        query = f"SELECT {_COLUMNS} FROM outbox"
        arguments: tuple[str, ...] = ()
        if status is not None:
            query += " WHERE status = ?"
            arguments = (MailStatus(status).value,)
        return [_message(row) for row in self._db.execute(query + " ORDER BY id", arguments)]

    def message(self, message_id: int) -> OutboxMessage:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no outbox message with id {message_id}; see `coachsync outbox`")
        return _message(row)

    def add(self, messages: Iterable[OutboxMessage]) -> tuple[OutboxMessage, ...]:
        """Queue new messages; one whose key is already in the outbox is skipped. Returns those queued now."""
        return self._db.insert_new(
            "INSERT INTO outbox (idempotency_key, message_id, change_id, plugin, client, recipient, subject, body,"
            " status, error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (idempotency_key) DO NOTHING",
            messages,
            lambda m: (
                (m.key, m.message_id, m.change_id, m.plugin, m.client, m.recipient, m.subject, m.body)
                + (MailStatus(m.status).value, m.error, iso(m.created_at))
            ),
        )

    def add_with_attachments(self, message: OutboxMessage, attachments: Iterable[Attachment]) -> OutboxMessage | None:
        """Queue one message with its attachments, all or nothing; None (and nothing written) when its key
        is already in the outbox."""
        with self._db.transaction():
            if not self.add([message]):
                return None
            row = self._db.execute("SELECT id FROM outbox WHERE idempotency_key = ?", (message.key,)).fetchone()
            self._db.connection.executemany(
                "INSERT INTO outbox_attachments (outbox_id, filename, content_type, content) VALUES (?, ?, ?, ?)",
                [(row[0], a.filename, a.content_type, a.content) for a in attachments],
            )
        return self.message(row[0])

    def attachments(self, message_id: int) -> tuple[Attachment, ...]:
        """A message's attachments, in the order they were added; read only when it is delivered."""
        rows = self._db.execute(
            "SELECT filename, content_type, content FROM outbox_attachments WHERE outbox_id = ? ORDER BY id",
            (message_id,),
        )
        return tuple(Attachment(name, kind, bytes(content)) for name, kind, content in rows)

    def approve(self, message_id: int) -> OutboxMessage:
        """pending_approval -> queued: the coach read it and wants it sent."""
        return self._move(message_id, (MailStatus.PENDING_APPROVAL,), MailStatus.QUEUED, "approve")

    def discard(self, message_id: int) -> OutboxMessage:
        """Never send it; a sent message cannot be discarded, and discarding twice is harmless."""
        if self.message(message_id).status is MailStatus.DISCARDED:
            return self.message(message_id)
        return self._move(message_id, _WAITING, MailStatus.DISCARDED, "discard")

    def edit_body(self, message_id: int, before: str, body: str, at: datetime) -> bool:
        """Replace the body of a message still pending approval and still reading `before`, keeping
        `before` in its edits; False (nothing written) when the message moved on or changed meanwhile."""
        with self._db.transaction():
            updated = self._db.execute(
                "UPDATE outbox SET body = ? WHERE id = ? AND status = 'pending_approval' AND body = ?",
                (body, message_id, before),
            ).rowcount
            if updated:
                self._db.execute(
                    "INSERT INTO outbox_edits (outbox_id, body_before, edited_at) VALUES (?, ?, ?)",
                    (message_id, before, iso(at)),
                )
        return bool(updated)

    def edits(self, message_id: int) -> list[tuple[str, datetime]]:
        """The bodies the coach's edits replaced, oldest first, each with when it was replaced."""
        rows = self._db.execute(
            "SELECT body_before, edited_at FROM outbox_edits WHERE outbox_id = ? ORDER BY id", (message_id,)
        )
        return [(body, datetime.fromisoformat(at)) for body, at in rows]

    def due(self, now: datetime) -> list[OutboxMessage]:
        """Queued rows whose next attempt is due, oldest first."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE status = 'queued'"
            " AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id",
            (iso(now),),
        )
        return [_message(row) for row in rows]

    def mark_sent(self, message_id: int, sent_at: datetime) -> None:
        self._update_queued(
            message_id,
            "status = 'sent', attempts = attempts + 1, sent_at = ?, error = NULL, next_attempt_at = NULL",
            (iso(sent_at),),
        )

    def mark_written(self, message_id: int, written_at: datetime) -> None:
        """Outbox mode: the message is an .eml file now, and nothing was sent."""
        self._update_queued(
            message_id,
            "status = 'written', attempts = attempts + 1, sent_at = ?, error = NULL, next_attempt_at = NULL",
            (iso(written_at),),
        )

    def mark_retry(self, message_id: int, error: str, next_attempt_at: datetime) -> None:
        """Count a failed attempt and keep the row queued until `next_attempt_at`."""
        self._update_queued(
            message_id, "attempts = attempts + 1, error = ?, next_attempt_at = ?", (error, iso(next_attempt_at))
        )

    def mark_failed(self, message_id: int, error: str) -> None:
        """Give up: a permanent refusal, an invalid address, or too many temporary failures."""
        self._update_queued(
            message_id, "status = 'failed', attempts = attempts + 1, error = ?, next_attempt_at = NULL", (error,)
        )

    def _move(self, message_id: int, allowed: tuple[MailStatus, ...], to: MailStatus, verb: str) -> OutboxMessage:
        with self._db.transaction():
            row = self._db.execute("SELECT status FROM outbox WHERE id = ?", (message_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no outbox message with id {message_id}; see `coachsync outbox`")
            if row[0] not in allowed:
                need = " or ".join(s.value for s in allowed)
                raise CoachsyncError(f"cannot {verb} outbox message {message_id}: it is {row[0]}, not {need}")
            self._db.execute("UPDATE outbox SET status = ? WHERE id = ?", (to.value, message_id))
        return self.message(message_id)

    def _update_queued(self, message_id: int, assignments: str, arguments: tuple[str | None, ...]) -> None:
        with self._db.transaction():
            self._db.execute(
                f"UPDATE outbox SET {assignments} WHERE id = ? AND status = 'queued'", (*arguments, message_id)
            )


def _message(row: tuple) -> OutboxMessage:
    (id_, message_id, change_id, plugin, client, recipient, subject, body, status, attempts, next_at, error,
     created_at, sent_at, key) = row  # fmt: skip
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
        next_attempt_at=moment(next_at),
        error=error,
        created_at=datetime.fromisoformat(created_at),
        sent_at=moment(sent_at),
        key=key,
    )
