"""The ledger of what policies asked for: fees (owed, paid, waived), suggestions, and the policy runs still to retry.

Every row carries a UNIQUE idempotency key, so writing the same action twice
(a repeated pass, a retried plugin) keeps the first and adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from ..errors import NotFoundError, RefusedError
from ..model import FeeEntry, FeeStatus, FeeStep, PolicyFailure, SuggestionEntry
from .database import Database, iso, moment

_SUGGESTIONS = (
    "SELECT s.id, s.change_id, s.plugin, s.client, s.text, s.created_at, s.idempotency_key, d.dismissed_at, d.reason"
    " FROM suggestions s LEFT JOIN suggestion_dismissals d ON d.suggestion_id = s.id"
)


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
        rows = self._db.execute(query + " ORDER BY id", arguments).fetchall()
        steps: dict[int, list[FeeStep]] = {}
        for fee_id, *step in self._db.execute("SELECT fee_id, status, at, note, paid_on FROM fee_steps ORDER BY id"):
            steps.setdefault(fee_id, []).append(_step(step))
        return [_fee(row, steps.get(row[0], ())) for row in rows]

    def fee(self, fee_id: int) -> FeeEntry:
        row = self._db.execute("SELECT * FROM fees WHERE id = ?", (fee_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no fee with id {fee_id}; see `coachsync fees`")
        found = self._db.execute(
            "SELECT status, at, note, paid_on FROM fee_steps WHERE fee_id = ? ORDER BY id", (fee_id,)
        )
        return _fee(row, [_step(step) for step in found])

    def mark_paid(self, fee_id: int, on: date, at: datetime, note: str | None = None) -> FeeEntry:
        """An owed fee was paid on `on`; a waived or already paid one is refused, saying why."""
        fee = self.fee(fee_id)
        if fee.status is FeeStatus.WAIVED:
            raise RefusedError(f"fee {fee_id} was waived ({fee.waived_reason}); a waived fee cannot be paid")
        if fee.status is FeeStatus.PAID:
            raise RefusedError(
                f"fee {fee_id} is already paid (on {fee.paid_on}); `coachsync fees unpaid {fee_id}` undoes it"
            )
        with self._db.transaction():
            self._db.execute("UPDATE fees SET status = 'paid', paid_on = ? WHERE id = ?", (on.isoformat(), fee_id))
            self._step(fee_id, FeeStatus.PAID, at, note, on)
        return self.fee(fee_id)

    def mark_unpaid(self, fee_id: int, at: datetime, note: str | None = None) -> FeeEntry:
        """A fee recorded as paid by mistake is owed again."""
        fee = self.fee(fee_id)
        if fee.status is not FeeStatus.PAID:
            raise RefusedError(f"fee {fee_id} is {fee.status.value}, not paid; there is nothing to undo")
        with self._db.transaction():
            self._db.execute("UPDATE fees SET status = 'owed', paid_on = NULL WHERE id = ?", (fee_id,))
            self._step(fee_id, FeeStatus.OWED, at, note)
        return self.fee(fee_id)

    def _step(
        self, fee_id: int, status: FeeStatus, at: datetime, note: str | None = None, on: date | None = None
    ) -> None:
        self._db.execute(
            "INSERT INTO fee_steps (fee_id, status, at, note, paid_on) VALUES (?, ?, ?, ?, ?)",
            (fee_id, status.value, iso(at), note, on.isoformat() if on else None),
        )

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

    def waive_fee(self, fee_id: int, reason: str, at: datetime) -> FeeEntry:
        """Waive an owed fee; a fee already waived keeps its first reason, a paid one is refused."""
        fee = self.fee(fee_id)  # raises NotFoundError naming the fix
        if fee.status is FeeStatus.PAID:
            raise RefusedError(
                f"fee {fee_id} was paid on {fee.paid_on}; a paid fee cannot be waived"
                f" (`coachsync fees unpaid {fee_id}` first, if it was recorded as paid by mistake)"
            )
        if fee.status is FeeStatus.OWED:
            with self._db.transaction():
                self._db.execute("UPDATE fees SET status = 'waived', waived_reason = ? WHERE id = ?", (reason, fee_id))
                self._step(fee_id, FeeStatus.WAIVED, at, reason)
        return self.fee(fee_id)

    def waive_fees_of_change(self, change_id: int, reason: str, at: datetime) -> None:
        """Waive the owed fees of a change (excused, or a no-show taken back); paid ones stay paid."""
        with self._db.transaction():
            owed = [
                row[0]
                for row in self._db.execute("SELECT id FROM fees WHERE change_id = ? AND status = 'owed'", (change_id,))
            ]
            for fee_id in owed:
                self._db.execute("UPDATE fees SET status = 'waived', waived_reason = ? WHERE id = ?", (reason, fee_id))
                self._step(fee_id, FeeStatus.WAIVED, at, reason)

    # --- suggestions ---

    def suggestions(self, dismissed: bool = True) -> list[SuggestionEntry]:
        """Every suggestion, oldest first; without the dismissed ones unless `dismissed`."""
        query = _SUGGESTIONS + ("" if dismissed else " WHERE d.suggestion_id IS NULL")
        return [_suggestion(row) for row in self._db.execute(query + " ORDER BY s.id")]

    def suggestion(self, suggestion_id: int) -> SuggestionEntry:
        row = self._db.execute(_SUGGESTIONS + " WHERE s.id = ?", (suggestion_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no suggestion with id {suggestion_id}; see `coachsync suggestions --all`")
        return _suggestion(row)

    def dismiss_suggestion(self, suggestion_id: int, at: datetime, reason: str | None = None) -> SuggestionEntry:
        """The coach has dealt with a suggestion; one already dismissed keeps its first dismissal."""
        with self._db.transaction():
            self.suggestion(suggestion_id)  # raises NotFoundError naming the fix
            self._db.execute(
                "INSERT INTO suggestion_dismissals (suggestion_id, dismissed_at, reason) VALUES (?, ?, ?)"
                " ON CONFLICT (suggestion_id) DO NOTHING",
                (suggestion_id, iso(at), reason),
            )
        return self.suggestion(suggestion_id)

    def add_suggestions(self, suggestions: Iterable[SuggestionEntry]) -> tuple[SuggestionEntry, ...]:
        """Record new suggestions; returns those recorded now, without any whose key was already there."""
        return self._db.insert_new(
            "INSERT INTO suggestions (idempotency_key, change_id, plugin, client, text, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
            suggestions,
            lambda s: (s.key, s.change_id, s.plugin, s.client, s.text, iso(s.created_at)),
        )

    # --- the daily hook ---

    def daily_ran(self, day: date) -> bool:
        return self._db.execute("SELECT 1 FROM daily_runs WHERE day = ?", (day.isoformat(),)).fetchone() is not None

    def mark_daily(self, day: date, at: datetime) -> None:
        with self._db.transaction():
            self._db.execute("INSERT INTO daily_runs (day, ran_at) VALUES (?, ?)", (day.isoformat(), iso(at)))

    # --- the weekly digest ---

    def digest_queued(self, week: str) -> bool:
        """Whether the digest of ISO week `week` ("2026-W49") is already in the outbox."""
        return self._db.execute("SELECT 1 FROM digest_weeks WHERE week = ?", (week,)).fetchone() is not None

    def last_digest_at(self) -> datetime | None:
        """When the latest weekly digest was queued (what it covered ends there), or None before the first."""
        row = self._db.execute("SELECT max(queued_at) FROM digest_weeks").fetchone()
        return moment(row[0]) if row[0] is not None else None

    def mark_digest(self, week: str, outbox_id: int, at: datetime) -> None:
        """Claim the week for the digest just queued; call it in the transaction that queued it."""
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO digest_weeks (week, outbox_id, queued_at) VALUES (?, ?, ?)", (week, outbox_id, iso(at))
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


def _step(row: Iterable[object]) -> FeeStep:
    status, at, note, paid_on = row
    return FeeStep(
        FeeStatus(str(status)),
        moment(str(at)) if at is not None else None,
        None if note is None else str(note),
        date.fromisoformat(str(paid_on)) if paid_on is not None else None,
    )


def _suggestion(row: tuple) -> SuggestionEntry:
    id_, change_id, plugin, client, text, created_at, key, dismissed_at, reason = row
    return SuggestionEntry(
        id_, change_id, plugin, client, text, datetime.fromisoformat(created_at), key, moment(dismissed_at), reason
    )


def _fee(row: tuple, steps: Iterable[FeeStep] = ()) -> FeeEntry:
    (id_, key, change_id, plugin, client, amount, currency, status, reason, waived_reason, created_at,
     paid_on) = row  # fmt: skip
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
        paid_on=date.fromisoformat(paid_on) if paid_on else None,
        steps=tuple(steps),
    )
