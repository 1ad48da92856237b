"""Dismissing a suggestion: it leaves the default listing, stays in the record with when and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from support.cli import cli
from support.ical import HOUR, session
from support.plugin_world import plugin_coach, plugin_file
from support.scenario import NOW, Coach, rows

DEC_10 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
LATER = NOW + 2 * HOUR  # 15:00 in Berlin


@pytest.fixture
def advised(tmp_path: Path) -> Coach:
    """Suggestion 1 is about Alice, suggestion 2 about Bob."""
    coach = plugin_coach(tmp_path, {"summary_fee": plugin_file("summary_fee")}, "summary_fee: {enabled: true}\n")
    coach.write(session("a1", DEC_10), session("b1", DEC_10 + 24 * HOUR, "bob@example.com"))
    assert cli(coach, "sync").exit_code == 0
    coach.write(session("a1", DEC_10 + HOUR))
    assert cli(coach, "sync").exit_code == 0
    return coach


def test_a_dismissed_suggestion_leaves_the_listing_and_all_shows_it_with_why(advised: Coach) -> None:
    dismissed = cli(advised, "suggestions", "dismiss", "1", "--reason", " talked  it through\n", at=LATER)

    assert (dismissed.exit_code, dismissed.stdout) == (
        0,
        "suggestion 1 (Alice Example, summary_fee) dismissed: talked it through;"
        " `coachsync suggestions --all` still shows it\n",
    )
    assert cli(advised, "suggestions").stdout == (
        "#2  2026-12-01 13:00  Bob Builder  (summary_fee)\n    talk with Bob Builder\n    about Coaching\n\n"
    )
    assert cli(advised, "suggestions", "--all").stdout == (
        "#1  2026-12-01 13:00  Alice Example  (summary_fee)  dismissed 2026-12-01 15:00: talked it through\n"
        "    talk with Alice Example\n    about Coaching\n\n"
        "#2  2026-12-01 13:00  Bob Builder  (summary_fee)\n    talk with Bob Builder\n    about Coaching\n\n"
    )
    listed = json.loads(cli(advised, "suggestions", "--all", "--json").stdout)
    assert [(s["id"], s["dismissed_at"], s["dismissal_reason"]) for s in listed] == [
        (1, "2026-12-01T15:00:00+01:00", "talked it through"),
        (2, None, None),
    ]
    assert [s["id"] for s in json.loads(cli(advised, "suggestions", "--json").stdout)] == [2]
    assert rows(advised, "SELECT id, text FROM suggestions ORDER BY id") == [
        (1, "talk with Alice Example\nabout Coaching"),
        (2, "talk with Bob Builder\nabout Coaching"),
    ]


def test_dismissing_twice_keeps_the_first_dismissal(advised: Coach) -> None:
    cli(advised, "suggestions", "dismiss", "2", at=LATER)
    again = cli(advised, "suggestions", "dismiss", "2", "--reason", "second thoughts", at=LATER + HOUR)

    assert (again.exit_code, again.stdout) == (
        0,
        "suggestion 2 (Bob Builder, summary_fee) was already dismissed on 2026-12-01 15:00\n",
    )
    assert rows(advised, "SELECT suggestion_id, dismissed_at, reason FROM suggestion_dismissals") == [
        (2, "2026-12-01T14:00:00+00:00", None)
    ]


def test_when_every_suggestion_is_dismissed_the_listing_says_how_to_see_them(advised: Coach) -> None:
    cli(advised, "suggestions", "dismiss", "1")
    cli(advised, "suggestions", "dismiss", "2")

    assert cli(advised, "suggestions").stdout == (
        "No open suggestions; `coachsync suggestions --all` shows the dismissed ones.\n"
    )
    assert cli(advised, "suggestions", "--json").stdout == "[]\n"


def test_dismissing_an_unknown_suggestion_exits_2_and_records_nothing(advised: Coach) -> None:
    result = cli(advised, "suggestions", "dismiss", "9")

    assert (result.exit_code, result.stderr) == (
        2,
        "coachsync: no suggestion with id 9; see `coachsync suggestions --all`\n",
    )
    assert rows(advised, "SELECT * FROM suggestion_dismissals") == []
