"""The one check of an email address, used by the config, the policies' emails and delivery.

An address passes when it is a bare `name@example.com` that is safe in a
header: no display name, no angle brackets or commas, no line breaks, and
exactly what the email package would write back.
"""

from __future__ import annotations

from email.headerregistry import Address

from email_validator import EmailNotValidError, validate_email

_UNSAFE = "\r\n\0<>,"


class InvalidAddress(ValueError):
    """Not an address coachsync will put in a header."""


def check_address(value: str) -> str:
    """Return the address unchanged, or raise InvalidAddress."""
    if not value or any(ch in value for ch in _UNSAFE) or value != value.strip():
        raise InvalidAddress(value)
    try:
        normalized = validate_email(value, check_deliverability=False).normalized
        written = Address(addr_spec=value).addr_spec
    except (EmailNotValidError, ValueError, IndexError):
        raise InvalidAddress(value) from None
    if written != value or normalized.lower() != value.lower():
        raise InvalidAddress(value)
    return value


def is_address(value: str) -> bool:
    try:
        check_address(value)
    except InvalidAddress:
        return False
    return True
