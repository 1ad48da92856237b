"""End-engagement suggestion: when the pattern keeps coming back, suggest revisiting, pausing or ending.

By default (`trigger: over_allowance`) the coach gets a suggestion once the
client has gone over the allowance of their agreement in `periods_over`
periods (2 by default: the check-in of `escalation_email` comes first), and
again for each later period that goes over. Revisiting the agreement starts
the count again from zero.

With `trigger: after` (the rule before agreements, and still the rule when
`after` or `within_days` is given alone): steps of `after` unexcused
reschedules and cancellations over the client's whole history, gated by
`after` of them within `within_days`, as `escalation_email` counts them.

Nothing is sent: the suggestion is recorded for the coach with the history
that led to it and the commands that revisit, pause or end the engagement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import tzinfo

from pydantic import Field

from coachsync.api import Action, Agreement, ClientInfo, Record, Standing, Suggestion, hookimpl

from ._reschedules import (
    TriggeredSettings,
    allowance_words,
    counted,
    day,
    describe,
    in_period,
    once_per_period,
    pattern,
    shell_word,
    when,
)


class EndEngagementSettings(TriggeredSettings):
    """`policies.end_engagement`."""

    periods_over: int = Field(default=2, ge=1)
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
    agreement: Agreement,
    standing: Standing,
) -> Iterable[Action]:
    """A suggestion when this change makes the pattern one the coach should act on."""
    if client is None:
        return []
    # Dated: the text is kept as written, so it says what counted then, even after a later excuse.
    by = f"By {when(record.change.changed_at, zone)}, {client.name}"
    if settings.rule == "over_allowance":
        if not standing.first_over or standing.periods_over < settings.periods_over:
            return []
        recent = in_period(standing, history, record)
        allowed = f"{counted(agreement.allowance, 'reschedule')} {allowance_words(agreement)}"
        text = (
            f"{by} had gone over the agreed allowance ({allowed}) in"
            f" {counted(standing.periods_over, 'period')} of the current agreement,"
            f" this time with {counted(len(recent), 'change')} since {day(standing.period_start, zone)}."
        )
        once_per = once_per_period(client, standing)
    else:
        found = pattern(record, history, settings.after, settings.within_days)
        if found is None:
            return []
        recent = found.recent
        text = (
            f"{by} had rescheduled or cancelled {counted(len(recent), 'time')} without an excuse in the last"
            f" {settings.within_days} days (step {found.step})."
        )
        once_per = f"{client.name}:step-{found.step}"
    name = shell_word(client.name)
    lines = "\n".join(f"- #{r.id} {describe(r, zone)}" for r in recent)
    text += (
        " It may be time to revisit the coaching agreement together (`coachsync agreement revisit"
        f" {name}`), to pause (`coachsync client pause {name}`), or to end the engagement"
        f" (`coachsync client end {name}`).\nWhat led here:\n{lines}"
    )
    return [Suggestion(text=text, once_per=once_per)]
