"""A fee and a suggestion that quote the calendar's summary, as a policy might."""

from __future__ import annotations

from decimal import Decimal

from coachsync.api import ClientInfo, Fee, Record, Suggestion, hookimpl


# Quotes the calendar's summary in its reason, as a policy might.
@hookimpl
def coachsync_on_change(record: Record, client: ClientInfo | None) -> list[Fee | Suggestion]:
    if client is None:
        return []
    return [
        Fee(Decimal("12.5"), "USD", record.change.summary),
        Suggestion(f"talk with {client.name}\nabout {record.change.summary}"),
    ]
