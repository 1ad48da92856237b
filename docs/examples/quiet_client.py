"""A worked example of a daily coachsync plugin (see docs/plugins.md): a nudge about a client gone quiet.

Once a day coachsync asks it about each active client. When a client's last
held session is more than `quiet_days` ago and nothing is booked, it
suggests reaching out, once per quiet spell (the next held session starts a
new one).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo

from pydantic import Field

from coachsync.api import ClientInfo, Occurrence, PolicySettings, Suggestion, hookimpl


class QuietClientSettings(PolicySettings):
    quiet_days: int = Field(default=30, ge=1)


@hookimpl
def coachsync_policy_settings() -> type[QuietClientSettings]:
    return QuietClientSettings


@hookimpl
def coachsync_daily(
    client: ClientInfo,
    sessions: Sequence[Occurrence],
    held: Sequence[Occurrence],
    settings: QuietClientSettings,
    zone: tzinfo,
    now: datetime,
) -> list[Suggestion]:
    if sessions or not held:
        return []  # something is booked, or they have not started yet
    last = held[-1].start.astimezone(zone)
    if now - last <= timedelta(days=settings.quiet_days):
        return []
    text = f"{client.name} has had no session since {last:%a %d %b %Y} and has none booked; perhaps reach out?"
    return [Suggestion(text=text, once_per=f"{client.name}:quiet-after-{last:%Y-%m-%d}")]
