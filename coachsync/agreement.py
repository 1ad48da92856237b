"""The coaching agreement: its terms, how they are written in YAML, and a client's effective agreement.

The practice has a default agreement (`agreement:`) and each client may
override it key by key (`clients[i].agreement:`). `effective` merges the two
into one `Agreement` that remembers where each term came from, so
`coachsync agreement show` can tell the coach. Pure: values in, values out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

DEFAULT_NOTICE_HOURS = 24.0
DEFAULT_ALLOWANCE = 2


class PeriodKind(StrEnum):
    DAYS = "days"
    MONTH = "month"
    QUARTER = "quarter"
    AGREEMENT = "agreement"


@dataclass(frozen=True, slots=True)
class Period:
    """What an allowance is counted over: N days, a calendar month or quarter, or the agreement itself
    (from its start or last revisit on)."""

    kind: PeriodKind
    days: int = 0

    def __str__(self) -> str:
        if self.kind is PeriodKind.DAYS:
            return f"{self.days} day" if self.days == 1 else f"{self.days} days"
        return self.kind.value


DEFAULT_PERIOD = Period(PeriodKind.DAYS, 90)

_DAYS = re.compile(r"(\d+)\s*days?", re.IGNORECASE)
_EVERY = re.compile(r"every\s+(\d+)\s*days?", re.IGNORECASE)


def parse_period(text: str) -> Period:
    """ "90 days", "month", "quarter" or "agreement"; anything else is a ValueError saying what to write."""
    value = text.strip().lower()
    found = _DAYS.fullmatch(value)
    if found:
        days = int(found.group(1))
        if days < 1:
            raise ValueError(f"a period needs at least 1 day, got {text!r}")
        return Period(PeriodKind.DAYS, days)
    if value in (PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.AGREEMENT):
        return Period(PeriodKind(value))
    raise ValueError(f"expected '90 days' (any number), month, quarter or agreement, got {text!r}")


@dataclass(frozen=True, slots=True)
class Cadence:
    """How often sessions are agreed to happen; `days` is the usual gap between two."""

    days: int
    name: str

    def __str__(self) -> str:
        return self.name


_CADENCES = {"weekly": 7, "fortnightly": 14, "monthly": 30}


def parse_cadence(text: str) -> Cadence:
    """ "weekly", "fortnightly", "monthly" or "every N days"."""
    value = text.strip().lower()
    if value in _CADENCES:
        return Cadence(_CADENCES[value], value)
    found = _EVERY.fullmatch(value)
    if found and int(found.group(1)) >= 1:
        days = int(found.group(1))
        return Cadence(days, f"every {days} day" + ("" if days == 1 else "s"))
    raise ValueError(f"expected weekly, fortnightly, monthly or 'every N days', got {text!r}")


class Source(StrEnum):
    """Where a term of a client's agreement came from."""

    CLIENT = "client"  # the client's own `agreement:` section
    DEFAULT = "default"  # the practice's `agreement:` section
    BUILT_IN = "built-in"  # neither: coachsync's own default


@dataclass(frozen=True, slots=True)
class Terms:
    """The terms one YAML section sets; None where it says nothing."""

    notice_hours: float | None = None
    cadence: Cadence | None = None
    allowance: int | None = None
    per: Period | None = None
    started: date | None = None


TERM_NAMES = ("notice_hours", "cadence", "allowance", "per", "started")


@dataclass(frozen=True, slots=True)
class Agreement:
    """A client's effective agreement: every term with a value, and where each came from."""

    notice_hours: float = DEFAULT_NOTICE_HOURS
    cadence: Cadence | None = None
    allowance: int = DEFAULT_ALLOWANCE
    per: Period = DEFAULT_PERIOD
    started: date | None = None
    sources: Mapping[str, Source] = field(default_factory=lambda: dict.fromkeys(TERM_NAMES, Source.BUILT_IN))

    def as_json(self) -> dict[str, Any]:
        """Each term with its value and source, as `agreement show --json` and `clients --json` print it."""
        values: dict[str, Any] = {
            "notice_hours": self.notice_hours,
            "cadence": str(self.cadence) if self.cadence else None,
            "cadence_days": self.cadence.days if self.cadence else None,
            "allowance": {"reschedules": self.allowance, "per": str(self.per)},
            "started": self.started.isoformat() if self.started else None,
        }
        values["sources"] = {name: self.sources[name].value for name in TERM_NAMES}
        return values


def effective(default: Terms, client: Terms | None = None) -> Agreement:
    """The client's terms over the practice's, over coachsync's own, key by key."""
    client = client or Terms()
    builtin = Agreement()
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for name in TERM_NAMES:
        for layer, source in ((client, Source.CLIENT), (default, Source.DEFAULT)):
            value = getattr(layer, name)
            if value is not None:
                values[name], sources[name] = value, source
                break
        else:
            values[name], sources[name] = getattr(builtin, name), Source.BUILT_IN
    return Agreement(**values, sources=sources)
