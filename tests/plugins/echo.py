"""Echoes the session's summary into an email: calendar text as hostile input."""

from __future__ import annotations

from coachsync.api import Email, Recipient, Record, hookimpl


@hookimpl
def coachsync_on_change(record: Record) -> list[Email]:
    summary = record.change.summary
    return [Email(to=Recipient.CLIENT, subject=f"About: {summary}", body=summary)]
