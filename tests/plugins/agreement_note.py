"""A third-party policy that reads the client's agreement and the change's standing instead of counting."""

from __future__ import annotations

from coachsync.api import Agreement, ClientInfo, Record, Standing, Suggestion, hookimpl


@hookimpl
def coachsync_on_change(
    record: Record, client: ClientInfo | None, agreement: Agreement, standing: Standing
) -> list[Suggestion]:
    if client is None:
        return []
    late = "late" if standing.late else "on time"
    text = (
        f"{client.name} (notice {agreement.notice_hours:g} h, {agreement.allowance} per {agreement.per}):"
        f" change {record.id} is {late}, {standing.describe()}"
    )
    return [Suggestion(text=text)]
