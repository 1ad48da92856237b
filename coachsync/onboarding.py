"""Pure: who the coach's clients probably are, from the upcoming sessions of their calendar.

`coachsync init` proposes these; the coach accepts, renames or drops each.
Attendees are grouped by email (one person with two addresses under the same
name is one client); a recurring series without attendees proposes the
name-like words of its title. An event with neither attendee nor recurrence
looks personal (a dentist, an offsite) and is only counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import icalendar

from coachsync.model import Occurrence

# Capitalised words that say what a session is, not whom it is with.
_SESSION_WORDS = frozenset(
    """
    career catch-up call check check-in checkin coaching consultation discovery follow-up followup intro
    kick-off kickoff leadership meeting mentoring monthly online session sessions strategy sync weekly
    fortnightly biweekly review zoom teams video team lunch standup planning admin focus block time break
    supervision the and with for of a an
    """.split()
)
_WORD = re.compile(r"[^\W\d_][\w'’.-]*", re.UNICODE)
_AFTER_WITH = re.compile(r"\bwith\s+(.+)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ProposedClient:
    """A client as `init` proposes it; `sessions` is how many upcoming sessions made the proposal."""

    name: str
    emails: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    sessions: int = 0


@dataclass(frozen=True, slots=True)
class Proposal:
    clients: tuple[ProposedClient, ...]
    # Upcoming events left out: no attendee and no recurrence, or a series with no name in its title.
    personal: int
    unnamed_series: int


def calendar_people(text: str) -> tuple[dict[str, str], frozenset[str]]:
    """From calendar text: each attendee's name (CN) by lower-case email, and the organizers' emails
    (the coach, who is no client)."""
    names: dict[str, str] = {}
    organizers: set[str] = set()
    for event in icalendar.Calendar.from_ical(text).walk("VEVENT"):
        organizer = event.get("ORGANIZER")
        if organizer is not None:
            organizers.add(_email(str(organizer)))
        raw = event.get("ATTENDEE")
        for attendee in raw if isinstance(raw, list) else ([raw] if raw is not None else []):
            cn = str(attendee.params.get("CN", "")).strip()
            email = _email(str(attendee))
            if cn and "@" not in cn and email:
                names.setdefault(email, cn)
    return names, frozenset(o for o in organizers if o)


def propose_clients(
    occurrences: Iterable[Occurrence],
    now: datetime,
    names: Mapping[str, str],
    not_clients: Iterable[str] = (),
) -> Proposal:
    """Clients from the upcoming, not cancelled sessions, in the order of their names.

    `names` maps an attendee's email to their name; `not_clients` are emails to leave out (the coach's).
    """
    skip = {email.lower() for email in not_clients}
    upcoming = [o for o in occurrences if o.start > now and not o.cancelled]
    by_email: dict[str, list[Occurrence]] = {}
    series: dict[str, list[Occurrence]] = {}
    personal: set[str] = set()
    for occurrence in upcoming:
        attendees = [email for email in occurrence.attendees if email not in skip]
        for email in attendees:
            by_email.setdefault(email, []).append(occurrence)
        if not attendees:
            if occurrence.recurring:
                series.setdefault(occurrence.uid, []).append(occurrence)
            else:
                personal.add(occurrence.uid)

    # One person with two addresses under the same name is one client.
    people: dict[str, tuple[str, list[str], list[Occurrence]]] = {}
    for email in sorted(by_email):
        name = names.get(email) or _name_from_email(email)
        _, emails, sessions = people.setdefault(name.casefold(), (name, [], []))
        emails.append(email)
        sessions.extend(by_email[email])
    proposed = [
        ProposedClient(name, tuple(emails), _first_name_alias(name, sessions), len({o.key for o in sessions}))
        for name, emails, sessions in people.values()
    ]

    unnamed = 0
    taken = {client.name.casefold() for client in proposed}
    titled: dict[str, tuple[str, tuple[str, ...], int]] = {}
    for found in series.values():
        words = _name_words(found[0].summary)
        if not words:
            unnamed += 1
            continue
        name = " ".join(words)
        if name.casefold() in taken:
            continue  # already proposed by email; the title adds nothing
        first, aliases, count = titled.get(name.casefold(), (name, (words[0],), 0))
        titled[name.casefold()] = (first, aliases, count + len(found))
    proposed += [ProposedClient(name, (), aliases, count) for name, aliases, count in titled.values()]
    proposed.sort(key=lambda c: c.name.casefold())
    return Proposal(tuple(proposed), personal=len(personal), unnamed_series=unnamed)


def _email(value: str) -> str:
    text = value.strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    return text.lower() if "@" in text else ""


def _name_from_email(email: str) -> str:
    """`carmen.diaz@…` reads as "Carmen Diaz": better than an address, and the coach may rename it."""
    local = email.split("@", 1)[0].split("+", 1)[0]
    parts = [p for p in re.split(r"[._-]+", local) if p]
    return " ".join(p[:1].upper() + p[1:] for p in parts) or email


def _first_name_alias(name: str, sessions: Iterable[Occurrence]) -> tuple[str, ...]:
    """The first name as an alias when the titles already use it: it still matches an invite without them."""
    first = name.split()[0] if name.split() else ""
    pattern = re.compile(rf"(?<!\w){re.escape(first)}(?!\w)", re.IGNORECASE)
    return (first,) if first and any(pattern.search(o.summary) for o in sessions) else ()


def _name_words(title: str) -> list[str]:
    """The name-like words of a title: capitalised, not a word for a kind of session; those after
    "with" first ("Career session with Carmen")."""
    after = _AFTER_WITH.search(title)
    for text in ([after.group(1)] if after else []) + [title]:
        words = [w for w in _WORD.findall(text) if w[0].isupper() and w.casefold().strip(".") not in _SESSION_WORDS]
        if words:
            return words[:3]
    return []
