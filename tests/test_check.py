"""`coachsync check`: what a coach sees before trusting the daemon, and its exit codes 0, 1 and 2."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result

from coachsync.store import SCHEMA_VERSION, Store

from support.cli import cli
from support.http_calendar import FakeCalendarServer
from support.ical import session
from support.ports import free_port
from support.scenario import NOW, Coach
from support.smtp_server import SmtpHandler, smtp_server

HOUR = timedelta(hours=1)
RELEASE_0_1_0 = Path(__file__).parent / "data" / "release-0.1.0"
DEC_10 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)


def check(coach: Coach) -> Result:
    return cli(coach, "check", at=NOW)


@pytest.fixture
def coach(tmp_path) -> Coach:  # type: ignore[no-untyped-def]
    coach = Coach(tmp_path, extra_yaml="mail:\n  outbox_dir: outbox\n")
    coach.write(
        session("a0", NOW - 48 * HOUR, "alice@example.com"),  # past: not upcoming
        session("a1", DEC_10 + 7 * 24 * HOUR, "alice@example.com"),
        session("a2", DEC_10, None, "Alice check-in"),  # matched by alias
        session("b1", DEC_10 + 24 * HOUR, "bob@example.com"),
        session("t1", DEC_10 + 48 * HOUR, None, "Team offsite"),
        session("t2", DEC_10 + 72 * HOUR, summary="Dentist", email="dentist@example.org"),
    )
    return coach


def report(coach: Coach) -> str:
    return (
        f"config {coach.config_path}: ok\n"
        f"database: not created yet (the first pass creates {coach.root / 'state' / 'coachsync.db'})\n"
        "plugins: ok, enabled: none\n"
        "calendar coaching: ok, 6 events\n"
        "  Alice Example: 2 upcoming, next 2026-12-10 10:00\n"
        "  Bob Builder: 1 upcoming, next 2026-12-11 10:00\n"
        "  Carmen Diaz: 0 upcoming\n"
        "  no client: 2 upcoming, next 2026-12-12 10:00\n"
    )


def test_check_lists_whose_sessions_are_whose_and_records_nothing(coach: Coach) -> None:
    result = check(coach)

    assert (result.exit_code, result.output) == (
        0,
        report(coach) + f"mail: outbox mode, nothing is sent; messages go to {coach.root / 'outbox'}\nall good\n",
    )
    assert sorted(p.name for p in coach.root.iterdir()) == ["coaching.ics", "config.yaml"]


def test_check_reads_an_existing_database_and_writes_nothing_to_it(coach: Coach) -> None:
    database = coach.root / "state" / "coachsync.db"
    assert cli(coach, "sync", at=NOW).exit_code == 0
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in database.parent.iterdir()}

    result = check(coach)

    assert result.exit_code == 0
    assert result.output.splitlines()[1] == f"database {database}: ok"
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in database.parent.iterdir()} == before
    assert before.keys() == {"coachsync.db"}


def test_check_reads_a_database_of_an_older_schema_without_upgrading_it(coach: Coach) -> None:
    database = coach.root / "state" / "coachsync.db"
    shutil.copytree(RELEASE_0_1_0, database.parent, ignore=shutil.ignore_patterns("*.ics"))
    before = [database.read_bytes(), Path(f"{database}-wal").read_bytes()]  # a release 0.1.0 daemon had it open

    result = check(coach)

    assert (result.exit_code, result.output.splitlines()[1]) == (0, f"database {database}: ok")
    assert [database.read_bytes(), Path(f"{database}-wal").read_bytes()] == before
    with Store(database) as store:  # the first pass upgrades it, as always
        assert store.schema_version == SCHEMA_VERSION


def test_an_unreachable_calendar_exits_1_and_the_others_are_still_checked(
    coach: Coach, server: FakeCalendarServer
) -> None:
    text = coach.config_path.read_text()
    coach.config_path.write_text(
        text.replace("calendars:\n", f"calendars:\n  - name: booking\n    ics_url: {server.url('/gone.ics')}\n")
    )

    result = check(coach)

    assert result.exit_code == 1
    port = server.server_address[1]
    assert result.output == (
        f"config {coach.config_path}: ok\n"
        f"database: not created yet (the first pass creates {coach.root / 'state' / 'coachsync.db'})\n"
        "plugins: ok, enabled: none\n"
        f'calendar booking: FAILED: calendar "booking" (http://127.0.0.1:{port}/…): answered HTTP 404 Not Found; '
        "check the URL; the calendar may have been moved, deleted or unshared\n"
        + report(coach).split("none\n", 1)[1]
        + f"mail: outbox mode, nothing is sent; messages go to {coach.root / 'outbox'}\n"
        "1 problem found\n"
    )


def smtp_yaml(port: int, username: str | None = "coach") -> str:
    login = f"    username: {username}\n" if username else ""
    return (
        "mail:\n  mode: smtp\n  from: coach@example.com\n  smtp:\n"
        f"    host: 127.0.0.1\n    port: {port}\n{login}    starttls: false\n"
    )


def test_check_logs_in_to_the_mail_server(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COACHSYNC_SMTP_PASSWORD", "s3cret")
    with smtp_server(SmtpHandler(password="s3cret")) as (controller, handler):
        coach = Coach(tmp_path, extra_yaml=smtp_yaml(controller.port))
        result = check(coach)

    assert result.exit_code == 0
    assert result.output.splitlines()[-2:] == [f"smtp 127.0.0.1:{controller.port}: ok, logged in as coach", "all good"]
    assert handler.logins == [("coach", "s3cret")]
    assert handler.received == []


def test_check_greets_a_relay_that_needs_no_login(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with smtp_server() as (controller, handler):
        coach = Coach(tmp_path, extra_yaml=smtp_yaml(controller.port, username=None))
        result = check(coach)

    assert result.exit_code == 0
    assert result.output.splitlines()[-2:] == [f"smtp 127.0.0.1:{controller.port}: ok", "all good"]
    assert handler.logins == []


def test_a_wrong_smtp_password_exits_1_and_says_what_to_check(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COACHSYNC_SMTP_PASSWORD", "n0t-th3-pa55word")
    with smtp_server(SmtpHandler(password="s3cret")) as (controller, _):
        coach = Coach(tmp_path, extra_yaml=smtp_yaml(controller.port))
        result = check(coach)

    assert result.exit_code == 1
    assert result.output.splitlines()[-2:] == [
        f"smtp 127.0.0.1:{controller.port}: FAILED: login refused for 'coach' (reply 535); "
        "check mail.smtp.username and the password",
        "1 problem found",
    ]
    assert "n0t-th3-pa55word" not in result.output


def test_a_missing_smtp_password_names_every_place_it_may_come_from(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("COACHSYNC_SMTP_PASSWORD", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    port = free_port()
    coach = Coach(tmp_path, extra_yaml=smtp_yaml(port))

    result = check(coach)

    assert result.exit_code == 1
    assert result.output.splitlines()[-2] == (
        f"smtp 127.0.0.1:{port}: FAILED: mail.smtp.username is set but no password was found; "
        "set mail.smtp.password_command, $COACHSYNC_SMTP_PASSWORD or the systemd credential smtp-password"
    )


def test_an_smtp_server_that_is_not_there_exits_1(tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    coach = Coach(tmp_path, extra_yaml=smtp_yaml(port, username=None))

    result = check(coach)

    assert result.exit_code == 1
    assert result.output.splitlines()[-2:] == [
        f"smtp 127.0.0.1:{port}: FAILED: cannot connect: Connection refused; check mail.smtp.host and port",
        "1 problem found",
    ]


def test_a_config_error_exits_2_with_the_file_and_line(coach: Coach) -> None:
    coach.config_path.write_text("calendars:\n  - name: coaching\n    ics_file: coaching.ics\n    poll_interval: 0\n")

    result = check(coach)

    assert (result.exit_code, result.output) == (
        2,
        f"{coach.config_path}:4: calendars[0].poll_interval: must be greater than 0, got 0\n",
    )
