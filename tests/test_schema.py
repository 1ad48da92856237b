"""`coachsync schema`: the config's JSON Schema, checked with a JSON Schema validator against coachsync itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from coachsync.config import load_config
from coachsync.errors import ConfigError
from coachsync.plugins import load_plugins, settings_models
from coachsync.schema import SCHEMA_DIALECT, installed_schema

from support.cli import cli, invoke
from support.config_files import EMPTY_ICS, write
from support.plugin_world import FLAT_FEE, plugin_coach

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return installed_schema()


def schema_errors(schema: dict[str, Any], path: Path) -> list[str]:
    # As an editor sees it: a date such as 2026-09-01 is text in JSON.
    data = json.loads(json.dumps(YAML(typ="safe").load(path.read_text(encoding="utf-8")), default=str))
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]


def coachsync_error(path: Path) -> str | None:
    try:
        load_plugins(load_config(path))
    except ConfigError as error:
        return str(error)
    return None


def test_the_command_prints_the_schema_with_every_builtin_policy_and_its_description() -> None:
    result = invoke("schema")

    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["$schema"] == SCHEMA_DIALECT
    jsonschema.Draft202012Validator.check_schema(printed)
    policies = printed["properties"]["policies"]
    assert sorted(policies["properties"]) == sorted(settings_models())
    assert {"checkin", "end_engagement", "escalation_email", "fee"} <= set(policies["properties"])
    assert policies["additionalProperties"] is False
    fee = policies["properties"]["fee"]
    assert fee["description"] == "`policies.fee`; `amount` and `currency` are required once the fee is enabled."
    assert fee["additionalProperties"] is False
    assert fee["properties"]["enabled"] == {"default": False, "title": "Enabled", "type": "boolean"}
    assert "path" not in printed["properties"]
    assert printed["required"] == ["calendars"]
    assert printed["properties"]["timezone"]["description"] == (
        "Your IANA time zone (Europe/Berlin): for floating times, all-day events and display."
    )
    client_policies = printed["$defs"]["ClientConfig"]["properties"]["policies"]
    assert sorted(client_policies["properties"]) == sorted(settings_models())


@pytest.mark.parametrize("name", ["demo.yaml", "example.yaml"])
def test_the_shipped_configs_are_valid_under_the_schema(schema: dict[str, Any], name: str) -> None:
    assert schema_errors(schema, REPO / "config" / name) == []


ACCEPTED = {
    "smallest": "calendars:\n  - name: coaching\n    ics_file: demo.ics\n",
    "a policy on": (
        "calendars:\n  - name: c\n    ics_file: demo.ics\n"
        "policies:\n  fee: {enabled: true, amount: 40, currency: EUR}\n"
    ),
    "a client's own policy and agreement": (
        "calendars:\n  - name: c\n    ics_file: demo.ics\n"
        "policies:\n  fee: {currency: EUR}\n"
        "clients:\n  - name: Alice\n    agreement: {notice_hours: 48}\n"
        "    policies:\n      fee: {enabled: true, amount: 60}\n"
    ),
    "caldav": "calendars:\n  - name: c\n    caldav: {url: 'https://dav.example.com/', username: coach}\n",
    "smtp": (
        "calendars:\n  - name: c\n    ics_file: demo.ics\n"
        "mail: {mode: smtp, from: coach@example.com,"
        " smtp: {host: mail.example.com, port: 465, ssl: true, starttls: false}}\n"
    ),
}

REJECTED = {
    "no calendars": "clients: []\n",
    "a misspelt top-level key": "calender: []\ncalendars:\n  - name: c\n    ics_file: demo.ics\n",
    "a quoted number": "calendars:\n  - name: c\n    ics_file: demo.ics\n    poll_interval: '300'\n",
    "two sources": "calendars:\n  - name: c\n    ics_file: demo.ics\n    ics_url: https://example.com/c.ics\n",
    "no source": "calendars:\n  - name: c\n",
    "a misspelt client key": "calendars:\n  - name: c\n    ics_file: demo.ics\nclients:\n  - name: A\n    alias: [A]\n",
    "an unknown policy": "calendars:\n  - name: c\n    ics_file: demo.ics\npolicies:\n  fees: {enabled: true}\n",
    "a misspelt policy key": "calendars:\n  - name: c\n    ics_file: demo.ics\npolicies:\n  fee: {enable: true}\n",
    "a client's unknown policy": (
        "calendars:\n  - name: c\n    ics_file: demo.ics\nclients:\n  - name: A\n    policies:\n      fees: {}\n"
    ),
    "a negative notice": "calendars:\n  - name: c\n    ics_file: demo.ics\nagreement: {notice_hours: -1}\n",
    "a wrong mail mode": "calendars:\n  - name: c\n    ics_file: demo.ics\nmail: {mode: post}\n",
    "a fractional window": "calendars:\n  - name: c\n    ics_file: demo.ics\nwindow: {days_back: 7.5}\n",
    "emails as text": (
        "calendars:\n  - name: c\n    ics_file: demo.ics\nclients:\n  - name: A\n    emails: a@example.com\n"
    ),
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_a_config_coachsync_accepts_is_valid_under_the_schema(
    schema: dict[str, Any], tmp_path: Path, case: str
) -> None:
    (tmp_path / "demo.ics").write_text(EMPTY_ICS, encoding="utf-8")
    path = write(tmp_path, ACCEPTED[case])

    assert coachsync_error(path) is None
    assert schema_errors(schema, path) == []


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_a_config_the_schema_rejects_is_rejected_by_coachsync(
    schema: dict[str, Any], tmp_path: Path, case: str
) -> None:
    (tmp_path / "demo.ics").write_text(EMPTY_ICS, encoding="utf-8")
    path = write(tmp_path, REJECTED[case])

    assert schema_errors(schema, path) != []
    assert coachsync_error(path) is not None


def test_the_schema_names_the_misspelt_key(schema: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "demo.ics").write_text(EMPTY_ICS, encoding="utf-8")
    path = write(tmp_path, REJECTED["a misspelt client key"])

    assert schema_errors(schema, path) == ["clients.0: Additional properties are not allowed ('alias' was unexpected)"]
    assert coachsync_error(path) == f"{path}:6: clients[0].alias: unknown key 'alias'; did you mean 'aliases'?"


def test_the_command_adds_the_settings_of_the_plugins_in_the_configs_plugins_dir(tmp_path: Path) -> None:
    coach = plugin_coach(tmp_path, {"flat_fee": FLAT_FEE})

    result = cli(coach, "schema")

    assert (result.exit_code, result.stderr) == (0, "")
    policies = json.loads(result.stdout)["properties"]["policies"]["properties"]
    assert sorted(policies) == sorted([*settings_models(), "flat_fee"])
    assert policies["flat_fee"]["properties"]["enabled"] == {"default": False, "title": "Enabled", "type": "boolean"}


def test_a_config_with_a_problem_still_gets_the_schema_with_a_note(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("calendars:\n  - name: coaching\n    ics_fle: coaching.ics\n", encoding="utf-8")

    result = invoke("--config", str(config), "schema")

    assert result.exit_code == 0
    assert sorted(json.loads(result.stdout)["properties"]["policies"]["properties"]) == sorted(settings_models())
    assert result.stderr.startswith(
        "coachsync: note: the schema leaves out your own plugins, as the config has a problem: "
    )
    assert "ics_fle" in result.stderr and result.stderr.count("\n") == 1
