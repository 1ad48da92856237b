"""Config mistakes that used to pass silently: each is one `FILE:LINE: KEY: problem` line and exit 2."""

from __future__ import annotations

from pathlib import Path

from coachsync.config import load_config

from support.config_files import EMPTY_ICS, error
from support.config_files import write as write_config


def write(directory: Path, text: str) -> Path:
    """The config as a coach writes it, next to a calendar file; line 1 is the first line of `text`."""
    (directory / "coaching.ics").write_text(EMPTY_ICS, encoding="utf-8")
    return write_config(directory, text)


# --- mail: smtp needs a sender ----------------------------------------------


def test_smtp_mode_without_a_from_address_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars:
          - name: coaching
            ics_file: coaching.ics
        mail:
          mode: smtp
          smtp:
            host: smtp.example.com
        """,
    )

    assert error(path) == (
        f"{path}:5: mail.mode: mode is smtp but there is no from: address; give the address the emails are sent from"
    )


def test_outbox_mode_still_needs_no_from_address(tmp_path: Path) -> None:
    path = write(tmp_path, "calendars:\n  - name: coaching\n    ics_file: coaching.ics\nmail:\n  mode: outbox\n")

    assert load_config(path).mail.sender == "coach@example.com"


# --- clients: names ignore case, an email belongs to one client ---------------


def test_client_names_that_differ_only_in_case_are_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars:
          - name: coaching
            ics_file: coaching.ics
        clients:
          - name: Bob Builder
          - name: Alice Example
          - name: bob builder
        """,
    )

    assert error(path) == (
        f"{path}:7: clients[2].name: duplicate client name 'bob builder', the same as 'Bob Builder' ignoring case"
        " (first defined on line 5)"
    )


def test_client_names_are_compared_with_unicode_case_folding(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars:
          - name: coaching
            ics_file: coaching.ics
        clients:
          - name: Jürgen Straße
          - name: JÜRGEN STRASSE
        """,
    )

    assert error(path) == (
        f"{path}:6: clients[1].name: duplicate client name 'JÜRGEN STRASSE', the same as 'Jürgen Straße'"
        " ignoring case (first defined on line 5)"
    )


def test_one_email_under_two_clients_is_an_error_naming_both_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars:
          - name: coaching
            ics_file: coaching.ics
        clients:
          - name: Alice Example
            emails: [alice@example.com]
          - name: Bob Builder
            emails:
              - bob@example.com
              - Alice@Example.com
        """,
    )

    assert error(path) == (
        f"{path}:10: clients[1].emails[1]: email 'alice@example.com' already belongs to 'Alice Example'"
        " (first defined on line 6)"
    )


def test_one_email_twice_under_the_same_client_is_harmless(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars:
          - name: coaching
            ics_file: coaching.ics
        clients:
          - name: Alice Example
            emails: [alice@example.com, ALICE@example.com]
        """,
    )

    assert load_config(path).clients[0].emails == ["alice@example.com", "alice@example.com"]


# --- YAML: a tab ---------------------------------------------------------------


def test_a_tab_used_to_indent_says_to_use_spaces(tmp_path: Path) -> None:
    path = write(tmp_path, "calendars:\n  - name: coaching\n\t  ics_file: coaching.ics\n")

    assert error(path) == f"{path}:3: yaml: use spaces, not tabs, to indent (line 3)"
