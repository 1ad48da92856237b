"""Calling each enabled plugin's `coachsync_on_change` through pluggy, one plugin at a time.

Each plugin gets its own hook caller, so one that raises (or returns
something that is not an action) is logged by name, counted as a failure to
retry on the next pass, and the other plugins' actions are still kept.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from ..agreement import Agreement
from ..model import ClientInfo, Occurrence, PolicyFailure, Record
from ..standing import ENDED, PAUSED, Standing
from ..templates import TemplateRenderer
from ..text import one_line
from .checks import ActionRows, Anchor, InvalidAction, action_rows, returned_actions
from .views import PolicyViews

if TYPE_CHECKING:
    from ..config import Config, MailConfig
    from ..hookspecs import PolicySettings
    from ..model import FeeEntry, OutboxMessage, SuggestionEntry
    from ..plugins import Plugins

# Named for the package: a coach filters policy lines with one logger name.
log = logging.getLogger("coachsync.policies")

_ERROR_LIMIT = 500


@dataclass(frozen=True, slots=True)
class DailyArguments:
    """What the daily hook sees of one client, read once for all plugins."""

    agreement: Agreement
    history: tuple[Record, ...]
    sessions: tuple[Occurrence, ...]
    held: tuple[Occurrence, ...]
    today: date
    period_start: datetime


@dataclass(frozen=True, slots=True)
class PolicyResults:
    """Everything the policies produced for some changes, for the caller to write in its transaction."""

    fees: tuple[FeeEntry, ...] = ()
    suggestions: tuple[SuggestionEntry, ...] = ()
    emails: tuple[OutboxMessage, ...] = ()
    failures: tuple[PolicyFailure, ...] = ()
    # (change id, plugin) pairs that ran cleanly, so an earlier failure of theirs is cleared.
    succeeded: tuple[tuple[int, str], ...] = ()


class PolicyRunner:
    """Runs the enabled plugins over records; reads through `PolicyViews`, writes nothing."""

    def __init__(self, config: Config, plugins: Plugins, zone: tzinfo) -> None:
        self._mail: MailConfig = config.mail
        self.agreement_for = config.agreement_for
        self._clients = {c.name: ClientInfo(c.name, tuple(c.emails)) for c in config.clients}
        self._plugins = plugins
        self._zone = zone
        # The coach's templates_dir first, so their copy of a template wins over the plugin's own.
        self._renderers = {
            name: TemplateRenderer([d for d in (config.mail.templates_dir, plugins.template_dirs[name]) if d])
            for name in plugins.template_dirs
        }

    @property
    def enabled(self) -> tuple[str, ...]:
        """The plugins that react to changes, by name, in the order they run."""
        return tuple(sorted(self._plugins.on_change))

    def run(self, calls: Sequence[tuple[Record, str]], views: PolicyViews, now: datetime) -> PolicyResults:
        """Call each named plugin for its record; a plugin no longer enabled is left out (its failure stays)."""
        rows = ActionRows()
        failures: list[PolicyFailure] = []
        succeeded: list[tuple[int, str]] = []
        for record, name in calls:
            hook = self._plugins.on_change.get(name)
            settings = self._plugins.settings_for(name, record.change.client)
            if hook is None or settings is None:
                continue
            standing = views.standing(record)
            if standing.why_not in (PAUSED, ENDED):
                continue  # recorded, but no policy acts while the engagement is paused or over
            client = self._client(record.change.client)
            try:
                results = hook(**self._arguments(name, record, client, views, now, settings, standing))
                # pluggy leaves out a None result; a plugin has at most one implementation.
                found = action_rows(
                    name, record, client, returned_actions(results[0] if results else None), self._mail, now
                )
            except Exception as error:  # a plugin's bug must not stop the pass or the other plugins
                message = _describe(error)
                log.error("policy failed", extra={"plugin": name, "change": record.id, "error": message})
                failures.append(PolicyFailure(record.id, name, message))
                continue
            rows += found
            succeeded.append((record.id, name))
            # What the plugin asked for is logged by sync once written: a repeat of an earlier row adds nothing.
        return PolicyResults(rows.fees, rows.suggestions, rows.emails, tuple(failures), tuple(succeeded))

    def daily(self, client: ClientInfo, arguments: DailyArguments, now: datetime) -> PolicyResults:
        """Call each plugin's coachsync_daily for one client; a failure is logged by name and the plugin
        is tried again the next day (a daily run belongs to no change that could hold its failure)."""
        rows = ActionRows()
        anchor = Anchor.daily(client.name, arguments.today.isoformat())
        for name, hook in sorted(self._plugins.daily.items()):
            settings = self._plugins.settings_for(name, client.name)
            if settings is None:
                continue
            values = {
                "client": client,
                "agreement": arguments.agreement,
                "history": arguments.history,
                "sessions": arguments.sessions,
                "held": arguments.held,
                "settings": settings,
                "render": self._renderers[name].render,
                "zone": self._zone,
                "today": arguments.today,
                "now": now,
                "period_start": arguments.period_start,
            }
            try:
                results = hook(**values)
                found = action_rows(
                    name, anchor, client, returned_actions(results[0] if results else None), self._mail, now
                )
            except Exception as error:  # one plugin's bug must not stop the others or the day's run
                log.error(
                    "daily policy failed", extra={"plugin": name, "client": client.name, "error": _describe(error)}
                )
                continue
            rows += found
        return PolicyResults(rows.fees, rows.suggestions, rows.emails)

    def client(self, name: str) -> ClientInfo:
        found = self._client(name)
        assert found is not None  # a name was given
        return found

    def _arguments(
        self,
        name: str,
        record: Record,
        client: ClientInfo | None,
        views: PolicyViews,
        now: datetime,
        settings: PolicySettings,
        standing: Standing,
    ) -> dict[str, Any]:
        """Every hook argument; the costly ones are worked out only when this plugin names them
        (pluggy hands a plugin only the arguments it names, so it never sees the empty stand-ins)."""
        wanted = self._plugins.arguments[name]
        return {
            "record": record,
            "history": views.history(record) if "history" in wanted else (),
            "client": client,
            "sessions": views.sessions(client) if "sessions" in wanted else (),
            "settings": settings,
            "agreement": views.agreement(record.change.client),
            "standing": standing,
            "render": self._renderers[name].render,
            "zone": self._zone,
            "now": now,
        }

    def _client(self, name: str | None) -> ClientInfo | None:
        if name is None:
            return None
        # A client renamed or removed from the config since the change keeps its name, without emails.
        return self._clients.get(name, ClientInfo(name, ()))


def _describe(error: Exception) -> str:
    text = str(error) if isinstance(error, InvalidAction) else f"{type(error).__name__}: {error}"
    return one_line(text, _ERROR_LIMIT)
