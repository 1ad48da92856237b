"""What policies ask for, as plain values: a fee, an email, a suggestion.

A policy returns these from its hook; the core checks them and records them
in the same transaction as the change that caused them. A policy never sends
mail or writes the database itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class Recipient(StrEnum):
    """Who an email is for; the core fills in the address from the config."""

    CLIENT = "client"
    COACH = "coach"


@dataclass(frozen=True, slots=True)
class Fee:
    """A late-notice fee charged to the change's client, owed until the coach waives it."""

    amount: Decimal
    currency: str
    reason: str
    # Distinguishes two fees one policy raises for one change; rarely needed.
    key: str = ""


@dataclass(frozen=True, slots=True)
class Email:
    """A plain-text email; `subject` and `body` are final text, never re-read as a template.

    `once_per` makes it unique across changes: an escalation step sent once per
    client ("alice:step-1") stays sent even when a later change reaches the same
    step again. Without it the email is unique per change.
    """

    to: Recipient
    subject: str
    body: str
    require_approval: bool = False
    once_per: str = ""


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Advice for the coach (revisit the agreement, end the engagement), with why."""

    text: str
    once_per: str = ""


Action = Fee | Email | Suggestion
