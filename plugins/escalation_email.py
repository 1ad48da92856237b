"""Escalation email: a human "is everything okay?" check-in once reschedules pile up.

By default (`trigger: over_allowance`) the email goes out with the first
change that takes a client over the allowance of their agreement in a period
(with 2 per 90 days: the third in those 90 days). That is step 1; step 2 is
the next period that goes over, and so on, at most one email per period.
Revisiting the agreement starts the steps again from zero.

With `trigger: after` (the rule before agreements, and still the rule when
`after` or `within_days` is given alone): step n is reached with the
client's (n × after)-th unexcused reschedule over their whole history, and
its email goes out while `after` or more of them fall within `within_days`,
at most once per client and step.

The email goes to the client, a warm check-in that restates the agreement;
or to the coach, a summary of the client's recent history.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import tzinfo
from typing import Literal

from pydantic import Field

from coachsync.api import (
    Action,
    Agreement,
    ClientInfo,
    Email,
    Recipient,
    Record,
    Render,
    Standing,
    Suggestion,
    hookimpl,
)

from ._reschedules import (
    TriggeredSettings,
    allowance_words,
    counted,
    day,
    describe,
    first_name,
    hours,
    in_period,
    once_per_period,
    pattern,
    shell_word,
    when,
)


class EscalationSettings(TriggeredSettings):
    """`policies.escalation_email`; `notice_hours` overrides the agreement's notice period in the email."""

    after: int = Field(default=3, ge=1)
    within_days: int = Field(default=90, ge=1)
    to: Literal["client", "coach"] = "client"
    # Emails to the client wait in the outbox until the coach approves them (`coachsync outbox approve`).
    require_approval: bool = True
    notice_hours: float | None = Field(default=None, ge=0)


@hookimpl
def coachsync_policy_settings() -> type[EscalationSettings]:
    return EscalationSettings


@hookimpl
def coachsync_on_change(
    record: Record,
    history: Sequence[Record],
    client: ClientInfo | None,
    settings: EscalationSettings,
    render: Render,
    zone: tzinfo,
    agreement: Agreement,
    standing: Standing,
) -> Iterable[Action]:
    """The email for the step this change takes the client to, if it takes them to one."""
    if client is None:
        return []
    notice = hours(agreement.notice_hours if settings.notice_hours is None else settings.notice_hours)
    if settings.rule == "over_allowance":
        if not standing.first_over:
            return []
        step, recent = standing.periods_over, in_period(standing, history, record)
        once_per = once_per_period(client, standing)
        span = f"since {day(standing.period_start, zone)}"
        values = {
            "fine": agreement.allowance,
            "per": allowance_words(agreement),
            "threshold": "the agreement allows "
            + f"{counted(agreement.allowance, 'reschedule')} {allowance_words(agreement)}",
            "within_days": agreement.per.days or settings.within_days,
        }
    else:
        found = pattern(record, history, settings.after, settings.within_days)
        if found is None:
            return []
        step, recent = found.step, found.recent
        once_per = f"{client.name}:step-{step}"
        span = f"in the last {settings.within_days} days"
        values = {
            "fine": settings.after - 1,
            "per": f"within {settings.within_days} days",
            "threshold": f"your threshold is {settings.after}",
            "within_days": settings.within_days,
        }
    values |= {
        "client": client.name,
        "client_arg": shell_word(client.name),
        "first_name": first_name(client),
        "count": len(recent),
        "after": settings.after,
        "span": span,
        "step": step,
        "notice": notice,
        "latest_session": when(record.change.old_start, zone),
        "history": [f"#{r.id} {describe(r, zone)}" for r in recent],
    }
    if settings.to == "coach":
        subject, body = render("escalation_email_coach.txt", values)
        return [Email(to=Recipient.COACH, subject=subject, body=body, once_per=once_per)]
    if not client.emails:
        # Nowhere to send the check-in: tell the coach instead, once for this step as well.
        text = (
            f"By {when(record.change.changed_at, zone)}, {client.name} had"
            f" {counted(len(recent), 'unexcused reschedule')} {span}"
            f" (step {step}), but has no email address in the config for a check-in. Consider reaching out."
        )
        return [Suggestion(text=text, once_per=once_per)]
    subject, body = render("escalation_email_client.txt", values)
    return [
        Email(
            to=Recipient.CLIENT,
            subject=subject,
            body=body,
            require_approval=settings.require_approval,
            once_per=once_per,
        )
    ]
