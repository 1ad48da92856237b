"""Late cancellation: a fee beyond a free allowance, and a nudge to rebook when nothing is booked.

A worked example of a coachsync policy plugin (see docs/plugins.md). Drop it
into your `plugins_dir` and turn it on:

    policies:
      late_cancellation: {enabled: true, notice_hours: 24, amount: 30, currency: EUR}
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo
from decimal import Decimal

from pydantic import Field

from coachsync.api import (
    Action,
    ChangeKind,
    ClientInfo,
    Email,
    Fee,
    Occurrence,
    PolicySettings,
    Recipient,
    Record,
    Render,
    Suggestion,
    counts_against,
    hookimpl,
)


class LateCancellationSettings(PolicySettings):
    """`policies.late_cancellation`; `enabled` comes from PolicySettings."""

    notice_hours: float = Field(default=24.0, ge=0)
    amount: int = Field(default=30, gt=0)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    free_cancellations: int = Field(default=1, ge=0)


@hookimpl
def coachsync_policy_settings() -> type[LateCancellationSettings]:
    return LateCancellationSettings


def is_late_cancellation(record: Record, settings: LateCancellationSettings) -> bool:
    change = record.change
    return change.kind is ChangeKind.CANCELLED and not record.excused and change.notice_hours < settings.notice_hours


@hookimpl
def coachsync_on_change(
    record: Record,
    history: Sequence[Record],
    client: ClientInfo | None,
    sessions: Sequence[Occurrence],
    settings: LateCancellationSettings,
    render: Render,
    zone: tzinfo,
) -> list[Action]:
    """Charge late cancellations beyond the free ones; when none is left booked, suggest rebooking."""
    if client is None or not is_late_cancellation(record, settings):
        return []
    day = record.change.old_start.astimezone(zone).strftime("%A %d %B, %H:%M")
    actions: list[Action] = []
    earlier = [r for r in counts_against(history) if is_late_cancellation(r, settings)]
    if len(earlier) >= settings.free_cancellations:
        notice = f"{record.change.notice_hours:.0f} h"
        actions.append(Fee(Decimal(settings.amount), settings.currency, f"{day} cancelled with {notice} notice"))
    if not sessions:
        # The template lives in templates/ beside this file; the coach may override it in mail.templates_dir.
        subject, body = render("late_cancellation.txt", {"client": client.name, "session": day})
        actions.append(Email(Recipient.CLIENT, subject, body, require_approval=True))
        actions.append(Suggestion(f"{client.name} cancelled {day} late and has nothing booked; reach out to rebook."))
    return actions
