"""Build a coach's world for end-to-end tests: a calendar file, a config, a clock."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from coachsync.app import App
from coachsync.config import load_config
from coachsync.store import Store

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def vevent(
    uid: str,
    start: datetime | date | str,
    end: datetime | date | str | None = None,
    *,
    summary: str = "Coaching session",
    attendees: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
) -> str:
    """One VEVENT; a str start/end is taken verbatim (e.g. ``;TZID=...:20261210T100000``)."""

    def value(name: str, when: datetime | date | str) -> str:
        if isinstance(when, str):
            return f"{name}{when}"
        if isinstance(when, datetime):
            return f"{name}:{stamp(when)}"
        return f"{name};VALUE=DATE:{when.strftime('%Y%m%d')}"

    lines = ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20261101T000000Z", value("DTSTART", start)]
    if end is not None:
        lines.append(value("DTEND", end))
    lines.append(f"SUMMARY:{summary}")
    lines.extend(f"ATTENDEE;CN=Client:mailto:{email}" for email in attendees)
    lines.extend(extra)
    lines.append("END:VEVENT")
    return "\r\n".join(lines) + "\r\n"


def vcalendar(*events: str, header: tuple[str, ...] = ()) -> str:
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//coachsync tests//EN", *header]
    return "\r\n".join(head) + "\r\n" + "".join(events) + "END:VCALENDAR\r\n"


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

    def write(self, *events: str, header: tuple[str, ...] = ()) -> None:
        self.calendar.write_text(vcalendar(*events, header=header), encoding="utf-8", newline="")

    def write_raw(self, text: str) -> None:
        self.calendar.write_text(text, encoding="utf-8", newline="")

    def app(self) -> App:
        config = load_config(self.config_path)
        return App(config, Store(config.database))
