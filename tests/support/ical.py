"""Build iCalendar text for tests, line by line, the way real calendar apps write it.

Each helper returns plain text so a test can show exactly what a coach's
calendar contained; nothing here parses or validates. `vcalendar` folds long
lines as RFC 5545 asks: at most 75 octets each, never inside a UTF-8 character.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

# A str start or end is a whole content line, e.g. "DTSTART;TZID=Europe/Berlin:20260302T100000".
When = datetime | date | str

HOUR = timedelta(hours=1)
LINE_OCTETS = 75  # RFC 5545, 3.1: lines SHOULD NOT be longer than 75 octets, excluding the line break
_FOLDED = re.compile(r"\r?\n[ \t]")


def stamp(moment: datetime) -> str:
    """A UTC date-time value: 20261210T090000Z."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def fold(line: str, width: int = LINE_OCTETS) -> list[str]:
    """Fold one content line: each part at most `width` octets in UTF-8, continuations start with a space.

    Parts are cut between characters, never inside one, so a multi-byte character
    (an umlaut, an emoji) always stays whole on one line.
    """
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for char in line:
        octets = len(char.encode("utf-8"))
        if current and size + octets > width:
            parts.append("".join(current))
            current, size = [" "], 1
        current.append(char)
        size += octets
    parts.append("".join(current))
    return parts


def unfold(text: str) -> str:
    """Undo folding: a line break followed by one space or tab joins two lines (RFC 5545, 3.1)."""
    return _FOLDED.sub("", text)


def _line(name: str, when: When) -> str:
    if isinstance(when, str):
        return when
    if isinstance(when, datetime):
        return f"{name}:{stamp(when)}"
    return f"{name};VALUE=DATE:{when.strftime('%Y%m%d')}"


def vevent(
    uid: str | None,
    start: When | None,
    end: When | None = None,
    *,
    summary: str = "Coaching session",
    attendees: Sequence[str] = (),
    rrule: str | None = None,
    exdates: Sequence[str] = (),
    recurrence_id: str | None = None,
    status: str | None = None,
    sequence: int | None = None,
    last_modified: str | None = None,
    extra: Sequence[str] = (),
    nested: Sequence[str] = (),
    dtstamp: str = "DTSTAMP:20260101T000000Z",
) -> str:
    """One VEVENT as unfolded CRLF lines; ``None`` leaves a property out.

    A datetime start or end is written in UTC, a date as VALUE=DATE, a str as the
    whole line it is (``"DTSTART;TZID=Europe/Berlin:20260302T100000"``).
    ``attendees`` are email addresses; other ATTENDEE lines go in ``extra``.
    ``nested`` lines (a whole VALARM, say) go before the UID line, where some apps put them.
    """
    lines = ["BEGIN:VEVENT", *nested]
    if uid is not None:
        lines.append(f"UID:{uid}")
    lines.append(dtstamp)
    if recurrence_id is not None:
        lines.append(recurrence_id)
    if start is not None:
        lines.append(_line("DTSTART", start))
    if end is not None:
        lines.append(_line("DTEND", end))
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
    lines.extend(f"ATTENDEE;CN=Client:mailto:{email}" for email in attendees)
    lines.extend(extra)
    lines.append("END:VEVENT")
    return "\r\n".join(lines) + "\r\n"


def session(
    uid: str,
    start: datetime,
    email: str | None = "alice@example.com",
    summary: str = "Coaching",
    *,
    length: timedelta = HOUR,
    extra: Sequence[str] = (),
) -> str:
    """A client's session: an hour from `start`, the client invited by `email` (None or "": nobody)."""
    return vevent(uid, start, start + length, summary=summary, attendees=(email,) if email else (), extra=extra)


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


def vcalendar(
    *events: str,
    header: Sequence[str] = (),
    newline: str = "\r\n",
    fold_lines: bool = True,
) -> str:
    """A whole VCALENDAR; ``header`` lines (X-WR-TIMEZONE, a VTIMEZONE) go before the events."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//coachsync tests//EN", *header]
    for event in events:
        lines.extend(event.removesuffix("\r\n").split("\r\n"))
    lines.append("END:VCALENDAR")
    if fold_lines:
        lines = [part for line in lines for part in fold(line)]
    return newline.join(lines) + newline
