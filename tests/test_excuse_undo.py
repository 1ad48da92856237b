"""Taking an excuse back: the change counts again in `history` and `clients`, the excuse stays in its trail,
and the fees excusing waived stay waived. Real database, real CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from support.cli import cli
from support.ical import HOUR, session
from support.plugin_world import FLAT_FEE, plugin_coach
from support.scenario import NOW, Coach

DEC_10 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def excused(tmp_path: Path) -> Coach:
    """Alice moved a session (change 1, fee 1 of 40 EUR), which the coach excused an hour later."""
    coach = plugin_coach(tmp_path, {"flat_fee": FLAT_FEE}, "flat_fee: {enabled: true}\n")
    coach.write(session("a1", DEC_10))
    assert cli(coach, "sync").exit_code == 0
    coach.write(session("a1", DEC_10 + HOUR))
    assert cli(coach, "sync").exit_code == 0
    assert cli(coach, "excuse", "1", "--reason", "ill with flu", at=NOW + HOUR).exit_code == 0
    return coach


def standing(coach: Coach) -> tuple[object, ...]:
    [record] = json.loads(cli(coach, "history", "--json").stdout)
    [alice] = [c for c in json.loads(cli(coach, "clients", "--json").stdout) if c["name"] == "Alice Example"]
    return record["excused"], record["counts"], record["allowance_used"], alice["reschedules"], alice["excused"]


def test_taking_an_excuse_back_counts_the_change_again_and_keeps_the_trail(excused: Coach) -> None:
    before = standing(excused)

    result = cli(excused, "excuse", "1", "--undo", "--reason", "entered on the wrong change", at=NOW + 2 * HOUR)

    assert (result.exit_code, result.stdout) == (
        0,
        "change 1 (moved, Alice Example): excuse taken back (was: ill with flu); it counts against the agreement"
        " again, as `coachsync history` shows\n"
        "its waived fees stay waived, nothing is charged again: fee 1 (40.00 EUR);"
        " see `coachsync fees --client 'Alice Example'`\n",
    )
    assert before == (True, False, 0, 0, 1)
    assert standing(excused) == (False, True, 1, 1, 0)
    [record] = json.loads(cli(excused, "history", "--json").stdout)
    assert (record["reason"], record["excuses"]) == (
        None,
        [
            {"reason": "ill with flu", "at": "2026-12-01T14:00:00+01:00", "taken_back": False},
            {"reason": "entered on the wrong change", "at": "2026-12-01T15:00:00+01:00", "taken_back": True},
        ],
    )
    [fee] = json.loads(cli(excused, "fees", "--json").stdout)
    assert (fee["status"], fee["waived_reason"]) == ("waived", "change excused: ill with flu")
    assert cli(excused, "history").stdout.splitlines()[1] == (
        "1   2026-12-01 13:00  Alice Example  moved  2026-12-10 10:00  2026-12-10 11:00  213.0     on time, 1 of 2"
        "  no       Coaching"
    )


def test_an_excuse_taken_back_can_be_given_again(excused: Coach) -> None:
    cli(excused, "excuse", "1", "--undo", at=NOW + 2 * HOUR)

    again = cli(excused, "excuse", "1", "--reason", "flu after all", at=NOW + 3 * HOUR)

    assert (again.exit_code, again.stdout) == (0, "change 1 (moved, Alice Example) excused: flu after all\n")
    assert standing(excused)[:3] == (True, False, 0)
    [record] = json.loads(cli(excused, "history", "--json").stdout)
    assert [(e["reason"], e["taken_back"]) for e in record["excuses"]] == [
        ("ill with flu", False),
        (None, True),
        ("flu after all", False),
    ]


def test_a_change_without_fees_says_nothing_about_fees(coach: Coach) -> None:
    coach.write(session("a1", DEC_10))
    cli(coach, "sync")
    coach.write(session("a1", DEC_10 + HOUR))
    cli(coach, "sync")
    cli(coach, "excuse", "1", "--reason", "coach-initiated")

    result = cli(coach, "excuse", "1", "--undo", at=NOW + timedelta(minutes=5))

    assert (result.exit_code, result.stdout) == (
        0,
        "change 1 (moved, Alice Example): excuse taken back (was: coach-initiated); it counts against the"
        " agreement again, as `coachsync history` shows\n",
    )


def test_taking_back_an_excuse_that_is_not_there_is_refused(excused: Coach) -> None:
    cli(excused, "excuse", "1", "--undo", at=NOW + 2 * HOUR)

    again = cli(excused, "excuse", "1", "--undo", at=NOW + 3 * HOUR)
    unknown = cli(excused, "excuse", "7", "--undo")

    assert (again.exit_code, again.stderr) == (
        2,
        "coachsync: change 1 is not excused; there is no excuse to take back\n",
    )
    assert (unknown.exit_code, unknown.stderr) == (
        2,
        "coachsync: no recorded change with id 7; see `coachsync history`\n",
    )
    [record] = json.loads(cli(excused, "history", "--json").stdout)
    assert len(record["excuses"]) == 2


def test_excuse_needs_a_reason_unless_it_is_taken_back(excused: Coach) -> None:
    missing = cli(excused, "excuse", "1")
    both = cli(excused, "excuse", "1", "--undo", "--replace")

    assert (missing.exit_code, missing.stderr.splitlines()[-1]) == (
        2,
        "Error: give --reason: say why the change is excused",
    )
    assert (both.exit_code, both.stderr.splitlines()[-1]) == (2, "Error: use either --undo or --replace, not both")
