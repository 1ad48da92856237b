"""`coachsync report`: one self-contained HTML page about the practice and each client.

Three steps, kept apart: `data` turns the app's views into plain rows (pure),
`charts` draws them with matplotlib as inline SVG, and `page` renders the
shipped Jinja2 template in a sandbox with autoescaping. matplotlib and Jinja2
are imported only here, when a report is made, so other commands start fast.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CoachsyncError, NotFoundError
from .data import AHEAD, ClientInputs, ReportData, build_report

if TYPE_CHECKING:
    from ..app import App

__all__ = ["OutputError", "render_report", "report_data", "write_report"]


class OutputError(CoachsyncError):
    """The report cannot be written where --output says; nothing else was changed."""

    exit_code = 2


def report_data(app: App, *, now: datetime, since: datetime, client: str | None = None) -> ReportData:
    """The report's rows for every configured client (or one), from `since` to `now`."""
    summaries = app.client_summaries(now)
    if client is not None:
        summaries = [s for s in summaries if s.name == client]
        if not summaries:
            raise NotFoundError(f"{client!r} is not a client in the config; add them under clients: first")
    fees = app.fees()
    suggestions = app.suggestions()  # the open ones; dismissed suggestions are left out
    sessions = app.sessions_of([s.name for s in summaries], since, now + AHEAD, now)
    inputs = [
        ClientInputs(
            name=s.name,
            status=s.engagement.describe(),
            agreement=s.agreement,
            attendance=s.attendance.describe(),
            held=s.attendance.held,
            allowance_used=s.allowance_used,
            late=s.late,
            no_shows=s.attendance.no_shows,
            standings=app.standings(s.name),
            sessions=sessions[s.name],
            events=app.engagement_events(s.name),
            fees=[f for f in fees if f.client == s.name],
            suggestions=[g for g in suggestions if g.client == s.name],
        )
        for s in summaries
    ]
    return build_report(inputs, now=now, since=since, zone=app.zone, zone_name=app.config.timezone or str(app.zone))


def render_report(app: App, *, now: datetime, since: datetime, client: str | None = None) -> str:
    """The whole HTML document: an overview of the practice, then each client's charts and tables."""
    from .page import render

    return render(report_data(app, now=now, since=since, client=client))


def write_report(html: str, output: str) -> Path | None:
    """Write the page to `output` ("-" is standard output, then None is returned)."""
    if output == "-":
        import click

        click.echo(html, nl=False)
        return None
    path = Path(output)
    try:
        path.write_text(html, encoding="utf-8")
    except OSError as error:
        problem = error.strerror or type(error).__name__
        raise OutputError(f"cannot write the report to {output}: {problem}; choose another --output") from None
    return path
