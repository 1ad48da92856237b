"""A fee whose service is down while a file named fee-service-down sits beside the plugin."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from coachsync.api import Fee, Record, hookimpl


@hookimpl
def coachsync_on_change(record: Record) -> list[Fee]:
    if Path(__file__).with_name("fee-service-down").exists():
        raise ConnectionError("fee service down")
    return [Fee(Decimal("40"), "EUR", "late move")]
