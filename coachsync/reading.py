"""What commands that only read the history need of the config, and a snapshot of it that starts them fast.

Validating the YAML takes pydantic and email-validator, which cost more to
import than everything else `coachsync history` does. So every full load
leaves the few settings a reading command uses (the database, the zone, the
calendars' names, the clients and their agreements) in a small JSON file in
the user's cache directory, keyed by the config file's path, its exact text
and coachsync's version. A reading command uses that snapshot while the text
still matches and validates the file in full otherwise; anything else it
needs loads the whole config on first use (`App.config`). The snapshot is a
cache: when it is missing, stale, damaged or cannot be written, the command
only starts slower.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from . import __version__
from .agreement import Agreement, Terms, effective, parse_cadence, parse_period
from .clients import ClientRule

log = logging.getLogger(__name__)

ENV_CONFIG = "COACHSYNC_CONFIG"

# Bumped when the file's layout changes, so an older snapshot is ignored rather than misread.
SNAPSHOT_FORMAT = 1


def default_config_path() -> Path:
    """$COACHSYNC_CONFIG wins so systemd units and tests can point elsewhere."""
    import platformdirs

    env = os.environ.get(ENV_CONFIG)
    if env:
        return Path(env).expanduser()
    return platformdirs.user_config_path("coachsync") / "config.yaml"


def config_file(path: Path | str) -> Path:
    """The absolute path a config is known by: the key of its snapshot, and what errors name."""
    return Path(os.path.abspath(Path(path).expanduser()))


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def coach_zone(timezone: str | None) -> tzinfo:
    """The coach's zone for floating times and display; the system zone when none is set."""
    if timezone is not None:
        return ZoneInfo(timezone)
    local = datetime.now().astimezone().tzinfo
    assert local is not None  # astimezone() always returns an aware datetime
    return local


@dataclass(frozen=True, slots=True)
class ReadingConfig:
    """The validated settings a command that only reads the store needs; see `Config.reading`."""

    path: Path
    database: Path
    timezone: str | None
    calendars: tuple[str, ...]
    clients: tuple[ClientRule, ...]
    default_terms: Terms = Terms()
    client_terms: Mapping[str, Terms] = field(default_factory=dict)

    def tzinfo(self) -> tzinfo:
        return coach_zone(self.timezone)

    def agreement_for(self, client: str | None) -> Agreement:
        """A client's effective agreement: theirs over the practice's, key by key. A client no longer in
        the config (or a session of no client) has the practice's."""
        return effective(self.default_terms, self.client_terms.get(client) if client is not None else None)


# --- the snapshot file ---


def snapshot_file(config_path: Path) -> Path:
    import platformdirs

    key = hashlib.sha256(str(config_path).encode("utf-8")).hexdigest()[:24]
    return platformdirs.user_cache_path("coachsync") / "config" / f"{key}.json"


def read_snapshot(config_path: Path | str) -> ReadingConfig | None:
    """The snapshot of this config file if it was taken of its current text by this coachsync, else None."""
    path = config_file(config_path)
    try:
        text = path.read_text(encoding="utf-8")
        stored = json.loads(snapshot_file(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no snapshot yet, an unreadable file, not UTF-8, not JSON
        return None
    if not isinstance(stored, dict) or stored.get("key") != _key(path, text_digest(text)):
        return None
    try:
        return _from_json(path, stored)
    except (KeyError, TypeError, ValueError) as error:
        log.debug("ignoring a damaged config snapshot: %s", error)
        return None


def write_snapshot(config: ReadingConfig, digest: str) -> None:
    """Keep `config`, validated from a text with this digest, for the next reading command."""
    target = snapshot_file(config.path)
    data = {"key": _key(config.path, digest), **_as_json(config)}
    try:
        if target.exists() and json.loads(target.read_text(encoding="utf-8")) == data:
            return  # unchanged: most commands run on a config that has not been edited
    except (OSError, ValueError):
        pass  # damaged: written again below
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}")
        # Client names and emails are personal data: readable by the coach alone.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1)
        os.replace(partial, target)
    except OSError as error:  # a read-only home or cache under systemd: the next command validates in full
        log.debug("config snapshot not written to %s: %s", target, error)


def _key(path: Path, digest: str) -> dict[str, Any]:
    return {"format": SNAPSHOT_FORMAT, "coachsync": __version__, "config": str(path), "sha256": digest}


def _as_json(config: ReadingConfig) -> dict[str, Any]:
    return {
        "database": str(config.database),
        "timezone": config.timezone,
        "calendars": list(config.calendars),
        "clients": [{"name": c.name, "emails": list(c.emails), "aliases": list(c.aliases)} for c in config.clients],
        "agreement": _terms_json(config.default_terms),
        "client_agreements": {name: _terms_json(terms) for name, terms in config.client_terms.items()},
    }


def _from_json(path: Path, data: Mapping[str, Any]) -> ReadingConfig:
    return ReadingConfig(
        path=path,
        database=Path(data["database"]),
        timezone=_zone_name(data["timezone"]),
        calendars=tuple(str(name) for name in data["calendars"]),
        clients=tuple(
            ClientRule(str(c["name"]), tuple(map(str, c["emails"])), tuple(map(str, c["aliases"])))
            for c in data["clients"]
        ),
        default_terms=_terms(data["agreement"]),
        client_terms={str(name): _terms(terms) for name, terms in data["client_agreements"].items()},
    )


def _terms_json(terms: Terms) -> dict[str, Any]:
    # Cadence and period by the words the YAML uses, which parse back to the same value.
    return {
        "notice_hours": terms.notice_hours,
        "cadence": str(terms.cadence) if terms.cadence else None,
        "allowance": terms.allowance,
        "per": str(terms.per) if terms.per else None,
        "started": terms.started.isoformat() if terms.started else None,
    }


def _terms(data: Mapping[str, Any]) -> Terms:
    notice = data["notice_hours"]
    allowance = data["allowance"]
    return Terms(
        notice_hours=float(notice) if notice is not None else None,
        cadence=parse_cadence(data["cadence"]) if data["cadence"] is not None else None,
        allowance=int(allowance) if allowance is not None else None,
        per=parse_period(data["per"]) if data["per"] is not None else None,
        started=date.fromisoformat(data["started"]) if data["started"] is not None else None,
    )


def _zone_name(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"expected a time zone name, got {type(value).__name__}")
    return value
