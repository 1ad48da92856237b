"""Turn iCalendar text into occurrences, re-parsing only the events that changed.

A calendar is split into its VEVENT blocks, grouped by UID (a series and its
overridden instances share one), and each group is fingerprinted. Only the
groups whose fingerprint differs from the stored snapshot go through
icalendar, x-wr-timezone and recurring-ical-events: parsing is by far the
most expensive step, and an idle or one-change pass should not pay for
10,000 untouched events.

Only VEVENTs (without their alarms) and VTIMEZONEs are parsed. A key never
depends on where an event stands in the file: an event without a UID is
keyed by its DTSTART, SUMMARY and ORGANIZER when no event of the calendar
has a UID (Exchange's published calendars), so moving it reads as a
cancellation and a new booking; among events that have one, it is damage
and unreadable, and no vanished session is read as deleted until it is back.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
import x_wr_timezone

from .logs import format_value
from .model import Occurrence
from .text import shorten
from .zones import known_name, resolve_tzid

log = logging.getLogger(__name__)

_VEVENT_BLOCK = re.compile(
    r"^BEGIN:VEVENT[ \t]*\r?\n.*?^END:VEVENT[ \t]*(?:\r?\n|\Z)", re.MULTILINE | re.DOTALL | re.IGNORECASE
)
_UID_LINE = re.compile(r"^UID[;:][^\r\n]*(?:(?:\r?\n)+[ \t][^\r\n]*)*", re.MULTILINE | re.IGNORECASE)
_NESTED = re.compile(
    r"^BEGIN:(VALARM|VLOCATION|PARTICIPANT)\b.*?^END:\1\b[^\r\n]*(?:\r?\n)?", re.MULTILINE | re.DOTALL | re.IGNORECASE
)
_KEY_PROPERTY = re.compile(r"^(?:DTSTART|SUMMARY|ORGANIZER)[;:][^\r\n]*", re.MULTILINE | re.IGNORECASE)
# A component outside the events: a VTIMEZONE is kept, tasks, journals and the like are not parsed.
_OUTSIDE_COMPONENT = re.compile(
    r"^BEGIN:(?!VCALENDAR\b)([A-Z0-9-]+)[ \t]*\r?\n.*?^END:\1[ \t]*(?:\r?\n|\Z)",
    re.MULTILINE | re.DOTALL | re.IGNORECASE,
)
# RFC 5545, 3.1: a line break and a space or tab continue a line. Blank lines before the
# continuation are skipped, as icalendar does (Mozilla Calendar writes them).
_FOLD = re.compile(r"(?:\r?\n)+[ \t]")
_GROUP_MARK = "X-COACHSYNC-GROUP"
# A TZID parameter, quoted (Outlook's display names hold ":" and ",") or not.
_TZID_PARAMETER = re.compile(r';TZID=("[^"\r\n]*"|[^;:\r\n]*)', re.IGNORECASE)
_VTIMEZONE_BLOCK = re.compile(
    r"^BEGIN:VTIMEZONE[ \t]*\r?\n.*?^END:VTIMEZONE[ \t]*(?:\r?\n|\Z)", re.MULTILINE | re.DOTALL | re.IGNORECASE
)
_X_WR_TIMEZONE = re.compile(r"^X-WR-TIMEZONE[;:](?:[^:\r\n]*:)?([^\r\n]*)", re.MULTILINE | re.IGNORECASE)
_VTIMEZONE_TZID = re.compile(r"^TZID:([^\r\n]*)", re.MULTILINE | re.IGNORECASE)
# Without these an event cannot be placed in time; a bad SUMMARY is harmless.
_ESSENTIAL = frozenset({"DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID"})

MatchClient = Callable[[Sequence[str], str], str | None]
# How much of an event's free text is kept, cut with "…": a title is read by a coach, and a 2 MB one
# on a weekly series would otherwise cost the database megabytes per occurrence and every change record.
KEPT_TEXT = 1000


@dataclass(frozen=True, slots=True)
class EventGroup:
    """All VEVENT blocks that share one UID: a series with its overrides, or one event."""

    uid: str
    blocks: tuple[str, ...]
    line: int
    digest: str


@dataclass(frozen=True, slots=True)
class SplitCalendar:
    """A calendar cut into what is shared by all events and the events themselves."""

    header: str
    header_digest: str
    groups: dict[str, EventGroup]
    # Events without a UID, keyed by their content: read when no event of the calendar has a UID,
    # unreadable (`unkeyable`) when the others have one, for then a UID line was lost.
    content_keyed: frozenset[str] = frozenset()
    unkeyable: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ZoneProblem:
    """A TZID that neither a VTIMEZONE nor a known name places, and the zone its times are read in: a fixed
    offset (an Etc/GMT zone) from an Outlook display name, else the calendar's X-WR-TIMEZONE or the coach's."""

    tzid: str
    read_in: str
    fixed: bool
    uids: tuple[str, ...]
    from_calendar: bool = False  # read_in is the calendar's X-WR-TIMEZONE


@dataclass(frozen=True, slots=True)
class Window:
    """The bounded span in which recurring series are expanded."""

    start: datetime
    end: datetime


@dataclass
class ParsedGroups:
    occurrences: dict[str, list[Occurrence]] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    # Groups holding two different copies of one event that nothing tells apart: their occurrences
    # come from the copy picked by content, to be used only when nothing was known of the group.
    ambiguous: set[str] = field(default_factory=set)


def content_digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _unescape_text(value: str) -> str:
    return value.replace("\\,", ",").replace("\\;", ";").replace("\\n", "\n").replace("\\N", "\n").replace("\\\\", "\\")


def _block_uid(block: str) -> str | None:
    """The event's own UID; the unfolded block is searched too, for a name folded away from its value."""
    uid = _unfolded_uid(block)
    if uid is None and _FOLD.search(block):  # KOrganizer writes "UID", then " :value" on the next line
        uid = _unfolded_uid(_FOLD.sub("", block))
    return uid


def _unfolded_uid(block: str) -> str | None:
    found = _UID_LINE.search(block)
    nested = block.find("\nBEGIN:")
    if found is not None and nested != -1 and found.start() > nested:
        # the UID line comes after a nested VALARM, which may carry a UID of its own
        found = _UID_LINE.search(block[:nested] + _NESTED.sub("", block[nested:]))
    if found is None:
        return None
    line = _FOLD.sub("", found.group(0))
    return _unescape_text(line.split(":", 1)[1].strip()) if ":" in line else None


def _without_dtstamp(block: str) -> str:
    start = block.find("\nDTSTAMP")
    if start == -1:
        return block
    end = block.find("\n", start + 1)
    return block[:start] + block[end:] if end != -1 else block[:start]


def _vevent_spans(text: str) -> list[tuple[int, int]]:
    """Where each VEVENT block starts and ends; str.find is several times faster than a regex here."""
    spans = []
    position = 0
    while (begin := text.find("\nBEGIN:VEVENT", max(position - 1, 0))) != -1:
        end = text.find("\nEND:VEVENT", begin)
        if end == -1:
            break
        line_end = text.find("\n", end + 1)
        position = len(text) if line_end == -1 else line_end + 1
        spans.append((begin + 1, position))
    return spans


def _between(text: str, spans: list[tuple[int, int]]) -> str:
    """The text outside the given spans: calendar properties, time zones, other components."""
    starts = (0, *(end for _, end in spans))
    ends = (*(start for start, _ in spans), len(text))
    return "".join(text[a:b] for a, b in zip(starts, ends, strict=True))


def split_calendar(text: str) -> SplitCalendar:
    """Cut calendar text into the shared header and VEVENT groups keyed by UID.

    Each group's fingerprint leaves DTSTAMP out: some feeds (Google's among
    them) restamp every event on each download, and such a feed should not be
    re-read whole on every poll.
    """
    spans = _vevent_spans(text)
    header = _between(text, spans)
    if "VEVENT" in header.upper():  # property names are case-insensitive: take the slow, exact path
        spans = [m.span() for m in _VEVENT_BLOCK.finditer(text)]
        header = _between(text, spans)
    # Only events and their time zones are parsed: one unreadable task must not sink every event.
    header = _OUTSIDE_COMPONENT.sub(lambda m: m[0] if m[1].upper() == "VTIMEZONE" else "", header)
    groups: dict[str, list[str]] = {}
    first_line: dict[str, int] = {}
    without_uid: set[str] = set()
    position = 0
    line = 1
    for start, end in spans:
        line += text.count("\n", position, start)
        block = text[start:end]
        uid = _block_uid(block)
        if not uid:
            uid = _content_key(block)
            without_uid.add(uid)
        groups.setdefault(uid, []).append(block)
        first_line.setdefault(uid, line)
        line += block.count("\n")
        position = end
    # No UID anywhere (Exchange's published calendars): the content is the key. Among events that
    # have one, a missing UID is damage, and that event cannot be told from the one it was.
    some_have_uid = len(without_uid) < len(groups)
    return SplitCalendar(
        header=header,
        header_digest=content_digest(header),
        groups={
            uid: EventGroup(uid, tuple(blocks), first_line[uid], content_digest("".join(map(_without_dtstamp, blocks))))
            for uid, blocks in groups.items()
        },
        content_keyed=frozenset() if some_have_uid else frozenset(without_uid),
        unkeyable=frozenset(without_uid) if some_have_uid else frozenset(),
    )


def event_uids(events: str) -> tuple[tuple[str, ...], bool]:
    """The UIDs of the VEVENT blocks in `events` (one CalDAV resource), each once, and whether a block has none.

    They are the keys `split_calendar` gives those blocks in a calendar where events have UIDs.
    """
    split = split_calendar(f"BEGIN:VCALENDAR\r\n{events}END:VCALENDAR\r\n")
    keyless = split.content_keyed | split.unkeyable
    return tuple(uid for uid in split.groups if uid not in keyless), bool(keyless)


def _content_key(block: str) -> str:
    """A key for an event without a UID: its start, title and organizer, wherever it stands in the file."""
    flat = _FOLD.sub("", _NESTED.sub("", block))
    lines = sorted(found[0].rstrip() for found in _KEY_PROPERTY.finditer(flat))
    return f"(no UID) {content_digest(chr(10).join(lines))[:16]}"


def _defined_zones(header: str) -> frozenset[str]:
    """The TZIDs the calendar's own VTIMEZONEs define: those always win over any name."""
    return frozenset(value.strip() for value in _VTIMEZONE_TZID.findall(_FOLD.sub("", header)))


def _tzids(block: str) -> set[str]:
    return {value.strip('"') for value in _TZID_PARAMETER.findall(block)}


def _own_zones(head: str) -> tuple[str, dict[str, str]]:
    """The header with each custom VTIMEZONE's TZID made unique to its definition, and the new names.

    icalendar keeps the first VTIMEZONE it sees under a TZID for the life of the process, so
    "tzone://Microsoft/Custom" from one calendar would place another calendar's events, and an
    edited definition would never be read; a name that carries the definition's digest cannot clash.
    A VTIMEZONE of a real zone ("Europe/Berlin") is read from the zone database by icalendar anyway.
    """
    names: dict[str, str] = {}

    def rename(found: re.Match[str]) -> str:
        component = found[0]
        tzid_line = _VTIMEZONE_TZID.search(component)
        if tzid_line is None or known_name(tzid := tzid_line[1].strip()) is not None:
            return component
        names[tzid] = f"{tzid} ~{content_digest(component)[:12]}"
        return component[: tzid_line.start(1)] + names[tzid] + component[tzid_line.end(1) :]

    return _VTIMEZONE_BLOCK.sub(rename, _FOLD.sub("", head)), names


def _with_resolved_zones(block: str, own: dict[str, str], defined: frozenset[str]) -> str:
    """The block with each TZID renamed to what places it: the calendar's own VTIMEZONE under its unique
    name, or the IANA zone a Windows or Outlook name stands for; an unknown one is dropped, so the time is
    read in the coach's zone rather than by whatever another calendar once defined under that name."""
    flat = _FOLD.sub("", block)  # a TZID may be folded in two; icalendar unfolds anyway

    def rename(found: re.Match[str]) -> str:
        tzid = found[1].strip('"')
        if tzid in own:
            return f';TZID="{own[tzid]}"'
        if tzid in defined:
            return found[0]
        resolved = resolve_tzid(tzid)
        if resolved is None:
            return ""
        return found[0] if resolved.key == tzid else f";TZID={resolved.key}"

    return _TZID_PARAMETER.sub(rename, flat)


def zone_problems(split: SplitCalendar, zone: tzinfo) -> list[ZoneProblem]:
    """Each TZID of the calendar that no VTIMEZONE defines and no known name places exactly, with its events.

    A time whose zone is unknown is read as floating: in the calendar's X-WR-TIMEZONE, which
    x-wr-timezone applies to floating times, or else in the coach's `zone`.
    """
    defined = _defined_zones(split.header)
    declared = _X_WR_TIMEZONE.search(_FOLD.sub("", split.header))
    calendar_zone = known_name(declared[1].strip()) if declared else None
    events: dict[str, list[str]] = {}
    for uid, group in split.groups.items():
        for block in group.blocks:
            # Every pass that parses anything scans all events, so this stays on plain str searches;
            # only a block naming a zone that is not placed is unfolded, in case a fold cut its TZID.
            if ";TZID=" not in block and ";tzid=" not in block:
                continue
            tzids = _tzids(block) - defined
            if any(resolve_tzid(tzid) is None for tzid in tzids) and _FOLD.search(block):
                tzids = _tzids(_FOLD.sub("", block)) - defined
            for tzid in tzids:
                if uid not in events.setdefault(tzid, []):
                    events[tzid].append(uid)
    problems = []
    for tzid, uids in events.items():
        resolved = resolve_tzid(tzid)
        if resolved is not None and not resolved.exact:
            problems.append(ZoneProblem(tzid, resolved.key, True, tuple(uids)))
        elif resolved is None:
            read_in = calendar_zone or str(zone)
            problems.append(ZoneProblem(tzid, read_in, False, tuple(uids), from_calendar=calendar_zone is not None))
    return problems


def describe_events(uids: Sequence[str], shown: int = 5) -> str:
    """ "1 event (a)", "7 events (a, b, c, d, e and 2 more)"."""
    named = ", ".join(uids[:shown]) + (f" and {len(uids) - shown} more" if len(uids) > shown else "")
    return f"{len(uids)} event{'s' if len(uids) != 1 else ''} ({named})"


# What was last said about each unknown zone of each calendar, so a daemon warns once, not on every pass.
_zones_warned: dict[tuple[str, str], str] = {}


def _warn_about_zones(split: SplitCalendar, calendar_name: str, zone: tzinfo) -> None:
    problems = zone_problems(split, zone)
    current = {problem.tzid for problem in problems}
    for key in [key for key in _zones_warned if key[0] == calendar_name and key[1] not in current]:
        del _zones_warned[key]  # fixed: should it come back, it is warned about again
    for problem in problems:
        many = len(problem.uids) != 1
        if problem.fixed:
            offset = datetime(2026, 1, 1, tzinfo=ZoneInfo(problem.read_in)).strftime("%z")
            how = f"read at a fixed UTC{offset[:3]}:{offset[3:]}, without daylight saving time"
        else:
            whose = "the calendar's X-WR-TIMEZONE" if problem.from_calendar else "the coach's time zone"
            how = f"read in {whose}, {problem.read_in}, and may be hours off"
        message = (
            f"calendar={format_value(calendar_name)} tzid={format_value(problem.tzid)}: unknown time zone, "
            f"defined by no VTIMEZONE in the calendar; {describe_events(problem.uids)} {'are' if many else 'is'} "
            f"{how}; export the calendar with its time zones"
        )
        if _zones_warned.get((calendar_name, problem.tzid)) != message:
            _zones_warned[(calendar_name, problem.tzid)] = message
            log.warning("%s", message)


def _calendar_text(split: SplitCalendar, uids: Sequence[str]) -> str:
    """Rebuild a calendar holding the shared header and the named groups, each marked with its index."""
    end = re.search(r"^END:VCALENDAR", split.header, re.MULTILINE | re.IGNORECASE)
    head = split.header[: end.start()] if end else split.header
    defined = _defined_zones(head)
    head, own = _own_zones(head)
    parts = [head if head.endswith("\n") else head + "\r\n"]
    for index, uid in enumerate(uids):
        for block in split.groups[uid].blocks:
            if block.find("\nBEGIN:") != -1:  # an alarm says nothing about when the session is; a bad one costs nothing
                block = _NESTED.sub("", block)
            if "TZID=" in block or "tzid=" in block.lower():
                block = _with_resolved_zones(block, own, defined)
            first_break = block.index("\n") + 1
            parts.append(block[:first_break] + f"{_GROUP_MARK}:{index}\r\n" + block[first_break:])
    parts.append("END:VCALENDAR\r\n")
    return "".join(parts)


def _broken_property(component: icalendar.Component) -> str | None:
    for name, problem in getattr(component, "errors", ()):
        if str(name).upper() in _ESSENTIAL:
            return f"{name}: {problem}"
    if "DTSTART" not in component:
        return "no DTSTART"
    try:
        for name in ("DTSTART", "DTEND", "RECURRENCE-ID"):
            if name in component:
                component.decoded(name)
        if "RRULE" in component:
            component.decoded("RRULE")
    except Exception as error:  # icalendar raises many types for bad values
        return f"{error}"
    return None


def _sequence(component: icalendar.Component) -> int:
    try:
        return int(component.get("SEQUENCE", 0))
    except (TypeError, ValueError):
        return 0


def _drop_broken_and_duplicates(
    calendar: icalendar.Calendar, uids: Sequence[str], split: SplitCalendar, calendar_name: str
) -> tuple[set[str], set[str]]:
    """Remove events that cannot be read and outdated duplicates; return the broken and the ambiguous groups."""
    broken: set[str] = set()
    kept: dict[tuple[str, str], icalendar.Component] = {}
    duplicated: dict[str, bool] = {}  # group -> whether two copies tied
    survivors: list[icalendar.Component] = []
    for component in calendar.subcomponents:
        if component.name != "VEVENT":
            survivors.append(component)
            continue
        group_uid = uids[int(str(component.get(_GROUP_MARK)))]
        problem = _broken_property(component)
        if problem is None and group_uid in split.unkeyable:
            problem = (
                "no UID, though the calendar's other events have one; "
                "until it has one again, no session is read as deleted"
            )
        elif problem is None and "UID" not in component and group_uid not in split.content_keyed:
            problem = "no UID"
        if problem is not None:
            if group_uid not in broken:
                log.warning(
                    "calendar=%s uid=%s line=%d: skipped an event that cannot be read (%s); fix it in the calendar",
                    format_value(calendar_name),
                    format_value(group_uid),
                    split.groups[group_uid].line,
                    problem,
                )
            broken.add(group_uid)
            continue
        recurrence = component.decoded("RECURRENCE-ID").isoformat() if "RECURRENCE-ID" in component else ""
        identity = (group_uid, recurrence)
        earlier = kept.get(identity)
        if earlier is not None:
            component, tie = _newer(earlier, component)
            duplicated[group_uid] = duplicated.get(group_uid, False) or tie
        kept[identity] = component
    for group_uid, tie in duplicated.items():
        log.warning(
            "calendar=%s uid=%s line=%d: the same event appears twice%s",
            format_value(calendar_name),
            format_value(group_uid),
            split.groups[group_uid].line,
            " with the same SEQUENCE, LAST-MODIFIED and DTSTAMP; keeping what was known of it; delete one of them"
            if tie
            else "; keeping the one with the highest SEQUENCE, then LAST-MODIFIED, then DTSTAMP",
        )
    events = [c for (group_uid, _), c in kept.items() if group_uid not in broken]
    calendar.subcomponents[:] = [*survivors, *events]
    return broken, {group_uid for group_uid, tie in duplicated.items() if tie}


def _stamp(component: icalendar.Component, name: str) -> float:
    """A UTC date-time property as a number to compare; missing or unreadable counts as oldest."""
    try:
        value = component.decoded(name)
    except Exception:  # icalendar raises many types for bad values
        return float("-inf")
    if not isinstance(value, datetime):
        return float("-inf")
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).timestamp()


def _newer(one: icalendar.Component, other: icalendar.Component) -> tuple[icalendar.Component, bool]:
    """Which of two copies of one event counts, whatever their order in the file, and whether it was a tie.

    SEQUENCE, then LAST-MODIFIED, then DTSTAMP decide. Two different copies that tie on all
    three are ambiguous: the one picked by content only stands in until the caller decides.
    """

    def rank(c: icalendar.Component) -> tuple[int, float, float]:
        return _sequence(c), _stamp(c, "LAST-MODIFIED"), _stamp(c, "DTSTAMP")

    if rank(one) != rank(other):
        return max(one, other, key=rank), False
    one_text, other_text = one.to_ical(), other.to_ical()
    if one_text == other_text:
        return one, False
    return (one if one_text < other_text else other), True


def _aware(value: date | datetime, zone: tzinfo) -> tuple[datetime, bool]:
    """An aware datetime, and whether the value was a whole day (then local midnight)."""
    if isinstance(value, datetime):
        return (value.replace(tzinfo=zone) if value.tzinfo is None else value), False
    return datetime.combine(value, time(0, 0), tzinfo=zone), True


def _recurrence_id(value: date | datetime, zone: tzinfo) -> str:
    moment, all_day = _aware(value, zone)
    return value.isoformat() if all_day else moment.astimezone(UTC).isoformat()


def _attendees(instance: icalendar.Component) -> tuple[str, ...]:
    raw = instance.get("ATTENDEE")
    values = raw if isinstance(raw, list) else ([raw] if raw is not None else [])
    emails = []
    for value in values:
        text = str(value).strip()
        if text.lower().startswith("mailto:"):
            text = text[7:]
        if "@" in text:
            emails.append(text.lower())
    return tuple(emails)


def _occurrence(
    instance: icalendar.Component,
    group_uid: str,
    recurring: bool,
    calendar_name: str,
    zone: tzinfo,
    match_client: MatchClient,
) -> Occurrence:
    start, all_day = _aware(instance.decoded("DTSTART"), zone)
    end = start
    if "DTEND" in instance:
        end, _ = _aware(instance.decoded("DTEND"), zone)
    recurrence_id = ""
    if recurring:
        original = "RECURRENCE-ID" if "RECURRENCE-ID" in instance else "DTSTART"
        recurrence_id = _recurrence_id(instance.decoded(original), zone)
    last_modified = instance.decoded("LAST-MODIFIED") if "LAST-MODIFIED" in instance else None
    if isinstance(last_modified, datetime) and last_modified.tzinfo is None:
        last_modified = last_modified.replace(tzinfo=UTC)
    summary = shorten(str(instance.get("SUMMARY", "")), KEPT_TEXT)
    attendees = _attendees(instance)
    return Occurrence(
        calendar=calendar_name,
        uid=group_uid,
        recurrence_id=recurrence_id,
        start=start,
        end=end,
        summary=summary,
        all_day=all_day,
        cancelled=str(instance.get("STATUS", "")).upper() == "CANCELLED",
        recurring=recurring,
        client=match_client(attendees, summary),
        attendees=attendees,
        sequence=_sequence(instance),
        last_modified=last_modified if isinstance(last_modified, datetime) else None,
    )


def _parse_batch(
    split: SplitCalendar,
    uids: Sequence[str],
    calendar_name: str,
    window: Window,
    zone: tzinfo,
    match_client: MatchClient,
) -> ParsedGroups:
    calendar = icalendar.Calendar.from_ical(_calendar_text(split, uids))
    calendar = x_wr_timezone.to_standard(calendar)
    failed, ambiguous = _drop_broken_and_duplicates(calendar, uids, split, calendar_name)
    result = ParsedGroups(failed=failed, ambiguous=ambiguous)
    for uid in uids:
        if uid not in result.failed:
            result.occurrences[uid] = []
    # recurring-ical-events stamps a RECURRENCE-ID on plain events too, so ask the source components.
    recurring = {
        str(c[_GROUP_MARK]) for c in calendar.walk("VEVENT") if "RRULE" in c or "RDATE" in c or "RECURRENCE-ID" in c
    }
    query = recurring_ical_events.of(calendar, keep_recurrence_attributes=True)
    for instance in query.between(window.start, window.end):
        mark = str(instance[_GROUP_MARK])
        group_uid = uids[int(mark)]
        result.occurrences[group_uid].append(
            _occurrence(instance, group_uid, mark in recurring, calendar_name, zone, match_client)
        )
    return result


# Events parsed together: large enough to amortise the shared time zones, small enough that a
# first pass over a big calendar never holds the whole parsed tree in memory at once.
BATCH_SIZE = 500


def parse_groups(
    split: SplitCalendar,
    uids: Iterable[str],
    *,
    calendar_name: str,
    window: Window,
    zone: tzinfo,
    match_client: MatchClient,
) -> ParsedGroups:
    """Expand the named groups into occurrences inside the window.

    An event that cannot be read is skipped with a warning naming its UID and
    line and reported in ``failed``, so the caller keeps what it knew of it
    instead of reading it as deleted.
    """
    wanted = list(uids)
    if wanted:
        _warn_about_zones(split, calendar_name, zone)
    if keyless := sum(1 for uid in wanted if uid in split.content_keyed):
        log.warning(
            "calendar=%s: %d events have no UID; each is known by its start, title and organizer instead, "
            "so moving one reads as cancelling it and booking a new one",
            format_value(calendar_name),
            keyless,
        )
    merged = ParsedGroups()
    for start in range(0, len(wanted), BATCH_SIZE):
        part = _parse_isolating(split, wanted[start : start + BATCH_SIZE], calendar_name, window, zone, match_client)
        merged.occurrences.update(part.occurrences)
        merged.failed |= part.failed
        merged.ambiguous |= part.ambiguous
    return merged


def _parse_isolating(
    split: SplitCalendar,
    uids: list[str],
    calendar_name: str,
    window: Window,
    zone: tzinfo,
    match_client: MatchClient,
) -> ParsedGroups:
    """Parse a batch; when it fails as a whole, halve it until the damaged event stands alone."""
    try:
        return _parse_batch(split, uids, calendar_name, window, zone, match_client)
    except Exception:  # one damaged event can sink the whole batch: isolate it
        if len(uids) == 1:
            group = split.groups[uids[0]]
            log.warning(
                "calendar=%s uid=%s line=%d: skipped an event that cannot be read; fix it in the calendar",
                format_value(calendar_name),
                format_value(group.uid),
                group.line,
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
            return ParsedGroups(failed={uids[0]})
    middle = len(uids) // 2
    merged = ParsedGroups()
    for half in (uids[:middle], uids[middle:]):
        part = _parse_isolating(split, half, calendar_name, window, zone, match_client)
        merged.occurrences.update(part.occurrences)
        merged.failed |= part.failed
        merged.ambiguous |= part.ambiguous
    return merged


def window_around(now: datetime, days_back: int, days_ahead: int) -> Window:
    return Window(now - timedelta(days=days_back), now + timedelta(days=days_ahead))
