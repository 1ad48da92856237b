"""Cadence drift: notice, warmly, when a client's real rhythm has drifted from the agreed cadence.

A daily look at each client whose agreement has a `cadence`: when, over the
last `weeks`, the held sessions came on average more than `drift` times the
agreed interval apart, or no session is booked within twice the cadence, the
coach gets one suggestion per client and agreement period ("Alice's sessions
have come every 19 days on average over 8 weeks; the agreement says
weekly"). With `email_client: true`, the client also gets a short,
unhurried "how are things?" note, waiting for the coach's approval by
default. Nothing here blames anyone: rhythms drift, and a conversation
about it is the point.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from pydantic import Field

from coachsync.api import (
    Action,
    Agreement,
    ClientInfo,
    Email,
    Occurrence,
    PolicySettings,
    Recipient,
    Render,
    Suggestion,
    hookimpl,
)

from ._reschedules import first_name


class CadenceSettings(PolicySettings):
    """`policies.cadence`."""

    weeks: int = Field(default=8, ge=1)
    drift: float = Field(default=1.5, gt=1)
    email_client: bool = False
    require_approval: bool = True


@hookimpl
def coachsync_policy_settings() -> type[CadenceSettings]:
    return CadenceSettings


def average_gap_days(held: Sequence[Occurrence]) -> float | None:
    """The mean number of days between consecutive held sessions; None with fewer than two."""
    starts = sorted(o.start for o in held)
    if len(starts) < 2:
        return None
    return (starts[-1] - starts[0]).total_seconds() / 86400 / (len(starts) - 1)


def drift_of(
    client: ClientInfo,
    agreement: Agreement,
    held: Sequence[Occurrence],
    sessions: Sequence[Occurrence],
    settings: CadenceSettings,
    now: datetime,
) -> str | None:
    """What has drifted, as a sentence about the client, or None while the rhythm holds (or has not begun)."""
    if agreement.cadence is None or not held:
        return None
    interval = agreement.cadence.days
    recent = [o for o in held if o.start >= now - timedelta(weeks=settings.weeks)]
    gap = average_gap_days(recent)
    if gap is not None and gap > settings.drift * interval:
        return f"{client.name}'s sessions have come every {gap:.0f} days on average over {settings.weeks} weeks"
    if not any(o.start <= now + timedelta(days=2 * interval) for o in sessions):
        return f"{client.name} has no session booked in the next {2 * interval} days"
    return None


@hookimpl
def coachsync_daily(
    client: ClientInfo,
    agreement: Agreement,
    sessions: Sequence[Occurrence],
    held: Sequence[Occurrence],
    settings: CadenceSettings,
    render: Render,
    now: datetime,
    period_start: datetime,
) -> Iterable[Action]:
    """One suggestion per client and agreement period while the rhythm has drifted."""
    drifted = drift_of(client, agreement, held, sessions, settings, now)
    if drifted is None or agreement.cadence is None:
        return []
    # Once per allowance period: a revisit of the agreement starts a new one, and with it a new suggestion.
    period = f"cadence-{period_start.date().isoformat()}"
    text = (
        f"{drifted}; the agreement says {agreement.cadence}."
        " It may be a good moment to ask how things are, and whether the rhythm still fits."
    )
    actions: list[Action] = [Suggestion(text=text, once_per=f"{client.name}:{period}")]
    if settings.email_client and client.emails:
        values = {"client": client.name, "first_name": first_name(client), "cadence": str(agreement.cadence)}
        subject, body = render("cadence_client.txt", values)
        actions.append(
            Email(
                to=Recipient.CLIENT,
                subject=subject,
                body=body,
                require_approval=settings.require_approval,
                once_per=f"{client.name}:{period}",
            )
        )
    return actions
