"""Excusing a change (illness, emergency, coach-initiated): it never costs the client anything."""

from __future__ import annotations

from .model import Record
from .store import Store


def excuse(store: Store, change_id: int, reason: str) -> Record:
    """Mark the change excused and waive the fees it raised, both or neither."""
    with store.transaction():
        record = store.history.mark_excused(change_id, reason)
        store.ledger.waive_fees_of_change(change_id, excused_reason(reason))
    return record


def excused_reason(reason: str | None) -> str:
    """Why a fee of an excused change is waived, as the ledger shows it."""
    return f"change excused: {reason}" if reason else "change excused"
