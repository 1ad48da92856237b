"""Late-notice fee: charge for an unexcused late reschedule or cancellation beyond a free allowance.

A change is late when it comes with less than `notice_hours` notice. The
first `free_reschedules` late ones in the client's whole history are free
("life happens"); every later one raises a fee of `amount` `currency`.
Excused changes never count and are never charged (excusing a change later
waives its fee); restorations and sessions that belong to no client are never
charged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import Field, field_validator, model_validator

from coachsync.api import Action, ChangeKind, ClientInfo, Fee, PolicySettings, Record, counts_against, hookimpl, is_late

from ._reschedules import hours, when

CENT = Decimal("0.01")


class FeeSettings(PolicySettings):
    """`policies.fee`; `amount` and `currency` are required once the fee is enabled."""

    notice_hours: float = Field(default=24.0, ge=0)
    amount: Decimal | None = None
    currency: str | None = None
    free_reschedules: int = Field(default=0, ge=0)

    @field_validator("amount", mode="before")
    @classmethod
    def _money(cls, value: Any) -> Any:
        # YAML gives `40` or `12.5`; money is kept as a Decimal, never as a float.
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            shown = repr(value) if isinstance(value, str) else type(value).__name__
            raise ValueError(f"expected an amount such as 40 or 12.50, got {shown}")
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"expected an amount such as 40 or 12.50, got {value!r}") from None
        if not amount.is_finite() or amount <= 0:
            raise ValueError(f"must be greater than 0, got {value}")
        if amount != amount.quantize(CENT):
            raise ValueError(f"use at most 2 decimal places, got {value}")
        return amount.quantize(CENT)

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if len(code) != 3 or not code.isascii() or not code.isalpha():
            raise ValueError(f"expected a 3-letter currency code such as EUR or USD, got {value!r}")
        return code

    @model_validator(mode="after")
    def _priced(self) -> FeeSettings:
        if self.enabled and (self.amount is None or self.currency is None):
            missing = " and ".join(k for k in ("amount", "currency") if getattr(self, k) is None)
            raise ValueError(f"set {missing} when the fee is enabled, e.g. amount: 40, currency: EUR")
        return self


@hookimpl
def coachsync_policy_settings() -> type[FeeSettings]:
    return FeeSettings


@hookimpl
def coachsync_on_change(
    record: Record,
    history: Sequence[Record],
    client: ClientInfo | None,
    settings: FeeSettings,
    zone: tzinfo,
) -> Iterable[Action]:
    """One fee when this change is late, unexcused, and the free allowance is used up."""
    change = record.change
    if client is None or change.kind is ChangeKind.RESTORED or record.excused:
        return []
    if not is_late(record, settings.notice_hours):
        return []
    assert settings.amount is not None and settings.currency is not None  # checked when the settings loaded
    earlier = [r for r in counts_against(history) if r.id != record.id and is_late(r, settings.notice_hours)]
    if len(earlier) < settings.free_reschedules:
        return []
    what = "cancelled" if change.kind is ChangeKind.CANCELLED else "rescheduled"
    reason = (
        f"session of {when(change.old_start, zone)} {what} with {hours(change.notice_hours)} notice"
        f" (less than {hours(settings.notice_hours)})"
    )
    return [Fee(amount=settings.amount, currency=settings.currency, reason=reason)]
