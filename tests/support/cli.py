"""The one way tests run coachsync's commands: in-process through click, the clock stopped at a given moment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import time_machine
from click.testing import CliRunner, Result

from coachsync.cli import main

from support.scenario import NOW, Coach


def invoke(*args: str, at: datetime = NOW, env: Mapping[str, str] | None = None) -> Result:
    """`coachsync ARGS` at the moment `at`; stdout and stderr are kept apart, as a terminal shows them."""
    with time_machine.travel(at, tick=False):
        return CliRunner(env=env).invoke(main, list(args))


def cli(coach: Coach, *args: str, at: datetime = NOW, env: Mapping[str, str] | None = None) -> Result:
    """`coachsync --config <the coach's config> ARGS` at the moment `at`."""
    return invoke("--config", str(coach.config_path), *args, at=at, env=env)


# The slow imports: sources (caldav, niquests, lxml, requests), parsing (icalendar, recurring_ical_events),
# policies (jinja2), the daemon (watchdog), mail (yagmail), the report's charts (matplotlib), and the config's pydantic.
HEAVY_MODULES = (
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

_FRESH_PROBE = """
import json, sys
from coachsync.cli import main
try:
    main(sys.argv[1:], prog_name="coachsync")
except SystemExit as exit:
    code = exit.code
heavy = sorted(name for name in json.loads(sys.stdin.read()) if name in sys.modules)
print(json.dumps({"exit": code, "heavy": heavy}))
"""


def run_fresh(cwd: Path, *args: str) -> tuple[str, dict[str, object]]:
    """Run the CLI in a fresh interpreter; its output, then its exit code and which heavy modules it loaded."""
    env = {key: value for key, value in os.environ.items() if key != "COACHSYNC_CONFIG"}
    done = subprocess.run(
        [sys.executable, "-c", _FRESH_PROBE, *args],
        input=json.dumps(HEAVY_MODULES),
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=True,
        timeout=60,
    )
    *output, report = done.stdout.splitlines()
    return "\n".join(output), json.loads(report)
