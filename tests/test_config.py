"""Config loading: real YAML files on disk, exact one-line messages with exact lines."""

from __future__ import annotations

import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import platformdirs
import pytest

from coachsync.config import (
    DEFAULT_WINDOW_DAYS_AHEAD,
    DEFAULT_WINDOW_DAYS_BACK,
    CalendarConfig,
    ClientConfig,
    Config,
    WindowConfig,
    default_config_path,
    load_config,
)

from support.config_files import EMPTY_ICS, error, write


@pytest.fixture
def ics(tmp_path: Path) -> Path:
    """A calendar file next to the config, so `ics_file: coaching.ics` resolves."""
    path = tmp_path / "coaching.ics"
    path.write_text(EMPTY_ICS, encoding="utf-8")
    return path


# --- valid configs ---------------------------------------------------------


def test_full_config_loads_with_resolved_paths_and_lowercased_emails(
    tmp_path: Path, ics: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / "calendars").mkdir(parents=True)
    (home / "calendars" / "private.ics").write_text(EMPTY_ICS, encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    path = write(
        tmp_path,
        """
        database: state/coachsync.db
        timezone: Europe/Berlin
        window:
          days_back: 7
          days_ahead: 90
        late_notice_hours: 48
        debounce_seconds: 0.5
        calendars:
          - name: coaching
            ics_file: coaching.ics
          - name: private
            ics_file: ~/calendars/private.ics
            timeout: 5
          - name: booking
            ics_url: https://cal.example.com/coach.ics
            poll_interval: 60
        clients:
          - name: Alice Example
            emails: [Alice@Example.COM, alice.work@example.org]
            aliases: [Alice, "  Ali  "]
          - name: Bob
        policies:
          fee: {enabled: true, notice_hours: 24, amount: 40, currency: EUR}
        """,
    )

    config = load_config(path)

    # Compared as data: the loaded config also carries the line of every key.
    assert (
        config.model_dump()
        == Config(
            path=path,
            database=tmp_path / "state" / "coachsync.db",
            timezone="Europe/Berlin",
            window=WindowConfig(days_back=7, days_ahead=90),
            late_notice_hours=48.0,
            debounce_seconds=0.5,
            calendars=[
                CalendarConfig(name="coaching", ics_file=ics),
                CalendarConfig(name="private", ics_file=home / "calendars" / "private.ics", timeout=5.0),
                CalendarConfig(name="booking", ics_url="https://cal.example.com/coach.ics", poll_interval=60.0),
            ],
            clients=[
                ClientConfig(
                    name="Alice Example",
                    emails=["alice@example.com", "alice.work@example.org"],
                    aliases=["Alice", "Ali"],
                ),
                ClientConfig(name="Bob"),
            ],
            policies={"fee": {"enabled": True, "notice_hours": 24, "amount": 40, "currency": "EUR"}},
        ).model_dump()
    )
    assert type(config.policies["fee"]) is dict  # plain data for plugins, not ruamel nodes
    assert type(config.policies["fee"]["amount"]) is int
    assert config.tzinfo() == ZoneInfo("Europe/Berlin")


def test_minimal_config_gets_defaults(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars:
          - name: coaching
            ics_file: coaching.ics
        """,
    )

    config = load_config(str(path))

    assert config.path == path
    assert config.database == platformdirs.user_state_path("coachsync") / "coachsync.db"
    assert config.timezone is None
    assert config.window == WindowConfig(days_back=30, days_ahead=365)
    assert (DEFAULT_WINDOW_DAYS_BACK, DEFAULT_WINDOW_DAYS_AHEAD) == (30, 365)
    assert config.late_notice_hours is None
    assert config.agreement_for(None).notice_hours == 24.0
    assert config.debounce_seconds == 2.0
    assert config.calendars == [CalendarConfig(name="coaching", ics_file=ics)]
    assert config.calendars[0].poll_interval == 300.0
    assert config.calendars[0].timeout == 30.0
    assert config.clients == []
    assert config.policies == {}
    assert config.tzinfo() == datetime.datetime.now().astimezone().tzinfo


def test_relative_config_path_is_made_absolute(tmp_path: Path, ics: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "calendars: [{name: coaching, ics_file: coaching.ics}]\n")
    monkeypatch.chdir(tmp_path)

    config = load_config("config.yaml")

    assert config.path == tmp_path / "config.yaml"
    assert config.calendars[0].ics_file == ics


def test_config_is_frozen(tmp_path: Path, ics: Path) -> None:
    config = load_config(write(tmp_path, "calendars: [{name: coaching, ics_file: coaching.ics}]\n"))

    with pytest.raises(ValueError):
        config.debounce_seconds = 5  # type: ignore[misc]


# --- the file itself ---------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"

    assert error(path) == (
        f"{path}: config: no config file at {path}; write one with `coachsync init` (or copy config/example.yaml),"
        " or pass --config FILE or set $COACHSYNC_CONFIG"
    )


def test_directory_instead_of_file(tmp_path: Path) -> None:
    assert error(tmp_path) == (
        f"{tmp_path}: config: cannot read {tmp_path}: Is a directory; pass --config FILE or set $COACHSYNC_CONFIG"
    )


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"calendars: \xff\n")

    assert error(path) == f"{path}: config: not UTF-8 text: invalid start byte"


def test_yaml_syntax_error_points_at_the_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars:
          - name: coaching
            ics_file: coaching.ics
        clients:
          - name: Alice: Example
        """,
    )

    assert error(path) == f"{path}:5: yaml: mapping values are not allowed here"


def test_yaml_duplicate_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars:
          - name: coaching
            name: private
        """,
    )

    assert error(path) == (
        f'{path}:3: yaml: found duplicate key "name" with value "private" (original value: "coaching")'
    )


def test_yaml_control_character(tmp_path: Path) -> None:
    path = write(tmp_path, "timezone: UTC\ncalendars: \x01\n")

    assert error(path) == (f"{path}:2: yaml: unacceptable character #x0001: special characters are not allowed")


@pytest.mark.parametrize("text", ["", "# nothing here yet\n\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)

    assert error(path) == f"{path}: config: the file is empty; expected at least 'calendars:'"


def test_top_level_list(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        # calendars
        - name: coaching
        """,
    )

    assert error(path) == f"{path}:2: config: expected a mapping of keys at the top level, got a list"


def test_top_level_scalar(tmp_path: Path) -> None:
    path = write(tmp_path, "calendars\n")

    assert error(path) == (f"{path}: config: expected a mapping of keys at the top level, got 'calendars'")


# --- unknown keys ------------------------------------------------------------


def test_unknown_top_level_key_suggests_the_field(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        timezone: UTC
        calender:
          - name: coaching
            ics_file: coaching.ics
        """,
    )

    # `calendars` is missing too, but the misspelling is what the coach must fix.
    assert error(path) == f"{path}:2: calender: unknown key 'calender'; did you mean 'calendars'?"


def test_unknown_key_with_suggestion(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars:
          - name: coaching
            ics_file: coaching.ics
        debounce_secs: 3
        """,
    )

    assert error(path) == (f"{path}:4: debounce_secs: unknown key 'debounce_secs'; did you mean 'debounce_seconds'?")


def test_unknown_nested_key_with_suggestion(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars:
          - name: coaching
            ics_file: coaching.ics
          - name: private
            ics_file: coaching.ics
            pol_interval: 60
        """,
    )

    assert error(path) == (
        f"{path}:6: calendars[1].pol_interval: unknown key 'pol_interval'; did you mean 'poll_interval'?"
    )


def test_unknown_key_in_window_and_client(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars: [{name: coaching, ics_file: coaching.ics}]
        clients:
          - name: Alice
            email: alice@example.com
        """,
    )

    assert error(path) == (f"{path}:4: clients[0].email: unknown key 'email'; did you mean 'emails'?")

    path = write(tmp_path, "calendars: [{name: c, ics_file: coaching.ics}]\nwindow: {days: 3}\n")
    assert error(path) == f"{path}:2: window.days: unknown key 'days'; did you mean 'days_back'?"


def test_unknown_key_without_close_match(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars:
          - name: coaching
            ics_file: coaching.ics
        newsletter:
          mode: weekly
        """,
    )

    assert error(path) == f"{path}:4: newsletter: unknown key 'newsletter'"


def test_path_is_not_a_yaml_key(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars: [{name: coaching, ics_file: coaching.ics}]
        path: /etc/elsewhere.yaml
        """,
    )

    assert error(path) == f"{path}:2: path: unknown key 'path'"


# --- wrong types ---------------------------------------------------------------


def test_wrong_type_number(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars:
          - name: booking
            ics_url: https://cal.example.com/coach.ics
            poll_interval: soon
        """,
    )

    assert error(path) == f"{path}:4: calendars[0].poll_interval: expected a number, got 'soon'"


def test_quoted_number_is_not_a_number(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        late_notice_hours: "24"
        calendars: [{name: coaching, ics_file: coaching.ics}]
        """,
    )

    assert error(path) == f"{path}:1: late_notice_hours: expected a number, got '24'"


def test_wrong_type_list(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        timezone: UTC
        calendars: coaching
        """,
    )

    assert error(path) == f"{path}:2: calendars: expected a list, got 'coaching'"


def test_wrong_type_whole_number(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars: [{name: coaching, ics_file: coaching.ics}]
        window:
          days_back: 1.5
        """,
    )

    assert error(path) == f"{path}:3: window.days_back: expected a whole number, got 1.5"


def test_wrong_type_mapping_and_text(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars: [{name: coaching, ics_file: coaching.ics}]
        window:
        """,
    )
    assert error(path) == f"{path}:2: window: expected a mapping, got nothing"

    path = write(tmp_path, "calendars: [{name: 42, ics_file: coaching.ics}]\n")
    assert error(path) == f"{path}:1: calendars[0].name: expected text, got 42"


def test_infinite_number_rejected(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars:
          - name: coaching
            ics_file: coaching.ics
            timeout: .inf
        """,
    )

    assert error(path) == f"{path}:4: calendars[0].timeout: must be a finite number, got inf"


@pytest.mark.parametrize(
    ("yaml_line", "message"),
    [
        ("late_notice_hours: -1", "late_notice_hours: must be at least 0, got -1"),
        ("debounce_seconds: -0.5", "debounce_seconds: must be at least 0, got -0.5"),
        ("window: {days_ahead: 0}", "window.days_ahead: must be at least 1, got 0"),
        ("window: {days_back: -1}", "window.days_back: must be at least 0, got -1"),
    ],
)
def test_out_of_range(tmp_path: Path, ics: Path, yaml_line: str, message: str) -> None:
    path = write(tmp_path, f"calendars: [{{name: c, ics_file: coaching.ics}}]\n{yaml_line}\n")

    assert error(path) == f"{path}:2: {message}"


def test_poll_interval_must_be_positive(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars:
          - name: booking
            ics_url: https://cal.example.com/coach.ics
            poll_interval: 0
        """,
    )

    assert error(path) == f"{path}:4: calendars[0].poll_interval: must be greater than 0, got 0"


# --- missing keys ----------------------------------------------------------------


def test_calendar_without_name_points_at_the_calendar(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars:
          - name: coaching
            ics_file: coaching.ics
          - ics_file: coaching.ics
            timeout: 10
        """,
    )

    assert error(path) == f"{path}:4: calendars[1].name: required key is missing"


def test_calendars_missing(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        # my config
        timezone: UTC
        """,
    )

    assert error(path) == f"{path}:2: calendars: required key is missing"


def test_calendars_empty(tmp_path: Path) -> None:
    path = write(tmp_path, "timezone: UTC\ncalendars: []\n")

    assert error(path) == f"{path}:2: calendars: must not be empty"


def test_empty_name(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars:
          - name: "  "
            ics_file: coaching.ics
        """,
    )

    assert error(path) == f"{path}:2: calendars[0].name: must not be empty"


def test_empty_alias(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars: [{name: coaching, ics_file: coaching.ics}]
        clients:
          - name: Alice
            aliases:
              - Alice
              - ""
        """,
    )

    assert error(path) == f"{path}:6: clients[0].aliases[1]: must not be empty"


# --- calendar sources ------------------------------------------------------------


def test_missing_calendar_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars:
          - name: coaching
            ics_file: calendars/coaching.ics
        """,
    )

    assert error(path) == (
        f"{path}:3: calendars[0].ics_file: file not found: {tmp_path / 'calendars' / 'coaching.ics'}"
    )


def test_calendar_file_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "calendars").mkdir()
    path = write(tmp_path, "calendars:\n  - name: coaching\n    ics_file: calendars\n")

    assert error(path) == f"{path}:3: calendars[0].ics_file: not a file: {tmp_path / 'calendars'}"


def test_calendar_file_empty_string(tmp_path: Path) -> None:
    path = write(tmp_path, "calendars:\n  - name: coaching\n    ics_file: ''\n")

    assert error(path) == f"{path}:3: calendars[0].ics_file: must not be empty"


def test_calendar_needs_a_source(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        timezone: UTC
        calendars:
          - name: coaching
            timeout: 10
        """,
    )

    assert error(path) == (f"{path}:3: calendars[0]: no calendar source; give one of ics_file, ics_url or caldav")


def test_calendar_with_two_sources(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars:
          - name: coaching
            ics_file: coaching.ics
            ics_url: https://cal.example.com/coach.ics
        """,
    )

    assert error(path) == (
        f"{path}:2: calendars[0]: give only one of ics_file, ics_url or caldav, not ics_file and ics_url"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://cal.example.com/c.ics", "expected an http://, https:// or webcal:// URL, got a ftp: address"),
        ("cal.example.com/private-TOKEN", "expected an http://, https:// or webcal:// URL, got no scheme"),
        ("https://", "expected an http://, https:// or webcal:// URL, got a https: address"),
    ],
)
def test_ics_url_must_be_a_web_address(tmp_path: Path, url: str, message: str) -> None:
    path = write(tmp_path, f"calendars:\n  - name: booking\n    ics_url: '{url}'\n")

    assert error(path) == f"{path}:3: calendars[0].ics_url: {message}"


# --- uniqueness, emails, time zone -----------------------------------------------------


def test_duplicate_calendar_name_points_at_the_second(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        timezone: UTC
        calendars:
          - name: coaching
            ics_file: coaching.ics
          - name: private
            ics_file: coaching.ics
          - name: coaching
            ics_url: https://cal.example.com/coach.ics
        """,
    )

    assert error(path) == (f"{path}:7: calendars[2].name: duplicate calendar name 'coaching' (first defined on line 3)")


def test_duplicate_client_name(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars: [{name: coaching, ics_file: coaching.ics}]
        clients:
          - name: Alice
            emails: [alice@example.com]
          - emails: [alice.two@example.com]
            name: Alice
        """,
    )

    assert error(path) == (f"{path}:6: clients[1].name: duplicate client name 'Alice' (first defined on line 3)")


def test_invalid_email_names_the_item(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars: [{name: coaching, ics_file: coaching.ics}]
        clients:
          - name: Bob
            emails:
              - bob@example.com
              - bob@
        """,
    )

    assert error(path) == f"{path}:6: clients[0].emails[1]: not a valid email address: 'bob@'"


def test_emails_must_be_a_list(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars: [{name: coaching, ics_file: coaching.ics}]
        clients:
          - name: Bob
            emails: bob@example.com
        """,
    )

    assert error(path) == f"{path}:4: clients[0].emails: expected a list, got 'bob@example.com'"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe", "../etc/passwd"])
def test_unknown_time_zone(tmp_path: Path, ics: Path, zone: str) -> None:
    path = write(
        tmp_path,
        f"""
        calendars: [{{name: coaching, ics_file: coaching.ics}}]
        timezone: "{zone}"
        """,
    )

    assert error(path) == (f"{path}:2: timezone: unknown time zone '{zone}'; use an IANA name such as 'Europe/Berlin'")


def test_policies_must_be_a_mapping(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars: [{name: coaching, ics_file: coaching.ics}]
        policies:
          - fee
        """,
    )

    assert error(path) == f"{path}:2: policies: expected a mapping, got a list"


def test_earliest_error_in_the_file_is_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        timezone: Nowhere/Special
        calendars:
          - name: coaching
            ics_file: missing.ics
        debounce_seconds: soon
        """,
    )

    assert error(path) == (
        f"{path}:1: timezone: unknown time zone 'Nowhere/Special'; use an IANA name such as 'Europe/Berlin'"
    )


def test_merged_keys_point_at_the_merging_item(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars:
          - &base {name: coaching, ics_file: coaching.ics, timeout: 10}
          - <<: *base
            name: private
            timeout: 0
        """,
    )

    assert error(path) == f"{path}:5: calendars[1].timeout: must be greater than 0, got 0"


# --- default path --------------------------------------------------------------------


def test_default_config_path_honours_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACHSYNC_CONFIG", str(tmp_path / "coach.yaml"))

    assert default_config_path() == tmp_path / "coach.yaml"


def test_default_config_path_expands_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("COACHSYNC_CONFIG", "~/coach.yaml")

    assert default_config_path() == tmp_path / "coach.yaml"


def test_default_config_path_without_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COACHSYNC_CONFIG", raising=False)

    assert default_config_path() == platformdirs.user_config_path("coachsync") / "config.yaml"


def test_default_config_path_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COACHSYNC_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))

    assert default_config_path() == tmp_path / "xdg" / "coachsync" / "config.yaml"


def test_misspelt_required_key_is_reported_as_the_misspelling(tmp_path: Path, ics: Path) -> None:
    path = write(
        tmp_path,
        """
        calendars:
          - nmae: coaching
            ics_file: coaching.ics
        """,
    )

    assert error(path) == f"{path}:2: calendars[0].nmae: unknown key 'nmae'; did you mean 'name'?"


def test_webcal_subscription_link_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "calendars:\n  - name: booking\n    ics_url: webcal://cal.example.com/c.ics\n")

    assert load_config(path).calendars[0].ics_url == "webcal://cal.example.com/c.ics"
