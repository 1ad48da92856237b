"""config/example.yaml tells the truth: it loads, shows every key docs/config.md documents, and says what each does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from coachsync.config import load_config
from coachsync.plugins import load_plugins

from support.cli import invoke

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config" / "example.yaml"
REFERENCE = REPO / "docs" / "config.md"
# Keys that hold a list of mappings, written `calendars[].name` in the reference.
LISTS = {"calendars", "clients"}
# Shown commented out, with why: each needs a file or directory of the coach's, or is an old name.
COMMENTED = {"late_notice_hours", "plugins_dir", "calendars[].caldav.ca_file", "policies.fee.notice_hours"}
COMMENTED |= {"policies.fee.free_reschedules"}

_HEADING = re.compile(r"^#{2,4} `([^`]+)`")
_ROW = re.compile(r"^\| \[?`([a-z_][a-z_.]*)`")


def documented_keys() -> set[str]:
    """Every key a table of docs/config.md lists, as a dotted path (`calendars[].caldav.url`)."""
    keys: set[str] = set()
    prefix: str | None = None
    for line in REFERENCE.read_text(encoding="utf-8").splitlines():
        if line.startswith("## Top-level keys"):
            prefix = ""
        elif line.startswith(("## ", "### ", "#### ")):
            found = _HEADING.match(line)
            prefix = found.group(1) if found else None
            if prefix is not None and prefix in LISTS:
                prefix += "[]"
        elif prefix is not None and (row := _ROW.match(line)):
            keys.add(f"{prefix}.{row.group(1)}" if prefix else row.group(1))
    return keys


def example_keys(node: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            yield path
            if prefix == "clients[].policies" or prefix == "policies":
                yield from example_keys(value, path)
            else:
                yield from example_keys(value, f"{path}[]" if key in LISTS else path)
    elif isinstance(node, list):
        for item in node:
            yield from example_keys(item, prefix)


def test_the_example_loads_with_its_policies() -> None:
    config = load_config(EXAMPLE)
    plugins = load_plugins(config)

    assert [
        (c.name, c.ics_file is not None, c.ics_url is not None, c.caldav is not None) for c in config.calendars
    ] == [
        ("coaching", True, False, False),
        ("practice", False, True, False),
        ("cloud", False, False, True),
    ]
    assert [c.name for c in config.clients] == ["Alice Example", "Bob Builder", "Carmen Díaz"]
    assert config.agreement_for("Alice Example").notice_hours == 48
    assert config.agreement_for("Bob Builder").notice_hours == 24
    assert [info.name for info in plugins.infos if info.enabled] == ["escalation_email", "fee"]
    assert str(plugins.client_settings["fee"]["Alice Example"].amount) == "60.00"  # type: ignore[attr-defined]
    assert config.mail.mode == "outbox"
    assert config.mail.smtp is not None and config.mail.smtp.host == "smtp.example.com"


def test_every_documented_key_is_in_the_example() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    shown = set(example_keys(YAML(typ="safe").load(text)))
    documented = documented_keys()

    assert len(documented) > 60  # the reference's tables were read
    assert documented - shown - COMMENTED == set()
    for key in sorted(COMMENTED):
        assert re.search(rf"^\s*# {re.escape(key.rsplit('.', 1)[-1])}: ", text, re.MULTILINE), key
        assert key not in shown


def test_every_key_of_the_example_says_what_it_does() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    silent = [
        f"{number}: {line}"
        for number, line in enumerate(lines, start=1)
        if re.match(r"^\s*(?:- )?[a-z_]+:", line)
        and "#" not in line
        and not lines[number - 2].lstrip().startswith("#")
        and not line.rstrip().endswith(":")  # a section: its first key or its comment says it
        and not re.match(r"^\s*(?:- )?name:", line)
    ]
    assert silent == []


def test_a_missing_config_names_init_and_the_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACHSYNC_CONFIG", str(tmp_path / "config.yaml"))

    result = invoke("clients")

    assert result.exit_code == 2
    assert result.stderr == (
        f"{tmp_path / 'config.yaml'}: config: no config file at {tmp_path / 'config.yaml'}; write one with"
        " `coachsync init` (or copy config/example.yaml), or pass --config FILE or set $COACHSYNC_CONFIG\n"
    )
