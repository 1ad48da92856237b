"""Returns whatever its `returns` setting spells (a Python expression), to show how the core refuses bad actions.

policies:
  bad: {enabled: true, returns: "[Fee(40.0, 'EUR', 'late')]"}
"""

from __future__ import annotations

from decimal import Decimal

from coachsync.api import Email, Fee, PolicySettings, Suggestion, hookimpl


class InvalidActionSettings(PolicySettings):
    returns: str


@hookimpl
def coachsync_policy_settings() -> type[InvalidActionSettings]:
    return InvalidActionSettings


@hookimpl
def coachsync_on_change(settings: InvalidActionSettings) -> object:
    names = {"Decimal": Decimal, "Email": Email, "Fee": Fee, "Suggestion": Suggestion}
    return eval(settings.returns, {"__builtins__": {}}, names)  # the test's own text, never a calendar's
