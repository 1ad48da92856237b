"""A coach whose `echo` policy mails each moved session's title to the client: calendar text as hostile input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from coachsync.app import App

from support.ical import vevent
from support.plugin_world import install_plugin, plugin_file
from support.scenario import NOW, Coach, OpenApp

DAY = timedelta(days=1)
DEC_10 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
ECHO_PLUGIN = plugin_file("echo")  # echoes the session's summary into an email


def echo_coach(root: Path, mail_yaml: str) -> Coach:
    """A coach with the echo policy on and `mail_yaml` as the config's mail section."""
    (root / "plugins").mkdir()
    install_plugin(root / "plugins", "echo", ECHO_PLUGIN)
    return Coach(root, extra_yaml="plugins_dir: plugins\npolicies:\n  echo: {enabled: true}\n" + mail_yaml)


def queue(coach: Coach, open_app: OpenApp, *summaries: str) -> App:
    """Alice's sessions with these summaries, each moved by an hour: one queued email per session."""

    def sessions(shift: timedelta) -> list[str]:
        return [
            vevent(f"s{i}", DEC_10 + i * DAY + shift, summary=summary, attendees=("alice@example.com",))
            for i, summary in enumerate(summaries)
        ]

    app = open_app(coach)
    coach.write(*sessions(timedelta(0)))
    list(app.sync_all(NOW - DAY))
    coach.write(*sessions(timedelta(hours=1)))
    list(app.sync_all(NOW))
    return app
