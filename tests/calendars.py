"""Build iCalendar text for tests, line by line, the way real calendar apps write it.

Each helper returns plain text so a test can show exactly what a coach's
calendar contained; nothing here parses or validates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def fold(line: str, width: int = 75) -> list[str]:
    """Fold one content line per RFC 5545: at most ``width`` octets, continuation lines start with a space."""
    if len(line.encode("utf-8")) <= width:
        return [line]
    parts = [line[:width]]
    rest = line[width:]
    while rest:
        parts.append(" " + rest[: width - 1])
        rest = rest[width - 1 :]
    return parts


def vevent(
    uid: str | None,
    dtstart: str | None,
    dtend: str | None = None,
    *,
    summary: str = "Coaching session",
    rrule: str | None = None,
    exdates: Sequence[str] = (),
    recurrence_id: str | None = None,
    status: str | None = None,
    sequence: int | None = None,
    attendees: Sequence[str] = (),
    last_modified: str | None = None,
    extra: Sequence[str] = (),
    nested: Sequence[str] = (),
    dtstamp: str = "DTSTAMP:20260101T000000Z",
) -> list[str]:
    """One VEVENT as unfolded lines. Date-time values are given with their property prefix, e.g.

    ``dtstart="DTSTART;TZID=Europe/Berlin:20260302T100000"``; ``None`` leaves a property out.
    ``nested`` lines (a whole VALARM, say) go before the UID line, where some apps put them.
    """
    lines = ["BEGIN:VEVENT", *nested]
    if uid is not None:
        lines.append(f"UID:{uid}")
    lines.append(dtstamp)
    if recurrence_id is not None:
        lines.append(recurrence_id)
    if dtstart is not None:
        lines.append(dtstart)
    if dtend is not None:
        lines.append(dtend)
    if rrule is not None:
        lines.append(f"RRULE:{rrule}")
    lines.extend(exdates)
    if sequence is not None:
        lines.append(f"SEQUENCE:{sequence}")
    if status is not None:
        lines.append(f"STATUS:{status}")
    if last_modified is not None:
        lines.append(f"LAST-MODIFIED:{last_modified}")
    lines.append(f"SUMMARY:{summary}")
    lines.extend(attendees)
    lines.extend(extra)
    lines.append("END:VEVENT")
    return lines


def valarm(uid: str) -> list[str]:
    """An alarm carrying a UID of its own (Apple Calendar writes these)."""
    return [
        "BEGIN:VALARM",
        f"UID:{uid}",
        "ACTION:DISPLAY",
        "DESCRIPTION:Reminder",
        "TRIGGER:-PT15M",
        "END:VALARM",
    ]


def vtimezone_berlin() -> list[str]:
    return [
        "BEGIN:VTIMEZONE",
        "TZID:Europe/Berlin",
        "BEGIN:DAYLIGHT",
        "TZOFFSETFROM:+0100",
        "TZOFFSETTO:+0200",
        "TZNAME:CEST",
        "DTSTART:19700329T020000",
        "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
        "END:DAYLIGHT",
        "BEGIN:STANDARD",
        "TZOFFSETFROM:+0200",
        "TZOFFSETTO:+0100",
        "TZNAME:CET",
        "DTSTART:19701025T030000",
        "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
        "END:STANDARD",
        "END:VTIMEZONE",
    ]


def calendar(
    *events: Iterable[str],
    header: Sequence[str] = (),
    newline: str = "\r\n",
    fold_lines: bool = True,
) -> str:
    """A whole VCALENDAR; ``header`` lines (X-WR-TIMEZONE, a VTIMEZONE) go before the events."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//coachsync tests//EN", *header]
    for event in events:
        lines.extend(event)
    lines.append("END:VCALENDAR")
    if fold_lines:
        lines = [part for line in lines for part in fold(line)]
    return newline.join(lines) + newline
