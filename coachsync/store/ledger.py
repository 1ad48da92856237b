"""The ledger of what policies asked for: fees, suggestions, and the policy runs still to retry.

Every row carries a UNIQUE idempotency key, so writing the same action twice
(a repeated pass, a retried plugin) keeps the first and adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from ..errors import NotFoundError
from ..model import FeeEntry, FeeStatus, PolicyFailure, SuggestionEntry
from .database import Database, iso


class Ledger:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- fees ---

    def fees(self, client: str | None = None) -> list[FeeEntry]:
        """The fee ledger, oldest first, optionally for one client (any upper/lower case)."""
        query = "SELECT * FROM fees"
        arguments: tuple[str, ...] = ()
        if client is not None:
            query += " WHERE lower(client) = lower(?)"
            arguments = (client,)
        return [_fee(row) for row in self._db.execute(query + " ORDER BY id", arguments)]

    def fee(self, fee_id: int) -> FeeEntry:
        row = self._db.execute("SELECT * FROM fees WHERE id = ?", (fee_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no fee with id {fee_id}; see `coachsync fees`")
        return _fee(row)

    def add_fees(self, fees: Iterable[FeeEntry]) -> tuple[FeeEntry, ...]:
        """Record new fees; returns those recorded now, without any whose key was already there."""
        # ON CONFLICT on the key alone: a repeat is skipped, while any other broken constraint still fails.
        return self._db.insert_new(
            "INSERT INTO fees (idempotency_key, change_id, plugin, client, amount, currency, status, reason,"
            " waived_reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (idempotency_key) DO NOTHING",
            fees,
            lambda f: (
                (f.key, f.change_id, f.plugin, f.client, str(f.amount), f.currency, FeeStatus(f.status).value)
                + (f.reason, f.waived_reason, iso(f.created_at))
            ),
        )

    def waive_fee(self, fee_id: int, reason: str) -> FeeEntry:
        """Waive an owed fee; a fee already waived keeps its first reason."""
        self.fee(fee_id)  # raises NotFoundError naming the fix
        with self._db.transaction():
            self._db.execute(
                "UPDATE fees SET status = 'waived', waived_reason = ? WHERE id = ? AND status = 'owed'",
                (reason, fee_id),
            )
        return self.fee(fee_id)

    def waive_fees_of_change(self, change_id: int, reason: str) -> None:
        with self._db.transaction():
            self._db.execute(
                "UPDATE fees SET status = 'waived', waived_reason = ? WHERE change_id = ? AND status = 'owed'",
                (reason, change_id),
            )

    # --- suggestions ---

    def suggestions(self) -> list[SuggestionEntry]:
        rows = self._db.execute(
            "SELECT id, change_id, plugin, client, text, created_at, idempotency_key FROM suggestions ORDER BY id"
        )
        return [SuggestionEntry(i, c, p, cl, t, datetime.fromisoformat(at), k) for i, c, p, cl, t, at, k in rows]

    def add_suggestions(self, suggestions: Iterable[SuggestionEntry]) -> tuple[SuggestionEntry, ...]:
        """Record new suggestions; returns those recorded now, without any whose key was already there."""
        return self._db.insert_new(
            "INSERT INTO suggestions (idempotency_key, change_id, plugin, client, text, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
            suggestions,
            lambda s: (s.key, s.change_id, s.plugin, s.client, s.text, iso(s.created_at)),
        )

    # --- policy runs that failed, to retry ---

    def failures(self, calendar: str | None = None) -> list[PolicyFailure]:
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

    def record_failures(self, failures: Iterable[PolicyFailure], failed_at: datetime) -> None:
        """A failure seen again counts one more attempt and keeps the newest error."""
        with self._db.transaction():
            self._db.connection.executemany(
                "INSERT INTO policy_failures (change_id, plugin, error, failed_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (change_id, plugin) DO UPDATE SET error = excluded.error,"
                " attempts = attempts + 1, failed_at = excluded.failed_at",
                [(f.change_id, f.plugin, f.error, iso(failed_at)) for f in failures],
            )

    def clear_failures(self, succeeded: Iterable[tuple[int, str]]) -> None:
        """(change id, plugin) pairs that ran cleanly are no longer waiting."""
        with self._db.transaction():
            self._db.connection.executemany(
                "DELETE FROM policy_failures WHERE change_id = ? AND plugin = ?", list(succeeded)
            )


def _fee(row: tuple) -> FeeEntry:
    id_, key, change_id, plugin, client, amount, currency, status, reason, waived_reason, created_at = row
    return FeeEntry(
        id=id_,
        change_id=change_id,
        plugin=plugin,
        client=client,
        amount=Decimal(amount),
        currency=currency,
        status=FeeStatus(status),
        reason=reason,
        waived_reason=waived_reason,
        created_at=datetime.fromisoformat(created_at),
        key=key,
    )
