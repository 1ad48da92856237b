"""A policy that raises on every change, so the core must isolate it and report it by name."""

from __future__ import annotations

from coachsync.api import Record, hookimpl


@hookimpl
def coachsync_on_change(record: Record) -> None:
    raise RuntimeError(f"cannot decide about change {record.id}")
