"""Revisiting the agreement, pausing, resuming and ending an engagement, end to end through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coachsync.store import Store

from support.cli import cli
from support.ical import HOUR, session, vevent
from support.scenario import NOW, Coach

DAY = timedelta(days=1)
POLICIES = """\
policies:
  fee: {enabled: true, amount: 40, currency: EUR}
  escalation_email: {enabled: true, after: 1, within_days: 90, to: coach}
  end_engagement: {enabled: true, after: 1, within_days: 90}
"""
ALICE_WEEKLY = dict(
    start=datetime(2026, 12, 9, 9, 0, tzinfo=UTC),
    end=datetime(2026, 12, 9, 10, 0, tzinfo=UTC),
    rrule="FREQ=WEEKLY;COUNT=8",
    attendees=("alice@example.com",),
    summary="Coaching",
)
BOB = session("bob-1", datetime(2026, 12, 15, 9, 0, tzinfo=UTC), "bob@example.com")


@pytest.fixture
def policy_coach(tmp_path: Path) -> Coach:
    coach = Coach(tmp_path, extra_yaml=POLICIES)
    coach.write(vevent("alice-weekly", **ALICE_WEEKLY), BOB)  # type: ignore[arg-type]
    assert cli(coach, "sync").exit_code == 0
    return coach


def ledger(coach: Coach) -> tuple[int, int, int]:
    with Store(coach.database) as store:
        return len(store.ledger.fees()), len(store.outbox.messages()), len(store.ledger.suggestions())


def alice(coach: Coach, at: datetime = NOW) -> dict[str, object]:
    summaries = json.loads(cli(coach, "clients", "--json", at=at).stdout)
    return next(s for s in summaries if s["name"] == "Alice Example")


def test_a_paused_clients_deleted_series_is_one_record_that_counts_for_nothing_and_no_policy_acts(
    policy_coach: Coach,
) -> None:
    paused = cli(policy_coach, "client", "pause", "alice example", "--reason", "till the services are needed again")
    policy_coach.write(BOB)  # the coach deletes Alice's weekly series

    result = cli(policy_coach, "sync", "--accept-mass-change", at=NOW + HOUR)

    assert (paused.exit_code, paused.stdout) == (
        0,
        "Alice Example: paused until you resume it. Changes to their sessions are still recorded,"
        " but none counts and no policy acts on them.\n",
    )
    assert result.exit_code == 0
    records = json.loads(cli(policy_coach, "history", "--client", "Alice Example", "--json", at=NOW + HOUR).stdout)
    assert [(r["type"], r["kind"]) for r in records] == [("engagement", "pause"), ("change", "cancelled")]
    assert (records[1]["instances"], records[1]["counts"], records[1]["why_not"]) == (8, False, "paused")
    assert records[0]["reason"] == "till the services are needed again"
    assert ledger(policy_coach) == (0, 0, 0)
    assert (alice(policy_coach, NOW + HOUR)["status"], alice(policy_coach, NOW + HOUR)["cancellations"]) == (
        "paused",
        0,
    )


def test_the_same_change_while_active_counts_and_the_policies_act(policy_coach: Coach) -> None:
    policy_coach.write(vevent("alice-weekly", **{**ALICE_WEEKLY, "start": ALICE_WEEKLY["start"] + 3 * HOUR,  # type: ignore[dict-item]
                                                 "end": ALICE_WEEKLY["end"] + 3 * HOUR}), BOB)  # type: ignore[arg-type,operator]  # fmt: skip

    cli(policy_coach, "sync", at=NOW + HOUR)

    records = json.loads(cli(policy_coach, "history", "--json", at=NOW + HOUR).stdout)
    assert [(r["kind"], r["counts"]) for r in records] == [("series_moved", True)]
    assert ledger(policy_coach) == (0, 1, 1)  # on time: no fee; the escalation and the suggestion at step 1


def test_a_pause_until_a_day_ends_by_itself_on_that_day(policy_coach: Coach) -> None:
    result = cli(policy_coach, "client", "pause", "Alice Example", "--until", "2026-12-20")

    assert result.stdout.startswith("Alice Example: paused until 2026-12-20.")
    assert alice(policy_coach, datetime(2026, 12, 19, 22, 59, tzinfo=UTC))["status"] == "paused"
    assert alice(policy_coach, datetime(2026, 12, 19, 22, 59, tzinfo=UTC))["paused_until"] == "2026-12-20"
    # Midnight in Berlin is 23:00 UTC: from then on she is active again, with nothing to run.
    assert alice(policy_coach, datetime(2026, 12, 19, 23, 0, tzinfo=UTC))["status"] == "active"
    table = cli(policy_coach, "clients", at=datetime(2026, 12, 18, tzinfo=UTC)).stdout.splitlines()
    assert table[1].split()[:5] == ["Alice", "Example", "paused", "until", "2026-12-20"]


def test_a_change_on_the_day_a_pause_ends_counts_again(policy_coach: Coach) -> None:
    cli(policy_coach, "client", "pause", "Alice Example", "--until", "2026-12-05")
    policy_coach.write(vevent("alice-weekly", **ALICE_WEEKLY, exdates=("EXDATE:20261216T090000Z",)), BOB)  # type: ignore[arg-type]

    cli(policy_coach, "sync", at=datetime(2026, 12, 5, 8, 0, tzinfo=UTC))

    [record] = json.loads(cli(policy_coach, "history", "--json", at=datetime(2026, 12, 5, 9, 0, tzinfo=UTC)).stdout)[1:]
    assert (record["kind"], record["counts"]) == ("cancelled", True)
    assert ledger(policy_coach) == (0, 1, 1)


def test_end_then_resume_says_it_resumes_an_ended_engagement(policy_coach: Coach) -> None:
    ended = cli(policy_coach, "client", "end", "Alice Example", "--reason", "not working")
    again = cli(policy_coach, "client", "end", "Alice Example")
    pause = cli(policy_coach, "client", "pause", "Alice Example")
    resumed = cli(policy_coach, "client", "resume", "Alice Example", at=NOW + DAY)
    twice = cli(policy_coach, "client", "resume", "Alice Example", at=NOW + DAY)

    assert (ended.exit_code, ended.stdout) == (
        0,
        "Alice Example: engagement ended. Changes to their sessions are still recorded but never count;"
        " `coachsync client resume 'Alice Example'` takes it back.\n",
    )
    assert (again.exit_code, again.stderr) == (2, "coachsync: Alice Example has already ended (on 2026-12-01)\n")
    assert (pause.exit_code, pause.stderr) == (
        2,
        "coachsync: Alice Example has ended (on 2026-12-01); `coachsync client resume` first\n",
    )
    assert (resumed.exit_code, resumed.stdout) == (
        0,
        "Alice Example: resumed after the engagement ended on 2026-12-01; their changes count again from now.\n",
    )
    assert (twice.exit_code, twice.stderr) == (
        2,
        "coachsync: Alice Example is neither paused nor ended; there is nothing to resume\n",
    )
    assert alice(policy_coach, NOW + DAY)["status"] == "active"


def test_an_ended_clients_deleted_series_is_one_cancelled_record_that_does_not_count(policy_coach: Coach) -> None:
    cli(policy_coach, "client", "end", "Alice Example")
    policy_coach.write(BOB)

    cli(policy_coach, "sync", "--accept-mass-change", at=NOW + HOUR)

    records = [r for r in json.loads(cli(policy_coach, "history", "--json").stdout) if r["type"] == "change"]
    assert [(r["kind"], r["instances"], r["counts"], r["why_not"]) for r in records] == [
        ("cancelled", 8, False, "ended")
    ]
    assert ledger(policy_coach) == (0, 0, 0)


def test_revisit_starts_a_new_period_and_marks_earlier_records(policy_coach: Coach) -> None:
    policy_coach.write(vevent("alice-weekly", **ALICE_WEEKLY, exdates=("EXDATE:20261216T090000Z",)), BOB)  # type: ignore[arg-type]
    cli(policy_coach, "sync")
    revisit = cli(
        policy_coach, "agreement", "revisit", "Alice Example", "--note", "weekly at 10, 24 h notice", at=NOW + HOUR
    )

    records = json.loads(cli(policy_coach, "history", "--client", "Alice Example", "--json", at=NOW + 2 * HOUR).stdout)
    table = cli(policy_coach, "history", "--client", "Alice Example", at=NOW + 2 * HOUR).stdout.splitlines()

    assert revisit.stdout == (
        "Alice Example: agreement revisited on 2026-12-01; the allowance (2 per 90 days) and the escalation"
        " steps start again from zero. Earlier records stay in the history.\n"
    )
    assert [(r["type"], r["kind"]) for r in records] == [("change", "cancelled"), ("engagement", "revisit")]
    assert (records[0]["allowance_used"], records[0]["earlier_agreement"]) == (1, True)
    assert alice(policy_coach, NOW + 2 * HOUR)["allowance_used"] == 0
    assert "on time, 1 of 2, earlier agreement" in table[1]
    assert table[2].split()[3:5] == ["Alice", "Example"]
    assert "agreement revisited" in table[2] and "weekly at 10, 24 h notice (by " in table[2]


def test_unknown_clients_and_bad_days_are_clear_errors(policy_coach: Coach) -> None:
    unknown = cli(policy_coach, "client", "pause", "Alicia Example")
    bad_day = cli(policy_coach, "client", "pause", "Alice Example", "--until", "20.12.2026")
    past = cli(policy_coach, "client", "pause", "Alice Example", "--until", "2026-12-01")

    assert (unknown.exit_code, unknown.stderr) == (
        2,
        "coachsync: no client named 'Alicia Example' in the config or the history; did you mean 'Alice Example'?\n",
    )
    assert bad_day.exit_code == 2
    assert "Invalid value for --until: expected a date such as 2027-01-10, got '20.12.2026'" in bad_day.stderr
    assert (past.exit_code, past.stderr) == (
        2,
        "coachsync: --until 2026-12-01 is not after today; give the first day of sessions again\n",
    )


def test_agreement_show_names_where_each_term_came_from(tmp_path: Path) -> None:
    coach = Coach(
        tmp_path,
        extra_yaml="agreement:\n  cadence: weekly\n",
    )
    text = coach.config_path.read_text().replace(
        "    emails: [alice@example.com]\n",
        "    emails: [alice@example.com]\n    agreement:\n      notice_hours: 48\n      allowance: {per: month}\n",
    )
    coach.config_path.write_text(text)

    shown = cli(coach, "agreement", "show", "alice example")
    as_json = json.loads(cli(coach, "agreement", "show", "Alice Example", "--json").stdout)

    assert (shown.exit_code, shown.stdout) == (
        0,
        "Coaching agreement of Alice Example\n"
        "TERM           VALUE          FROM\n"
        "notice period  48 hours       client\n"
        "cadence        weekly         default\n"
        "allowance      2 reschedules  built-in\n"
        "per            month          client\n"
        "started        not set        built-in\n"
        "Status: active\n"
        "Used this period: 0 of 2\n",
    )
    assert as_json["sources"] == {
        "notice_hours": "client",
        "cadence": "default",
        "allowance": "built-in",
        "per": "client",
        "started": "built-in",
    }
    assert (as_json["name"], as_json["status"], as_json["allowance_used"]) == ("Alice Example", "active", 0)


def test_the_log_names_who_ran_the_command(policy_coach: Coach) -> None:
    env = {**os.environ, "LOGNAME": "coach-anna", "USER": "coach-anna"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "coachsync",
            "--config",
            str(policy_coach.config_path),
            "client",
            "pause",
            "Bob Builder",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    with Store(policy_coach.database) as store:
        [event] = store.engagements.events("Bob Builder")
    assert (event.kind.value, event.by, event.until) == ("pause", "coach-anna", None)


def test_the_escalation_over_the_allowance_is_sent_once_per_period_even_across_a_killed_process(tmp_path: Path) -> None:
    from support.plugin_world import install_plugin, plugin_file

    (tmp_path / "policies").mkdir()
    install_plugin(tmp_path / "policies", "sigkill", plugin_file("sigkill"))
    coach = Coach(
        tmp_path,
        extra_yaml=(
            "plugins_dir: policies\n"
            "agreement:\n  allowance: {reschedules: 1, per: month}\n"
            "policies:\n  escalation_email: {enabled: true, to: coach}\n  sigkill: {enabled: true}\n"
        ),
    )
    starts = [datetime(2026, 12, day, 9, 0, tzinfo=UTC) for day in (10, 14, 17)]
    coach.write(*(session(f"a{i}", start) for i, start in enumerate(starts)))
    sync = [sys.executable, "-m", "coachsync", "--config", str(coach.config_path), "sync"]
    assert subprocess.run(sync, capture_output=True, check=False).returncode == 0

    def move(count: int) -> None:
        coach.write(*(session(f"a{i}", start + (DAY if i < count else timedelta(0))) for i, start in enumerate(starts)))

    move(1)
    assert subprocess.run(sync, capture_output=True, check=False).returncode == 0  # 1 of 1: fine
    move(2)  # 2 of 1: over the allowance, and the process dies while the pass is being written
    killed = subprocess.run(sync, capture_output=True, env={**os.environ, "COACHSYNC_TEST_SIGKILL": "1"}, check=False)
    assert killed.returncode == -9
    with Store(coach.database) as store:
        assert (len(store.history.records()), len(store.outbox.messages())) == (1, 0)

    again = [subprocess.run(sync, capture_output=True, text=True, check=False) for _ in range(2)]
    move(3)  # 3 of 1: still the same period, no second email
    third = subprocess.run(sync, capture_output=True, text=True, check=False)

    assert [r.returncode for r in [*again, third]] == [0, 0, 0]
    with Store(coach.database) as store:
        [email] = store.outbox.messages()
        assert len(store.history.records()) == 3
    assert email.subject == "Alice Example: 2 reschedules since Tue 1 Dec 2026"
    assert email.key == "escalation_email:email:Alice Example:period-2026-12-01T00:00:00+01:00"


def test_a_third_party_plugin_reads_the_agreement_and_the_standing(tmp_path: Path) -> None:
    from support.plugin_world import plugin_coach, plugin_file

    coach = plugin_coach(
        tmp_path,
        {"agreement_note": plugin_file("agreement_note")},
        policies="agreement_note: {enabled: true}\n",
        more_yaml="agreement:\n  notice_hours: 48\n  allowance: {reschedules: 1, per: month}\n",
    )
    first, second = (datetime(2026, 12, day, 9, 0, tzinfo=UTC) for day in (2, 20))
    coach.write(session("a1", first), session("a2", second))
    cli(coach, "sync")
    coach.write(session("a1", first + DAY), session("a2", second + DAY))

    cli(coach, "sync")

    with Store(coach.database) as store:
        texts = [s.text for s in store.ledger.suggestions()]
    assert texts == [
        "Alice Example (notice 48 h, 1 per month): change 1 is late, 1 of 1",
        "Alice Example (notice 48 h, 1 per month): change 2 is on time, 2 of 1 (over)",
    ]
