"""Emails the client (a header-injection attempt in the subject) and, once per change, the coach."""

from __future__ import annotations

from coachsync.api import ClientInfo, Email, Recipient, Record, hookimpl


@hookimpl
def coachsync_on_change(record: Record, client: ClientInfo) -> list[Email]:
    return [
        Email(
            Recipient.CLIENT,
            f"Hello {client.name}\r\nBcc: someone@example.org",
            "How are you?",
            require_approval=client.name == "Alice Example",
        ),
        Email(Recipient.COACH, f"{client.name} moved a session", "See history.", once_per=f"{record.id}:coach"),
    ]
