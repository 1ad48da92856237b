"""What the log says a policy did is what was recorded: a duplicate that was never queued is not counted."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from support.ical import HOUR, session
from support.plugin_world import plugin_coach, plugin_file
from support.scenario import NOW, OpenApp

DEC_10 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)


def acted(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int, int, int, int]]:
    return [
        (r.plugin, r.change, r.fees, r.emails, r.suggestions)  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "coachsync.policies" and r.getMessage() == "policy acted"
    ]


def test_a_duplicate_email_is_not_logged_as_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, open_app: OpenApp
) -> None:
    coach = plugin_coach(tmp_path, {"weekly_note": plugin_file("weekly_note")}, "weekly_note: {enabled: true}\n")
    coach.write(session("a1", DEC_10), session("a2", DEC_10 + 24 * HOUR))
    app = open_app(coach)
    app.sync_calendar("coaching", NOW)
    coach.write(session("a1", DEC_10 + HOUR), session("a2", DEC_10 + 25 * HOUR))

    with caplog.at_level(logging.INFO, logger="coachsync.policies"):
        app.sync_calendar("coaching", NOW)

    assert [m.subject for m in app.store.outbox.messages()] == ["This week's changes"]
    assert [(f.change_id, f.key) for f in app.store.ledger.fees()] == [
        (1, "1:weekly_note:fee:weekly"),
        (2, "2:weekly_note:fee:weekly"),
    ]
    assert acted(caplog) == [("weekly_note", 1, 1, 1, 0), ("weekly_note", 2, 1, 0, 0)]


def test_an_email_queued_on_an_earlier_pass_is_not_counted_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, open_app: OpenApp
) -> None:
    coach = plugin_coach(tmp_path, {"weekly_note": plugin_file("weekly_note")}, "weekly_note: {enabled: true}\n")
    coach.write(session("a1", DEC_10))
    app = open_app(coach)
    app.sync_calendar("coaching", NOW)
    coach.write(session("a1", DEC_10 + HOUR))
    app.sync_calendar("coaching", NOW)
    coach.write(session("a1", DEC_10 + 2 * HOUR))

    with caplog.at_level(logging.INFO, logger="coachsync.policies"):
        app.sync_calendar("coaching", NOW)

    assert len(app.store.outbox.messages()) == 1
    assert acted(caplog) == [("weekly_note", 2, 1, 0, 0)]
