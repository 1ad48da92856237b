"""Running policies: each plugin on its own, actions recorded with the change, exactly once."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from coachsync.app import App
from coachsync.model import FeeEntry, PolicyFailure, SuggestionEntry

from support.ical import HOUR, session, vevent
from support.plugin_world import BOOM, BOOM_FIXED, FLAT_FEE, install_plugin, plugin_coach, plugin_file
from support.scenario import NOW, Coach, OpenApp, rows

DEC_10 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)


def uids(app: App) -> dict[str, int]:
    return {r.change.uid: r.id for r in app.store.history.records()}


def test_every_enabled_plugin_runs_for_each_change_and_its_fee_is_recorded(tmp_path: Path, open_app: OpenApp) -> None:
    coach = plugin_coach(tmp_path, {"flat_fee": FLAT_FEE}, "flat_fee: {enabled: true, amount: 35}\n")
    admin = vevent("x1", DEC_10, DEC_10 + HOUR, summary="Admin")
    coach.write(session("a1", DEC_10), session("c1", DEC_10, email="", summary="Carmen"), admin)
    app = open_app(coach)
    app.sync_calendar("coaching", NOW)
    later = DEC_10 + 2 * HOUR
    coach.write(session("a1", later), session("c1", later, email="", summary="Carmen"), vevent("x1", later))

    app.sync_calendar("coaching", NOW)

    ids = uids(app)
    assert sorted(ids) == ["a1", "c1", "x1"]
    assert app.store.ledger.fees() == [
        FeeEntry(
            1, ids["a1"], "flat_fee", "Alice Example", Decimal("35.00"), "EUR", "owed", "moved session", None, NOW
        ),
        FeeEntry(2, ids["c1"], "flat_fee", "Carmen Diaz", Decimal("35.00"), "EUR", "owed", "moved session", None, NOW),
    ]
    assert rows(coach, "SELECT idempotency_key, amount FROM fees ORDER BY id") == [
        (f"{ids['a1']}:flat_fee:fee", "35.00"),
        (f"{ids['c1']}:flat_fee:fee", "35.00"),
    ]


def test_raising_plugin_is_isolated_logged_recorded_and_retried_until_it_succeeds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, open_app: OpenApp
) -> None:
    policies = "flat_fee: {enabled: true}\nboom: {enabled: true}\n"
    coach = plugin_coach(tmp_path, {"flat_fee": FLAT_FEE, "boom": BOOM}, policies)
    coach.write(session("a1", DEC_10))
    app = open_app(coach)
    app.sync_calendar("coaching", NOW)
    assert app.store.ledger.failures() == []  # a baseline records no change, so nothing runs
    coach.write(session("a1", DEC_10 + HOUR))

    with caplog.at_level(logging.INFO, logger="coachsync.policies"):
        app.sync_calendar("coaching", NOW)

    failed = [
        (r.levelname, r.getMessage(), r.plugin, r.change, r.error)  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "coachsync.policies" and r.levelno == logging.ERROR
    ]
    assert failed == [("ERROR", "policy failed", "boom", 1, "RuntimeError: cannot decide about change 1")]
    assert [(f.change_id, f.plugin, f.amount) for f in app.store.ledger.fees()] == [(1, "flat_fee", Decimal("40.00"))]
    assert app.store.ledger.failures() == [
        PolicyFailure(1, "boom", "RuntimeError: cannot decide about change 1", 1, NOW)
    ]

    app.sync_calendar("coaching", NOW + HOUR)  # the calendar is unchanged; the failed plugin runs again

    assert app.store.ledger.failures() == [
        PolicyFailure(1, "boom", "RuntimeError: cannot decide about change 1", 2, NOW + HOUR)
    ]
    assert len(app.store.ledger.fees()) == 1
    app.store.close()

    install_plugin(tmp_path / "policies", "boom", BOOM_FIXED)
    restarted = open_app(coach)
    restarted.sync_calendar("coaching", NOW + 2 * HOUR)
    restarted.sync_calendar("coaching", NOW + 3 * HOUR)

    assert restarted.store.ledger.suggestions() == [
        SuggestionEntry(1, 1, "boom", "Alice Example", "look at change 1", NOW + 2 * HOUR)
    ]
    assert restarted.store.ledger.failures() == []
    assert [(f.id, f.plugin) for f in restarted.store.ledger.fees()] == [(1, "flat_fee")]


CRASH = plugin_file("crash")


def test_a_process_killed_inside_the_pass_leaves_nothing_and_the_rerun_records_each_action_once(
    tmp_path: Path,
) -> None:
    policies = "flat_fee: {enabled: true}\ncrash: {enabled: true}\n"
    coach = plugin_coach(tmp_path, {"flat_fee": FLAT_FEE, "crash": CRASH}, policies)
    start = (datetime.now(UTC) + timedelta(days=9)).replace(minute=0, second=0, microsecond=0)

    def sync(*, crash: bool) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "COACHSYNC_TEST_CRASH"}
        if crash:
            env["COACHSYNC_TEST_CRASH"] = "1"
        command = [sys.executable, "-m", "coachsync", "--config", str(coach.config_path), "sync"]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)

    coach.write(session("a1", start))
    assert sync(crash=False).stdout == "coaching: baseline taken, 1 events\n"
    coach.write(session("a1", start + 2 * HOUR))

    killed = sync(crash=True)

    assert killed.returncode == 86
    assert rows(coach, "SELECT count(*) FROM changes") == [(0,)]
    assert rows(coach, "SELECT count(*) FROM fees") == [(0,)]

    rerun = sync(crash=False)
    again = sync(crash=False)

    assert (rerun.returncode, rerun.stdout) == (0, "coaching: 1 recorded (1 moved); 1 events, 1 re-read\n")
    assert (again.returncode, again.stdout) == (0, "coaching: unchanged\n")
    assert rows(coach, "SELECT id, kind FROM changes") == [(1, "moved")]
    assert rows(coach, "SELECT idempotency_key, change_id, amount FROM fees") == [("1:flat_fee:fee", 1, "40.00")]


REVISIT = plugin_file("revisit")


def test_a_once_per_action_is_recorded_once_across_changes_and_passes(tmp_path: Path, open_app: OpenApp) -> None:
    coach = plugin_coach(tmp_path, {"revisit": REVISIT}, "revisit: {enabled: true}\n")
    coach.write(session("a1", DEC_10), session("a2", DEC_10 + 24 * HOUR))
    app = open_app(coach)
    app.sync_calendar("coaching", NOW)
    coach.write(session("a1", DEC_10 + HOUR), session("a2", DEC_10 + 24 * HOUR))
    app.sync_calendar("coaching", NOW)
    coach.write(session("a1", DEC_10 + HOUR), session("a2", DEC_10 + 25 * HOUR))

    app.sync_calendar("coaching", NOW + HOUR)

    assert len(app.store.history.records()) == 2
    assert app.store.ledger.suggestions() == [
        SuggestionEntry(1, 1, "revisit", "Alice Example", "revisit the agreement with Alice Example", NOW)
    ]
    assert rows(coach, "SELECT idempotency_key FROM suggestions") == [("revisit:suggestion:Alice Example:revisit",)]
    assert app.store.ledger.failures() == []


@pytest.mark.parametrize(
    ("returned", "error"),
    [
        ("[Fee(40.0, 'EUR', 'late')]", "Fee amount must be a Decimal such as Decimal('40.00'), got 40.0"),
        ("[Fee(Decimal('0'), 'EUR', 'late')]", "Fee amount must be more than 0, got 0"),
        ("[Fee(Decimal('40'), 'euro', 'late')]", "Fee currency must be a 3-letter code such as 'EUR', got 'euro'"),
        (
            "[Suggestion('fine'), {'amount': 40}]",
            "returned dict {'amount': 40}; return Fee, Email or Suggestion values from coachsync.actions",
        ),
        ("Suggestion('one')", "coachsync_on_change returned one Suggestion; return a list of actions"),
        ("'a fee please'", "coachsync_on_change must return a list of actions or None, got str"),
        (
            "[Suggestion('a'), Suggestion('b')]",
            "returned two Suggestion actions with the key '1:bad:suggestion'; give each its own once_per",
        ),
        ("[Email('client', '', 'body')]", "Email subject must not be empty"),
        ("[Email('everyone', 'Hi', 'body')]", "Email to must be Recipient.CLIENT or Recipient.COACH, got 'everyone'"),
    ],
)
def test_an_invalid_action_is_the_plugins_failure_and_nothing_of_it_is_recorded(
    tmp_path: Path, returned: str, error: str, open_app: OpenApp
) -> None:
    settings = f"bad: {{enabled: true, returns: {json.dumps(returned)}}}\n"
    coach = plugin_coach(tmp_path, {"bad": plugin_file("invalid_action")}, settings)
    coach.write(session("a1", DEC_10))
    app = open_app(coach)
    app.sync_calendar("coaching", NOW)
    coach.write(session("a1", DEC_10 + HOUR))

    app.sync_calendar("coaching", NOW)

    assert app.store.ledger.failures() == [PolicyFailure(1, "bad", error, 1, NOW)]
    assert (app.store.ledger.fees(), app.store.ledger.suggestions()) == ([], [])
    assert rows(coach, "SELECT count(*) FROM outbox") == [(0,)]


MAILER = plugin_file("mailer")


def message_id(key: str) -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@example.com>"


def test_emails_go_to_the_clients_first_address_or_fail_saying_what_to_fix(tmp_path: Path, open_app: OpenApp) -> None:
    mail = "mail:\n  from: coach@example.com\n  coach_email: Me@Coach.example\n"
    coach = plugin_coach(tmp_path, {"mailer": MAILER}, "mailer: {enabled: true}\n", mail)
    sessions = [session("a1", DEC_10), session("b1", DEC_10, "bob@example.com"), session("c1", DEC_10, "", "Carmen")]
    coach.write(*sessions)
    app = open_app(coach)
    app.sync_calendar("coaching", NOW)
    coach.write(*(s.replace("20261210T090000Z", "20261210T100000Z") for s in sessions))
    app.sync_calendar("coaching", NOW)
    ids = uids(app)
    app.store.close()

    got = rows(
        coach,
        "SELECT idempotency_key, message_id, change_id, plugin, client, recipient, subject, body, status, error"
        " FROM outbox ORDER BY change_id, id",
    )
    expected = []
    for uid, name, address, status in [
        ("a1", "Alice Example", "alice@example.com", "pending_approval"),
        ("b1", "Bob Builder", "bob@example.com", "queued"),
        ("c1", "Carmen Diaz", None, "failed"),
    ]:
        change = ids[uid]
        error = f"client {name} has no email address; add emails: to the client in the config" if not address else None
        key = f"{change}:mailer:email"
        subject = f"Hello {name} Bcc: someone@example.org"
        expected.append((key, message_id(key), change, "mailer", name, address, subject, "How are you?", status, error))
        key = f"mailer:email:{change}:coach"
        subject = f"{name} moved a session"
        expected.append(
            (key, message_id(key), change, "mailer", name, "me@coach.example", subject, "See history.", "queued", None)
        )
    assert sorted(got) == sorted(expected)
    assert len(got) == 6


WITNESS = plugin_file("witness")


def test_a_plugin_sees_the_history_upcoming_sessions_settings_and_its_templates(
    tmp_path: Path, open_app: OpenApp
) -> None:
    mail = "mail:\n  templates_dir: my_templates\n"
    coach = plugin_coach(tmp_path, {"witness": WITNESS}, "witness: {enabled: true, note: kind}\n", mail)
    (tmp_path / "policies" / "templates").mkdir()
    (tmp_path / "policies" / "templates" / "greeting.txt").write_text("Subject: Hi {{ name }}\n\nPlugin's own.\n")
    (tmp_path / "policies" / "templates" / "summary.txt").write_text("Subject: Next\n\nNext: {{ summary }}\n")
    (tmp_path / "my_templates").mkdir()
    (tmp_path / "my_templates" / "greeting.txt").write_text("Subject: Dear {{ name }}\n\nThe coach's own.\n")
    third = session("a3", DEC_10 + 14 * 24 * HOUR, summary="{{ 7 * 7 }} {% raw %}")
    others = [session("a2", DEC_10 + 7 * 24 * HOUR), third, session("b1", DEC_10, "bob@example.com")]
    coach.write(session("a1", DEC_10), *others)
    app = open_app(coach)
    app.sync_calendar("coaching", NOW)
    coach.write(session("a1", DEC_10 + HOUR), *others)
    app.sync_calendar("coaching", NOW)
    coach.write(session("a1", DEC_10 + HOUR), *others[:1], others[2])
    app.sync_calendar("coaching", NOW + HOUR)

    seen = [json.loads(s.text) for s in app.store.ledger.suggestions()]
    app.store.close()

    alice = ["Alice Example", ["alice@example.com"]]
    a1 = ["a1", "2026-12-10T11:00:00+01:00", "Alice Example"]
    a2 = ["a2", "2026-12-17T10:00:00+01:00", "Alice Example"]
    a3 = ["a3", "2026-12-24T10:00:00+01:00", "Alice Example"]
    greeting = ["Dear Alice Example", "The coach's own.\n"]
    assert seen == [
        {
            "change": [1, "moved", False],
            "history": [],
            "client": alice,
            "sessions": [a1, a2, a3],
            "settings": [True, "kind"],
            "now": "2026-12-01T12:00:00+00:00",
            "greeting": greeting,
            "summary": ["Next", "Next: {{ 7 * 7 }} {% raw %}\n"],
        },
        {
            "change": [2, "cancelled", False],
            "history": [[1, "moved"]],
            "client": alice,
            "sessions": [a1, a2],
            "settings": [True, "kind"],
            "now": "2026-12-01T13:00:00+00:00",
            "greeting": greeting,
            "summary": ["Next", "Next: Coaching\n"],
        },
    ]


FLAKY_FEE = plugin_file("flaky_fee")


def test_excusing_a_change_waives_its_fee_even_one_recorded_by_a_later_retry(tmp_path: Path, open_app: OpenApp) -> None:
    coach = plugin_coach(
        tmp_path,
        {"flat_fee": FLAT_FEE, "flaky_fee": FLAKY_FEE},
        "flat_fee: {enabled: true}\nflaky_fee: {enabled: true}\n",
    )
    (tmp_path / "policies" / "fee-service-down").touch()
    coach.write(session("a1", DEC_10))
    app = open_app(coach)
    app.sync_calendar("coaching", NOW)
    coach.write(session("a1", DEC_10 + HOUR))
    app.sync_calendar("coaching", NOW)
    assert [(f.plugin, f.status) for f in app.store.ledger.fees()] == [("flat_fee", "owed")]

    app.excuse(1, "illness")
    (tmp_path / "policies" / "fee-service-down").unlink()
    app.sync_calendar("coaching", NOW + HOUR)

    assert [(f.id, f.plugin, f.status, f.waived_reason) for f in app.store.ledger.fees()] == [
        (1, "flat_fee", "waived", "change excused: illness"),
        (2, "flaky_fee", "waived", "change excused: illness"),
    ]
    assert app.store.ledger.failures() == []


def test_a_fee_for_an_event_of_no_client_is_refused(tmp_path: Path, open_app: OpenApp) -> None:
    coach = plugin_coach(tmp_path, {"flaky_fee": FLAKY_FEE}, "flaky_fee: {enabled: true}\n")
    coach.write(vevent("x1", DEC_10, DEC_10 + HOUR, summary="Admin"))
    app = open_app(coach)
    app.sync_calendar("coaching", NOW)
    coach.write(vevent("x1", DEC_10 + HOUR, DEC_10 + 2 * HOUR, summary="Admin"))
    app.sync_calendar("coaching", NOW)

    assert app.store.ledger.failures() == [
        PolicyFailure(
            1, "flaky_fee", "returned a Fee for change 1, which belongs to no client; charge only clients", 1, NOW
        )
    ]
    assert app.store.ledger.fees() == []


def test_a_coach_without_plugins_dir_runs_only_installed_plugins(coach: Coach, app: App) -> None:
    assert app.plugins.settings == {}
    assert [i.source for i in app.plugins.infos] == ["built-in"] * 6
