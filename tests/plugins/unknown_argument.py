"""A policy asking for an argument the hook does not offer (a typo of `history`): start-up must stop."""

from __future__ import annotations

from coachsync.api import Record, hookimpl


@hookimpl
def coachsync_on_change(record: Record, histroy: object) -> None:
    raise RuntimeError(f"cannot decide about change {record.id}")
