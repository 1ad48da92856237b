"""The coach reviewing an email before it goes out: how it reads as sent, and an edit of its body.

The message is built by `mail.compose`, the function delivery uses, so what the coach reads is
what the client receives. Only the body can be edited, and only while the message waits for
approval; the headers (sender, recipient, subject, Message-ID) stay as the policy and the config
made them. An edited body passes the checks a policy's email passes, and the text it replaced is
kept in the database.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from .errors import RefusedError
from .mail import InvalidMessage, compose
from .model import MailStatus, OutboxMessage
from .policies.checks import email_body
from .store import Store


def as_sent(message: OutboxMessage, sender: str) -> str:
    """The message's headers, one per line, a blank line and its body decoded (not quoted-printable)."""
    try:
        mail = compose(message, sender)
    except InvalidMessage as error:
        raise RefusedError(f"outbox message {message.id} cannot be sent as it is: {error}") from None
    headers = "".join(f"{name}: {value}\n" for name, value in mail.items())
    return headers + "\n" + mail.get_content().replace("\r\n", "\n")


@dataclass(frozen=True, slots=True)
class Edited:
    """What an edit did: the message as it is now, and why nothing changed when nothing did."""

    message: OutboxMessage
    unchanged: str | None = None  # "unchanged" or "empty": the message was left as it was


def editable(store: Store, message_id: int) -> OutboxMessage:
    """The message, if its body may still be edited: only while it waits for the coach's approval."""
    message = store.outbox.message(message_id)  # raises NotFoundError naming the fix
    if message.status is not MailStatus.PENDING_APPROVAL:
        raise RefusedError(
            f"outbox message {message_id} is {message.status.value}; only a message pending approval can be edited"
        )
    return message


def save_edit(store: Store, message: OutboxMessage, text: str | None, sender: str, now: datetime) -> Edited:
    """Keep the coach's edit of `message`'s body (as read before the editor opened), once it passes the
    checks a policy's email passes; an unchanged or empty text changes nothing."""
    if text is None or _tidy(text) == _tidy(message.body):
        return Edited(message, unchanged="unchanged")
    if not text.strip():
        return Edited(message, unchanged="empty")
    body = email_body(_tidy(text))
    try:
        compose(replace(message, body=body), sender)
    except InvalidMessage as error:
        raise RefusedError(f"outbox message {message.id} cannot be sent with that edit: {error}") from None
    if not store.outbox.edit_body(message.id, message.body, body, now):
        raise RefusedError(
            f"outbox message {message.id} changed while you edited it (approved, discarded or edited elsewhere);"
            " your edit was not kept, see `coachsync outbox`"
        )
    return Edited(store.outbox.message(message.id))


def _tidy(text: str) -> str:
    """The body as the editor left it, with one final newline and no trailing blanks at the end."""
    return text.replace("\r\n", "\n").rstrip() + "\n"
