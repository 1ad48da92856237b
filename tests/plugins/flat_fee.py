"""A flat fee for every moved or cancelled session of a client; nothing for a session that came back."""

from __future__ import annotations

from decimal import Decimal

from coachsync.api import ClientInfo, Fee, PolicySettings, Record, hookimpl


class FlatFeeSettings(PolicySettings):
    amount: int = 40
    currency: str = "EUR"


@hookimpl
def coachsync_policy_settings() -> type[FlatFeeSettings]:
    return FlatFeeSettings


# Names only the arguments it uses: the core passes exactly those.
@hookimpl
def coachsync_on_change(record: Record, client: ClientInfo | None, settings: FlatFeeSettings) -> list[Fee]:
    if client is None or record.change.kind.value == "restored":
        return []
    return [Fee(Decimal(settings.amount), settings.currency, f"{record.change.kind.value} session")]
