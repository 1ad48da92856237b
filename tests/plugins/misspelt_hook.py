"""A policy whose hook name has a typo: start-up must stop and suggest the right name."""

from __future__ import annotations

from coachsync.api import Record, hookimpl


@hookimpl
def coachsync_on_chnage(record: Record) -> None:
    raise RuntimeError(f"cannot decide about change {record.id}")
