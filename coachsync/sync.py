"""One pass over one calendar: fetch, parse what changed, detect, store in one transaction."""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum

from .detect import DetectRules, cancelled_sessions, detect, is_mass_cancellation
from .errors import MassChangeError
from .ics import (
    MatchClient,
    SplitCalendar,
    Window,
    content_digest,
    parse_groups,
    split_calendar,
)
from .model import Change, Occurrence
from .sources.base import Source
from .store import CalendarState, GroupSnapshot, RunPolicies, Store

log = logging.getLogger(__name__)


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
    # Runs the enabled policies over the new changes, inside the pass's transaction.
    policies: RunPolicies | None = None


def run_pass(store: Store, source: Source, now: datetime, settings: PassSettings) -> PassReport:
    """Bring one calendar's snapshot up to date and record what changed since the last pass.

    Raises SourceError when the calendar cannot be read whole and
    MassChangeError when too many sessions would be cancelled; either way
    nothing is written.
    """
    name = source.name
    state = store.calendar_state(name)
    fetched = source.fetch(state.sync_state if state else {})
    if fetched.text is None:
        _keep_sync_state(store, name, state, fetched.state)
        return PassReport(name, Outcome.UNCHANGED)
    digest = content_digest(fetched.text)
    zone = str(settings.zone)
    if state is not None and state.content_digest == digest and state.zone == zone:
        _keep_sync_state(store, name, state, fetched.state)
        return PassReport(name, Outcome.UNCHANGED)

    split = split_calendar(fetched.text)
    known = store.group_digests(name)
    # All-day and floating times are placed in the coach's zone: after the zone changed, every such
    # session would look moved, so the calendar is read again as a fresh baseline.
    baseline = state is None or state.zone != zone
    if state is not None and state.zone != zone:
        log.info("time zone changed from %s to %s: taking a new baseline", state.zone, zone, extra={"calendar": name})
    if state is None or state.zone != zone or state.header_digest != split.header_digest:
        to_parse = list(split.groups)  # first sight, a new zone, or changed VTIMEZONEs: read everything
    else:
        to_parse = [uid for uid, group in split.groups.items() if known.get(uid, ("",))[0] != group.digest]
    removed = [uid for uid in known if uid not in split.groups]
    parsed = parse_groups(
        split,
        to_parse,
        calendar_name=name,
        window=settings.window,
        zone=settings.zone,
        match_client=settings.match_client,
    )

    previous = [
        _rematched(o, settings.match_client)
        for o in (store.occurrences(name, [*to_parse, *removed]) if state is not None else [])
        if o.uid not in parsed.failed
    ]
    current = [o for uid in parsed.occurrences for o in parsed.occurrences[uid]]
    changes: list[Change] = []
    if state is not None and not baseline:
        rules = DetectRules(
            previous_pass_at=state.last_pass_at,
            horizons={uid: expanded_to for uid, (_, expanded_to) in known.items()},
        )
        changes = detect({o.key: o for o in previous}, {o.key: o for o in current}, now, rules)
        _guard_mass_change(store, name, changes, now, settings.accept_mass_change)

    ids = store.commit_pass(
        name,
        content_digest=digest,
        header_digest=split.header_digest,
        zone=zone,
        sync_state=fetched.state,
        passed_at=now,
        groups=_snapshots(split, parsed.occurrences, settings.window),
        removed_groups=removed,
        tombstones=_tombstones(previous, current, now),
        changes=changes,
        policies=settings.policies,
    )
    for change, change_id in zip(changes, ids, strict=True):
        log.info(
            "change recorded",
            extra={
                "calendar": name,
                "change": change_id,
                "kind": change.kind.value,
                "client": change.client or "-",
                "old_start": change.old_start.isoformat(),
                "notice_hours": f"{change.notice_hours:.1f}",
            },
        )
    return PassReport(
        name,
        Outcome.BASELINE if baseline else Outcome.UPDATED,
        events=len(split.groups),
        parsed=len(to_parse),
        skipped=len(parsed.failed),
        changes=tuple(changes),
        change_ids=tuple(ids),
    )


def _keep_sync_state(store: Store, name: str, state: CalendarState | None, sync_state: Mapping[str, str]) -> None:
    """Nothing to record, but a new sync state (a CalDAV token and its resource cache) must be kept,
    or every later poll would download the same changes again."""
    if state is not None and dict(state.sync_state) != dict(sync_state):
        store.save_sync_state(name, sync_state)


def _rematched(occurrence: Occurrence, match_client: MatchClient) -> Occurrence:
    """Clients are matched afresh so that a client added to the config claims old sessions too."""
    return dataclasses.replace(occurrence, client=match_client(occurrence.attendees, occurrence.summary))


def _snapshots(
    split: SplitCalendar, occurrences: dict[str, list[Occurrence]], window: Window
) -> dict[str, GroupSnapshot]:
    return {
        uid: GroupSnapshot(split.groups[uid].digest, window.end, tuple(found)) for uid, found in occurrences.items()
    }


def _tombstones(previous: Iterable[Occurrence], current: Iterable[Occurrence], now: datetime) -> list[Occurrence]:
    """Upcoming sessions that vanished, kept as cancelled so that their return reads as `restored`."""
    present = {o.key for o in current}
    return [dataclasses.replace(o, cancelled=True) for o in previous if o.key not in present and o.start > now]


def _guard_mass_change(store: Store, name: str, changes: list[Change], now: datetime, accepted: bool) -> None:
    cancelled = cancelled_sessions(changes)
    upcoming = store.upcoming_count(name, now)
    if not accepted and is_mass_cancellation(cancelled, upcoming):
        raise MassChangeError(
            f"{name}: this pass would cancel {cancelled} of {upcoming} upcoming sessions at once, which looks like a "
            "mistake (a wrong calendar or an emptied export); nothing was recorded. If it is real, run "
            "`coachsync sync --accept-mass-change`"
        )
