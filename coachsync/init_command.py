"""`coachsync init`: the questions (or the flags that answer them), reading the calendar, the proposal.

Every answer has a flag, so a script (or a test) runs it without a terminal;
`--yes` takes every default and proposal and never asks. A CalDAV password is
asked for (hidden) and used for this run only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from coachsync.errors import CoachsyncError
from coachsync.init_config import (
    CALENDAR_NAME,
    DEFAULT_NOTICE_HOURS,
    Answers,
    CaldavAnswers,
    InitError,
    known_timezone,
    local_timezone,
    occurrences_of,
    render_config,
    write_new,
    write_schema,
)
from coachsync.onboarding import Proposal, ProposedClient, calendar_people, propose_clients
from coachsync.sources.base import redact_url

if TYPE_CHECKING:
    from coachsync.sources.base import Source
    from coachsync.sources.caldav import CaldavSource


@dataclass(frozen=True, slots=True)
class InitRequest:
    path: Path
    ics_file: Path | None = None
    ics_url: str | None = None
    caldav_url: str | None = None
    caldav_username: str | None = None
    caldav_calendar: str | None = None
    caldav_password_command: str | None = None
    timezone: str | None = None
    notice_hours: float | None = None
    yes: bool = False
    force: bool = False


@dataclass(frozen=True, slots=True)
class InitResult:
    path: Path
    # The CalDAV password the coach typed, for this run's `check` only; never shown or written.
    password: str | None = field(default=None, repr=False)


def run_init(request: InitRequest, now: datetime) -> InitResult:
    ask = not request.yes
    if request.path.exists() and not request.force:
        write_new(request.path, "", force=False)  # raises, saying how to replace or add to it
    answers = _source(request, ask)
    zone_name = _timezone(request, ask)
    notice = request.notice_hours
    if notice is None:
        notice = (
            click.prompt("Notice period in hours", default=f"{DEFAULT_NOTICE_HOURS:g}", type=float) if ask else None
        )
    if notice is not None and notice < 0:
        raise InitError(f"--notice-hours must be at least 0, got {notice:g}")
    answers = Answers(
        ics_file=answers.ics_file,
        ics_url=answers.ics_url,
        caldav=answers.caldav,
        timezone=zone_name,
        notice_hours=DEFAULT_NOTICE_HOURS if notice is None else notice,
    )
    password = _password(answers.caldav, ask) if answers.caldav is not None else None
    caldav = _pick_calendar(answers.caldav, password, ask) if answers.caldav is not None else None
    text = _read(answers, caldav, password)
    zone = ZoneInfo(zone_name) if zone_name else datetime.now().astimezone().tzinfo
    assert zone is not None  # astimezone() always gives an aware datetime
    occurrences = occurrences_of(text, zone, now)
    names, organizers = calendar_people(text)
    proposal = propose_clients(occurrences, now, names, organizers)
    upcoming = sum(1 for o in occurrences if o.start > now and not o.cancelled)
    click.echo(f"Read {_where(answers, caldav)}: {upcoming} upcoming sessions.")
    clients = _review(proposal, ask)
    final = Answers(
        ics_file=answers.ics_file,
        ics_url=answers.ics_url,
        caldav=caldav,
        timezone=zone_name,
        notice_hours=answers.notice_hours,
        clients=clients,
    )
    backup = write_new(request.path, render_config(final), request.force)
    if backup is not None:
        click.echo(f"kept the old config as {backup}")
    from coachsync.schema import installed_schema

    schema = write_schema(request.path.parent, installed_schema())
    count = f"{len(clients)} client{'' if len(clients) == 1 else 's'}"
    click.echo(f"wrote {request.path} ({count}; every policy is off)")
    click.echo(f"wrote {schema} (lets your editor check the config as you type)")
    return InitResult(request.path, password)


def _source(request: InitRequest, ask: bool) -> Answers:
    given = [
        flag
        for flag, value in (
            ("--ics-file", request.ics_file),
            ("--ics-url", request.ics_url),
            ("--caldav-url", request.caldav_url),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise InitError(f"give only one calendar: {' or '.join(given)}, not both")
    ics_file, ics_url, caldav_url = request.ics_file, request.ics_url, request.caldav_url
    if not given:
        if not ask:
            raise InitError("--yes needs the calendar: give --ics-file FILE, --ics-url URL or --caldav-url URL")
        kind = click.prompt(
            "Where is your calendar? file (an .ics export), url (a published address) or caldav",
            type=click.Choice(["file", "url", "caldav"]),
            default="file",
            show_choices=False,
        )
        if kind == "file":
            ics_file = click.prompt("Path of the .ics file", type=click.Path(path_type=Path, dir_okay=False))
        elif kind == "url":
            ics_url = click.prompt("The calendar's address (https:// or webcal://)", hide_input=True)
        else:
            caldav_url = click.prompt("The CalDAV server's address (https://…)")
    if ics_file is not None:
        resolved = Path(os.path.abspath(ics_file.expanduser()))
        if not resolved.is_file():
            raise InitError(f"--ics-file: file not found: {resolved}")
        return Answers(ics_file=resolved)
    if ics_url is not None:
        return Answers(ics_url=ics_url.strip())
    assert caldav_url is not None
    username = request.caldav_username
    if username is None and ask:
        username = click.prompt("CalDAV user name (empty for none)", default="", show_default=False) or None
    return Answers(
        caldav=CaldavAnswers(caldav_url.strip(), username, request.caldav_calendar, request.caldav_password_command)
    )


def _timezone(request: InitRequest, ask: bool) -> str | None:
    if request.timezone is not None:
        if not known_timezone(request.timezone):
            raise InitError(
                f"--timezone: unknown time zone {request.timezone!r}; use an IANA name such as Europe/Berlin"
            )
        return request.timezone
    found = local_timezone()
    if not ask:
        return found
    while True:
        name = str(click.prompt("Your time zone", default=found or "UTC"))
        if known_timezone(name):
            return name
        click.echo(f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin")


def _password(dav: CaldavAnswers, ask: bool) -> str | None:
    """The password typed for this run; None when there is no login, or the source reads it as always."""
    from coachsync.sources.caldav import PASSWORD_ENV

    if dav.username is None or dav.password_command or os.environ.get(PASSWORD_ENV):
        return None
    if not ask:
        raise InitError(
            f"--yes cannot ask for the CalDAV password: set ${PASSWORD_ENV} or pass --caldav-password-command"
        )
    password = click.prompt(
        "CalDAV password (used now, never written)", hide_input=True, default="", show_default=False
    )
    return str(password) or None


def _caldav_source(dav: CaldavAnswers, password: str | None, calendar: str | None) -> CaldavSource:
    from coachsync.config import CaldavConfig
    from coachsync.sources.caldav import CaldavSource

    try:
        CaldavConfig.model_validate({"url": dav.url})
    except ValueError as error:
        raise InitError(f"--caldav-url: {_first_problem(error)}") from None
    return CaldavSource(
        CALENDAR_NAME,
        dav.url,
        username=dav.username,
        password_command=dav.password_command,
        calendar=calendar,
        password=password,
    )


def _pick_calendar(dav: CaldavAnswers, password: str | None, ask: bool) -> CaldavAnswers:
    """The account's calendars by display name; the coach picks one unless it is the only one."""
    names = _caldav_source(dav, password, None).calendar_names()
    if not names:
        raise InitError("this CalDAV account has no calendars; check --caldav-url and --caldav-username")
    listed = ", ".join(f'"{n}"' for n in names)
    chosen = dav.calendar
    if chosen is not None:
        exact = [n for n in names if n == chosen] or [n for n in names if n.casefold() == chosen.strip().casefold()]
        if len(exact) != 1:
            raise InitError(f'--caldav-calendar: no calendar is named "{chosen}" (calendars found: {listed})')
        chosen = exact[0]
    elif len(names) == 1:
        chosen = names[0]
    elif ask:
        chosen = click.prompt("Which calendar holds your sessions?", type=click.Choice(names))
    else:
        raise InitError(f"found {len(names)} calendars ({listed}); pass --caldav-calendar with one of them")
    return CaldavAnswers(dav.url, dav.username, chosen, dav.password_command)


def _read(answers: Answers, caldav: CaldavAnswers | None, password: str | None) -> str:
    from coachsync.app import build_source
    from coachsync.config import CalendarConfig

    source: Source
    if caldav is not None:
        source = _caldav_source(caldav, password, caldav.calendar)
    else:
        settings = {"name": CALENDAR_NAME, "ics_file": answers.ics_file, "ics_url": answers.ics_url}
        try:
            calendar = CalendarConfig.model_validate({k: v for k, v in settings.items() if v is not None})
        except ValueError as error:
            flag = "--ics-file" if answers.ics_file is not None else "--ics-url"
            raise InitError(f"{flag}: {_first_problem(error)}") from None
        source = build_source(calendar)
    try:
        fetched = source.fetch({})
    except CoachsyncError as error:
        raise InitError(f"cannot read the calendar: {error}") from None
    if fetched.text is None:
        raise InitError("the calendar source returned no calendar")
    return fetched.text


def _first_problem(error: ValueError) -> str:
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        first = error.errors()[0]
        cause = (first.get("ctx") or {}).get("error")
        return str(cause) if cause is not None else first["msg"]
    return str(error)


def _where(answers: Answers, caldav: CaldavAnswers | None) -> str:
    if answers.ics_file is not None:
        return str(answers.ics_file)
    if answers.ics_url is not None:
        return redact_url(answers.ics_url)  # the path and query usually hold the secret
    assert caldav is not None
    return f'the CalDAV calendar "{caldav.calendar}" ({redact_url(caldav.url)})'


def describe(client: ProposedClient) -> str:
    """`Alice Example <alice@example.com>, alias Alice: 52 upcoming sessions`."""
    text = client.name
    if client.emails:
        text += " " + ", ".join(f"<{email}>" for email in client.emails)
    if client.aliases:
        text += f", alias{'es' if len(client.aliases) > 1 else ''} {', '.join(client.aliases)}"
    return f"{text}: {client.sessions} upcoming session{'' if client.sessions == 1 else 's'}"


def _review(proposal: Proposal, ask: bool) -> list[ProposedClient]:
    """Each proposed client, kept, renamed or dropped; personal-looking events are only counted."""
    if proposal.clients:
        click.echo(f"Proposed clients ({len(proposal.clients)}):")
    else:
        click.echo("No clients found in the upcoming sessions; add them with `coachsync init --add-client NAME`.")
    kept: list[ProposedClient] = []
    for client in proposal.clients:
        click.echo(f"  {describe(client)}")
        if not ask:
            kept.append(client)
            continue
        choice = click.prompt(
            "  keep, rename or drop", type=click.Choice(["keep", "rename", "drop"]), default="keep", show_choices=False
        )
        if choice == "rename":
            name = str(click.prompt("  new name", default=client.name)).strip() or client.name
            kept.append(ProposedClient(name, client.emails, client.aliases, client.sessions))
        elif choice == "keep":
            kept.append(client)
    left_out = []
    if proposal.personal:
        looks = "1 event that looks" if proposal.personal == 1 else f"{proposal.personal} events that look"
        left_out.append(f"{looks} personal (no attendee, no recurrence)")
    if proposal.unnamed_series:
        s = "" if proposal.unnamed_series == 1 else "s"
        left_out.append(f"{proposal.unnamed_series} recurring event{s} with no attendee and no name in the title")
    if left_out:
        click.echo(f"Left out {' and '.join(left_out)}.")
    return kept
