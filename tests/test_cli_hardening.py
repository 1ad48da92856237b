"""The coach's commands on a wrong client name, a name in another case, -h, and a client only a title can match."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from support.cli import cli, invoke
from support.ical import HOUR, session
from support.scenario import Coach

DEC_10 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
JUERGEN = "  - name: Jürgen Straße\n    emails: [juergen@example.com]\n"


def moved_once(coach: Coach, email: str) -> Coach:
    """One session of the client with `email`, moved after the baseline: one record."""
    coach.write(session("s1", DEC_10, email))
    assert cli(coach, "sync").exit_code == 0
    coach.write(session("s1", DEC_10 + HOUR, email))
    assert cli(coach, "sync").exit_code == 0
    return coach


# --- --client: a name the coach can get wrong -----------------------------------


@pytest.mark.parametrize("command", ["history", "fees"])
def test_an_unknown_client_is_an_error_listing_the_clients(coach: Coach, command: str) -> None:
    result = cli(coach, command, "--client", "Nobody")

    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        "coachsync: no client named 'Nobody' in the config or the history;"
        " the clients are Alice Example, Bob Builder, Carmen Diaz\n",
    )


@pytest.mark.parametrize("command", ["history", "fees"])
def test_a_misspelt_client_gets_a_did_you_mean(coach: Coach, command: str) -> None:
    result = cli(coach, command, "--client", "bob bilder")

    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        "coachsync: no client named 'bob bilder' in the config or the history; did you mean 'Bob Builder'?\n",
    )


def test_client_matches_ignoring_case_beyond_ascii(tmp_path) -> None:  # type: ignore[no-untyped-def]
    coach = moved_once(Coach(tmp_path, extra_yaml=JUERGEN), "juergen@example.com")

    result = cli(coach, "history", "--client", "JÜRGEN STRASSE", "--json")

    assert result.exit_code == 0, result.output
    assert [(r["client"], r["kind"]) for r in json.loads(result.stdout)] == [("Jürgen Straße", "moved")]


def test_a_client_no_longer_in_the_config_keeps_their_history(tmp_path) -> None:  # type: ignore[no-untyped-def]
    coach = moved_once(Coach(tmp_path, extra_yaml=JUERGEN), "juergen@example.com")
    coach.config_path.write_text(coach.config_path.read_text(encoding="utf-8").replace(JUERGEN, ""), encoding="utf-8")

    result = cli(coach, "history", "--client", "jürgen strasse", "--json")

    assert result.exit_code == 0, result.output
    assert [r["client"] for r in json.loads(result.stdout)] == ["Jürgen Straße"]


# --- check: a client only a title can match -------------------------------------


def test_check_warns_about_a_client_with_neither_emails_nor_aliases(tmp_path) -> None:  # type: ignore[no-untyped-def]
    coach = Coach(tmp_path, extra_yaml="  - name: Dana Scully\n")

    result = cli(coach, "check")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1] == (
        "client Dana Scully: warning: no emails and no aliases, so only a session whose title"
        " contains 'Dana Scully' is matched to this client"
    )


def test_check_does_not_warn_about_clients_with_an_email_or_an_alias(coach: Coach) -> None:
    result = cli(coach, "check")

    assert (result.exit_code, "warning" in result.output) == (0, False)


# --- help ------------------------------------------------------------------------


@pytest.mark.parametrize("args", [(), ("history",), ("fees", "waive")])
def test_dash_h_is_help(args: tuple[str, ...]) -> None:
    short, long = invoke(*args, "-h"), invoke(*args, "--help")

    assert (short.exit_code, short.output) == (0, long.output)
    assert short.output.startswith("Usage: ")


def test_log_level_is_explained() -> None:
    output = " ".join(invoke("--help").output.split())

    assert "--log-level [debug|info|warning|error] How much to log on standard error." in output


def test_top_level_help_shows_each_command_summary_whole() -> None:
    output = invoke("--help").output
    commands = output.partition("\nCommands:\n")[2]
    words = " ".join(output.split())

    assert (bool(commands), "..." in commands, "…" in commands) == (True, False, False)
    assert (
        "check Check the config, reach every calendar and the mail server, and show whose sessions are whose." in words
    )
    assert "run Run in the foreground, watching every calendar until SIGTERM or Ctrl-C; SIGHUP reloads the config." in (
        words
    )
