"""The one orchestrator of a pass: fetch -> split and parse -> plan -> one transaction.

Inside the transaction the plan is written, the enabled policies run over
read-only views of the history and sessions, and what they returned is
written too; if anything fails, nothing of the pass is kept, and the
calendar is marked failing (since when, and why) until its next good pass.
Retrying the policies that failed on earlier passes lives here as well.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import TYPE_CHECKING

from .errors import CoachsyncError, MassChangeError
from .ics import MatchClient, SplitCalendar, Window, content_digest, event_uids, parse_groups, split_calendar
from .model import CalendarState, Change, EngagementEvent, Record
from .plan import Known, PassPlan, cancelled_by, judge_mass_change, plan_pass, select_groups
from .policies import PolicyResults, PolicyRunner, PolicyViews
from .store import Store
from .store.resources import ResourceRow
from .text import one_line

if TYPE_CHECKING:
    from .sources.base import Delta, Source

log = logging.getLogger(__name__)
policy_log = logging.getLogger("coachsync.policies")  # the policies' own lines, under one logger name


class Outcome(StrEnum):
    BASELINE = "baseline"
    UNCHANGED = "unchanged"
    UPDATED = "updated"


@dataclass(frozen=True, slots=True)
class PassReport:
    """What one pass over one calendar did, for the CLI and the daemon's status line."""

    calendar: str
    outcome: Outcome
    events: int = 0
    parsed: int = 0
    skipped: int = 0
    changes: tuple[Change, ...] = ()
    change_ids: tuple[int, ...] = ()

    def summary(self) -> str:
        if self.outcome is Outcome.UNCHANGED:
            return f"{self.calendar}: unchanged"
        skipped = f", {self.skipped} unreadable skipped" if self.skipped else ""
        if self.outcome is Outcome.BASELINE:
            return f"{self.calendar}: baseline taken, {self.events} events{skipped}"
        kinds = Counter(change.kind.value for change in self.changes)
        detail = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
        recorded = f"{len(self.changes)} recorded ({detail})" if self.changes else "no reschedules"
        return f"{self.calendar}: {recorded}; {self.events} events, {self.parsed} re-read{skipped}"


@dataclass(frozen=True, slots=True)
class PassSettings:
    """Everything a pass needs besides the calendar itself."""

    window: Window
    zone: tzinfo
    match_client: MatchClient
    accept_mass_change: bool = False
    # The enabled policies, run over the new changes inside the pass's transaction.
    policies: PolicyRunner | None = None


def checked_pass(store: Store, source: Source, now: datetime, settings: PassSettings) -> PassReport:
    """`run_pass`, keeping the calendar's failure record: a failed pass records the error's line (the
    first in a row also when it began), a good one clears it; the error itself goes on to the caller."""
    try:
        report = run_pass(store, source, now, settings)
    except CoachsyncError as error:  # its wording never holds a secret: URLs are redacted at the source
        _note_failure(store, source.name, one_line(str(error), 300), now)
        raise
    except Exception as error:
        _note_failure(store, source.name, f"unexpected {type(error).__name__}", now)
        raise
    if store.calendar_failures.failing(source.name):  # a read, so that a good idle poll still writes nothing
        store.calendar_failures.clear(source.name)
    return report


def _note_failure(store: Store, name: str, error: str, now: datetime) -> None:
    try:
        store.calendar_failures.record(name, error, now)
    except Exception:  # the pass's own error is the one to report; this one only goes to the log
        log.exception("could not record the failed pass", extra={"calendar": name})


def run_pass(store: Store, source: Source, now: datetime, settings: PassSettings) -> PassReport:
    """Bring one calendar's snapshot up to date and record what changed since the last pass.

    Raises SourceError when the calendar cannot be read whole and
    MassChangeError when too many sessions would be cancelled; either way
    nothing is written.
    """
    name = source.name
    state = store.snapshots.state(name)
    sync_state = state.sync_state if state else {}
    if getattr(source, "reports_deltas", False):
        fetched = source.fetch(sync_state, store.resources.held(name))  # type: ignore[call-arg]
    else:
        fetched = source.fetch(sync_state)
    if fetched.delta is not None:
        return _delta_pass(store, name, state, fetched.delta, fetched.state, now, settings)
    return _text_pass(store, name, state, fetched.text, fetched.state, now, settings)


def _delta_pass(
    store: Store,
    name: str,
    state: CalendarState | None,
    delta: Delta,
    sync_state: Mapping[str, str],
    now: datetime,
    settings: PassSettings,
) -> PassReport:
    """A pass over the resources that changed: only the UID groups they touch are split, parsed and compared.

    The resource rows are written in the pass's transaction, so a pass that fails or is refused
    (a mass change) leaves them, the token and the snapshot as they were.
    """
    rows = []
    for href, resource in delta.changed.items():
        uids, keyless = event_uids(resource.events)
        rows.append(ResourceRow(href, resource.etag, resource.events, resource.zones, uids, keyless))
    with store.transaction():
        applied = store.resources.apply(name, rows, delta.gone, delta.zones)
        if state is not None and not applied.content_changed:
            _keep_sync_state(store, name, state, sync_state)  # new ETags or token, the same calendar
            return PassReport(name, Outcome.UNCHANGED)
        zone = str(settings.zone)
        whole = (
            state is None
            or state.zone != zone
            or applied.header_changed
            or not applied.held_before  # nothing to compare a resource against: the groups stored are the truth
            or store.resources.has_keyless(name)
        )
        if whole:
            text = store.resources.calendar_text(name)
            return _text_pass(store, name, state, text, sync_state, now, settings)
        split = split_calendar(store.resources.groups_text(name, applied.touched))
        known = Known(state, store.snapshots.group_digests(name, applied.touched))
        return _planned_pass(
            store,
            name,
            state,
            split,
            known,
            "",  # no digest of the whole text: the next whole read compares fingerprints
            sync_state,
            now,
            settings,
            events=store.resources.group_count(name),
        )


def _text_pass(
    store: Store,
    name: str,
    state: CalendarState | None,
    text: str | None,
    sync_state: Mapping[str, str],
    now: datetime,
    settings: PassSettings,
) -> PassReport:
    """A pass over the whole calendar text: split it, and parse the groups whose fingerprint changed."""
    zone = str(settings.zone)
    digest = content_digest(text) if text is not None else ""
    if text is None or (state is not None and (state.content_digest, state.zone) == (digest, zone)):
        _keep_sync_state(store, name, state, sync_state)
        return PassReport(name, Outcome.UNCHANGED)
    split = split_calendar(text)
    known = Known(state, store.snapshots.group_digests(name))
    return _planned_pass(store, name, state, split, known, digest, sync_state, now, settings, events=len(split.groups))


def _planned_pass(
    store: Store,
    name: str,
    state: CalendarState | None,
    split: SplitCalendar,
    known: Known,
    digest: str,
    sync_state: Mapping[str, str],
    now: datetime,
    settings: PassSettings,
    *,
    events: int,
) -> PassReport:
    """Select, parse and plan the groups of `split` against what `known` holds of them, then write it all."""
    zone = str(settings.zone)
    selection = select_groups(known, split, zone)
    if state is not None and selection.zone_changed:
        log.info("time zone changed from %s to %s: taking a new baseline", state.zone, zone, extra={"calendar": name})
    parsed = parse_groups(
        split,
        selection.to_parse,
        calendar_name=name,
        window=settings.window,
        zone=settings.zone,
        match_client=settings.match_client,
    )
    plan = plan_pass(
        known,
        selection,
        split,
        parsed,
        store.snapshots.occurrences(name, selection.previous_uids) if state is not None else (),
        now=now,
        window=settings.window,
        match_client=settings.match_client,
        upcoming=None,  # counted below, only when the pass cancels a session
        accept_mass_change=settings.accept_mass_change,
    )
    if cancelled_by(plan) and not settings.accept_mass_change:
        plan = judge_mass_change(plan, store.snapshots.upcoming_count(name, now))
    if plan.mass_change is not None:
        raise MassChangeError(name, plan.mass_change.cancelled, plan.mass_change.upcoming)

    recorded: tuple[Acted, ...] = ()
    with store.transaction():
        store.snapshots.write(
            name,
            content_digest=digest,
            header_digest=split.header_digest,
            zone=zone,
            sync_state=sync_state,
            passed_at=now,
            groups=plan.groups,
            removed_groups=plan.removed,
            tombstones=plan.tombstones,
        )
        records = store.history.add(plan.changes, now)
        recorded = run_policies(store, records, settings, now)
    _log_changes(name, plan.changes, records)
    _log_actions(recorded)
    return _report(name, plan, events, len(selection.to_parse), len(parsed.failed), records)


def run_policies(store: Store, records: Sequence[Record], settings: PassSettings, now: datetime) -> tuple[Acted, ...]:
    """Run every enabled policy over newly recorded records and write what they asked for, inside the
    caller's transaction (a pass, or a no-show the coach marked)."""
    if settings.policies is None or not records:
        return ()
    calls = [(record, plugin) for record in records for plugin in settings.policies.enabled]
    return write_policy_results(store, settings.policies.run(calls, _views(store, settings, now), now), now)


def record_no_show(
    store: Store, change: Change, settings: PassSettings, now: datetime, excused: str | None = None
) -> Record:
    """Record a no-show the coach marked (excused at once, with `excused` as the reason, if given) and
    hand it to the policies like any other record, all in one transaction."""
    with store.transaction():
        [record] = store.history.add([change], now)
        if excused is not None:
            record = store.history.mark_excused(record.id, excused, now)
        recorded = run_policies(store, [record], settings, now)
    _log_changes(change.calendar, [change], [record])
    _log_actions(recorded)
    return record


def retry_policies(store: Store, calendar: str, settings: PassSettings, now: datetime) -> None:
    """Run again every (change, plugin) pair of this calendar that failed before, in one transaction;
    a pair that succeeds is no longer pending."""
    policies = settings.policies
    if policies is None or not store.ledger.failures(calendar):
        return  # the common case takes no write lock
    with store.transaction():
        # A plugin switched off since it failed is not run; its failure stays until it is back on.
        calls = [(store.history.record(f.change_id), f.plugin) for f in store.ledger.failures(calendar)]
        recorded = write_policy_results(store, policies.run(calls, _views(store, settings, now), now), now)
    _log_actions(recorded)


@dataclass(frozen=True, slots=True)
class Acted:
    """What one plugin's actions for one change added to the ledger and the outbox (repeats left out)."""

    plugin: str
    change: int | None  # None for the daily hook's actions
    fees: int = 0
    emails: int = 0
    suggestions: int = 0


def write_policy_results(store: Store, results: PolicyResults, now: datetime) -> tuple[Acted, ...]:
    """What the policies asked for, each action under its idempotency key; a repeat adds nothing.
    Returns what was recorded, per plugin and change, for the log once the pass is written."""
    with store.transaction():
        fees = store.ledger.add_fees(results.fees)
        suggestions = store.ledger.add_suggestions(results.suggestions)
        emails = store.outbox.add(results.emails)
        store.ledger.record_failures(results.failures, now)
        store.ledger.clear_failures(results.succeeded)
    counts: dict[tuple[str, int | None], Counter[str]] = {}
    for kind, rows in (("fees", fees), ("emails", emails), ("suggestions", suggestions)):
        for row in rows:
            counts.setdefault((row.plugin, row.change_id), Counter())[kind] += 1
    return tuple(
        Acted(plugin, change, kinds["fees"], kinds["emails"], kinds["suggestions"])
        for (plugin, change), kinds in sorted(counts.items(), key=lambda item: (item[0][1] or 0, item[0][0]))
    )


def _views(store: Store, settings: PassSettings, now: datetime) -> PolicyViews:
    """Reads through the pass's own connection, so policies see the new snapshot and records."""

    def history_of(client: str) -> list[Record]:
        return store.history.records(client=client)

    def events_of(client: str) -> list[EngagementEvent]:
        return store.engagements.events(client=client)

    assert settings.policies is not None  # views are only made for a run of the policies
    return PolicyViews(
        history_of,
        store.snapshots.upcoming_sessions,
        settings.match_client,
        now,
        read_events=events_of,
        agreement_for=settings.policies.agreement_for,
        zone=settings.zone,
    )


def _keep_sync_state(store: Store, name: str, state: CalendarState | None, sync_state: Mapping[str, str]) -> None:
    """Nothing to record, but a new sync state (a CalDAV token, new ETags) must be kept,
    or every later poll would download the same changes again."""
    if state is not None and dict(state.sync_state) != dict(sync_state):
        store.snapshots.save_sync_state(name, sync_state)


def _log_actions(recorded: Sequence[Acted]) -> None:
    for acted in recorded:
        counts = {"fees": acted.fees, "emails": acted.emails, "suggestions": acted.suggestions}
        policy_log.info("policy acted", extra={"plugin": acted.plugin, "change": acted.change, **counts})


def _log_changes(calendar: str, changes: Sequence[Change], records: Sequence[Record]) -> None:
    for change, record in zip(changes, records, strict=True):
        log.info(
            "change recorded",
            extra={
                "calendar": calendar,
                "change": record.id,
                "kind": change.kind.value,
                "client": change.client or "-",
                "old_start": change.old_start.isoformat(),
                "notice_hours": f"{change.notice_hours:.1f}",
            },
        )


def _report(name: str, plan: PassPlan, events: int, parsed: int, skipped: int, records: Sequence[Record]) -> PassReport:
    changes: tuple[Change, ...] = plan.changes
    return PassReport(
        name,
        Outcome.BASELINE if plan.baseline else Outcome.UPDATED,
        events=events,
        parsed=parsed,
        skipped=skipped,
        changes=changes,
        change_ids=tuple(r.id for r in records),
    )
