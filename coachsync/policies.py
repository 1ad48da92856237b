"""Running the enabled policies over recorded changes, and checking what they return.

Each plugin is called on its own for each change, so one that raises (or
returns something that is not an action) is logged by name, recorded as a
failure and retried on the next pass, while the others' actions are kept.
What comes back is turned into ledger rows here; the store writes them in the
transaction of the pass, under keys that make every action happen once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from email_validator import EmailNotValidError, validate_email
from pluggy import HookImpl

from .actions import Email, Fee, Recipient, Suggestion
from .config import Config, MailConfig
from .hookspecs import ClientInfo
from .ics import MatchClient
from .model import Occurrence
from .plugins import Plugins
from .store import (
    NewEmail,
    NewFee,
    NewSuggestion,
    PolicyFailure,
    PolicyResults,
    Record,
    RunPolicies,
    Store,
)
from .templates import TemplateRenderer

log = logging.getLogger(__name__)

_CURRENCY = re.compile(r"[A-Z]{3}")
_ERROR_LIMIT = 500


class InvalidAction(Exception):
    """A plugin returned something the core cannot record; counted as that plugin's failure."""


@dataclass(frozen=True, slots=True)
class ActionRows:
    fees: tuple[NewFee, ...] = ()
    suggestions: tuple[NewSuggestion, ...] = ()
    emails: tuple[NewEmail, ...] = ()


class PolicyRunner:
    """Calls each enabled plugin's `coachsync_on_change` once per change, with its own settings."""

    def __init__(self, config: Config, plugins: Plugins, match_client: MatchClient, zone: tzinfo) -> None:
        self._mail = config.mail
        self._clients = {c.name: ClientInfo(c.name, tuple(c.emails)) for c in config.clients}
        self._plugins = plugins
        self._match_client = match_client
        self._zone = zone
        # The coach's templates_dir first, so their copy of a template wins over the plugin's own.
        self._renderers = {
            name: TemplateRenderer([d for d in (config.mail.templates_dir, plugins.template_dirs[name]) if d])
            for name in plugins.settings
        }

    def for_pass(self, store: Store, now: datetime) -> RunPolicies:
        """The callback a pass hands to `Store.commit_pass`, run inside its transaction."""

        def run(records: Sequence[Record]) -> PolicyResults:
            impls = self._impls()
            return self._run(store, [(r, name) for r in records for name in impls], impls, now)

        return run

    def retry(self, store: Store, calendar: str, now: datetime) -> PolicyResults:
        """Run again every (change, plugin) pair of this calendar that failed before."""

        def run(pending: Sequence[tuple[Record, str]]) -> PolicyResults:
            impls = self._impls()
            # A plugin switched off since it failed is not run; its failure stays until it is back on.
            return self._run(store, [(r, name) for r, name in pending if name in impls], impls, now)

        return store.retry_policies(calendar, run, now)

    def _impls(self) -> dict[str, HookImpl]:
        """The enabled plugins' implementations, by name; blocked plugins are not registered at all."""
        impls = self._plugins.manager.hook.coachsync_on_change.get_hookimpls()
        return {
            i.plugin_name: i for i in sorted(impls, key=lambda i: i.plugin_name) if i.plugin_name in self._renderers
        }

    def _run(
        self, store: Store, calls: Sequence[tuple[Record, str]], impls: Mapping[str, HookImpl], now: datetime
    ) -> PolicyResults:
        context = _Context(store, now, self._match_client)
        rows = ActionRows()
        failures: list[PolicyFailure] = []
        succeeded: list[tuple[int, str]] = []
        for record, name in calls:
            client = self._client(record.change.client)
            impl = impls[name]
            try:
                # Only the arguments the function names, as pluggy itself would call it.
                arguments = [self._argument(arg, record, name, client, context, now) for arg in impl.argnames]
                returned = impl.function(*arguments)
                found = action_rows(name, record, client, _actions(returned), self._mail)
            except Exception as error:  # a plugin's bug must not stop the pass or the other plugins
                message = _describe(error)
                log.error("policy failed", extra={"plugin": name, "change": record.id, "error": message})
                failures.append(PolicyFailure(record.id, name, message))
                continue
            rows = ActionRows(rows.fees + found.fees, rows.suggestions + found.suggestions, rows.emails + found.emails)
            succeeded.append((record.id, name))
            if found.fees or found.suggestions or found.emails:
                counts = {"fees": len(found.fees), "emails": len(found.emails), "suggestions": len(found.suggestions)}
                log.info("policy acted", extra={"plugin": name, "change": record.id, **counts})
        return PolicyResults(rows.fees, rows.suggestions, rows.emails, tuple(failures), tuple(succeeded))

    def _argument(
        self, arg: str, record: Record, name: str, client: ClientInfo | None, context: _Context, now: datetime
    ) -> Any:
        """One of coachsync_on_change's arguments, computed only when the plugin asks for it."""
        match arg:
            case "record":
                return record
            case "history":
                return context.history(record)
            case "client":
                return client
            case "sessions":
                return context.sessions(client)
            case "settings":
                return self._plugins.settings[name]
            case "render":
                return self._renderers[name].render
            case "zone":
                return self._zone
            case "now":
                return now
        raise InvalidAction(f"coachsync_on_change has no argument {arg!r}")  # pluggy checks this at start-up

    def _client(self, name: str | None) -> ClientInfo | None:
        if name is None:
            return None
        # A client renamed or removed from the config since the change keeps its name, without emails.
        return self._clients.get(name, ClientInfo(name, ()))


@dataclass
class _Context:
    """What plugins read about clients during one run, read once from the store's own connection."""

    store: Store
    now: datetime
    match_client: MatchClient
    _history: dict[str, list[Record]] = field(default_factory=dict)
    _sessions: dict[str | None, list[Occurrence]] | None = None

    def history(self, record: Record) -> tuple[Record, ...]:
        client = record.change.client
        if client is None:
            return ()
        if client not in self._history:
            self._history[client] = self.store.history(client=client)
        return tuple(r for r in self._history[client] if r.id < record.id)

    def sessions(self, client: ClientInfo | None) -> tuple[Occurrence, ...]:
        if client is None:
            return ()
        if self._sessions is None:
            self._sessions = {}
            for occurrence in self.store.upcoming_sessions(self.now):
                owner = self.match_client(occurrence.attendees, occurrence.summary)
                self._sessions.setdefault(owner, []).append(dataclasses.replace(occurrence, client=owner))
        return tuple(self._sessions.get(client.name, ()))


def _actions(returned: object) -> list[object]:
    if returned is None:
        return []
    if isinstance(returned, (Fee, Email, Suggestion)):
        raise InvalidAction(f"coachsync_on_change returned one {type(returned).__name__}; return a list of actions")
    if isinstance(returned, (str, bytes, Mapping)) or not isinstance(returned, Iterable):
        raise InvalidAction(f"coachsync_on_change must return a list of actions or None, got {type(returned).__name__}")
    return list(returned)


def action_rows(
    plugin: str, record: Record, client: ClientInfo | None, actions: Iterable[object], mail: MailConfig
) -> ActionRows:
    """Check each action and turn it into the row that records it; raise InvalidAction on the first bad one."""
    fees: list[NewFee] = []
    suggestions: list[NewSuggestion] = []
    emails: list[NewEmail] = []
    keys: set[str] = set()

    def unique(key: str, action: object, field_name: str) -> str:
        if key in keys:
            raise InvalidAction(
                f"returned two {type(action).__name__} actions with the key {key!r}; give each its own {field_name}"
            )
        keys.add(key)
        return key

    for action in actions:
        if isinstance(action, Fee):
            fee = _fee(plugin, record, client, action)
            fees.append(dataclasses.replace(fee, key=unique(fee.key, action, "key")))
        elif isinstance(action, Email):
            email = _email(plugin, record, client, action, mail)
            emails.append(dataclasses.replace(email, key=unique(email.key, action, "once_per")))
        elif isinstance(action, Suggestion):
            suggestion = _suggestion(plugin, record, client, action)
            suggestions.append(dataclasses.replace(suggestion, key=unique(suggestion.key, action, "once_per")))
        else:
            raise InvalidAction(
                f"returned {type(action).__name__} {_short(repr(action))}; return Fee, Email or Suggestion"
                " values from coachsync.actions"
            )
    return ActionRows(tuple(fees), tuple(suggestions), tuple(emails))


def idempotency_key(change_id: int, plugin: str, kind: str, key: str = "", once_per: str = "") -> str:
    """Once per change, plugin and action kind (and `key`), or once per `once_per` across changes."""
    if once_per:
        return f"{plugin}:{kind}:{once_per}"
    return f"{change_id}:{plugin}:{kind}" + (f":{key}" if key else "")


def message_id(key: str, sender: str) -> str:
    """The same action always gets the same Message-ID, so a resent message can be recognised."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{sender.rpartition('@')[2]}>"


def _fee(plugin: str, record: Record, client: ClientInfo | None, fee: Fee) -> NewFee:
    amount = fee.amount
    if isinstance(amount, bool) or not isinstance(amount, (Decimal, int)):
        raise InvalidAction(f"Fee amount must be a Decimal such as Decimal('40.00'), got {_short(repr(amount))}")
    amount = Decimal(amount)
    if not amount.is_finite() or amount <= 0:
        raise InvalidAction(f"Fee amount must be more than 0, got {amount}")
    if not isinstance(fee.currency, str) or not _CURRENCY.fullmatch(fee.currency):
        raise InvalidAction(f"Fee currency must be a 3-letter code such as 'EUR', got {_short(repr(fee.currency))}")
    _text(fee.reason, "Fee reason")
    _text(fee.key, "Fee key", allow_empty=True)
    if client is None:
        raise InvalidAction(f"returned a Fee for change {record.id}, which belongs to no client; charge only clients")
    if -amount.as_tuple().exponent < 2:  # type: ignore[operator]  # finite, so the exponent is an int
        amount = amount.quantize(Decimal("0.01"))  # 40 is shown as 40.00
    # An excused change never costs the client anything, even when its fee comes from a late retry.
    waived = f"change excused: {record.reason}" if record.excused else None
    key = idempotency_key(record.id, plugin, "fee", key=fee.key)
    return NewFee(key, record.id, plugin, client.name, amount, fee.currency, fee.reason, waived)


def _email(plugin: str, record: Record, client: ClientInfo | None, email: Email, mail: MailConfig) -> NewEmail:
    try:
        to = Recipient(email.to)
    except ValueError:
        raise InvalidAction(
            f"Email to must be Recipient.CLIENT or Recipient.COACH, got {_short(repr(email.to))}"
        ) from None
    subject = " ".join(_text(email.subject, "Email subject").split())  # one header line, whatever came in
    body = _text(email.body, "Email body")
    once_per = _text(email.once_per, "Email once_per", allow_empty=True)
    if not isinstance(email.require_approval, bool):
        raise InvalidAction(f"Email require_approval must be True or False, got {_short(repr(email.require_approval))}")
    if to is Recipient.CLIENT and client is None:
        raise InvalidAction(f"returned an Email to the client of change {record.id}, which belongs to no client")
    key = idempotency_key(record.id, plugin, "email", once_per=once_per)
    recipient, error = _address(to, client, mail)
    status = "failed" if error else ("pending_approval" if email.require_approval else "queued")
    return NewEmail(
        key=key,
        message_id=message_id(key, mail.sender),
        change_id=record.id,
        plugin=plugin,
        client=client.name if client else None,
        recipient=recipient,
        subject=subject,
        body=body,
        status=status,
        error=error,
    )


def _address(to: Recipient, client: ClientInfo | None, mail: MailConfig) -> tuple[str | None, str | None]:
    """(address, None), or (None, why there is none) so that the outbox shows the coach what to fix."""
    if to is Recipient.COACH:
        address = mail.coach_email or mail.sender
        fix = "fix mail.coach_email (or mail.from) in the config"
    else:
        assert client is not None  # checked by the caller
        if not client.emails:
            return None, f"client {client.name} has no email address; add emails: to the client in the config"
        address = client.emails[0]
        fix = f"fix the emails: of client {client.name} in the config"
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return None, f"{_short(repr(address))} is not a valid email address; {fix}"
    return address, None


def _suggestion(plugin: str, record: Record, client: ClientInfo | None, suggestion: Suggestion) -> NewSuggestion:
    text = _text(suggestion.text, "Suggestion text").strip()
    once_per = _text(suggestion.once_per, "Suggestion once_per", allow_empty=True)
    key = idempotency_key(record.id, plugin, "suggestion", once_per=once_per)
    return NewSuggestion(key, record.id, plugin, client.name if client else None, text)


def _text(value: object, what: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidAction(f"{what} must be text, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise InvalidAction(f"{what} must not be empty")
    return value


def _describe(error: Exception) -> str:
    text = str(error) if isinstance(error, InvalidAction) else f"{type(error).__name__}: {error}"
    return _short(" ".join(text.split()), _ERROR_LIMIT)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
