"""Checking what a plugin returned and turning each action into the ledger row that records it.

Anything a plugin returns is untrusted: a wrong type, an empty subject or a fee
for nobody raises InvalidAction, which counts as that plugin's failure.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from ..actions import Email, Fee, Recipient, Suggestion
from ..addresses import InvalidAddress, check_address
from ..excuses import excused_reason
from ..model import ClientInfo, FeeEntry, FeeStatus, MailStatus, OutboxMessage, Record, SuggestionEntry
from ..text import shorten

if TYPE_CHECKING:
    from ..config import MailConfig

_CURRENCY = re.compile(r"[A-Z]{3}")


class InvalidAction(Exception):
    """A plugin returned something the core cannot record; counted as that plugin's failure."""


@dataclass(frozen=True, slots=True)
class ActionRows:
    fees: tuple[FeeEntry, ...] = ()
    suggestions: tuple[SuggestionEntry, ...] = ()
    emails: tuple[OutboxMessage, ...] = ()

    def __add__(self, other: ActionRows) -> ActionRows:
        return ActionRows(self.fees + other.fees, self.suggestions + other.suggestions, self.emails + other.emails)

    def __bool__(self) -> bool:
        return bool(self.fees or self.suggestions or self.emails)


def returned_actions(returned: object) -> list[object]:
    """The hook's return value as a list of actions; None means none."""
    if returned is None:
        return []
    if isinstance(returned, (Fee, Email, Suggestion)):
        raise InvalidAction(f"coachsync_on_change returned one {type(returned).__name__}; return a list of actions")
    if isinstance(returned, (str, bytes, Mapping)) or not isinstance(returned, Iterable):
        raise InvalidAction(f"coachsync_on_change must return a list of actions or None, got {type(returned).__name__}")
    return list(returned)


@dataclass(frozen=True, slots=True)
class Anchor:
    """What an action answers: a recorded change, or (for the daily hook) a client on a day."""

    change_id: int | None
    what: str  # "change 12", "Alice Example on 2026-12-02", for messages
    default_key: str  # the part of the idempotency key without `once_per`: "12" or "daily:Alice Example:2026-12-02"
    record: Record | None = None

    @classmethod
    def of(cls, record: Record) -> Anchor:
        return cls(record.id, f"change {record.id}", str(record.id), record)

    @classmethod
    def daily(cls, client: str, day: str) -> Anchor:
        return cls(None, f"{client} on {day}", f"daily:{client}:{day}")


def action_rows(
    plugin: str,
    record: Record | Anchor,
    client: ClientInfo | None,
    actions: Iterable[object],
    mail: MailConfig,
    now: datetime,
) -> ActionRows:
    """Check each action and turn it into the row that records it; raise InvalidAction on the first bad one."""
    anchor = record if isinstance(record, Anchor) else Anchor.of(record)
    fees: list[FeeEntry] = []
    suggestions: list[SuggestionEntry] = []
    emails: list[OutboxMessage] = []
    keys: set[str] = set()

    def unique(key: str, action: object, field_name: str) -> None:
        if key in keys:
            raise InvalidAction(
                f"returned two {type(action).__name__} actions with the key {key!r}; give each its own {field_name}"
            )
        keys.add(key)

    for action in actions:
        if isinstance(action, Fee):
            if anchor.record is None:
                raise InvalidAction("returned a Fee from the daily hook; a fee belongs to a recorded change")
            fee = _fee(plugin, anchor.record, client, action, now)
            unique(fee.key, action, "key")
            fees.append(fee)
        elif isinstance(action, Email):
            email = _email(plugin, anchor, client, action, mail, now)
            unique(email.key, action, "once_per")
            emails.append(email)
        elif isinstance(action, Suggestion):
            suggestion = _suggestion(plugin, anchor, client, action, now)
            unique(suggestion.key, action, "once_per")
            suggestions.append(suggestion)
        else:
            raise InvalidAction(
                f"returned {type(action).__name__} {shorten(repr(action), 60)}; return Fee, Email or Suggestion"
                " values from coachsync.actions"
            )
    return ActionRows(tuple(fees), tuple(suggestions), tuple(emails))


def idempotency_key(anchor: int | str, plugin: str, kind: str, key: str = "", once_per: str = "") -> str:
    """Once per change (or client and day), plugin and action kind (and `key`), or once per `once_per`."""
    if once_per:
        return f"{plugin}:{kind}:{once_per}"
    if isinstance(anchor, str) and anchor.startswith("daily:"):
        return f"{plugin}:{kind}:{anchor}"
    return f"{anchor}:{plugin}:{kind}" + (f":{key}" if key else "")


def message_id(key: str, sender: str) -> str:
    """The same action always gets the same Message-ID, so a resent message can be recognised."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{sender.rpartition('@')[2]}>"


def _fee(plugin: str, record: Record, client: ClientInfo | None, fee: Fee, now: datetime) -> FeeEntry:
    amount = fee.amount
    if isinstance(amount, bool) or not isinstance(amount, (Decimal, int)):
        raise InvalidAction(f"Fee amount must be a Decimal such as Decimal('40.00'), got {shorten(repr(amount), 60)}")
    amount = Decimal(amount)
    if not amount.is_finite() or amount <= 0:
        raise InvalidAction(f"Fee amount must be more than 0, got {amount}")
    if not isinstance(fee.currency, str) or not _CURRENCY.fullmatch(fee.currency):
        raise InvalidAction(
            f"Fee currency must be a 3-letter code such as 'EUR', got {shorten(repr(fee.currency), 60)}"
        )
    _text(fee.reason, "Fee reason")
    _text(fee.key, "Fee key", allow_empty=True)
    if client is None:
        raise InvalidAction(f"returned a Fee for change {record.id}, which belongs to no client; charge only clients")
    if -amount.as_tuple().exponent < 2:  # type: ignore[operator]  # finite, so the exponent is an int
        amount = amount.quantize(Decimal("0.01"))  # 40 is shown as 40.00
    # An excused change never costs the client anything, even when its fee comes from a late retry.
    waived = excused_reason(record.reason) if record.excused else None
    return FeeEntry(
        id=0,
        change_id=record.id,
        plugin=plugin,
        client=client.name,
        amount=amount,
        currency=fee.currency,
        status=FeeStatus.WAIVED if waived else FeeStatus.OWED,
        reason=fee.reason,
        waived_reason=waived,
        created_at=now,
        key=idempotency_key(record.id, plugin, "fee", key=fee.key),
    )


def _email(
    plugin: str, anchor: Anchor, client: ClientInfo | None, email: Email, mail: MailConfig, now: datetime
) -> OutboxMessage:
    try:
        to = Recipient(email.to)
    except ValueError:
        raise InvalidAction(
            f"Email to must be Recipient.CLIENT or Recipient.COACH, got {shorten(repr(email.to), 60)}"
        ) from None
    subject = " ".join(_text(email.subject, "Email subject").split())  # one header line, whatever came in
    body = email_body(email.body)
    once_per = _text(email.once_per, "Email once_per", allow_empty=True)
    if not isinstance(email.require_approval, bool):
        raise InvalidAction(
            f"Email require_approval must be True or False, got {shorten(repr(email.require_approval), 60)}"
        )
    if to is Recipient.CLIENT and client is None:
        raise InvalidAction(f"returned an Email to the client of {anchor.what}, which belongs to no client")
    key = idempotency_key(anchor.default_key, plugin, "email", once_per=once_per)
    recipient, error = _address(to, client, mail)
    if error:
        status = MailStatus.FAILED
    else:
        status = MailStatus.PENDING_APPROVAL if email.require_approval else MailStatus.QUEUED
    return OutboxMessage(
        id=0,
        message_id=message_id(key, mail.sender),
        change_id=anchor.change_id,
        plugin=plugin,
        client=client.name if client else None,
        recipient=recipient,
        subject=subject,
        body=body,
        status=status,
        attempts=0,
        next_attempt_at=None,
        error=error,
        created_at=now,
        sent_at=None,
        key=key,
    )


def _address(to: Recipient, client: ClientInfo | None, mail: MailConfig) -> tuple[str | None, str | None]:
    """(address, None), or (None, why there is none) so that the outbox shows the coach what to fix."""
    if to is Recipient.COACH:
        address = mail.coach_email or mail.sender
        fix = "fix mail.coach_email (or mail.from) in the config"
    else:
        assert client is not None  # checked by the caller
        if not client.emails:
            return None, f"client {client.name} has no email address; add emails: to the client in the config"
        address = client.emails[0]
        fix = f"fix the emails: of client {client.name} in the config"
    try:
        check_address(address)
    except InvalidAddress:
        return None, f"{shorten(repr(address), 60)} is not a valid email address; {fix}"
    return address, None


def _suggestion(
    plugin: str, anchor: Anchor, client: ClientInfo | None, suggestion: Suggestion, now: datetime
) -> SuggestionEntry:
    text = _text(suggestion.text, "Suggestion text").strip()
    once_per = _text(suggestion.once_per, "Suggestion once_per", allow_empty=True)
    key = idempotency_key(anchor.default_key, plugin, "suggestion", once_per=once_per)
    return SuggestionEntry(0, anchor.change_id, plugin, client.name if client else None, text, now, key)


def email_body(value: object) -> str:
    """An email's body as the outbox takes it, from a policy or from the coach's edit: text, not empty."""
    return _text(value, "Email body")


def _text(value: object, what: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidAction(f"{what} must be text, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise InvalidAction(f"{what} must not be empty")
    return value
