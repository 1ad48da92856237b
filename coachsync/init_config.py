"""Writing a coach's first config (`coachsync init`) and adding a client to one (`init --add-client`).

The config is written as commented YAML text, so that every key says what it
does; a client is added by inserting its lines into the `clients:` block that
ruamel's round-trip parse locates, so every other byte of the file, comments
included, stays as the coach left it. Nothing here ever writes a password.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ruamel.yaml import YAML

from coachsync.config import ENV_CONFIG, load_config
from coachsync.errors import CoachsyncError, ConfigError
from coachsync.model import Occurrence
from coachsync.onboarding import ProposedClient

CALENDAR_NAME = "coaching"
SCHEMA_FILE = "coachsync-schema.json"
DEFAULT_NOTICE_HOURS = 24.0
DEFAULT_ALLOWANCE = 2
DEFAULT_PERIOD = "90 days"

# The built-in policies, each written off with what it does.
BUILT_IN_POLICIES: tuple[tuple[str, str], ...] = (
    ("fee", "a fee for each late change beyond the allowance; needs amount and currency"),
    ("escalation_email", "a warm check-in email when a client goes over the allowance"),
    ("end_engagement", "a suggestion to revisit, pause or end an engagement that keeps going over"),
    ("checkin", "a short self-reflection prompt when a change leaves a long gap"),
)

_PLAIN = re.compile(r"(?:[^\W_]|[/~])[\w .@+'’&/~-]*", re.UNICODE)
_NOT_PLAIN = re.compile(r": | #|:$|^(?:true|false|null|~|yes|no|on|off)$|^[-+.\d]", re.IGNORECASE)


class InitError(CoachsyncError):
    """`init` cannot go on as asked; the message says what to give instead."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class CaldavAnswers:
    url: str
    username: str | None = None
    calendar: str | None = None
    password_command: str | None = None


@dataclass(frozen=True, slots=True)
class Answers:
    """Everything `init` asked or was told; exactly one of ics_file, ics_url and caldav is set."""

    ics_file: Path | None = None
    ics_url: str | None = None
    caldav: CaldavAnswers | None = None
    timezone: str | None = None
    notice_hours: float = DEFAULT_NOTICE_HOURS
    clients: Sequence[ProposedClient] = field(default_factory=tuple)


def local_timezone() -> str | None:
    """The computer's IANA zone name ($TZ, else /etc/localtime's link), as the prompt's default."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = os.path.realpath("/etc/localtime")
        candidates.append(target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else "")
    except OSError:
        pass
    for name in candidates:
        if name and known_timezone(name):
            return name
    return None


def known_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def occurrences_of(text: str, zone: tzinfo, now: datetime) -> list[Occurrence]:
    """The calendar's sessions in the default window, read exactly as a pass reads them."""
    from coachsync.config import DEFAULT_WINDOW_DAYS_AHEAD, DEFAULT_WINDOW_DAYS_BACK
    from coachsync.ics import parse_groups, split_calendar, window_around

    split = split_calendar(text)
    window = window_around(now, DEFAULT_WINDOW_DAYS_BACK, DEFAULT_WINDOW_DAYS_AHEAD)
    parsed = parse_groups(
        split, list(split.groups), calendar_name=CALENDAR_NAME, window=window, zone=zone, match_client=_nobody
    )
    return [o for found in parsed.occurrences.values() for o in found]


def _nobody(attendees: Sequence[str], summary: str) -> str | None:
    return None


def scalar(value: str) -> str:
    """A YAML scalar for `value`: plain when that reads back the same, else double-quoted (JSON is YAML)."""
    if _PLAIN.fullmatch(value) and not _NOT_PLAIN.search(value) and value == value.strip():
        return value
    return json.dumps(value, ensure_ascii=False)


def _flow(values: Sequence[str]) -> str:
    return "[" + ", ".join(scalar(v) for v in values) + "]"


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def client_lines(client: ProposedClient, indent: int = 2) -> list[str]:
    pad = " " * indent
    lines = [f"{pad}- name: {scalar(client.name)}"]
    if client.emails:
        lines.append(f"{pad}  emails: {_flow(client.emails)}")
    if client.aliases:
        lines.append(f"{pad}  aliases: {_flow(client.aliases)}")
    return lines


def render_config(answers: Answers) -> str:
    """The commented config `init` writes."""
    out = [
        f"# yaml-language-server: $schema={SCHEMA_FILE}",
        "# coachsync config, written by `coachsync init`. Every key is explained in",
        "# docs/config.md; `coachsync check` tests the whole file.",
    ]
    if answers.ics_url is not None:
        out.append("# Keep this file private (chmod 600): the ics_url below is a secret.")
    out.append("")
    out.append("# Your time zone: for events without one, for all-day events, and for the times shown.")
    if answers.timezone:
        out.append(f"timezone: {scalar(answers.timezone)}")
    else:
        out.append("# timezone: Europe/Berlin    # left out: the computer's time zone is used")
    out += ["", "calendars:", f"  - name: {CALENDAR_NAME}"]
    if answers.ics_file is not None:
        out.append(f"    ics_file: {scalar(str(answers.ics_file))}")
    elif answers.ics_url is not None:
        out.append(f"    ics_url: {scalar(answers.ics_url)}")
    elif answers.caldav is not None:
        dav = answers.caldav
        out += ["    caldav:", f"      url: {scalar(dav.url)}"]
        if dav.username:
            out.append(f"      username: {scalar(dav.username)}")
        if dav.calendar:
            out.append(f"      calendar: {scalar(dav.calendar)}")
        if dav.password_command:
            out.append(f"      password_command: {scalar(dav.password_command)}")
        else:
            out += [
                "      # The password is never kept in this file. Give a command that prints it,",
                "      # password_command: pass show caldav/coach",
                "      # or set $COACHSYNC_CALDAV_PASSWORD (for the service: the systemd credential caldav-password).",
            ]
    out += [
        "",
        "# Your coaching agreement: the terms every client has unless their own entry",
        "# overrides one (clients[i].agreement takes the same keys).",
        "agreement:",
        f"  notice_hours: {_number(answers.notice_hours)}    # a change with less notice than this is late",
        "  # cadence: weekly    # how often sessions are meant to happen: weekly, fortnightly, monthly, every N days",
        "  allowance:",
        f"    reschedules: {DEFAULT_ALLOWANCE}    # changes that are fine in each period",
        f"    per: {DEFAULT_PERIOD}",
        "",
        "# Your clients. A session is a client's when an attendee has one of their emails,",
        "# else when one of their aliases, or their name, is a whole word of its title.",
        "# Add one later with: coachsync init --add-client NAME --email ADDRESS --alias WORD",
    ]
    if answers.clients:
        out.append("clients:")
        for client in answers.clients:
            out += client_lines(client)
    else:
        out.append("clients: []")
    out += [
        "",
        "# The built-in policies, all off: turn one on with enabled: true.",
        '# Each is described in docs/config.md under "Built-in policies".',
        "policies:",
    ]
    width = max(len(name) for name, _ in BUILT_IN_POLICIES) + len(": {enabled: false}")
    out += [f"  {(name + ': {enabled: false}').ljust(width)}  # {what}" for name, what in BUILT_IN_POLICIES]
    out += [
        "",
        "# The policies' emails are written as .eml files to outbox_dir; nothing is sent.",
        "# To send them through your mail server, see mail.mode: smtp in docs/config.md.",
        "mail:",
        "  mode: outbox",
    ]
    return "\n".join(out) + "\n"


def write_new(path: Path, text: str, force: bool) -> Path | None:
    """Write a new config readable by the coach alone; with `force`, an existing one is kept as FILE.bak
    (returned)."""
    backup = None
    if path.exists():
        if not force:
            raise InitError(
                f"{path} already exists; pass --force to replace it (the old file is kept as {path.name}.bak),"
                " --config FILE to write another, or --add-client NAME to add a client to it"
            )
        backup = path.with_name(path.name + ".bak")
        os.replace(path, backup)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_private(path, text)
    return backup


def write_schema(directory: Path, schema: dict[str, object]) -> Path:
    target = directory / SCHEMA_FILE
    target.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def _write_private(path: Path, text: str) -> None:
    """Atomically, mode 0600 (an ics_url is a secret), keeping the mode of a file it replaces."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def add_client(path: Path, client: ProposedClient) -> str:
    """Add `client` at the end of the config's `clients:`; returns the new text, already written.

    The result must load: a duplicate name or an email of another client is refused with the
    config's own error, naming `path`, and the file is left as it was.
    """
    if not path.exists():
        raise InitError(
            f"{path} does not exist; run `coachsync init` first (or pass --config FILE, or set ${ENV_CONFIG})"
        )
    load_config(path)  # a config that is already broken says so first, with its own line
    text = path.read_text(encoding="utf-8")
    new = insert_client(text, client)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".yaml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(new)
        load_config(temporary)
    except ConfigError as error:
        raise ConfigError(str(path), error.line, error.key, error.problem) from None
    finally:
        Path(temporary).unlink(missing_ok=True)
    _write_private(path, new)
    return new


def insert_client(text: str, client: ProposedClient) -> str:
    """The text with the client's lines after the last line of the `clients:` block."""
    data = YAML(typ="rt").load(text)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    keys = list(data)
    if "clients" not in data:
        return "".join(lines) + "clients:\n" + "".join(line + "\n" for line in client_lines(client))
    key_line = data.lc.key("clients")[0]
    clients = data["clients"]
    if clients and getattr(clients, "fa", None) is not None and clients.fa.flow_style():
        raise InitError("clients: is written on one line ([...]); write it as a list of `- name:` entries first")
    if not clients:  # `clients: []` or `clients:` with nothing: the block starts here
        lines[key_line] = re.sub(r"clients:.*?(\s*#.*)?$", r"clients:\1", lines[key_line].rstrip("\n")) + "\n"
        lines[key_line + 1 : key_line + 1] = [line + "\n" for line in client_lines(client)]
        return "".join(lines)
    position = keys.index("clients")
    end = data.lc.key(keys[position + 1])[0] if position + 1 < len(keys) else len(lines)
    # Blank lines and comments at the left margin before the next key belong to that key.
    while end > key_line + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    dash = clients.lc.item(0)[1] - 2  # the column of the first client's `-`
    lines[end:end] = [line + "\n" for line in client_lines(client, max(dash, 0))]
    return "".join(lines)
