"""The coach's YAML config: loaded with line numbers, validated by pydantic models.

Every failure becomes one `ConfigError` that names the file, the line, the
dotted key (``calendars[0].ics_file``) and what to change, because the daemon
refuses to start on a bad config and the coach has to be able to fix it alone.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from coachsync.addresses import InvalidAddress, check_address
from coachsync.agreement import Agreement, Terms, parse_cadence, parse_period
from coachsync.clients import ClientRule
from coachsync.errors import ConfigError
from coachsync.reading import ENV_CONFIG, ReadingConfig, coach_zone, config_file, text_digest
from coachsync.reading import default_config_path as default_config_path  # still importable from here
from coachsync.sources.base import DEFAULT_MAX_CALENDAR_MB, url_problem
from coachsync.text import one_line

DEFAULT_WINDOW_DAYS_BACK = 30
DEFAULT_WINDOW_DAYS_AHEAD = 365


# A calendar reads from exactly one of these.
SOURCE_KEYS: tuple[str, ...] = ("ics_file", "ics_url", "caldav")

Loc = tuple[str | int, ...]
_SectionModel = TypeVar("_SectionModel", bound=BaseModel)
NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def _email_address(value: str) -> str:
    try:
        return check_address(value).lower()
    except InvalidAddress:
        raise ValueError(f"not a valid email address: {value!r}") from None


LowerEmail = Annotated[str, AfterValidator(_email_address)]


class _Located(ValueError):
    """A model-level error that belongs to a key further down (e.g. the second `name:`).

    pydantic places an error at the validator's own location; `loc` extends
    it, and `first` points at an earlier key the message refers back to.
    """

    def __init__(self, problem: str, loc: Loc, first: Loc | None = None) -> None:
        super().__init__(problem)
        self.loc = loc
        self.first = first


class _Model(BaseModel):
    # strict: YAML already typed each value, so "300" quoted is a mistake, not a number.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


def _base_dir(info: ValidationInfo) -> Path:
    """Relative paths are relative to the config file, not to wherever the daemon started."""
    context = info.context if isinstance(info.context, Mapping) else {}
    return Path(context.get("base_dir") or Path.cwd())


def _as_path(value: Any, info: ValidationInfo) -> Any:
    """Expand ~ and anchor a relative path at the config directory; non-strings fail later."""
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("must not be empty")
        value = Path(value)
    if isinstance(value, Path):
        return Path(os.path.abspath(_base_dir(info) / value.expanduser()))
    return value


def _http_url(value: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
    problem = url_problem(value, schemes)  # the same check the sources make; it never echoes a secret URL
    if problem is not None:
        raise ValueError(problem)
    return value.strip()


class CaldavConfig(_Model):
    """A calendar collection on a CalDAV server.

    The password is never part of the YAML: it comes from `password_command`,
    $COACHSYNC_CALDAV_PASSWORD, or the systemd credential `caldav-password`.
    """

    url: str
    username: NonEmptyStr | None = None
    password_command: NonEmptyStr | None = None
    calendar: NonEmptyStr | None = None
    verify_tls: bool = True
    ca_file: Path | None = None
    full_listing_hours: float = Field(default=24.0, gt=0)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("ca_file", mode="before")
    @classmethod
    def _resolve_ca_file(cls, value: Any, info: ValidationInfo) -> Any:
        return _as_path(value, info)

    @field_validator("ca_file")
    @classmethod
    def _ca_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"file not found: {value}")
        return value


class CalendarConfig(_Model):
    """One calendar to watch; `name` keys its sessions in the database."""

    name: NonEmptyStr
    ics_file: Path | None = None
    ics_url: str | None = None
    caldav: CaldavConfig | None = None
    poll_interval: float = Field(default=300.0, gt=0)
    timeout: float = Field(default=30.0, gt=0)
    max_calendar_mb: float = Field(default=DEFAULT_MAX_CALENDAR_MB, gt=0)

    @field_validator("ics_file", mode="before")
    @classmethod
    def _resolve_ics_file(cls, value: Any, info: ValidationInfo) -> Any:
        return _as_path(value, info)

    @field_validator("ics_file")
    @classmethod
    def _ics_file_exists(cls, value: Path | None) -> Path | None:
        # Checked now so a typo stops the daemon at start, not on the first pass.
        if value is not None and not value.exists():
            raise ValueError(f"file not found: {value}")
        if value is not None and not value.is_file():
            raise ValueError(f"not a file: {value}")
        return value

    @field_validator("ics_url")
    @classmethod
    def _http_only(cls, value: str | None) -> str | None:
        # webcal:// is what calendar apps hand out for a subscription; it is fetched over https.
        return None if value is None else _http_url(value, ("http", "https", "webcal"))

    @model_validator(mode="after")
    def _one_source(self) -> CalendarConfig:
        given = [key for key in SOURCE_KEYS if getattr(self, key) is not None]
        if not given:
            raise ValueError(f"no calendar source; give one of {_either(SOURCE_KEYS)}")
        if len(given) > 1:
            raise ValueError(f"give only one of {_either(SOURCE_KEYS)}, not {' and '.join(given)}")
        return self


class AllowanceConfig(_Model):
    """`allowance:` reschedules that cost nothing and raise no concern, per period."""

    reschedules: int | None = Field(default=None, ge=0)
    per: str | None = None

    @field_validator("per")
    @classmethod
    def _known_period(cls, value: str | None) -> str | None:
        return None if value is None else str(parse_period(value))


class AgreementConfig(_Model):
    """`agreement:` the practice's default coaching agreement, or a client's overrides of it; every key optional."""

    notice_hours: float | None = Field(default=None, ge=0)
    cadence: str | None = None
    allowance: AllowanceConfig | None = None
    started: datetime.date | None = None

    @field_validator("cadence")
    @classmethod
    def _known_cadence(cls, value: str | None) -> str | None:
        return None if value is None else str(parse_cadence(value))

    def terms(self) -> Terms:
        allowance = self.allowance or AllowanceConfig()
        return Terms(
            notice_hours=self.notice_hours,
            cadence=parse_cadence(self.cadence) if self.cadence else None,
            allowance=allowance.reschedules,
            per=parse_period(allowance.per) if allowance.per else None,
            started=self.started,
        )


class ClientConfig(_Model):
    """A coaching client; occurrences are charged to them by email, then by alias."""

    name: NonEmptyStr
    emails: list[LowerEmail] = []
    aliases: list[NonEmptyStr] = []
    agreement: AgreementConfig | None = None
    # Per-client overrides of `policies.<name>`, merged over it and validated by the plugin (see coachsync.plugins).
    policies: dict[str, Any] = {}

    @field_validator("policies")
    @classmethod
    def _sections(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name, section in value.items():
            if not isinstance(section, Mapping):
                raise _Located(f"expected a mapping of {name}'s settings, got {_describe(section)}", (name,))
        return value


class WindowConfig(_Model):
    """How far around today recurring events are expanded; bounds the work per pass."""

    days_back: int = Field(default=DEFAULT_WINDOW_DAYS_BACK, ge=0)
    days_ahead: int = Field(default=DEFAULT_WINDOW_DAYS_AHEAD, ge=1)


def _default_database() -> Path:
    return platformdirs.user_state_path("coachsync") / "coachsync.db"


def _default_outbox() -> Path:
    return platformdirs.user_state_path("coachsync") / "outbox"


class SmtpConfig(_Model):
    """The coach's mail server. No `username` means no login; the password is never in YAML:
    it comes from `password_command`, $COACHSYNC_SMTP_PASSWORD, or the systemd credential
    `smtp-password`."""

    host: NonEmptyStr
    port: int = Field(default=587, gt=0, le=65535)
    username: NonEmptyStr | None = None
    password_command: NonEmptyStr | None = None
    starttls: bool = True
    ssl: bool = False
    timeout: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _one_encryption(self) -> SmtpConfig:
        if self.ssl and self.starttls:
            raise _Located("use either ssl: true (port 465) or starttls: true (port 587), not both", ("ssl",))
        return self


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class DigestConfig(_Model):
    """The weekly digest to the coach: on `weekday` at `time`, in the coach's time zone."""

    enabled: bool = False
    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] = "monday"
    time: str = "08:00"

    @field_validator("time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        try:
            datetime.time.fromisoformat(value)
            valid = len(value) == 5
        except ValueError:
            valid = False
        if not valid:
            raise ValueError(f'not a time of day as HH:MM: {value!r}; write it like "08:00"')
        return value

    @property
    def clock(self) -> datetime.time:
        return datetime.time.fromisoformat(self.time)

    @property
    def isoweekday(self) -> int:
        """1 for Monday to 7 for Sunday, as ISO weeks count."""
        return WEEKDAYS.index(self.weekday) + 1


class MailConfig(_Model):
    """Where policy emails go: `.eml` files in `outbox_dir` (nothing sent), or out through SMTP."""

    mode: Literal["outbox", "smtp"] = "outbox"
    sender: LowerEmail = Field(default="coach@example.com", alias="from")
    coach_email: LowerEmail | None = None
    outbox_dir: Path = Field(default_factory=_default_outbox)
    templates_dir: Path | None = None
    smtp: SmtpConfig | None = None
    digest: DigestConfig = DigestConfig()

    @field_validator("outbox_dir", "templates_dir", mode="before")
    @classmethod
    def _resolve_dirs(cls, value: Any, info: ValidationInfo) -> Any:
        return _as_path(value, info)

    @model_validator(mode="after")
    def _smtp_settings(self) -> MailConfig:
        if self.mode == "smtp" and self.smtp is None:
            raise _Located("mode is smtp but there is no smtp: section with at least host:", ("mode",))
        if self.mode == "smtp" and "sender" not in self.model_fields_set:
            # The default sender is a placeholder for outbox files; real mail must not go out from it.
            raise _Located(
                "mode is smtp but there is no from: address; give the address the emails are sent from", ("mode",)
            )
        if self.digest.enabled and self.coach_email is None:
            raise _Located(
                "the weekly digest is enabled but there is no coach_email: give the address it goes to",
                ("digest", "enabled"),
            )
        return self


class FeeExportConfig(_Model):
    """How `fees --csv --format xero|quickbooks` writes invoices."""

    invoice_prefix: str = Field(default="CS-", max_length=10, pattern=r"^[A-Za-z0-9/_.-]*$")
    due_days: int = Field(default=14, ge=0, le=365)
    date_format: Literal["DD/MM/YYYY", "MM/DD/YYYY", "YYYY-MM-DD"] = "DD/MM/YYYY"
    # Account codes look like numbers (200), and YAML reads an unquoted one as one: both are accepted.
    account_code: NonEmptyStr | None = Field(
        default=None,
        json_schema_extra={"anyOf": [{"type": "string", "minLength": 1}, {"type": "integer"}, {"type": "null"}]},
    )
    tax_type: NonEmptyStr | None = None

    @field_validator("account_code", mode="before")
    @classmethod
    def _code_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class FeesConfig(_Model):
    """Settings of the fee ledger's commands (not of the fee policy, which is under policies.fee)."""

    export: FeeExportConfig = FeeExportConfig()


class Config(_Model):
    """The whole validated config; `path` is the file it came from, not a YAML key."""

    path: Path
    database: Path = Field(default_factory=_default_database)
    timezone: str | None = None
    window: WindowConfig = WindowConfig()
    agreement: AgreementConfig = AgreementConfig()
    # The old name of agreement.notice_hours, still read; `coachsync check` says where to move it.
    late_notice_hours: float | None = Field(default=None, ge=0)
    debounce_seconds: float = Field(default=2.0, ge=0)
    calendars: list[CalendarConfig] = Field(min_length=1)
    clients: list[ClientConfig] = []
    plugins_dir: Path | None = None
    # Each plugin validates its own section (see coachsync.plugins), with this file's lines.
    policies: dict[str, Any] = {}
    mail: MailConfig = Field(default_factory=MailConfig)
    fees: FeesConfig = FeesConfig()

    _lines: dict[Loc, int] = PrivateAttr(default_factory=dict)
    _digest: str = PrivateAttr(default="")
    _reading: ReadingConfig | None = PrivateAttr(default=None)

    @field_validator("path", "database", "plugins_dir", mode="before")
    @classmethod
    def _resolve_paths(cls, value: Any, info: ValidationInfo) -> Any:
        return _as_path(value, info)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'Europe/Berlin'") from None
        return value

    @field_validator("calendars")
    @classmethod
    def _unique_calendars(cls, value: list[CalendarConfig]) -> list[CalendarConfig]:
        _check_unique("calendar", [c.name for c in value])
        return value

    @field_validator("clients")
    @classmethod
    def _unique_clients(cls, value: list[ClientConfig]) -> list[ClientConfig]:
        # Titles and --client match names ignoring case, so "bob builder" would merge with "Bob Builder".
        _check_unique("client", [c.name for c in value], fold=True)
        owner: dict[str, tuple[int, int]] = {}
        for index, client in enumerate(value):
            for position, email in enumerate(client.emails):
                first = owner.setdefault(email, (index, position))
                if first[0] != index:  # the first client would always win, so this one never matches
                    problem = f"email {email!r} already belongs to {value[first[0]].name!r}"
                    raise _Located(problem, (index, "emails", position), (first[0], "emails", first[1]))
        return value

    @model_validator(mode="after")
    def _one_notice_period(self) -> Config:
        if self.late_notice_hours is not None and self.agreement.notice_hours is not None:
            raise _Located(
                "give only agreement.notice_hours; late_notice_hours is its old name", ("late_notice_hours",)
            )
        return self

    @field_validator("plugins_dir")
    @classmethod
    def _plugins_dir_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"directory not found: {value}")
        return value

    def validate_section(self, loc: Loc, model: type[_SectionModel], data: Any) -> _SectionModel:
        """Validate a section the core does not know (a plugin's `policies.<name>`) with the
        same FILE:LINE: KEY: problem errors as the rest of the config."""
        try:
            return model.model_validate(data, context={"base_dir": self.path.parent})
        except ValidationError as exc:
            raise _config_error(exc.errors(), str(self.path), self._lines, loc, model) from None

    def check_keys(self, loc: Loc, model: type[BaseModel], data: Any) -> None:
        """Check only that every key of a section is one of `model`'s (a disabled plugin's): its
        values may wait, a misspelt key would be silently ignored."""
        try:
            model.model_validate(data, context={"base_dir": self.path.parent})
        except ValidationError as exc:
            unknown = [error for error in exc.errors() if error["type"] == "extra_forbidden"]
            if unknown:
                raise _config_error(unknown, str(self.path), self._lines, loc, model) from None

    def validate_layers(self, layers: Sequence[tuple[Loc, Any]], model: type[_SectionModel]) -> _SectionModel:
        """Validate sections merged key by key, later over earlier (a client's `policies.fee` over the
        practice's); an error is reported at the line of the section that gave the key."""
        merged: dict[Any, Any] = {}
        origin: dict[Any, Loc] = {}
        for loc, data in layers:
            if isinstance(data, Mapping):
                merged.update(data)
                origin.update(dict.fromkeys(data, loc))
        try:
            return model.model_validate(merged, context={"base_dir": self.path.parent})
        except ValidationError as exc:
            found = [
                _config_error(
                    [error],
                    str(self.path),
                    self._lines,
                    origin.get(error["loc"][0] if error["loc"] else None, layers[-1][0]),
                    model,
                )
                for error in exc.errors()
            ]
            raise min(found, key=lambda e: e.line or 0) from None

    def key_error(self, loc: Loc, problem: str) -> ConfigError:
        """A problem found after validation, at the key's line (a policy naming no plugin)."""
        return ConfigError(str(self.path), self.line_of(loc), _dotted(loc), problem)

    def line_of(self, loc: Loc) -> int | None:
        """The line of a key, for errors found after validation (a policy naming no plugin)."""
        return _line_of(loc, self._lines) if () in self._lines else None

    def default_terms(self) -> Terms:
        """The practice's agreement as written (with `late_notice_hours` read as its notice period)."""
        terms = self.agreement.terms()
        if self.late_notice_hours is not None:
            terms = dataclasses.replace(terms, notice_hours=self.late_notice_hours)
        return terms

    def agreement_for(self, client: str | None) -> Agreement:
        """A client's effective agreement: theirs over the practice's, key by key. A client no longer in
        the config (or a session of no client) has the practice's."""
        return self.reading().agreement_for(client)

    def reading(self) -> ReadingConfig:
        """What commands that only read the store need of this config (and its snapshot keeps)."""
        if self._reading is None:
            self._reading = ReadingConfig(
                path=self.path,
                database=self.database,
                timezone=self.timezone,
                calendars=tuple(c.name for c in self.calendars),
                clients=tuple(ClientRule(c.name, tuple(c.emails), tuple(c.aliases)) for c in self.clients),
                default_terms=self.default_terms(),
                client_terms={c.name: c.agreement.terms() for c in self.clients if c.agreement is not None},
            )
        return self._reading

    @property
    def source_digest(self) -> str:
        """The SHA-256 of the text this config was validated from; empty when it was not read from a file."""
        return self._digest

    def notices(self) -> list[str]:
        """Things that still work but should change, one line each, for `coachsync check`."""
        found = []
        if self.late_notice_hours is not None:
            line = self.line_of(("late_notice_hours",))
            where = f" (line {line})" if line else ""
            found.append(
                f"late_notice_hours{where} is now agreement.notice_hours; move it under agreement:"
                f" as notice_hours: {self.late_notice_hours:g}"
            )
        return found

    def tzinfo(self) -> datetime.tzinfo:
        """The coach's zone for floating times and display; the system zone when unset."""
        return coach_zone(self.timezone)


def _check_unique(what: str, names: list[str], fold: bool = False) -> None:
    """Names key history in the database, so two entries with one name would merge.

    With `fold`, names that differ only in case (Unicode case folding) are the same name.
    """
    first: dict[str, int] = {}
    for index, name in enumerate(names):
        key = name.casefold() if fold else name
        if key in first:
            earlier = names[first[key]]
            problem = f"duplicate {what} name {name!r}"
            if earlier != name:
                problem += f", the same as {earlier!r} ignoring case"
            raise _Located(problem, (index, "name"), (first[key], "name"))
        first[key] = index


def _either(keys: tuple[str, ...]) -> str:
    return ", ".join(keys[:-1]) + " or " + keys[-1] if len(keys) > 1 else keys[0]


def load_config(path: Path | str) -> Config:
    """Read, parse and validate the config; any problem raises one `ConfigError`."""
    path = config_file(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        # The first run: say how to get a config, not only where one was looked for.
        hint = "write one with `coachsync init` (or copy config/example.yaml)"
        hint += f", or pass --config FILE or set ${ENV_CONFIG}"
        raise ConfigError(file, None, "config", f"no config file at {path}; {hint}") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        hint = f"pass --config FILE or set ${ENV_CONFIG}"
        raise ConfigError(file, None, "config", f"cannot read {path}: {reason}; {hint}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(file, None, "config", f"not UTF-8 text: {exc.reason}") from None

    raw = _parse_yaml(text, file)
    if raw is None:
        raise ConfigError(file, None, "config", "the file is empty; expected at least 'calendars:'")
    if not isinstance(raw, Mapping):
        line = raw.lc.line + 1 if hasattr(raw, "lc") else None
        got = _describe(_plain(raw))
        raise ConfigError(file, line, "config", f"expected a mapping of keys at the top level, got {got}")

    lines: dict[Loc, int] = {(): raw.lc.line + 1}  # type: ignore[attr-defined]  # ruamel's CommentedMap
    data = _plain(raw, (), lines)
    if "path" in data:  # `path` is filled in from the file's location, never from YAML
        raise ConfigError(file, lines[("path",)], "path", _unknown_key("path", Config))
    try:
        config = Config.model_validate({**data, "path": path}, context={"base_dir": path.parent})
    except ValidationError as exc:
        raise _config_error(exc.errors(), file, lines) from None
    config._lines.update(lines)
    config._digest = text_digest(text)
    return config


def _parse_yaml(text: str, file: str) -> Any:
    """Round-trip loading keeps each node's line, which every later error needs."""
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        line = mark.line + 1 if mark else None
        if "'\\t'" in problem and line is not None:  # YAML never allows tabs for indentation
            problem = f"use spaces, not tabs, to indent (line {line})"
        raise ConfigError(file, line, "yaml", one_line(problem)) from None
    except ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(file, line, "yaml", f"unacceptable character #x{exc.character:04x}: {exc.reason}") from None
    except YAMLError as exc:
        raise ConfigError(file, None, "yaml", one_line(str(exc))) from None


def _plain(node: Any, loc: Loc = (), lines: dict[Loc, int] | None = None) -> Any:
    """Turn ruamel's node types into plain Python, recording the 1-based line of each key.

    Plain values keep pydantic's strict checks exact and hand plugins ordinary
    dicts; the line map outlives the nodes so errors can still point at lines.
    """
    if isinstance(node, Mapping):
        out = {}
        for key, value in node.items():
            child = (*loc, _plain(key) if isinstance(key, (bool, int, float, str)) else key)
            if lines is not None:
                lines[child] = _line(node, "key", key) or lines[loc]
            out[child[-1]] = _plain(value, child, lines)
        return out
    if isinstance(node, list):
        items = []
        for index, value in enumerate(node):
            if lines is not None:
                lines[(*loc, index)] = _line(node, "item", index) or lines[loc]
            items.append(_plain(value, (*loc, index), lines))
        return items
    if isinstance(node, bool):
        return bool(node)
    for kind in (int, float, str):
        if isinstance(node, kind):
            return kind(node)
    return node


def _line(node: Any, kind: str, key: Any) -> int | None:
    """1-based line of a key or item; merged (`<<:`) keys have none of their own."""
    try:
        return int(getattr(node.lc, kind)(key)[0]) + 1
    except (AttributeError, KeyError, IndexError, TypeError):
        return None


def _config_error(
    found: Iterable[ErrorDetails],
    file: str,
    lines: dict[Loc, int],
    prefix: Loc = (),
    root: type[BaseModel] | None = None,
) -> ConfigError:
    """Report the error nearest the top of the file, as a coach would fix them in order.

    Missing keys come last: they are usually the echo of a misspelt key
    (`calender:`), and the unknown-key message is the one that says what to fix.
    """
    errors = []
    for error in found:
        loc: Loc = (*prefix, *error["loc"])
        problem = _problem(error, root)
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, _Located):
            if cause.first is not None:
                problem += f" (first defined on line {_line_of((*loc, *cause.first), lines)})"
            loc = (*loc, *cause.loc)
        errors.append((error["type"] == "missing", _line_of(loc, lines), loc, problem))
    _, line, loc, problem = min(errors, key=lambda e: e[:2])
    return ConfigError(file, line, _dotted(loc), problem)


def _line_of(loc: Loc, lines: dict[Loc, int]) -> int:
    """The key's own line, or the nearest enclosing one when the key is missing."""
    while loc not in lines:
        loc = loc[:-1]
    return lines[loc]


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "config"


# pydantic's error types in the words a coach would use.
_EXPECTED = {
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "string_type": "text",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "path_type": "a file path",
    "is_instance_of": "a file path",
    "date_type": "a date such as 2026-09-01",
}


def _problem(error: ErrorDetails, root: type[BaseModel] | None = None) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error["input"]
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_describe(value)}"
    if kind == "extra_forbidden":
        return _unknown_key(error["loc"][-1], _model_at(tuple(error["loc"][:-1]), root or Config))
    if kind == "missing":
        return "required key is missing"
    if kind == "literal_error":
        return f"expected {ctx['expected']}, got {_describe(value)}"
    if kind in ("string_too_short", "too_short") and ctx.get("min_length") == 1:
        return "must not be empty"
    if kind == "greater_than":
        return f"must be greater than {ctx['gt']:g}, got {_describe(value)}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']:g}, got {_describe(value)}"
    if kind == "finite_number":
        return f"must be a finite number, got {_describe(value)}"
    if kind == "value_error" and "error" in ctx:
        return one_line(str(ctx["error"]))
    return one_line(error["msg"][:1].lower() + error["msg"][1:])


def _unknown_key(key: Any, model: type[BaseModel] | None) -> str:
    fields = model.model_fields.items() if model else ()
    names = [field.alias or name for name, field in fields if not (model is Config and name == "path")]
    close = difflib.get_close_matches(str(key), names, n=1)
    return f"unknown key {key!r}" + (f"; did you mean {close[0]!r}?" if close else "")


def _model_at(loc: Loc, root: type[BaseModel]) -> type[BaseModel] | None:
    """The model that validated the mapping at `loc`, for its field names."""
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None:
            return None
        if isinstance(part, str):
            field = model.model_fields.get(part)
            model = _find_model(field.annotation) if field else None
    return model


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _find_model(arg)
        if found is not None:
            return found
    return None


def _describe(value: Any) -> str:
    """A short, one-line picture of what the YAML held instead."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, (int, float)):
        return str(value)
    return f"{value} ({type(value).__name__})"
