"""A command imports only what it uses: `--help` and `history` never pay for caldav, requests or Jinja2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# The slow imports: sources (caldav, niquests, lxml, requests), parsing (icalendar, recurring_ical_events),
# policies (jinja2), the daemon (watchdog), mail (yagmail), the report's charts (matplotlib), and the config's pydantic.
HEAVY = (
    "caldav",
    "niquests",
    "lxml",
    "requests",
    "icalendar",
    "recurring_ical_events",
    "jinja2",
    "watchdog",
    "yagmail",
    "pydantic",
    "matplotlib",
)

_PROBE = """
import json, sys
from coachsync.cli import main
try:
    main(sys.argv[1:], prog_name="coachsync")
except SystemExit as exit:
    code = exit.code
heavy = sorted(name for name in json.loads(sys.stdin.read()) if name in sys.modules)
print(json.dumps({"exit": code, "heavy": heavy}))
"""

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


def _run(cwd: Path, *args: str) -> tuple[str, dict[str, object]]:
    """Run the CLI in a fresh interpreter; its output, then its exit code and which heavy modules it loaded."""
    env = {key: value for key, value in os.environ.items() if key != "COACHSYNC_CONFIG"}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        input=json.dumps(HEAVY),
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=True,
        timeout=60,
    )
    *output, report = done.stdout.splitlines()
    return "\n".join(output), json.loads(report)


def test_help_imports_no_heavy_module(tmp_path: Path) -> None:
    output, report = _run(tmp_path, "--help")
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

    output, report = _run(tmp_path, "--config", "coachsync.yaml", "history")

    assert (output, report) == ("No reschedules recorded yet.", {"exit": 0, "heavy": ["pydantic"]})
