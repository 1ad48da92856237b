"""A coach with policy plugins of their own: plugin files in a plugins_dir, policies in the config."""

from __future__ import annotations

import sqlite3
import textwrap
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import time_machine
from click.testing import CliRunner, Result
from scenario import NOW, Coach, vevent

from coachsync.cli import main

HOUR = timedelta(hours=1)

FLAT_FEE = """
    from decimal import Decimal

    from coachsync.actions import Fee
    from coachsync.hookspecs import PolicySettings, hookimpl


    class FlatFeeSettings(PolicySettings):
        amount: int = 40
        currency: str = "EUR"


    @hookimpl
    def coachsync_policy_settings():
        return FlatFeeSettings


    # Names only the arguments it uses: the core passes exactly those.
    @hookimpl
    def coachsync_on_change(record, client, settings):
        if client is None or record.change.kind.value == "restored":
            return []
        return [Fee(Decimal(settings.amount), settings.currency, f"{record.change.kind.value} session")]
"""

BOOM = """
    from coachsync.hookspecs import hookimpl


    @hookimpl
    def coachsync_on_change(record):
        raise RuntimeError(f"cannot decide about change {record.id}")
"""

BOOM_FIXED = """
    from coachsync.actions import Suggestion
    from coachsync.hookspecs import hookimpl


    @hookimpl
    def coachsync_on_change(record):
        return [Suggestion(f"look at change {record.id}")]
"""


def plugin_coach(root: Path, plugins: Mapping[str, str], policies: str = "", more_yaml: str = "") -> Coach:
    """A coach whose config names `root/policies` as plugins_dir, holding `plugins` (name -> source)."""
    directory = root / "policies"
    directory.mkdir(exist_ok=True)
    for name, source in plugins.items():
        (directory / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    extra = "plugins_dir: policies\n"
    if policies:
        extra += "policies:\n" + textwrap.indent(textwrap.dedent(policies), "  ")
    return Coach(root, extra_yaml=extra + textwrap.dedent(more_yaml))


def session(uid: str, start: datetime, email: str = "alice@example.com", summary: str = "Coaching") -> str:
    return vevent(uid, start, start + HOUR, summary=summary, attendees=(email,) if email else ())


def rows(coach: Coach, query: str) -> list[tuple[Any, ...]]:
    """Read the coach's database as it is on disk, through a connection of its own."""
    db = sqlite3.connect(coach.root / "state" / "coachsync.db")
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


def cli(coach: Coach, *args: str, at: datetime = NOW) -> Result:
    with time_machine.travel(at, tick=False):
        return CliRunner().invoke(main, ["--config", str(coach.config_path), *args])
