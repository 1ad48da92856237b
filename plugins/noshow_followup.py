"""No-show follow-up: after a no-show, a kind "we missed you today" note that asks to find a new time.

Nothing in it blames: it says the session was missed, hopes all is well,
and asks the client to reply with a few times that suit them. It waits for
the coach's approval by default (`coachsync outbox approve ID`), and is not
sent for an excused no-show (the coach already knows why) or a client
without an email address.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo

from coachsync.api import Action, ChangeKind, ClientInfo, Email, PolicySettings, Recipient, Record, Render, hookimpl

from ._reschedules import first_name, when


class NoShowFollowupSettings(PolicySettings):
    """`policies.noshow_followup`."""

    require_approval: bool = True


@hookimpl
def coachsync_policy_settings() -> type[NoShowFollowupSettings]:
    return NoShowFollowupSettings


@hookimpl
def coachsync_on_change(
    record: Record, client: ClientInfo | None, settings: NoShowFollowupSettings, render: Render, zone: tzinfo
) -> Iterable[Action]:
    """One note per no-show that stands."""
    if client is None or not client.emails or record.change.kind is not ChangeKind.NO_SHOW or record.excused:
        return []
    values = {"client": client.name, "first_name": first_name(client), "session": when(record.change.old_start, zone)}
    subject, body = render("noshow_followup.txt", values)
    return [Email(to=Recipient.CLIENT, subject=subject, body=body, require_approval=settings.require_approval)]
