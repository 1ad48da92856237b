"""A policy that would end the pass if it were ever called: proof that a disabled plugin never is."""

from __future__ import annotations

from coachsync.api import Record, hookimpl


@hookimpl
def coachsync_on_change(record: Record) -> None:
    raise SystemExit(f"cannot decide about change {record.id}")
