"""`coachsync check`: can this config run? Reads every calendar and greets the mail server,
records nothing, and shows which sessions belong to which client.

The matching report is pure (occurrences in, counts out); reading calendars
and talking to SMTP are the I/O edges, each returning a one-line problem
instead of raising so that one failure never hides the others.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from .app import App
from .config import ClientConfig, SmtpConfig
from .errors import CoachsyncError
from .ics import ZoneProblem, parse_groups, split_calendar, window_around, zone_problems
from .mail import smtp_client, smtp_password
from .model import Occurrence


@dataclass(frozen=True, slots=True)
class ClientSessions:
    """Upcoming sessions charged to one client (`client` None: matched to nobody)."""

    client: str | None
    upcoming: int
    next_start: datetime | None


@dataclass(frozen=True, slots=True)
class CalendarCheck:
    calendar: str
    problem: str | None = None
    events: int = 0
    unreadable: int = 0
    clients: tuple[ClientSessions, ...] = ()
    # TZIDs that no VTIMEZONE defines and no known name places: their events may be hours off.
    zones: tuple[ZoneProblem, ...] = ()
    # What the coach may want to know about how the calendar is read, beside its problems.
    notes: tuple[str, ...] = ()


def sessions_by_client(
    occurrences: Iterable[Occurrence], clients: Iterable[str], now: datetime
) -> tuple[ClientSessions, ...]:
    """Every configured client in config order (even with no sessions), then the unmatched ones."""
    upcoming: dict[str | None, list[datetime]] = {name: [] for name in clients}
    upcoming[None] = []
    for occurrence in occurrences:
        if occurrence.start > now and not occurrence.cancelled:
            upcoming.setdefault(occurrence.client, []).append(occurrence.start)
    return tuple(ClientSessions(name, len(starts), min(starts, default=None)) for name, starts in upcoming.items())


def client_warnings(clients: Iterable[ClientConfig]) -> list[str]:
    """A client with neither emails nor aliases is matched only by the whole name in a title."""
    return [
        f"client {client.name}: warning: no emails and no aliases, so only a session whose title"
        f" contains {client.name!r} is matched to this client"
        for client in clients
        if not client.emails and not client.aliases
    ]


def check_calendar(app: App, name: str, now: datetime) -> CalendarCheck:
    """Fetch the whole calendar (no sync state: a full read) and match its sessions; write nothing."""
    try:
        fetched = app.sources[name].fetch({})
    except CoachsyncError as error:
        return CalendarCheck(name, problem=str(error))
    if fetched.text is None:  # cannot happen without a sync state; a source that does it is broken
        return CalendarCheck(name, problem="the source returned no calendar for a full read")
    split = split_calendar(fetched.text)
    window = window_around(now, app.config.window.days_back, app.config.window.days_ahead)
    parsed = parse_groups(
        split, list(split.groups), calendar_name=name, window=window, zone=app.zone, match_client=app.match_client
    )
    occurrences = [o for found in parsed.occurrences.values() for o in found]
    clients = [client.name for client in app.config.clients]
    return CalendarCheck(
        name,
        events=len(split.groups),
        unreadable=len(parsed.failed),
        clients=sessions_by_client(occurrences, clients, now),
        zones=tuple(zone_problems(split, app.zone)),
        notes=_feed_notes(app.sources[name], fetched.state, fetched.text),
    )


def _feed_notes(source: object, state: Mapping[str, str], text: str) -> tuple[str, ...]:
    """A URL feed without ETag or Last-Modified (nor a freshness lifetime) is downloaded whole on every poll."""
    from .sources.ics_url import IcsUrlSource, has_validators

    if not isinstance(source, IcsUrlSource) or has_validators(state) or "fresh_until" in state:
        return ()
    size = len(text.encode("utf-8", "surrogatepass")) / 1024 / 1024
    return (
        f"the server sends no ETag, Last-Modified or Cache-Control: max-age, so every poll downloads the whole "
        f"calendar ({size:.1f} MB); a longer poll_interval for this calendar costs less",
    )


def check_smtp(smtp: SmtpConfig, sender: str) -> str | None:
    """Connect, EHLO (and STARTTLS), log in when a username is set, quit; None when all went well."""
    try:
        password = smtp_password(smtp)
    except CoachsyncError as error:
        return str(error)
    client = smtp_client(smtp, sender, password)
    try:
        client.login()
        code, _ = client.smtp.ehlo()
        if code != 250:
            return f"the server refused EHLO (reply {code})"
    except smtplib.SMTPAuthenticationError as error:
        reply = error.smtp_code
        return f"login refused for {smtp.username!r} (reply {reply}); check mail.smtp.username and the password"
    except smtplib.SMTPNotSupportedError:
        what = "STARTTLS" if smtp.starttls else "login (AUTH)"
        return f"the server does not offer {what}; check mail.smtp.port, starttls and ssl"
    except smtplib.SMTPException as error:
        return f"SMTP error: {' '.join(str(error).split())}"
    except ssl.SSLError as error:
        return f"TLS failed: {error.reason or error}; check mail.smtp.port, starttls and ssl"
    except TimeoutError:
        return f"no answer within {smtp.timeout:g}s; check mail.smtp.host and port"
    except OSError as error:
        return f"cannot connect: {error.strerror or error}; check mail.smtp.host and port"
    finally:
        try:
            client.close()
        except (OSError, smtplib.SMTPException):  # the answer above is what counts, not the goodbye
            pass
    return None
