"""Suggests revisiting a client's agreement, once per client however many changes follow."""

from __future__ import annotations

from coachsync.api import ClientInfo, Suggestion, hookimpl


@hookimpl
def coachsync_on_change(client: ClientInfo | None) -> list[Suggestion] | None:
    if client is not None:
        return [Suggestion(f"revisit the agreement with {client.name}", once_per=f"{client.name}:revisit")]
    return None
