"""The hooks a coachsync plugin can implement.

Every hook is named `coachsync_…`, so a misspelt one is caught when the
plugin is loaded instead of silently never running. Hooks get plain values
and return plain values; the core records what they return. Plugin authors
import what they need from `coachsync.api`, not from here.

A plugin is a module (or any object) with functions marked `@hookimpl`. Its
name is the entry-point name (or the file name in `plugins_dir`), and its
settings are the config section `policies.<name>`. Every hook is documented in
docs/plugins.md; a test fails when one is missing there.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, tzinfo
from typing import Any

import pluggy
from pydantic import BaseModel, ConfigDict

from . import model
from .actions import Action
from .agreement import Agreement
from .model import Occurrence, Record
from .standing import Standing

PROJECT = "coachsync"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class PolicySettings(BaseModel):
    """Base of every plugin's settings model: `enabled` is what turns a policy on.

    Strict and closed, like the rest of the config, so a typo in a key or a
    quoted number is an error with its file and line rather than a default.
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)

    enabled: bool = False


# Renders one of the plugin's email templates: (template file name, values) -> (subject, body).
# Values are data only; calendar text inside them is never read as template code.
Render = Callable[[str, Mapping[str, Any]], tuple[str, str]]


@hookspec
def coachsync_policy_settings() -> type[PolicySettings]:
    """Return the pydantic model of this plugin's `policies.<name>` section.

    It must subclass `PolicySettings`. The section is validated at start-up
    with the same `FILE:LINE: KEY: problem` errors as the rest of the config,
    and the validated instance is what `coachsync_on_change` receives. A plugin
    without this hook takes no settings besides `enabled`.
    """
    raise NotImplementedError


@hookspec
def coachsync_on_change(
    record: Record,
    history: Sequence[Record],
    client: model.ClientInfo | None,
    sessions: Sequence[Occurrence],
    settings: PolicySettings,
    render: Render,
    zone: tzinfo,
    now: datetime,
    agreement: Agreement,
    standing: Standing,
) -> Iterable[Action] | None:
    """Decide what one newly recorded change calls for; return actions, or nothing.

    Called once per plugin for every change recorded in a pass, inside the
    transaction that records it, so it must not do I/O of its own. Name only
    the arguments you use: pluggy passes exactly those, and the costly ones
    (`history`, `sessions`) are only worked out when some plugin names them.

    - `record`: the change just recorded (its `id`, `change.kind`,
      `change.notice_hours`, …; `excused` is False for a new change).
    - `history`: the same client's earlier records, oldest first, with their
      kinds, notice, excused flags and detection times; empty when the change
      belongs to no client.
    - `client`: the client's name and emails, or None for an unmatched event.
    - `sessions`: the client's upcoming, not-cancelled sessions after this
      pass, earliest first.
    - `settings`: this plugin's validated settings (`enabled` is always true).
    - `render`: renders this plugin's email templates (the coach may override
      them in `mail.templates_dir`).
    - `zone`: the coach's time zone, for dates in messages.
    - `now`: the moment of the pass; never read the clock yourself.
    - `agreement`: the client's effective coaching agreement (`notice_hours`,
      `cadence`, `allowance` per `per`, `started`); the practice's default for
      a session of no client.
    - `standing`: this change against that agreement, by coachsync's one rule:
      `late`, `counts` (and `why_not`), `allowance_used` of `allowance` in its
      period, `over`, `first_over`, `period_start`, `periods_over`.

    Changes made while the engagement is paused or ended are recorded but no
    plugin is called for them.

    Return `Fee`, `Email` and `Suggestion` values (from `coachsync.api`).
    Each is recorded at most once per change, plugin and action (or per
    `once_per` key), however often the pass runs.
    """
    raise NotImplementedError


@hookspec
def coachsync_daily(
    client: model.ClientInfo,
    agreement: Agreement,
    history: Sequence[Record],
    sessions: Sequence[Occurrence],
    held: Sequence[Occurrence],
    settings: PolicySettings,
    render: Render,
    zone: tzinfo,
    today: date,
    now: datetime,
    period_start: datetime,
) -> Iterable[Action] | None:
    """Look at one client once a day; return actions, or nothing.

    Called once per enabled plugin for every configured client whose
    engagement is active, once per local day: by `coachsync run` after the
    first pass of the day, and by `coachsync sync` when it has not run that
    day. Like `coachsync_on_change`, it must not do I/O of its own, and names
    only the arguments it uses.

    - `client`, `agreement`: the client and their effective coaching agreement.
    - `history`: the client's records, oldest first.
    - `sessions`: the client's upcoming, not-cancelled sessions, earliest first.
    - `held`: the client's past sessions that were held (not cancelled, not a
      no-show), earliest first, as far back as the calendar window reaches.
    - `today`: the coach's local date; `now`: the moment of the run.
    - `period_start`: when the client's current allowance period began, by
      coachsync's one rule (the agreement's start or last revisit, then its
      periods), in the coach's zone: a key for "once per period".

    Return `Email` and `Suggestion` values (a `Fee` belongs to a change and is
    refused here). Without `once_per`, an action is recorded once per client
    and day; with it, once per `once_per`, however often the run repeats.
    """
    raise NotImplementedError


def __getattr__(name: str) -> Any:
    # ClientInfo moved to coachsync.model; kept importable from here for one release.
    if name == "ClientInfo":
        warnings.warn(
            "coachsync.hookspecs.ClientInfo moved; import it from coachsync.api", DeprecationWarning, stacklevel=2
        )
        return model.ClientInfo
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
