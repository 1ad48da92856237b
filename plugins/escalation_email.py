"""Escalation email: a human "is everything okay?" check-in once reschedules pile up.

When a change brings the client's unexcused reschedules within `within_days`
(this one included) to at least `after`, this policy asks for one email: to the
client, a warm check-in that restates the agreement; or to the coach, a summary
of the client's recent history.

Steps: step n is reached with the client's (n × after)-th unexcused reschedule,
counted over their whole history (with `after: 3`: the 3rd is step 1, the 6th
step 2, …). A step's email goes out only while `after` or more of them fall
within `within_days`, and at most once per client and step, however many
passes or later changes reach it again. So a burst of reschedules gets one
email, a second burst months later gets a new one, and occasional reschedules
spread over a year get none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import tzinfo
from typing import Literal

from pydantic import Field

from coachsync.api import Action, ClientInfo, Email, PolicySettings, Recipient, Record, Render, Suggestion, hookimpl

from ._reschedules import counted, describe, first_name, hours, pattern, when


class EscalationSettings(PolicySettings):
    """`policies.escalation_email`; `notice_hours` is the notice period the client email restates."""

    after: int = Field(default=3, ge=1)
    within_days: int = Field(default=90, ge=1)
    to: Literal["client", "coach"] = "client"
    # Emails to the client wait in the outbox until the coach approves them (`coachsync outbox approve`).
    require_approval: bool = True
    notice_hours: float = Field(default=24.0, ge=0)


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
) -> Iterable[Action]:
    """The email for the step this change keeps the client at, while the window is full enough."""
    if client is None:
        return []
    found = pattern(record, history, settings.after, settings.within_days)
    if found is None:
        return []
    step, recent = found.step, found.recent
    once_per = f"{client.name}:step-{step}"
    values = {
        "client": client.name,
        "first_name": first_name(client),
        "count": len(recent),
        "after": settings.after,
        "within_days": settings.within_days,
        "step": step,
        "notice": hours(settings.notice_hours),
        "fine": settings.after - 1,
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
            f" {counted(len(recent), 'unexcused reschedule')} in the last {settings.within_days} days"
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
