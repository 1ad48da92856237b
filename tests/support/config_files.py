"""Config files as a coach writes them, and the one-line error coachsync gives for a wrong one."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from coachsync.config import load_config
from coachsync.errors import ConfigError

EMPTY_ICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"


def write(directory: Path, text: str, name: str = "config.yaml") -> Path:
    """Write YAML as a coach would: line 1 is the first line after the opening quotes."""
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def error(path: Path) -> str:
    """The config error loading `path` gives, which must exit 2."""
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.exit_code == 2
    return str(info.value)
