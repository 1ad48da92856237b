"""Excusing a change (illness, emergency, coach-initiated): it never costs the client anything.

A change excused once keeps its reason: giving another is refused unless the coach
says to replace it, and even then the earlier reason stays in the change's trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .errors import CoachsyncError, RefusedError
from .model import FeeEntry, FeeStatus, Record
from .store import Store


class AlreadyExcusedError(CoachsyncError):
    """The change is excused already, for another reason, and the coach did not say to replace it."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Excused:
    """What excusing did: the record as it stands now, the reason it replaced, or that it was a repeat."""

    record: Record
    replaced: str | None = None
    repeated: bool = False  # the same reason again: nothing was written


def excuse(store: Store, change_id: int, reason: str, at: datetime, *, replace: bool = False) -> Excused:
    """Mark the change excused and waive the fees it raised, both or neither."""
    with store.transaction():
        earlier = store.history.record(change_id)  # raises NotFoundError naming the fix
        if earlier.excused and earlier.reason == reason:
            return Excused(earlier, repeated=True)
        if earlier.excused and not replace:
            raise AlreadyExcusedError(
                f"change {change_id} is already excused: {earlier.reason!r}; give --replace to replace that reason"
                " (the earlier one is kept in the record's history)"
            )
        record = store.history.mark_excused(change_id, reason, at)
        store.ledger.waive_fees_of_change(change_id, excused_reason(reason), at)
    return Excused(record, replaced=earlier.reason if earlier.excused else None)


def excused_reason(reason: str | None) -> str:
    """Why a fee of an excused change is waived, as the ledger shows it."""
    return f"change excused: {reason}" if reason else "change excused"


@dataclass(frozen=True, slots=True)
class TakenBack:
    """What taking an excuse back did: the record as it stands now, the excuse it had, and the change's
    waived fees (those excusing waived among them), which stay waived."""

    record: Record
    excuse: str | None
    waived: tuple[FeeEntry, ...]


def take_back(store: Store, change_id: int, at: datetime, reason: str | None = None) -> TakenBack:
    """The change is no longer excused and counts again; its trail keeps the excuse and this step.

    The fees excusing waived are not charged again: the coach waived them, as far as the client
    knows, and charging anew is a decision of its own (`fees`) rather than a side effect of an undo.
    """
    with store.transaction():
        earlier = store.history.record(change_id)  # raises NotFoundError naming the fix
        if not earlier.excused:
            raise RefusedError(f"change {change_id} is not excused; there is no excuse to take back")
        record = store.history.take_back_excuse(change_id, at, reason)
    waived = tuple(f for f in store.ledger.fees() if f.change_id == change_id and f.status is FeeStatus.WAIVED)
    return TakenBack(record, earlier.reason, waived)
