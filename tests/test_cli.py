"""The coach's commands: what they print and how they exit."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from support.cli import cli, invoke
from support.http_calendar import Route
from support.ical import HOUR, session, vcalendar
from support.scenario import NOW, Coach

DEC_10 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def coach_with_history(coach: Coach) -> Coach:
    """Alice moved one session late and cancelled another; Bob kept his."""
    sessions = [
        session("a1", DEC_10),
        session("a2", DEC_10 + timedelta(days=7)),
        session("b1", DEC_10, "bob@example.com"),
    ]
    coach.write(*sessions)
    assert cli(coach, "sync").exit_code == 0
    coach.write(session("a1", NOW + 5 * HOUR), sessions[2])
    assert cli(coach, "sync", at=NOW - timedelta(days=2)).exit_code == 0
    return coach


def test_sync_prints_one_line_per_calendar(coach: Coach) -> None:
    coach.write(session("a1", DEC_10))

    first = cli(coach, "sync")
    coach.write(session("a1", DEC_10 + HOUR))
    second = cli(coach, "sync")
    third = cli(coach, "sync")

    assert (first.exit_code, first.output) == (0, "coaching: baseline taken, 1 events\n")
    assert (second.exit_code, second.output) == (0, "coaching: 1 recorded (1 moved); 1 events, 1 re-read\n")
    assert (third.exit_code, third.output) == (0, "coaching: unchanged\n")


def test_history_json_lists_records_oldest_first_with_every_key(coach_with_history: Coach) -> None:
    result = cli(coach_with_history, "history", "--json")

    assert result.exit_code == 0
    records = json.loads(result.output)
    assert [(r["id"], r["kind"], r["uid"]) for r in records] == [(1, "moved", "a1"), (2, "cancelled", "a2")]
    moved = records[0]
    assert moved == {
        "type": "change",
        "id": 1,
        "calendar": "coaching",
        "client": "Alice Example",
        "uid": "a1",
        "recurrence_id": None,
        "kind": "moved",
        "summary": "Coaching",
        "old_start": "2026-12-10T10:00:00+01:00",
        "new_start": "2026-12-01T18:00:00+01:00",
        "notice_hours": 261.0,
        "changed_at": "2026-11-29T13:00:00+01:00",
        "detected_at": "2026-11-29T13:00:00+01:00",
        "new_uid": None,
        "instances": 1,
        "excused": False,
        "reason": None,
        "excuses": [],
        "late": False,
        "counts": True,
        "why_not": None,
        "allowance_used": 1,
        "allowance": 2,
        "over": False,
        # No start and no revisit: 90-day periods count from the day of the client's first record.
        "period_start": "2026-11-29T00:00:00+01:00",
        "agreement_since": None,
        "earlier_agreement": False,
    }
    assert records[1]["new_start"] is None


def test_history_filters_by_client_and_since(coach_with_history: Coach) -> None:
    for_bob = json.loads(cli(coach_with_history, "history", "--client", "Bob Builder", "--json").output)
    for_alice = json.loads(cli(coach_with_history, "history", "--client", "alice example", "--json").output)
    since_later = json.loads(cli(coach_with_history, "history", "--since", "2026-11-30", "--json").output)

    assert (for_bob, [r["id"] for r in for_alice], since_later) == ([], [1, 2], [])


def test_history_table_shows_local_times(coach_with_history: Coach) -> None:
    lines = cli(coach_with_history, "history").output.splitlines()

    assert lines[0].split() == [
        "ID",
        "DETECTED",
        "CLIENT",
        "KIND",
        "SESSION",
        "NEW",
        "TIME",
        "NOTICE",
        "H",
        "STANDING",
        "EXCUSED",
        "SUMMARY",
    ]
    assert lines[1].split() == [
        "1",
        "2026-11-29",
        "13:00",
        "Alice",
        "Example",
        "moved",
        "2026-12-10",
        "10:00",
        "2026-12-01",
        "18:00",
        "261.0",
        "on",
        "time,",
        "1",
        "of",
        "2",
        "no",
        "Coaching",
    ]
    assert lines[2].split()[5] == "cancelled"


def test_excuse_marks_a_record_and_history_shows_it(coach_with_history: Coach) -> None:
    result = cli(coach_with_history, "excuse", "1", "--reason", "ill  with flu")
    records = json.loads(cli(coach_with_history, "history", "--json").output)

    assert result.exit_code == 0
    assert result.output == "change 1 (moved, Alice Example) excused: ill with flu\n"
    assert [(r["excused"], r["reason"]) for r in records] == [(True, "ill with flu"), (False, None)]


def test_excusing_an_unknown_record_names_the_fix(coach_with_history: Coach) -> None:
    result = cli(coach_with_history, "excuse", "99", "--reason", "x")

    assert result.exit_code == 2
    assert "no recorded change with id 99; see `coachsync history`" in result.output


def test_clients_json_summarises_each_client(coach_with_history: Coach) -> None:
    result = cli(coach_with_history, "clients", "--json")

    assert result.exit_code == 0
    counts = ("name", "upcoming", "reschedules", "late", "cancellations", "excused", "status", "allowance_used")
    assert [{key: s[key] for key in counts} for s in json.loads(result.output)] == [
        {
            "name": "Alice Example",
            "upcoming": 1,
            "reschedules": 1,
            "late": 0,
            "cancellations": 1,
            "excused": 0,
            "status": "active",
            "allowance_used": 2,
        },
        {
            "name": "Bob Builder",
            "upcoming": 1,
            "reschedules": 0,
            "late": 0,
            "cancellations": 0,
            "excused": 0,
            "status": "active",
            "allowance_used": 0,
        },
        {
            "name": "Carmen Diaz",
            "upcoming": 0,
            "reschedules": 0,
            "late": 0,
            "cancellations": 0,
            "excused": 0,
            "status": "active",
            "allowance_used": 0,
        },
    ]


def test_late_reschedule_counts_until_excused(coach: Coach) -> None:
    coach.write(session("a1", DEC_10))
    cli(coach, "sync")
    coach.write(session("a1", DEC_10 + HOUR))
    cli(coach, "sync", at=DEC_10 - 3 * HOUR)

    before = json.loads(cli(coach, "clients", "--json", at=DEC_10 - 3 * HOUR).output)[0]
    cli(coach, "excuse", "1", "--reason", "coach-initiated")
    after = json.loads(cli(coach, "clients", "--json", at=DEC_10 - 3 * HOUR).output)[0]

    assert (before["late"], before["excused"]) == (1, 0)
    assert (after["late"], after["excused"]) == (0, 1)


def test_mass_change_exits_non_zero_until_accepted(coach: Coach) -> None:
    sessions = [session(f"a{day}", DEC_10 + timedelta(days=day)) for day in range(4)]
    coach.write(*sessions)
    cli(coach, "sync")
    coach.write(*sessions[:2])

    refused = cli(coach, "sync")
    accepted = cli(coach, "sync", "--accept-mass-change")

    assert refused.exit_code == 1
    assert "would cancel 2 of 4 upcoming sessions" in refused.output
    assert "coachsync sync --accept-mass-change" in refused.output
    assert json.loads(cli(coach, "history", "--json").output)[0]["kind"] == "cancelled"
    assert (accepted.exit_code, accepted.output) == (0, "coaching: 2 recorded (2 cancelled); 2 events, 0 re-read\n")


def test_config_error_is_one_line_and_exit_code_2(coach: Coach) -> None:
    coach.config_path.write_text("calendars:\n  - name: coaching\n    ics_fle: coaching.ics\n")

    result = cli(coach, "sync")

    assert result.exit_code == 2
    assert result.output == (
        f"{coach.config_path}:3: calendars[0].ics_fle: unknown key 'ics_fle'; did you mean 'ics_file'?\n"
    )


def test_missing_config_points_at_the_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACHSYNC_CONFIG", str(tmp_path / "nowhere.yaml"))

    result = invoke("history")

    assert result.exit_code == 2
    assert "pass --config FILE or set $COACHSYNC_CONFIG" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_debug_logging_never_shows_a_private_calendar_address(tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    server.routes["/private-TOKEN123/basic.ics"] = Route(body=vcalendar(session("a1", DEC_10)).encode())
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: {tmp_path / 'db.sqlite'}\ncalendars:\n  - name: coaching\n"
        f"    ics_url: {server.url('/private-TOKEN123/basic.ics', userinfo='coach:secret@')}\n"
    )

    result = subprocess.run(
        [sys.executable, "-m", "coachsync", "--config", str(config), "--log-level", "debug", "sync"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0
    assert result.stdout == "coaching: baseline taken, 1 events\n"
    assert "TOKEN123" not in result.stderr + result.stdout
    assert "secret" not in result.stderr + result.stdout
