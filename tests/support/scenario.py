"""A coach's world for end-to-end tests: a calendar file, a config, a database beside them, a clock."""

from __future__ import annotations

import sqlite3
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from coachsync.app import App
from coachsync.config import load_config
from coachsync.store import Store

from support.ical import vcalendar

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

CLIENTS_YAML = """\
clients:
  - name: Alice Example
    emails: [alice@example.com]
    aliases: [Alice]
  - name: Bob Builder
    emails: [bob@example.com]
  - name: Carmen Diaz
    aliases: [Carmen]
"""


@dataclass
class Coach:
    """A coach's directory: config.yaml, coaching.ics and the database beside them."""

    root: Path
    extra_yaml: str = ""
    calendar: Path = field(init=False)
    config_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.calendar = self.root / "coaching.ics"
        self.config_path = self.root / "config.yaml"
        if not self.calendar.exists():
            self.calendar.write_text(vcalendar(), encoding="utf-8")
        self.config_path.write_text(
            textwrap.dedent(
                """\
                database: state/coachsync.db
                timezone: Europe/Berlin
                calendars:
                  - name: coaching
                    ics_file: coaching.ics
                """
            )
            + CLIENTS_YAML
            + self.extra_yaml,
            encoding="utf-8",
        )

    @property
    def database(self) -> Path:
        return self.root / "state" / "coachsync.db"

    def write(self, *events: str, header: tuple[str, ...] = ()) -> None:
        self.calendar.write_text(vcalendar(*events, header=header), encoding="utf-8", newline="")

    def write_raw(self, text: str) -> None:
        self.calendar.write_text(text, encoding="utf-8", newline="")

    def app(self) -> App:
        """The coach's app; a test opens it through the `open_app` fixture, which closes it afterwards."""
        config = load_config(self.config_path)
        return App(config, Store(config.database))


# The `open_app` fixture: opens the app of a coach or of a config file, and closes it after the test.
OpenApp = Callable[[Coach | Path], App]


def rows(coach: Coach, query: str) -> list[tuple[Any, ...]]:
    """Read the coach's database as it is on disk, through a connection of its own."""
    db = sqlite3.connect(coach.database)
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()
