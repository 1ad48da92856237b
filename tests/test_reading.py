"""The config snapshot a reading command starts from: the same settings as the file, never stale, only a cache."""

from __future__ import annotations

import json
import stat
from datetime import date, timedelta
from pathlib import Path

import pytest

from coachsync import reading
from coachsync.agreement import Cadence, Period, PeriodKind, Terms
from coachsync.app import App
from coachsync.clients import ClientRule
from coachsync.config import load_config
from coachsync.reading import ReadingConfig, read_snapshot, snapshot_file, write_snapshot
from coachsync.store import Store

from support.cli import cli, run_fresh
from support.ical import session
from support.scenario import NOW, Coach

AGREEMENTS = """\
agreement:
  notice_hours: 36
  cadence: fortnightly
  allowance: {reschedules: 2, per: quarter}
"""

ALICE_OWN_TERMS = """\
    agreement:
      notice_hours: 12
      cadence: every 10 days
      allowance: {reschedules: 1, per: 30 days}
      started: 2026-09-01
"""


def _coach(tmp_path: Path) -> Coach:
    coach = Coach(tmp_path, extra_yaml=AGREEMENTS)
    text = coach.config_path.read_text(encoding="utf-8")
    # Alice's own agreement goes right under her aliases, inside her entry.
    coach.config_path.write_text(text.replace("    aliases: [Alice]\n", "    aliases: [Alice]\n" + ALICE_OWN_TERMS))
    return coach


def test_a_snapshot_holds_exactly_what_the_validated_config_gives_reading_commands(tmp_path: Path) -> None:
    coach = _coach(tmp_path)
    config = load_config(coach.config_path)

    write_snapshot(config.reading(), config.source_digest)
    snapshot = read_snapshot(coach.config_path)

    assert snapshot == ReadingConfig(
        path=coach.config_path,
        database=tmp_path / "state" / "coachsync.db",
        timezone="Europe/Berlin",
        calendars=("coaching",),
        clients=(
            ClientRule("Alice Example", ("alice@example.com",), ("Alice",)),
            ClientRule("Bob Builder", ("bob@example.com",), ()),
            ClientRule("Carmen Diaz", (), ("Carmen",)),
        ),
        default_terms=Terms(36.0, Cadence(14, "fortnightly"), 2, Period(PeriodKind.QUARTER)),
        client_terms={
            "Alice Example": Terms(12.0, Cadence(10, "every 10 days"), 1, Period(PeriodKind.DAYS, 30), date(2026, 9, 1))
        },
    )
    for client in ("Alice Example", "Bob Builder", None):
        assert snapshot.agreement_for(client) == config.agreement_for(client)


def test_a_snapshot_is_readable_by_the_coach_alone(tmp_path: Path) -> None:
    coach = _coach(tmp_path)
    config = load_config(coach.config_path)

    write_snapshot(config.reading(), config.source_digest)

    assert stat.S_IMODE(snapshot_file(coach.config_path).stat().st_mode) == 0o600
    assert stat.S_IMODE(snapshot_file(coach.config_path).parent.stat().st_mode) == 0o700


def test_an_edited_config_a_newer_coachsync_or_another_file_never_reads_an_old_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    coach = _coach(tmp_path)
    config = load_config(coach.config_path)
    write_snapshot(config.reading(), config.source_digest)
    assert read_snapshot(coach.config_path) is not None

    monkeypatch.setattr(reading, "__version__", "99.0")
    assert read_snapshot(coach.config_path) is None
    monkeypatch.undo()

    other = tmp_path / "copy.yaml"
    other.write_text(coach.config_path.read_text(encoding="utf-8"), encoding="utf-8")
    assert read_snapshot(other) is None

    with coach.config_path.open("a", encoding="utf-8") as file:
        file.write("# an edit the snapshot has not seen\n")
    assert read_snapshot(coach.config_path) is None


@pytest.mark.parametrize(
    "damage",
    ["", "{not json", "[]", '{"key": 1}'],
    ids=["empty", "truncated", "not an object", "wrong key"],
)
def test_a_damaged_snapshot_is_ignored(tmp_path: Path, damage: str) -> None:
    coach = _coach(tmp_path)
    config = load_config(coach.config_path)
    write_snapshot(config.reading(), config.source_digest)
    snapshot_file(coach.config_path).write_text(damage, encoding="utf-8")

    assert read_snapshot(coach.config_path) is None


def test_a_snapshot_with_the_right_key_but_broken_settings_is_ignored(tmp_path: Path) -> None:
    coach = _coach(tmp_path)
    config = load_config(coach.config_path)
    write_snapshot(config.reading(), config.source_digest)
    stored = json.loads(snapshot_file(coach.config_path).read_text(encoding="utf-8"))
    stored["agreement"]["per"] = "fortnight"
    snapshot_file(coach.config_path).write_text(json.dumps(stored), encoding="utf-8")

    assert read_snapshot(coach.config_path) is None


def test_a_cache_that_cannot_be_written_costs_nothing_but_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    coach = _coach(tmp_path)
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))

    done = cli(coach, "history")

    assert (done.exit_code, done.stdout, done.stderr) == (0, "No reschedules recorded yet.\n", "")
    assert read_snapshot(coach.config_path) is None


def test_an_app_opened_from_the_snapshot_validates_the_whole_file_when_asked_for_it(tmp_path: Path) -> None:
    coach = _coach(tmp_path)
    config = load_config(coach.config_path)
    write_snapshot(config.reading(), config.source_digest)
    snapshot = read_snapshot(coach.config_path)
    assert snapshot is not None

    app = App(snapshot, Store(snapshot.database), prepare=False)
    try:
        assert app.reading is snapshot
        assert app.config.model_dump() == config.model_dump()
        assert app.config.reading() == snapshot
    finally:
        app.close()


def _cancel_alice(coach: Coach) -> None:
    start = NOW + timedelta(days=2)
    coach.write(session("alice-1", start, summary="Coaching: Alice"))
    assert cli(coach, "sync", at=NOW - timedelta(days=1)).exit_code == 0
    coach.write()
    assert cli(coach, "sync").exit_code == 0


def test_history_after_an_edit_of_the_agreement_shows_the_new_terms(tmp_path: Path) -> None:
    coach = _coach(tmp_path)
    _cancel_alice(coach)
    before = cli(coach, "history", "--json")
    text = coach.config_path.read_text(encoding="utf-8")
    coach.config_path.write_text(text.replace("reschedules: 1, per: 30 days", "reschedules: 3, per: 30 days"))

    after = cli(coach, "history", "--json")

    assert [(r["allowance_used"], r["allowance"]) for r in json.loads(before.stdout)] == [(1, 1)]
    assert [(r["allowance_used"], r["allowance"]) for r in json.loads(after.stdout)] == [(1, 3)]


def test_history_on_an_unchanged_config_prints_the_same_without_validating_it_again(tmp_path: Path) -> None:
    coach = _coach(tmp_path)
    _cancel_alice(coach)
    snapshot_file(coach.config_path).unlink()  # as before the first command after an upgrade

    first, first_run = run_fresh(tmp_path, "--config", str(coach.config_path), "history")
    second, second_run = run_fresh(tmp_path, "--config", str(coach.config_path), "history")

    assert (first_run["exit"], second_run["exit"]) == (0, 0)
    assert ("pydantic" in first_run["heavy"], "pydantic" in second_run["heavy"]) == (True, False)
    assert second == first
    assert "Alice Example" in first and "1 of 1" in first


@pytest.mark.parametrize(
    "command",
    [("clients",), ("sessions",), ("agreement", "show", "Alice Example"), ("fees",), ("outbox",), ("suggestions",)],
    ids=" ".join,
)
def test_every_reading_command_starts_from_the_snapshot(tmp_path: Path, command: tuple[str, ...]) -> None:
    coach = _coach(tmp_path)
    _cancel_alice(coach)
    snapshot_file(coach.config_path).unlink()

    validated, validated_run = run_fresh(tmp_path, "--config", str(coach.config_path), *command)
    from_snapshot, snapshot_run = run_fresh(tmp_path, "--config", str(coach.config_path), *command)

    assert (validated_run["exit"], snapshot_run["exit"]) == (0, 0)
    assert ("pydantic" in validated_run["heavy"], "pydantic" in snapshot_run["heavy"]) == (True, False)
    assert from_snapshot == validated
