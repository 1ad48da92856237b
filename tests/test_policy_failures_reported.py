"""A failing policy is never silent: `sync` exits 1 naming it, `check` lists it, the daemon's status says so."""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from coachsync.daemon import Daemon

from support.cli import cli
from support.ical import HOUR, session
from support.plugin_world import BOOM, BOOM_FIXED, plugin_coach
from support.scenario import NOW, Coach, OpenApp

DEC_10 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
FAILED = (
    "policy boom FAILED on change 1 ({tries}): RuntimeError: cannot decide about change 1;"
    " it is retried on every pass: fix the plugin or switch it off\n"
)


def failing_coach(tmp_path: Path, enabled: str = "true") -> Coach:
    coach = plugin_coach(tmp_path, {"boom": BOOM}, f"boom: {{enabled: {enabled}}}\n")
    coach.write(session("a1", DEC_10))
    cli(coach, "sync")
    coach.write(session("a1", DEC_10 + HOUR))
    return coach


def test_sync_exits_1_naming_the_plugin_and_change_until_the_plugin_is_fixed(tmp_path: Path) -> None:
    coach = failing_coach(tmp_path)

    first = cli(coach, "sync")
    again = cli(coach, "sync")
    shutil.copy(BOOM_FIXED, tmp_path / "policies" / "boom.py")
    fixed = cli(coach, "sync")

    assert (first.exit_code, first.stdout, first.stderr) == (
        1,
        "coaching: 1 recorded (1 moved); 1 events, 1 re-read\n",
        FAILED.format(tries="1 attempt"),
    )
    assert (again.exit_code, again.stdout, again.stderr) == (
        1,
        "coaching: unchanged\n",
        FAILED.format(tries="2 attempts"),
    )
    assert (fixed.exit_code, fixed.stdout, fixed.stderr) == (0, "coaching: unchanged\n", "")


def test_check_lists_an_open_policy_failure_as_a_problem(tmp_path: Path) -> None:
    coach = failing_coach(tmp_path)
    cli(coach, "sync")

    checked = cli(coach, "check")

    assert checked.exit_code == 1
    assert FAILED.format(tries="1 attempt") in checked.stdout
    assert checked.stdout.endswith("1 problem found\n")


def test_a_plugin_switched_off_since_it_failed_no_longer_fails_sync(tmp_path: Path) -> None:
    coach = failing_coach(tmp_path)
    cli(coach, "sync")
    config = coach.config_path.read_text(encoding="utf-8")
    coach.config_path.write_text(config.replace("boom: {enabled: true}", "boom: {enabled: false}"), encoding="utf-8")

    result = cli(coach, "sync")

    assert (result.exit_code, result.stderr) == (0, "")


def test_the_daemon_status_counts_open_policy_failures(tmp_path: Path, open_app: OpenApp) -> None:
    coach = failing_coach(tmp_path)
    daemon = Daemon(open_app(coach), clock=lambda: NOW)

    daemon.run_once("coaching")

    assert daemon.last_results["coaching"] == (
        "coaching: 1 recorded (1 moved); 1 events, 1 re-read; 1 policy failure(s), see `coachsync check`"
    )


def test_the_daemon_says_once_when_a_calendar_can_be_read_again(
    coach: Coach, open_app: OpenApp, caplog: pytest.LogCaptureFixture
) -> None:
    coach.write(session("a1", DEC_10))
    daemon = Daemon(open_app(coach), clock=lambda: NOW)
    daemon.run_once("coaching")
    text = coach.calendar.read_text(encoding="utf-8")
    coach.calendar.write_text(text[: len(text) // 2], encoding="utf-8")  # cut off mid-save
    daemon.run_once("coaching")
    daemon.run_once("coaching")
    coach.calendar.write_text(text, encoding="utf-8")

    with caplog.at_level(logging.INFO, logger="coachsync.daemon"):
        daemon.run_once("coaching")
        daemon.run_once("coaching")

    recovered = [r.getMessage() for r in caplog.records if "read again" in r.getMessage()]
    assert recovered == ["calendar read again after 2 failed pass(es)"]
