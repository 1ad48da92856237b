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
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

from .errors import CoachsyncError

UNIT_NAME = "coachsync.service"
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
_TEMPLATES = {True: "coachsync.service", False: "coachsync-system.service"}  # keyed by `user`
# Characters systemd reads literally in an ExecStart word. Anything else (space, quotes, backslash, % specifiers,
# $ variables, ;) would be split, expanded or unquoted into a different path than the one on disk.
_LITERAL = re.compile(r"[\w/.,:+@=~-]+")
# What ProtectHome= hides, PrivateTmp= replaces, and ProtectSystem= makes read-only (systemd.exec(5)).
_HOME_DIRECTORIES = (Path("/home"), Path("/root"), Path("/run/user"))
_TEMPORARY_DIRECTORIES = (Path("/tmp"), Path("/var/tmp"))
_SYSTEM_READ_ONLY = {
    "yes": (Path("/usr"), Path("/boot"), Path("/efi")),
    "full": (Path("/usr"), Path("/boot"), Path("/efi"), Path("/etc")),
    "strict": (Path("/"),),
}
# Directories systemd creates writable for the service, by setting, under these roots.
_SERVICE_DIRECTORIES = {
    "StateDirectory": Path("/var/lib"),
    "CacheDirectory": Path("/var/cache"),
    "LogsDirectory": Path("/var/log"),
    "RuntimeDirectory": Path("/run"),
}
_TRUE = {"yes", "true", "on", "1"}


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


@dataclass(frozen=True, slots=True)
class Sandbox:
    """What a unit's own settings let the service see and write."""

    hidden: tuple[Path, ...]  # ProtectHome=yes or tmpfs
    private: tuple[Path, ...]  # PrivateTmp=yes: the service gets an empty /tmp of its own
    read_only: tuple[Path, ...]  # ProtectSystem=
    writable: tuple[Path, ...]  # StateDirectory= and the like, ReadWritePaths=
    protect_system: str

    @classmethod
    def of(cls, unit_text: str) -> Sandbox:
        settings: dict[str, list[str]] = {}
        for raw in unit_text.splitlines():
            line = raw.strip()
            if line and not line.startswith(("#", ";", "[")) and "=" in line:
                key, _, value = line.partition("=")
                settings.setdefault(key.strip(), []).extend(value.split())

        def last(key: str) -> str:  # the last assignment wins, as in systemd
            values = settings.get(key)
            return values[-1].lower() if values else "no"

        protect_home = last("ProtectHome")
        protect_system = last("ProtectSystem")
        writable = [
            root / name
            for key, root in _SERVICE_DIRECTORIES.items()
            for name in settings.get(key, [])
            if not PurePosixPath(name).is_absolute()
        ]
        writable += [Path(path.lstrip("-+")) for path in settings.get("ReadWritePaths", [])]
        return cls(
            hidden=_HOME_DIRECTORIES if protect_home in _TRUE | {"tmpfs"} else (),
            private=_TEMPORARY_DIRECTORIES if last("PrivateTmp") in _TRUE else (),
            read_only=_SYSTEM_READ_ONLY.get(protect_system, ()),
            writable=tuple(writable),
            protect_system=protect_system,
        )

    def cannot_see(self, path: Path) -> str | None:
        """Why the service cannot see `path`, or None."""
        if any(path.is_relative_to(hidden) for hidden in self.hidden):
            return "ProtectHome=yes"
        if any(path.is_relative_to(private) for private in self.private):
            return "PrivateTmp=yes gives the service a /tmp of its own"
        return None

    def cannot_write(self, path: Path) -> str | None:
        """Why the service cannot write in `path`, or None."""
        seen = self.cannot_see(path)
        if seen is not None:
            return seen
        if any(path.is_relative_to(w) for w in self.writable):
            return None
        if any(path.is_relative_to(r) for r in self.read_only):
            allowed = ", ".join(str(w) for w in self.writable) or "nothing"
            return f"ProtectSystem={self.protect_system} lets it write only in {allowed}"
        return None


def system_service_warnings(
    unit_text: str, *, program: Path, config: Path, written: Sequence[tuple[str, Path]]
) -> list[str]:
    """What the hardened unit would stop, so the coach hears about it before the service fails.

    `written` names the directories the service must write in (by config key), where the config sets them.
    """
    sandbox = Sandbox.of(unit_text)
    warnings: list[str] = []
    for what, path in (("coachsync", program), ("the config", config)):
        reason = sandbox.cannot_see(path)
        if reason is not None:
            warnings.append(
                f"warning: the system service cannot see {what} at {path} ({reason}); install coachsync outside home"
                " and temporary directories (e.g. /opt/coachsync) with the config in /etc/coachsync, or use --user"
            )
    for key, path in written:
        reason = sandbox.cannot_write(path)
        if reason is not None:
            warnings.append(
                f"warning: the system service cannot write {key} {path} ({reason}); leave {key} unset (it then"
                " lives in /var/lib/coachsync) or point it there, or use --user"
            )
    return warnings


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
