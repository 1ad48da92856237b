"""The one way tests run coachsync's commands: in-process through click, the clock stopped at a given moment."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

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
