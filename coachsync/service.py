"""`coachsync install-service`: the unit files in systemd/, with the ExecStart of this install.

The templates ship inside the package (`coachsync/units` is the repository's
`systemd/` directory) and are complete units; rendering only swaps in the
ExecStart line, so what is installed is what the tests verify.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

from .errors import CoachsyncError

UNIT_NAME = "coachsync.service"
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
_TEMPLATES = {True: "coachsync.service", False: "coachsync-system.service"}  # keyed by `user`
# Characters systemd reads literally in an ExecStart word. Anything else (space, quotes, backslash, % specifiers,
# $ variables, ;) would be split, expanded or unquoted into a different path than the one on disk.
_LITERAL = re.compile(r"[\w/.,:+@=~-]+")
# Where a system service sees nothing (ProtectHome=yes).
_HIDDEN_FROM_SYSTEM = (Path("/home"), Path("/root"), Path("/run/user"))


class ServiceError(CoachsyncError):
    """The unit cannot be written as asked."""


class UnitPathError(ServiceError):
    """A path that systemd would read differently; moving it is the fix."""

    exit_code = 2


def template(user: bool) -> str:
    return (resources.files("coachsync") / "units" / _TEMPLATES[user]).read_text(encoding="utf-8")


def coachsync_command(python: Path) -> list[str]:
    """The `coachsync` script beside this interpreter (a venv's bin/), else `python -m coachsync`."""
    script = python.parent / "coachsync"
    return [str(script)] if script.is_file() and os.access(script, os.X_OK) else [str(python), "-m", "coachsync"]


def exec_start(command: Sequence[str], config: Path) -> str:
    words = [*command, "--config", str(config), "run"]
    for word in words:
        if not _LITERAL.fullmatch(word):
            bad = sorted({char for char in word if not _LITERAL.fullmatch(char)})
            raise UnitPathError(
                f"cannot put {word!r} in a unit file: systemd would misread {' '.join(map(repr, bad))}; "
                "move it to a path without those characters"
            )
    return " ".join(words)


def render(template_text: str, exec_start_line: str) -> str:
    """The template with its one ExecStart= line replaced."""
    lines = template_text.splitlines(keepends=True)
    found = [index for index, line in enumerate(lines) if line.startswith("ExecStart=")]
    if len(found) != 1:
        raise ServiceError(f"the unit template has {len(found)} ExecStart= lines, expected 1; reinstall coachsync")
    lines[found[0]] = f"ExecStart={exec_start_line}\n"
    return "".join(lines)


def hidden_from_system_service(paths: Sequence[Path]) -> list[Path]:
    """Paths the hardened system unit cannot reach, so the coach hears about it before it fails."""
    return [path for path in paths if any(path.is_relative_to(hidden) for hidden in _HIDDEN_FROM_SYSTEM)]


def default_unit_path(user: bool, environ: Mapping[str, str] = os.environ) -> Path:
    if not user:
        return SYSTEM_UNIT_DIR / UNIT_NAME
    config_home = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "systemd" / "user" / UNIT_NAME


def enable_commands(user: bool, unit_path: Path, in_search_path: bool) -> list[str]:
    systemctl = "systemctl --user" if user else "systemctl"
    # A unit outside the search path is linked by naming its file.
    target = unit_path.name if in_search_path else str(unit_path)
    commands = [f"{systemctl} daemon-reload", f"{systemctl} enable --now {target}"]
    if user:
        commands.append("loginctl enable-linger   # keep it running while you are logged out")
    return commands


def write_unit(path: Path, text: str, default_location: bool) -> None:
    """Write through a temporary file so a unit is never half-written; units are world-readable by convention."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(text, encoding="utf-8")
        temporary.chmod(0o644)
        temporary.replace(path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        reason = error.strerror or type(error).__name__
        denied = default_location and isinstance(error, PermissionError)
        hint = "; run with sudo or pass --output PATH" if denied else ""
        raise ServiceError(f"cannot write {path}: {reason}{hint}") from None


def python_executable() -> Path:
    """This interpreter as invoked (a venv's bin/python, not the binary its symlink points to)."""
    return Path(os.path.abspath(sys.executable))
