"""boom.py after its author fixed it: a suggestion instead of an exception."""

from __future__ import annotations

from coachsync.api import Record, Suggestion, hookimpl


@hookimpl
def coachsync_on_change(record: Record) -> list[Suggestion]:
    return [Suggestion(f"look at change {record.id}")]
