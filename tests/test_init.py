"""`coachsync init`: from a real calendar (a file, a Radicale server) to a config `check` accepts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner, Result

from coachsync.cli import main
from coachsync.config import load_config
from coachsync.model import Occurrence
from coachsync.onboarding import Proposal, ProposedClient, propose_clients
from coachsync.sources.caldav import PASSWORD_ENV

from support.caldav_servers import CALENDAR_NAME, PASSWORD, USERNAME, CaldavServer, running
from support.http_calendar import FakeCalendarServer, Route
from support.ical import vcalendar, vevent
from support.scenario import NOW

COACH = ("ORGANIZER;CN=Coach:mailto:coach@example.com", "ATTENDEE;CN=Coach:mailto:coach@example.com")


def alice_weekly() -> str:
    return vevent(
        "alice-weekly",
        "DTSTART:20261203T090000Z",
        "DTEND:20261203T100000Z",
        summary="Coaching – Alice",
        rrule="FREQ=WEEKLY;COUNT=4",
        extra=(*COACH, "ATTENDEE;CN=Alice Example:mailto:Alice@Example.com"),
    )


def bob(uid: str, day: int, email: str) -> str:
    start = f"DTSTART:202612{day:02d}T140000Z"
    end = f"DTEND:202612{day:02d}T150000Z"
    return vevent(
        uid, start, end, summary="Bob – leadership", extra=(*COACH, f"ATTENDEE;CN=Bob Builder:mailto:{email}")
    )


def fixture_events() -> list[str]:
    return [
        alice_weekly(),
        bob("bob-1", 4, "bob@example.com"),
        bob("bob-2", 11, "bob.builder@work.example.org"),
        vevent(
            "carmen-series",
            "DTSTART:20261207T170000Z",
            "DTEND:20261207T180000Z",
            summary="Career session with Carmen Díaz",
            rrule="FREQ=WEEKLY;COUNT=3",
        ),
        vevent("dentist", "DTSTART:20261209T080000Z", "DTEND:20261209T090000Z", summary="Dentist"),
        vevent(
            "review",
            "DTSTART:20261205T070000Z",
            "DTEND:20261205T073000Z",
            summary="Weekly review",
            rrule="FREQ=WEEKLY;COUNT=5",
        ),
        # Neither proposes a client: Dana's session is past, Eve's is cancelled.
        vevent("dana-past", "DTSTART:20261120T090000Z", "DTEND:20261120T100000Z", attendees=("dana@example.net",)),
        vevent(
            "eve-cancelled",
            "DTSTART:20261215T090000Z",
            "DTEND:20261215T100000Z",
            status="CANCELLED",
            attendees=("eve@example.net",),
        ),
    ]


PROPOSED = [
    "Proposed clients (3):",
    "  Alice Example <alice@example.com>, alias Alice: 4 upcoming sessions",
    "  Bob Builder <bob.builder@work.example.org>, <bob@example.com>, alias Bob: 2 upcoming sessions",
    "  Carmen Díaz, alias Carmen: 3 upcoming sessions",
    "Left out 1 event that looks personal (no attendee, no recurrence)"
    " and 1 recurring event with no attendee and no name in the title.",
]

CLIENTS_YAML = """\
clients:
  - name: Alice Example
    emails: [alice@example.com]
    aliases: [Alice]
  - name: Bob Builder
    emails: [bob.builder@work.example.org, bob@example.com]
    aliases: [Bob]
  - name: Carmen Díaz
    aliases: [Carmen]
"""


def expected_config(calendar: str, clients: str = CLIENTS_YAML) -> str:
    return f"""\
# yaml-language-server: $schema=coachsync-schema.json
# coachsync config, written by `coachsync init`. Every key is explained in
# docs/config.md; `coachsync check` tests the whole file.

# Your time zone: for events without one, for all-day events, and for the times shown.
timezone: Europe/Berlin

calendars:
  - name: coaching
{calendar}
# Your coaching agreement: the terms every client has unless their own entry
# overrides one (clients[i].agreement takes the same keys).
agreement:
  notice_hours: 48    # a change with less notice than this is late
  # cadence: weekly    # how often sessions are meant to happen: weekly, fortnightly, monthly, every N days
  allowance:
    reschedules: 2    # changes that are fine in each period
    per: 90 days

# Your clients. A session is a client's when an attendee has one of their emails,
# else when one of their aliases, or their name, is a whole word of its title.
# Add one later with: coachsync init --add-client NAME --email ADDRESS --alias WORD
{clients}
# The built-in policies, all off: turn one on with enabled: true.
# Each is described in docs/config.md under "Built-in policies".
policies:
  fee: {{enabled: false}}               # a fee for each late change beyond the allowance; needs amount and currency
  escalation_email: {{enabled: false}}  # a warm check-in email when a client goes over the allowance
  end_engagement: {{enabled: false}}    # a suggestion to revisit, pause or end an engagement that keeps going over
  checkin: {{enabled: false}}           # a short self-reflection prompt when a change leaves a long gap

# The policies' emails are written as .eml files to outbox_dir; nothing is sent.
# To send them through your mail server, see mail.mode: smtp in docs/config.md.
mail:
  mode: outbox
"""


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    with time_machine.travel(NOW, tick=False):
        return CliRunner(env=env).invoke(main, list(args), input=input)


@pytest.fixture
def state(tmp_path: Path) -> dict[str, str]:
    """Keep the default database and outbox inside the test, and no ambient CalDAV password."""
    return {"XDG_STATE_HOME": str(tmp_path / "state"), PASSWORD_ENV: ""}


@pytest.fixture
def calendar_file(tmp_path: Path) -> Path:
    path = tmp_path / "calendar.ics"
    path.write_text(vcalendar(*fixture_events()), encoding="utf-8")
    return path


def init_from_file(config: Path, calendar: Path, env: dict[str, str], *more: str) -> Result:
    flags = ("--ics-file", str(calendar), "--timezone", "Europe/Berlin", "--notice-hours", "48", "--yes")
    return run("--config", str(config), "init", *flags, *more, env=env)


def test_init_from_a_file_proposes_the_clients_and_writes_a_config_check_accepts(
    tmp_path: Path, calendar_file: Path, state: dict[str, str]
) -> None:
    config = tmp_path / "coach" / "config.yaml"

    result = init_from_file(config, calendar_file, state)

    assert result.exit_code == 0, result.output
    assert config.read_text(encoding="utf-8") == expected_config(f"    ics_file: {calendar_file}\n")
    assert config.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "coach" / "coachsync-schema.json").is_file()
    lines = result.stdout.splitlines()
    assert lines[:8] == [
        f"Read {calendar_file}: 15 upcoming sessions.",
        *PROPOSED,
        f"wrote {config} (3 clients; every policy is off)",
        f"wrote {tmp_path / 'coach' / 'coachsync-schema.json'} (lets your editor check the config as you type)",
    ]
    assert lines[8:] == [
        "checking it as `coachsync check` does:",
        f"config {config}: ok",
        f"database: not created yet (the first pass creates {tmp_path / 'state' / 'coachsync' / 'coachsync.db'})",
        "plugins: ok, enabled: none",
        "calendar coaching: ok, 8 events",
        "  Alice Example: 4 upcoming, next 2026-12-03 10:00",
        "  Bob Builder: 2 upcoming, next 2026-12-04 15:00",
        "  Carmen Díaz: 3 upcoming, next 2026-12-07 18:00",
        "  no client: 6 upcoming, next 2026-12-05 08:00",
        f"mail: outbox mode, nothing is sent; messages go to {tmp_path / 'state' / 'coachsync' / 'outbox'}",
        "all good",
        "next:",
        f"  watch your calendar now (Ctrl-C stops):  coachsync --config {config} run",
        f"  keep it running with systemd:            coachsync --config {config} install-service --user",
        f"  add a client later:                      coachsync --config {config} init"
        " --add-client NAME --email ADDRESS",
    ]
    loaded = load_config(config)
    assert loaded.agreement_for("Alice Example").notice_hours == 48


def test_init_refuses_to_overwrite_a_config(tmp_path: Path, calendar_file: Path, state: dict[str, str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("# mine\n", encoding="utf-8")

    result = init_from_file(config, calendar_file, state)

    assert result.exit_code == 2
    assert result.stderr == (
        f"coachsync: {config} already exists; pass --force to replace it (the old file is kept as config.yaml.bak),"
        " --config FILE to write another, or --add-client NAME to add a client to it\n"
    )
    assert config.read_text(encoding="utf-8") == "# mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calendar.ics", "config.yaml"]


def test_init_with_force_keeps_the_old_config_as_bak(
    tmp_path: Path, calendar_file: Path, state: dict[str, str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("# mine\n", encoding="utf-8")

    result = init_from_file(config, calendar_file, state, "--force")

    assert result.exit_code == 0, result.output
    assert f"kept the old config as {tmp_path / 'config.yaml.bak'}" in result.stdout.splitlines()
    assert (tmp_path / "config.yaml.bak").read_text(encoding="utf-8") == "# mine\n"
    assert config.read_text(encoding="utf-8") == expected_config(f"    ics_file: {calendar_file}\n")


def test_init_asks_on_a_terminal_and_the_coach_renames_and_drops(
    tmp_path: Path, calendar_file: Path, state: dict[str, str]
) -> None:
    config = tmp_path / "config.yaml"
    answers = ["file", str(calendar_file), "Europe/Berlin", "48", "keep", "rename", "Bob the Builder", "drop"]

    result = run("--config", str(config), "init", input="\n".join(answers) + "\n", env=state)

    assert result.exit_code == 0, result.output
    clients = """\
clients:
  - name: Alice Example
    emails: [alice@example.com]
    aliases: [Alice]
  - name: Bob the Builder
    emails: [bob.builder@work.example.org, bob@example.com]
    aliases: [Bob]
"""
    assert config.read_text(encoding="utf-8") == expected_config(f"    ics_file: {calendar_file}\n", clients)


def test_init_says_what_to_give_when_it_cannot_ask(tmp_path: Path, state: dict[str, str]) -> None:
    result = run("--config", str(tmp_path / "config.yaml"), "init", "--yes", env=state)

    assert result.exit_code == 2
    assert result.stderr == (
        "coachsync: --yes needs the calendar: give --ics-file FILE, --ics-url URL or --caldav-url URL\n"
    )
    assert not (tmp_path / "config.yaml").exists()


def test_init_from_an_ics_url_writes_it_and_never_prints_its_secret(
    tmp_path: Path, server: FakeCalendarServer, state: dict[str, str]
) -> None:
    server.routes["/private-4f9c/basic.ics"] = Route(body=vcalendar(*fixture_events()).encode())
    url = server.url("/private-4f9c/basic.ics")
    config = tmp_path / "config.yaml"
    flags = ("--ics-url", url, "--timezone", "Europe/Berlin", "--notice-hours", "48", "--yes")

    result = run("--config", str(config), "init", *flags, env=state)

    assert result.exit_code == 0, result.output
    assert config.read_text(encoding="utf-8") == expected_config(f'    ics_url: "{url}"\n').replace(
        "docs/config.md; `coachsync check` tests the whole file.\n",
        "docs/config.md; `coachsync check` tests the whole file.\n"
        "# Keep this file private (chmod 600): the ics_url below is a secret.\n",
    )
    assert config.stat().st_mode & 0o777 == 0o600
    assert result.stdout.splitlines()[0] == f"Read http://127.0.0.1:{server.server_port}/…: 15 upcoming sessions."
    assert "private-4f9c" not in result.output


# --- CalDAV, on a real Radicale server ---------------------------------------------------------


@pytest.fixture
def radicale(tmp_path: Path) -> Iterator[CaldavServer]:
    with running("radicale", tmp_path / "server") as dav:
        for index, event in enumerate(fixture_events()):
            dav.put(f"e{index}.ics", vcalendar(event))
        dav.put(
            "mine.ics",
            vcalendar(vevent("private", "DTSTART:20261210T090000Z", attendees=("x@example.org",))),
            collection=dav.other_collection,
        )
        yield dav


def test_init_from_caldav_discovers_the_calendars_and_never_writes_the_password(
    tmp_path: Path, radicale: CaldavServer, state: dict[str, str]
) -> None:
    config = tmp_path / "config.yaml"
    url = radicale.url("/")
    flags = ["--caldav-url", url, "--caldav-username", USERNAME, "--timezone", "Europe/Berlin", "--notice-hours", "48"]
    # The password, then the calendar picked by its display name, then each proposed client kept.
    answers = [PASSWORD, CALENDAR_NAME, "keep", "keep", "keep"]

    result = run("--config", str(config), "init", *flags, input="\n".join(answers) + "\n", env=state)

    assert result.exit_code == 0, result.output
    calendar = f"""\
    caldav:
      url: "{url}"
      username: coach
      calendar: Coaching
      # The password is never kept in this file. Give a command that prints it,
      # password_command: pass show caldav/coach
      # or set $COACHSYNC_CALDAV_PASSWORD (for the service: the systemd credential caldav-password).
"""
    written = config.read_text(encoding="utf-8")
    assert written == expected_config(calendar)
    assert PASSWORD not in written
    assert PASSWORD not in result.stdout.replace("CalDAV password (used now, never written): \n", "")
    assert PASSWORD not in result.stderr
    assert "Which calendar holds your sessions? (Coaching, Personal): Coaching" in result.stdout
    assert f'Read the CalDAV calendar "Coaching" (http://127.0.0.1:{radicale.port}/): 15 upcoming sessions.' in (
        result.stdout
    )
    assert "calendar coaching: ok, 8 events" in result.stdout
    assert result.stdout.splitlines()[-5] == "all good"
    assert not os.environ.get(PASSWORD_ENV)  # the typed password served the check and is gone


def test_init_from_caldav_with_yes_names_the_calendars_to_choose_from(
    tmp_path: Path, radicale: CaldavServer, state: dict[str, str]
) -> None:
    flags = ["--caldav-url", radicale.url("/"), "--caldav-username", USERNAME, "--yes"]

    result = run("--config", str(tmp_path / "config.yaml"), "init", *flags, env={**state, PASSWORD_ENV: PASSWORD})

    assert result.exit_code == 2
    assert result.stderr == (
        'coachsync: found 2 calendars ("Coaching", "Personal"); pass --caldav-calendar with one of them\n'
    )


# --- --add-client -----------------------------------------------------------------------------


def test_add_client_keeps_every_other_byte_of_the_file(tmp_path: Path, calendar_file: Path) -> None:
    config = tmp_path / "config.yaml"
    before = f"""\
# My practice.   Comments and    odd spacing stay.
timezone: Europe/Berlin   # where I work
calendars:
  - name: coaching
    ics_file: {calendar_file}
clients:
  # The regulars.
  - name: Alice Example
    emails: [alice@example.com]   # her private address
  - {{name: Bob Builder, emails: [bob@example.com]}}
    # Carmen may come back:
    # - name: Carmen

# Policies come after the clients.
policies:
  fee: {{enabled: true, amount: 40, currency: EUR}}  # 40 EUR
"""
    config.write_text(before, encoding="utf-8")

    result = run(
        "--config",
        str(config),
        "init",
        "--add-client",
        "Dana Okafor",
        "--email",
        "Dana@Example.net",
        "--alias",
        "Dana",
        "--alias",
        "Okafor & Partners",
    )

    assert result.exit_code == 0, result.output
    assert result.stdout == f"added client Dana Okafor to {config}\n"
    added = """\
  - name: Dana Okafor
    emails: [dana@example.net]
    aliases: [Dana, Okafor & Partners]
"""
    marker = "    # - name: Carmen\n"
    assert config.read_text(encoding="utf-8") == before.replace(marker, marker + added)
    assert [c.name for c in load_config(config).clients] == ["Alice Example", "Bob Builder", "Dana Okafor"]


def test_add_client_to_a_config_init_wrote(tmp_path: Path, calendar_file: Path, state: dict[str, str]) -> None:
    config = tmp_path / "config.yaml"
    assert init_from_file(config, calendar_file, state).exit_code == 0

    result = run("--config", str(config), "init", "--add-client", "Dana", "--email", "dana@example.net")

    assert result.exit_code == 0, result.output
    clients = CLIENTS_YAML + "  - name: Dana\n    emails: [dana@example.net]\n"
    assert config.read_text(encoding="utf-8") == expected_config(f"    ics_file: {calendar_file}\n", clients)


def test_add_client_refuses_a_name_already_there_and_leaves_the_file(tmp_path: Path, calendar_file: Path) -> None:
    config = tmp_path / "config.yaml"
    before = f"calendars:\n  - name: c\n    ics_file: {calendar_file}\nclients:\n  - name: Alice Example\n"
    config.write_text(before, encoding="utf-8")

    result = run("--config", str(config), "init", "--add-client", "alice example")

    assert result.exit_code == 2
    assert result.stderr == (
        f"{config}:6: clients[1].name: duplicate client name 'alice example', the same as 'Alice Example'"
        " ignoring case (first defined on line 5)\n"
    )
    assert config.read_text(encoding="utf-8") == before


def test_add_client_to_a_config_with_no_clients_yet(tmp_path: Path, calendar_file: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"calendars:\n  - name: c\n    ics_file: {calendar_file}\nclients: []  # none yet\n", "utf-8")

    result = run("--config", str(config), "init", "--add-client", "Alice", "--alias", "Ali")

    assert result.exit_code == 0, result.output
    assert config.read_text(encoding="utf-8") == (
        f"calendars:\n  - name: c\n    ics_file: {calendar_file}\nclients:  # none yet\n"
        "  - name: Alice\n    aliases: [Ali]\n"
    )


def test_init_from_caldav_uses_and_writes_the_password_command(
    tmp_path: Path, radicale: CaldavServer, state: dict[str, str]
) -> None:
    secret = tmp_path / "caldav-password"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    config = tmp_path / "config.yaml"
    flags = ["--caldav-url", radicale.url("/"), "--caldav-username", USERNAME, "--caldav-calendar", "coaching"]
    flags += ["--caldav-password-command", f"cat {secret}", "--timezone", "Europe/Berlin", "--yes"]

    result = run("--config", str(config), "init", *flags, env=state)

    assert result.exit_code == 0, result.output
    written = config.read_text(encoding="utf-8")
    assert (
        f'    caldav:\n      url: "{radicale.url("/")}"\n      username: coach\n      calendar: Coaching\n'
        f"      password_command: cat {secret}\n\n"
    ) in written
    assert PASSWORD not in written
    assert "calendar coaching: ok, 8 events" in result.stdout.splitlines()


def test_init_with_yes_cannot_ask_for_a_caldav_password(
    tmp_path: Path, radicale: CaldavServer, state: dict[str, str]
) -> None:
    flags = ["--caldav-url", radicale.url("/"), "--caldav-username", USERNAME, "--yes"]

    result = run("--config", str(tmp_path / "config.yaml"), "init", *flags, env=state)

    assert result.exit_code == 2
    assert result.stderr == (
        "coachsync: --yes cannot ask for the CalDAV password: set $COACHSYNC_CALDAV_PASSWORD"
        " or pass --caldav-password-command\n"
    )
    assert not (tmp_path / "config.yaml").exists()


# --- the proposal itself (pure) -----------------------------------------------------------------


def upcoming(uid: str, summary: str, *, attendees: tuple[str, ...] = (), recurring: bool = False) -> Occurrence:
    start = NOW + timedelta(days=1)
    return Occurrence(
        "coaching", uid, "x" if recurring else "", start, start, summary, recurring=recurring, attendees=attendees
    )


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        ("Coaching – Alice", ProposedClient("Alice", aliases=("Alice",), sessions=1)),
        ("Bob – leadership coaching", ProposedClient("Bob", aliases=("Bob",), sessions=1)),
        ("Weekly check-in Dana Okafor", ProposedClient("Dana Okafor", aliases=("Dana",), sessions=1)),
        ("Career session with Carmen", ProposedClient("Carmen", aliases=("Carmen",), sessions=1)),
    ],
)
def test_a_series_without_attendees_proposes_the_name_in_its_title(summary: str, expected: ProposedClient) -> None:
    proposal = propose_clients([upcoming("s", summary, recurring=True)], NOW, {})

    assert proposal == Proposal((expected,), personal=0, unnamed_series=0)


def test_a_series_naming_nobody_and_a_lone_event_are_left_out() -> None:
    found = [upcoming("a", "Team sync", recurring=True), upcoming("b", "Dentist"), upcoming("c", "Lunch")]

    assert propose_clients(found, NOW, {}) == Proposal((), personal=2, unnamed_series=1)


def test_an_attendee_without_a_name_is_named_from_the_address_and_the_coach_is_no_client() -> None:
    found = [upcoming("a", "Session", attendees=("carmen.diaz@example.org", "coach@example.com"))]

    proposal = propose_clients(found, NOW, {}, not_clients=["Coach@Example.com"])

    assert proposal.clients == (ProposedClient("Carmen Diaz", ("carmen.diaz@example.org",), (), 1),)
