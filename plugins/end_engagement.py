"""End-engagement suggestion: when reschedules keep coming, suggest revisiting or ending the engagement.

Counts like `escalation_email` (unexcused reschedules and cancellations; steps
of `after` over the client's whole history, gated by `after` of them within
`within_days`), but records a suggestion for the coach instead of sending
anything, with the history that led to it. At most one suggestion per client
and step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import tzinfo

from pydantic import Field

from coachsync.api import Action, ClientInfo, PolicySettings, Record, Suggestion, hookimpl

from ._reschedules import counted, describe, pattern, when


class EndEngagementSettings(PolicySettings):
    """`policies.end_engagement`."""

    after: int = Field(default=5, ge=1)
    within_days: int = Field(default=120, ge=1)


@hookimpl
def coachsync_policy_settings() -> type[EndEngagementSettings]:
    return EndEngagementSettings


@hookimpl
def coachsync_on_change(
    record: Record,
    history: Sequence[Record],
    client: ClientInfo | None,
    settings: EndEngagementSettings,
    zone: tzinfo,
) -> Iterable[Action]:
    """A suggestion for the step this change keeps the client at, while the window is full enough."""
    if client is None:
        return []
    found = pattern(record, history, settings.after, settings.within_days)
    if found is None:
        return []
    step, recent = found.step, found.recent
    lines = "\n".join(f"- #{r.id} {describe(r, zone)}" for r in recent)
    text = (
        # Dated: the text is kept as written, so it says what counted then, even after a later excuse.
        f"By {when(record.change.changed_at, zone)}, {client.name} had rescheduled or cancelled"
        f" {counted(len(recent), 'time')} without an excuse in the last"
        f" {settings.within_days} days (step {step}). It may be time to revisit the coaching agreement"
        f" together, or to end the engagement.\nWhat led here:\n{lines}"
    )
    return [Suggestion(text=text, once_per=f"{client.name}:step-{step}")]
