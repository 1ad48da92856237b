"""Late-notice fee: charge for an unexcused late reschedule or cancellation beyond the agreed allowance.

A change is late when it comes with less notice than the client's agreement
asks for (`agreement.notice_hours`). The reschedules the agreement allows per
period cost nothing ("life happens"); a late change beyond them raises a fee
of `amount` `currency`. What counts is coachsync's one rule: excused changes,
restorations, changes made while the engagement is paused or ended and
sessions that belong to no client are never charged, and excusing a change
later waives its fee.

A no-show (`coachsync noshow`) counts like a change with no notice at all;
its fee is `no_show_amount` (by default `amount`).

Two policy-level overrides, for a practice that prices differently from what
it agrees: `notice_hours` (late by this notice instead of the agreement's)
and `free_reschedules` (the first N late changes in the client's whole
history are free, then every late one is charged, whatever the allowance).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import Field, field_validator, model_validator

from coachsync.api import (
    Action,
    Agreement,
    ChangeKind,
    ClientInfo,
    Fee,
    PolicySettings,
    Record,
    Standing,
    counts_against,
    hookimpl,
    is_late,
)

from ._reschedules import counted, hours, when

CENT = Decimal("0.01")


class FeeSettings(PolicySettings):
    """`policies.fee`; `amount` and `currency` are required once the fee is enabled."""

    amount: Decimal | None = None
    currency: str | None = None
    # A no-show's fee; `amount` when not set.
    no_show_amount: Decimal | None = None
    # Overrides of the agreement, both unset by default.
    notice_hours: float | None = Field(default=None, ge=0)
    free_reschedules: int | None = Field(default=None, ge=0)

    @field_validator("amount", "no_show_amount", mode="before")
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
    agreement: Agreement,
    standing: Standing,
) -> Iterable[Action]:
    """One fee when this change counts, is late, and is beyond what the agreement (or the override) allows."""
    change = record.change
    if client is None or not standing.counts:
        return []
    notice = agreement.notice_hours if settings.notice_hours is None else settings.notice_hours
    if not is_late(record, notice):
        return []
    if settings.free_reschedules is None:
        if not standing.over:
            return []
        used = counted(standing.allowance_used, "change")
        beyond = f"; {used} this period, {standing.allowance} allowed per {agreement.per}"
    else:
        earlier = [r for r in counts_against(history) if r.id != record.id and is_late(r, notice)]
        if len(earlier) < settings.free_reschedules:
            return []
        beyond = ""
    assert settings.amount is not None and settings.currency is not None  # checked when the settings loaded
    if change.kind is ChangeKind.NO_SHOW:
        amount = settings.no_show_amount or settings.amount
        reason = f"no-show at the session of {when(change.old_start, zone)}{beyond}"
        return [Fee(amount=amount, currency=settings.currency, reason=reason)]
    what = "cancelled" if change.kind is ChangeKind.CANCELLED else "rescheduled"
    reason = (
        f"session of {when(change.old_start, zone)} {what} with {hours(change.notice_hours)} notice"
        f" (less than {hours(notice)}){beyond}"
    )
    return [Fee(amount=settings.amount, currency=settings.currency, reason=reason)]
