"""One note to the coach per week, whatever changed: every change after the first asks for a duplicate."""

from __future__ import annotations

from decimal import Decimal

from coachsync.api import Email, Fee, Recipient, Record, hookimpl


@hookimpl
def coachsync_on_change(record: Record) -> list[Email | Fee]:
    note = Email(Recipient.COACH, "This week's changes", "See history.", once_per="week-49")
    if record.change.client is None:
        return [note]
    return [note, Fee(Decimal(10), "EUR", "changed", key="weekly")]
