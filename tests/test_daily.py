"""The daily hook: once per client per local day, across re-runs, restarts and a killed process; cadence drift."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from coachsync.store import Store

from support.cli import cli
from support.ical import session
from support.plugin_world import install_plugin, plugin_file
from support.scenario import Coach

DAY = timedelta(days=1)
REPO = Path(__file__).resolve().parent.parent
QUIET = REPO / "docs" / "examples" / "quiet_client.py"
# Alice had sessions on 2 and 9 Nov and has nothing booked; Bob meets weekly on Wednesdays.
ALICE = [session(f"a{i}", datetime(2026, 11, 2, 9, 0, tzinfo=UTC) + 7 * i * DAY) for i in range(2)]
BOB = [session(f"b{i}", datetime(2026, 11, 4, 9, 0, tzinfo=UTC) + 7 * i * DAY, "bob@example.com") for i in range(8)]
START = datetime(2026, 10, 30, 12, 0, tzinfo=UTC)


def quiet_coach(root: Path, extra: str = "") -> Coach:
    (root / "policies").mkdir()
    install_plugin(root / "policies", "quiet_client", QUIET)
    install_plugin(root / "policies", "sigkill", plugin_file("sigkill"))
    coach = Coach(
        root,
        extra_yaml="plugins_dir: policies\n"
        "policies:\n  quiet_client: {enabled: true, quiet_days: 14}\n  sigkill: {enabled: true}\n" + extra,
    )
    coach.write(*ALICE, *BOB)
    assert cli(coach, "sync", at=START).exit_code == 0
    return coach


def suggestions(coach: Coach) -> list[tuple[str | None, str]]:
    with Store(coach.database) as store:
        return [(s.client, s.text) for s in store.ledger.suggestions()]


def daily_runs(coach: Coach) -> list[str]:
    with Store(coach.database) as store:
        return [day for (day,) in store._db.execute("SELECT day FROM daily_runs ORDER BY day")]


def test_the_guides_daily_plugin_suggests_once_per_quiet_spell_however_often_sync_runs(tmp_path: Path) -> None:
    coach = quiet_coach(tmp_path)
    dec_1 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

    for hours in (0, 1, 5):  # three syncs on 1 December
        assert cli(coach, "sync", at=dec_1 + timedelta(hours=hours)).exit_code == 0
    cli(coach, "sync", at=dec_1 + DAY)  # and the next day: the same quiet spell, nothing new

    assert suggestions(coach) == [
        (
            "Alice Example",
            "Alice Example has had no session since Mon 09 Nov 2026 and has none booked; perhaps reach out?",
        )
    ]
    assert daily_runs(coach)[-2:] == ["2026-12-01", "2026-12-02"]


def test_a_daily_run_killed_midway_runs_again_and_records_once(tmp_path: Path) -> None:
    coach = quiet_coach(tmp_path)
    sync = [sys.executable, "-m", "coachsync", "--config", str(coach.config_path), "sync"]
    # The subprocesses run on today's clock: long after 9 November, so Alice is quiet.
    killed = subprocess.run(
        sync, capture_output=True, env={**os.environ, "COACHSYNC_TEST_SIGKILL": "daily"}, check=False
    )
    assert killed.returncode == -9
    assert suggestions(coach) == []

    again = [subprocess.run(sync, capture_output=True, text=True, check=False) for _ in range(2)]

    assert [r.returncode for r in again] == [0, 0], again[0].stderr
    assert [client for client, _ in suggestions(coach)] == ["Alice Example"]
    assert len(daily_runs(coach)) == 2  # the day of the baseline, and today


def test_no_daily_look_at_a_paused_or_ended_client(tmp_path: Path) -> None:
    coach = quiet_coach(tmp_path)
    dec_1 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    cli(coach, "client", "pause", "Alice Example", at=dec_1 - DAY)

    cli(coach, "sync", at=dec_1)

    assert suggestions(coach) == []


def test_the_daemon_runs_the_daily_hook_after_its_first_pass(tmp_path: Path) -> None:
    from coachsync.app import App
    from coachsync.config import load_config
    from coachsync.daemon import Daemon

    coach = quiet_coach(tmp_path)
    clock = [datetime(2026, 12, 1, 8, 0, tzinfo=UTC)]
    app = App(load_config(coach.config_path), Store(coach.database))
    try:
        daemon = Daemon(app, clock=lambda: clock[0])
        daemon.run_once("coaching")
        daemon.run_once("coaching")
    finally:
        app.close()

    assert [client for client, _ in suggestions(coach)] == ["Alice Example"]


# --- the built-in cadence policy ---------------------------------------------------

CADENCE = (
    "agreement:\n  cadence: weekly\n  allowance: {per: month}\n"
    "policies:\n  cadence: {enabled: true, email_client: true}\n"
)


def test_cadence_drift_is_suggested_once_per_period_and_not_for_a_client_who_keeps_the_rhythm(tmp_path: Path) -> None:
    coach = Coach(tmp_path, extra_yaml=CADENCE)
    # Carmen's sessions came every 14 days over the last 8 weeks (weekly agreed: 14 > 1.5 × 7).
    carmen = [
        session(f"c{i}", datetime(2026, 10, 14, 17, 0, tzinfo=UTC) + 14 * i * DAY, None, "Carmen") for i in range(5)
    ]
    coach.write(*ALICE[:0], *BOB, *carmen)
    cli(coach, "sync", at=START - 20 * DAY)

    for day in range(1, 5):
        cli(coach, "sync", at=datetime(2026, 12, day, 8, 0, tzinfo=UTC))
    cli(coach, "sync", at=datetime(2027, 1, 2, 8, 0, tzinfo=UTC))  # a new month: a new period

    drifted = (
        "Carmen Diaz's sessions have come every 14 days on average over 8 weeks; the agreement says weekly."
        " It may be a good moment to ask how things are, and whether the rhythm still fits."
    )
    assert suggestions(coach) == [
        ("Carmen Diaz", drifted),
        (
            "Bob Builder",
            "Bob Builder has no session booked in the next 14 days; the agreement says weekly."
            " It may be a good moment to ask how things are, and whether the rhythm still fits.",
        ),
        ("Carmen Diaz", drifted),
    ]
    with Store(coach.database) as store:
        emails = [(m.client, m.subject, m.change_id) for m in store.outbox.messages()]
    # Carmen has no email address; Bob gets the check-in in January, when his weekly sessions have stopped.
    assert emails == [("Bob Builder", "How are things, Bob?", None)]


def test_revisiting_the_agreement_starts_a_new_period_and_drift_is_suggested_again(tmp_path: Path) -> None:
    coach = Coach(tmp_path, extra_yaml=CADENCE)
    carmen = [
        session(f"c{i}", datetime(2026, 10, 14, 17, 0, tzinfo=UTC) + 14 * i * DAY, None, "Carmen") for i in range(5)
    ]
    coach.write(*BOB, *carmen)
    cli(coach, "sync", at=START - 20 * DAY)
    cli(coach, "sync", at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    cli(coach, "sync", at=datetime(2026, 12, 2, 8, 0, tzinfo=UTC))  # the same period: nothing new
    revisit = cli(coach, "agreement", "revisit", "Carmen Diaz", at=datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    assert revisit.exit_code == 0, revisit.output

    cli(coach, "sync", at=datetime(2026, 12, 3, 8, 0, tzinfo=UTC))
    cli(coach, "sync", at=datetime(2026, 12, 4, 8, 0, tzinfo=UTC))

    # Mid-month, but the revisit began a new allowance period: Carmen's drift is raised once more, once.
    assert [client for client, _ in suggestions(coach)] == ["Carmen Diaz", "Carmen Diaz"]
