"""Hooks are called through pluggy: costly arguments only for plugins that name them, and a trace on demand."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from coachsync.model import Occurrence
from coachsync.store.snapshots import Snapshots

from support.ical import HOUR, session
from support.plugin_world import FLAT_FEE, plugin_coach, plugin_file
from support.scenario import NOW, OpenApp

DEC_10 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
WITNESS = plugin_file("witness")


def count_session_reads(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """Every read of the upcoming sessions, the costliest hook argument, by the moment asked for."""
    reads: list[datetime] = []
    original = Snapshots.upcoming_sessions

    def counted(self: Snapshots, now: datetime) -> list[Occurrence]:
        reads.append(now)
        return original(self, now)

    monkeypatch.setattr(Snapshots, "upcoming_sessions", counted)
    return reads


def test_sessions_are_never_read_when_no_enabled_plugin_names_them(
    tmp_path: Path, open_app: OpenApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    coach = plugin_coach(tmp_path, {"flat_fee": FLAT_FEE}, "flat_fee: {enabled: true}\n")
    coach.write(session("a1", DEC_10), session("a2", DEC_10 + 24 * HOUR))
    app = open_app(coach)
    app.sync_calendar("coaching", NOW)
    reads = count_session_reads(monkeypatch)
    coach.write(session("a1", DEC_10 + HOUR), session("a2", DEC_10 + 25 * HOUR))

    app.sync_calendar("coaching", NOW)

    assert reads == []
    assert [f.change_id for f in app.store.ledger.fees()] == [1, 2]


def test_sessions_are_read_once_per_pass_for_a_plugin_that_names_them(
    tmp_path: Path, open_app: OpenApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    policies = "flat_fee: {enabled: true}\nwitness: {enabled: true}\n"
    coach = plugin_coach(tmp_path, {"flat_fee": FLAT_FEE, "witness": WITNESS}, policies)
    (tmp_path / "policies" / "templates").mkdir()
    for name in ("greeting.txt", "summary.txt"):
        (tmp_path / "policies" / "templates" / name).write_text("Subject: hi\n\nbody\n", encoding="utf-8")
    coach.write(session("a1", DEC_10), session("a2", DEC_10 + 24 * HOUR))
    app = open_app(coach)
    app.sync_calendar("coaching", NOW)
    reads = count_session_reads(monkeypatch)
    coach.write(session("a1", DEC_10 + HOUR), session("a2", DEC_10 + 25 * HOUR))

    app.sync_calendar("coaching", NOW)

    assert reads == [NOW]
    assert len(app.store.ledger.suggestions()) == 2


def test_trace_logs_every_hook_call_with_its_plugin_and_duration(
    tmp_path: Path, open_app: OpenApp, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("COACHSYNC_TRACE_PLUGINS", "1")
    coach = plugin_coach(tmp_path, {"flat_fee": FLAT_FEE}, "flat_fee: {enabled: true}\n")
    coach.write(session("a1", DEC_10))
    with caplog.at_level(logging.INFO, logger="coachsync.plugins"):
        app = open_app(coach)
        app.prepare()
        app.sync_calendar("coaching", NOW)
        coach.write(session("a1", DEC_10 + HOUR))
        app.sync_calendar("coaching", NOW)

    calls = [
        (r.getMessage(), r.hook, r.plugins, r.failed)  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "coachsync.plugins"
    ]
    assert calls == [
        ("hook called", "coachsync_policy_settings", "flat_fee", "no"),
        ("hook called", "coachsync_on_change", "flat_fee", "no"),
    ]
    durations = [float(r.ms) for r in caplog.records if r.name == "coachsync.plugins"]  # type: ignore[attr-defined]
    assert all(d >= 0 for d in durations)


def test_without_the_trace_no_hook_call_is_logged(
    tmp_path: Path, open_app: OpenApp, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("COACHSYNC_TRACE_PLUGINS", raising=False)
    coach = plugin_coach(tmp_path, {"flat_fee": FLAT_FEE}, "flat_fee: {enabled: true}\n")
    coach.write(session("a1", DEC_10))
    with caplog.at_level(logging.DEBUG, logger="coachsync.plugins"):
        app = open_app(coach)
        app.sync_calendar("coaching", NOW)
        coach.write(session("a1", DEC_10 + HOUR))
        app.sync_calendar("coaching", NOW)

    assert [r for r in caplog.records if r.name == "coachsync.plugins"] == []
    assert len(app.store.ledger.fees()) == 1
