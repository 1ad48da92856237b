"""A command imports only what it uses: `--help` and `history` never pay for caldav, requests or Jinja2."""

from __future__ import annotations

from pathlib import Path

from support.cli import run_fresh

CALENDAR = """\
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:a1
DTSTAMP:20261201T090000Z
DTSTART:20261210T090000Z
DTEND:20261210T100000Z
SUMMARY:Coaching: Alice
END:VEVENT
END:VCALENDAR
"""


def test_help_imports_no_heavy_module(tmp_path: Path) -> None:
    output, report = run_fresh(tmp_path, "--help")
    assert report == {"exit": 0, "heavy": []}
    assert output.startswith("Usage: coachsync [OPTIONS] COMMAND [ARGS]...")


def test_history_imports_the_config_schema_and_nothing_a_pass_needs(tmp_path: Path) -> None:
    (tmp_path / "coaching.ics").write_text(CALENDAR)
    (tmp_path / "coachsync.yaml").write_text(
        "database: state/coachsync.db\n"
        "calendars:\n  - name: coaching\n    ics_file: coaching.ics\n"
        "clients:\n  - name: Alice Example\n    aliases: [Alice]\n"
        "policies:\n  fee: {enabled: true, notice_hours: 24, amount: 40, currency: EUR}\n"
    )

    output, report = run_fresh(tmp_path, "--config", "coachsync.yaml", "history")

    assert (output, report) == ("No reschedules recorded yet.", {"exit": 0, "heavy": ["pydantic"]})
