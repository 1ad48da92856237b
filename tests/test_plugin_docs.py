"""The plugin author guide keeps up with the code: every hook and action documented, the example runs."""

from __future__ import annotations

import inspect
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import get_args

from coachsync import actions, hookspecs

from support.cli import cli
from support.ical import session
from support.scenario import Coach, rows

REPO = Path(__file__).resolve().parent.parent
GUIDE = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
EXAMPLE = REPO / "docs" / "examples" / "late_cancellation.py"


def test_every_hookspec_has_a_section_in_the_guide_and_every_section_a_hookspec() -> None:
    specs = {
        name
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, f"{hookspecs.PROJECT}_spec")
    }
    sections = set(re.findall(r"^## (coachsync_\w+)$", GUIDE, flags=re.MULTILINE))

    assert specs == {"coachsync_daily", "coachsync_on_change", "coachsync_policy_settings"}
    assert sections == specs


def test_every_action_and_recipient_has_a_section_in_the_guide() -> None:
    documented = set(re.findall(r"^### `(\w+)`$", GUIDE, flags=re.MULTILINE))

    assert {kind.__name__ for kind in get_args(actions.Action)} | {"Recipient"} == documented


def test_the_guide_shows_the_example_plugin_as_it_is_in_the_repository() -> None:
    start = GUIDE.index("```python\n", GUIDE.index("## A worked example")) + len("```python\n")
    shown = GUIDE[start : GUIDE.index("```\n", start)]
    template = (EXAMPLE.parent / "templates" / "late_cancellation.txt").read_text(encoding="utf-8")

    assert shown == EXAMPLE.read_text(encoding="utf-8")
    assert f"```\n{template}```\n" in GUIDE


def test_the_example_plugin_runs_end_to_end_from_plugins_dir(tmp_path: Path) -> None:
    policies = "policies:\n  late_cancellation: {enabled: true, amount: 30, currency: EUR}\n"
    coach = Coach(tmp_path, extra_yaml=f"plugins_dir: {EXAMPLE.parent}\n{policies}")
    first = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
    second = first + timedelta(days=7)
    bob = session("b1", first, "bob@example.com")
    coach.write(session("a1", first), session("a2", second), bob)
    assert cli(coach, "sync", at=first - timedelta(days=3)).exit_code == 0

    coach.write(session("a2", second), bob)  # 5 hours' notice, the free one; a2 is still booked
    assert cli(coach, "sync", at=first - timedelta(hours=5)).exit_code == 0
    coach.write(bob)  # 2 hours' notice, and nothing left booked
    assert cli(coach, "sync", at=second - timedelta(hours=2)).exit_code == 0

    fees = json.loads(cli(coach, "fees", "--json").stdout)
    suggestions = json.loads(cli(coach, "suggestions", "--json").stdout)
    plugins = json.loads(cli(coach, "plugins", "--json").stdout)
    assert fees == [
        {
            "id": 1,
            "client": "Alice Example",
            "change_id": 2,
            "amount": "30.00",
            "currency": "EUR",
            "status": "owed",
            "reason": "Thursday 17 December, 10:00 cancelled with 2 h notice",
            "waived_reason": None,
            "paid_on": None,
            "steps": [],
        }
    ]
    assert suggestions == [
        {
            "id": 1,
            "client": "Alice Example",
            "plugin": "late_cancellation",
            "text": "Alice Example cancelled Thursday 17 December, 10:00 late and has nothing booked;"
            " reach out to rebook.",
            "created_at": "2026-12-17T08:00:00+01:00",
            "dismissed_at": None,
            "dismissal_reason": None,
        }
    ]
    assert rows(coach, "SELECT change_id, plugin, recipient, subject, body, status FROM outbox") == [
        (
            2,
            "late_cancellation",
            "alice@example.com",
            "Shall we find a new time, Alice Example?",
            "Hi Alice Example,\n\nI'm sorry we couldn't meet on Thursday 17 December, 10:00. Whenever you are"
            " ready, reply\nwith a few times that suit you and we will pick up where we left off.\n\nWarmly,\n"
            "your coach\n",
            "pending_approval",
        )
    ]
    assert [p for p in plugins if p["name"] == "late_cancellation"] == [
        {
            "name": "late_cancellation",
            "source": "local file",
            "origin": str(EXAMPLE),
            "version": None,
            "enabled": True,
            "hooks": ["coachsync_on_change", "coachsync_policy_settings"],
        }
    ]


def test_the_guide_shows_the_daily_example_as_it_is_in_the_repository() -> None:
    start = GUIDE.index("```python\n", GUIDE.index("A worked example, `docs/examples/quiet_client.py`")) + len(
        "```python\n"
    )
    shown = GUIDE[start : GUIDE.index("```\n", start)]

    assert shown == (EXAMPLE.parent / "quiet_client.py").read_text(encoding="utf-8")
