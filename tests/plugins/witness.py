"""Writes down, as a JSON suggestion, every argument a policy is given: what a plugin really sees."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, tzinfo

from coachsync.api import ClientInfo, Occurrence, PolicySettings, Record, Render, Suggestion, hookimpl


class WitnessSettings(PolicySettings):
    note: str = "none"


@hookimpl
def coachsync_policy_settings() -> type[WitnessSettings]:
    return WitnessSettings


@hookimpl
def coachsync_on_change(
    record: Record,
    history: Sequence[Record],
    client: ClientInfo,
    sessions: Sequence[Occurrence],
    settings: WitnessSettings,
    render: Render,
    zone: tzinfo,
    now: datetime,
) -> list[Suggestion]:
    seen = {
        "change": [record.id, record.change.kind.value, record.excused],
        "history": [[r.id, r.change.kind.value] for r in history],
        "client": [client.name, list(client.emails)],
        "sessions": [[s.uid, s.start.astimezone(zone).isoformat(), s.client] for s in sessions],
        "settings": [settings.enabled, settings.note],
        "now": now.isoformat(),
        "greeting": render("greeting.txt", {"name": client.name}),
        "summary": render("summary.txt", {"summary": sessions[-1].summary}),
    }
    return [Suggestion(json.dumps(seen))]
