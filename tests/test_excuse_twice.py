"""Excusing a change that is already excused: refused without --replace, naming the earlier reason; with it,
the earlier reason stays in the record's excuse trail, which `history --json` shows. Real database, real CLI."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from coachsync.model import Excuse
from coachsync.store import Store

from support.cli import cli
from support.ical import session
from support.scenario import NOW, Coach

DEC_10 = datetime(2026, 12, 10, 9, 0, tzinfo=NOW.tzinfo)
SCHEMA_3 = Path(__file__).parent / "data" / "schema-3"


@pytest.fixture
def moved(coach: Coach) -> Coach:
    """Alice's session moved: change 1."""
    coach.write(session("a1", DEC_10))
    assert cli(coach, "sync").exit_code == 0
    coach.write(session("a1", DEC_10 + timedelta(hours=3)))
    assert cli(coach, "sync").exit_code == 0
    return coach


def trail(coach: Coach) -> tuple[object, object, object]:
    [record] = json.loads(cli(coach, "history", "--json").output)
    return record["excused"], record["reason"], record["excuses"]


def test_excusing_again_is_refused_naming_the_earlier_reason(moved: Coach) -> None:
    first = cli(moved, "excuse", "1", "--reason", "ill with flu", at=NOW + timedelta(hours=1))
    again = cli(moved, "excuse", "1", "--reason", "coach-initiated", at=NOW + timedelta(hours=2))

    assert (first.exit_code, again.exit_code) == (0, 2)
    assert again.output == (
        "coachsync: change 1 is already excused: 'ill with flu'; "
        "give --replace to replace that reason (the earlier one is kept in the record's history)\n"
    )
    assert trail(moved) == (
        True,
        "ill with flu",
        [{"reason": "ill with flu", "at": "2026-12-01T14:00:00+01:00", "taken_back": False}],
    )


def test_the_same_reason_again_changes_nothing(moved: Coach) -> None:
    cli(moved, "excuse", "1", "--reason", "ill with flu", at=NOW + timedelta(hours=1))
    again = cli(moved, "excuse", "1", "--reason", "ill  with flu", at=NOW + timedelta(hours=2))

    assert (again.exit_code, again.output) == (0, "change 1 (moved, Alice Example) is already excused: ill with flu\n")
    assert trail(moved)[2] == [{"reason": "ill with flu", "at": "2026-12-01T14:00:00+01:00", "taken_back": False}]


def test_replace_keeps_the_earlier_reason_in_the_trail(moved: Coach) -> None:
    cli(moved, "excuse", "1", "--reason", "ill with flu", at=NOW + timedelta(hours=1))
    replaced = cli(moved, "excuse", "1", "--reason", "flu, with a note", "--replace", at=NOW + timedelta(hours=2))

    assert (replaced.exit_code, replaced.output) == (
        0,
        "change 1 (moved, Alice Example) excused: flu, with a note (was: ill with flu)\n",
    )
    assert trail(moved) == (
        True,
        "flu, with a note",
        [
            {"reason": "ill with flu", "at": "2026-12-01T14:00:00+01:00", "taken_back": False},
            {"reason": "flu, with a note", "at": "2026-12-01T15:00:00+01:00", "taken_back": False},
        ],
    )


def test_replace_on_a_change_not_yet_excused_just_excuses_it(moved: Coach) -> None:
    result = cli(moved, "excuse", "1", "--reason", "illness", "--replace", at=NOW + timedelta(hours=1))

    assert (result.exit_code, result.output) == (0, "change 1 (moved, Alice Example) excused: illness\n")
    assert trail(moved) == (
        True,
        "illness",
        [{"reason": "illness", "at": "2026-12-01T14:00:00+01:00", "taken_back": False}],
    )


def test_an_excuse_recorded_before_the_trail_existed_opens_it_without_a_time(tmp_path: Path) -> None:
    shutil.copytree(SCHEMA_3, tmp_path / "state", ignore=shutil.ignore_patterns("*.ics", "*.yaml", "plugins"))
    path = tmp_path / "state" / "coachsync.db"

    with Store(path) as store:
        excused = [(r.id, r.reason, r.excuses) for r in store.history.records() if r.excused]

    assert excused == [(1, "ill with flu", (Excuse("ill with flu", None),))]
