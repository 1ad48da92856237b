"""What one pass must write, decided without I/O: baseline or not, what to re-read, snapshots,
tombstones, changes, and whether the pass cancels too much at once to be believed.

Two pure steps, beside `detect`: `select_groups` decides which event groups to
parse, and once they are parsed `plan_pass` decides everything the pass writes.
`sync.py` does the reading and writing around them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from .detect import DetectRules, cancelled_sessions, detect, is_mass_cancellation
from .model import CalendarState, Change, GroupSnapshot, Occurrence

if TYPE_CHECKING:  # types only: the planner itself never parses
    from .ics import ParsedGroups, SplitCalendar, Window

MatchClient = Callable[[Sequence[str], str], str | None]


@dataclass(frozen=True, slots=True)
class Known:
    """What the store holds for a calendar before the pass."""

    state: CalendarState | None
    # Each UID's fingerprint and how far ahead it was expanded.
    groups: Mapping[str, tuple[str, datetime]]


@dataclass(frozen=True, slots=True)
class Selection:
    """Which event groups a pass reads again."""

    baseline: bool
    zone_changed: bool
    to_parse: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def previous_uids(self) -> tuple[str, ...]:
        """The groups whose stored occurrences the pass compares against."""
        return (*self.to_parse, *self.removed)


@dataclass(frozen=True, slots=True)
class MassChange:
    """A pass that would cancel `cancelled` of `upcoming` sessions at once."""

    cancelled: int
    upcoming: int


@dataclass(frozen=True, slots=True)
class PassPlan:
    """Everything one pass writes; `mass_change` set means it must not be written."""

    baseline: bool
    groups: Mapping[str, GroupSnapshot]
    removed: tuple[str, ...]
    tombstones: tuple[Occurrence, ...]
    changes: tuple[Change, ...]
    mass_change: MassChange | None = None


def select_groups(known: Known, split: SplitCalendar, zone: str) -> Selection:
    """Only groups whose fingerprint changed are parsed, unless everything must be read again."""
    state = known.state
    # All-day and floating times are placed in the coach's zone: after the zone changed, every such
    # session would look moved, so the calendar is read again as a fresh baseline.
    zone_changed = state is not None and state.zone != zone
    baseline = state is None or zone_changed
    if baseline or state is None or state.header_digest != split.header_digest:
        to_parse = tuple(split.groups)  # first sight, a new zone, or changed VTIMEZONEs: read everything
    else:
        to_parse = tuple(uid for uid, group in split.groups.items() if known.groups.get(uid, ("",))[0] != group.digest)
    # An event that lost its UID line may be any of the vanished ones: none is read as deleted until it is back.
    removed = () if split.unkeyable else tuple(uid for uid in known.groups if uid not in split.groups)
    return Selection(baseline, zone_changed, to_parse, removed)


def plan_pass(
    known: Known,
    selection: Selection,
    split: SplitCalendar,
    parsed: ParsedGroups,
    stored: Iterable[Occurrence],
    *,
    now: datetime,
    window: Window,
    match_client: MatchClient,
    upcoming: int | None,
    accept_mass_change: bool = False,
) -> PassPlan:
    """Decide what the pass writes.

    `stored` are the store's occurrences of `selection.previous_uids`; `upcoming` is how many
    sessions of this calendar the store counts ahead of `now`, for the mass-change verdict. None
    leaves the verdict to `judge_mass_change`, so that a pass that cancels nothing never counts.
    """
    # What was known is kept of an unreadable group, and of an ambiguous one unless this is a baseline.
    held = parsed.failed if selection.baseline else parsed.failed | (parsed.ambiguous & known.groups.keys())
    previous = [_rematched(o, match_client) for o in stored if o.uid not in held]
    current = [o for uid in parsed.occurrences if uid not in held for o in parsed.occurrences[uid]]
    changes: list[Change] = []
    mass_change = None
    if known.state is not None and not selection.baseline:
        rules = DetectRules(
            previous_pass_at=known.state.last_pass_at,
            horizons={uid: expanded_to for uid, (_, expanded_to) in known.groups.items()},
        )
        changes = detect({o.key: o for o in previous}, {o.key: o for o in current}, now, rules)
        cancelled = cancelled_sessions(changes)
        if upcoming is not None and not accept_mass_change and is_mass_cancellation(cancelled, upcoming):
            mass_change = MassChange(cancelled, upcoming)
    groups = {
        uid: GroupSnapshot(split.groups[uid].digest, window.end, tuple(found))
        for uid, found in parsed.occurrences.items()
        if uid not in held
    }
    return PassPlan(
        baseline=selection.baseline,
        groups=groups,
        removed=selection.removed,
        tombstones=tuple(_tombstones(previous, current, now)),
        changes=tuple(changes),
        mass_change=mass_change,
    )


def cancelled_by(plan: PassPlan) -> int:
    """How many upcoming sessions the plan's changes cancel, instances of a series each counted."""
    return 0 if plan.baseline else cancelled_sessions(list(plan.changes))


def judge_mass_change(plan: PassPlan, upcoming: int, accept_mass_change: bool = False) -> PassPlan:
    """The mass-change verdict on a plan made without the count of upcoming sessions."""
    cancelled = cancelled_by(plan)
    if accept_mass_change or not is_mass_cancellation(cancelled, upcoming):
        return plan
    return dataclasses.replace(plan, mass_change=MassChange(cancelled, upcoming))


def _rematched(occurrence: Occurrence, match_client: MatchClient) -> Occurrence:
    """Clients are matched afresh so that a client added to the config claims old sessions too."""
    return dataclasses.replace(occurrence, client=match_client(occurrence.attendees, occurrence.summary))


def _tombstones(previous: Iterable[Occurrence], current: Iterable[Occurrence], now: datetime) -> list[Occurrence]:
    """Upcoming sessions that vanished, kept as cancelled so that their return reads as `restored`."""
    present = {o.key for o in current}
    return [dataclasses.replace(o, cancelled=True) for o in previous if o.key not in present and o.start > now]
