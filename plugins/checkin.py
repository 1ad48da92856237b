"""Check-in prompt: when a move leaves a long gap, send the client a few questions to keep momentum.

The gap runs from the moved or cancelled session's old slot (or from now, if
that is later) to the client's next booked session. When it is longer than
`gap_days`, or nothing is booked at all, the client gets a short
self-reflection prompt, once per change. Without `gap_days`, the gap allowed
is one and a half times the cadence of the client's agreement (10 days for a
weekly rhythm), or 10 days when no cadence is agreed. Nothing is sent for a
change that does not count (excused, or while the engagement is paused).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, tzinfo

from pydantic import Field

from coachsync.api import (
    Action,
    Agreement,
    ChangeKind,
    ClientInfo,
    Email,
    Occurrence,
    PolicySettings,
    Recipient,
    Record,
    Render,
    Standing,
    hookimpl,
)

from ._reschedules import first_name, when


class CheckinSettings(PolicySettings):
    """`policies.checkin`."""

    gap_days: float | None = Field(default=None, gt=0)
    require_approval: bool = False


@hookimpl
def coachsync_policy_settings() -> type[CheckinSettings]:
    return CheckinSettings


DEFAULT_GAP_DAYS = 10.0


def gap_allowed(settings: CheckinSettings, agreement: Agreement) -> float:
    """`gap_days` if set, else 1.5 × the agreed cadence, else 10 days."""
    if settings.gap_days is not None:
        return settings.gap_days
    return 1.5 * agreement.cadence.days if agreement.cadence is not None else DEFAULT_GAP_DAYS


def next_session_after(moment: datetime, sessions: Sequence[Occurrence]) -> Occurrence | None:
    return min((s for s in sessions if not s.cancelled and s.start > moment), key=lambda s: s.start, default=None)


@hookimpl
def coachsync_on_change(
    record: Record,
    client: ClientInfo | None,
    sessions: Sequence[Occurrence],
    settings: CheckinSettings,
    render: Render,
    zone: tzinfo,
    now: datetime,
    agreement: Agreement,
    standing: Standing,
) -> Iterable[Action]:
    """One prompt when the time without a session after this change exceeds the gap allowed."""
    if client is None or not client.emails or record.change.kind is ChangeKind.RESTORED:
        return []
    if not standing.counts:
        return []
    gap_days = gap_allowed(settings, agreement)
    start = max(record.change.old_start, now)
    following = next_session_after(start, sessions)
    if following is not None and following.start - start <= timedelta(days=gap_days):
        return []
    values = {
        "client": client.name,
        "first_name": first_name(client),
        "next_session": when(following.start, zone) if following is not None else "",
        "gap_days": f"{gap_days:g}",
    }
    subject, body = render("checkin.txt", values)
    return [Email(to=Recipient.CLIENT, subject=subject, body=body, require_approval=settings.require_approval)]
