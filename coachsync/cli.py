"""The `coachsync` command: thin, it parses arguments, calls the core and prints."""

from __future__ import annotations

import difflib
import json
import logging
import os
import signal
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from datetime import date, datetime, time, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import __version__
from .errors import CoachsyncError, ConfigError, NotFoundError
from .logs import configure_logging
from .text import one_line

# The config (pydantic), the sources (caldav, requests), policies (Jinja2) and the daemon (watchdog)
# are imported inside the commands that use them, so `--help` and `history` start quickly.
if TYPE_CHECKING:
    from .app import App
    from .attendance import SessionRow
    from .config import Config
    from .model import EngagementEvent, FeeEntry, PolicyFailure, Record
    from .standing import Standing

log = logging.getLogger("coachsync")


def _summary(command: click.Command) -> str:
    """The first paragraph of a command's docstring, whole: a help list wraps it instead of cutting it."""
    if command.short_help:
        return command.short_help
    return " ".join((command.help or "").partition("\n\n")[0].split())


class _Command(click.Command):
    def get_short_help_str(self, limit: int = 45) -> str:
        return _summary(self)


class _Subgroup(click.Group):
    command_class = _Command

    def get_short_help_str(self, limit: int = 45) -> str:
        return _summary(self)


class _Group(_Subgroup):
    """Turns errors a coach can fix into one line on stderr and the right exit code."""

    group_class = _Subgroup

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as error:
            click.echo(str(error), err=True)  # already `FILE:LINE: KEY: what is wrong`, like a compiler's
            ctx.exit(error.exit_code)
        except CoachsyncError as error:
            click.echo(f"coachsync: {error}", err=True)
            ctx.exit(error.exit_code)


class _Context:
    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path
        self._app: App | None = None

    def config(self) -> Config:
        from .config import load_config
        from .reading import write_snapshot

        config = load_config(self.config_file())
        write_snapshot(config.reading(), config.source_digest)
        return config

    def config_file(self) -> Path:
        """The config file a command reads: --config, else $COACHSYNC_CONFIG, else the user's default."""
        from .reading import default_config_path

        return self.config_path or default_config_path()

    def app(self) -> App:
        if self._app is None:
            from .app import App

            # Sources and plugins wait for a command that runs a pass; `sync`, `run` and `check` prepare them first.
            self._app = App.open(self.config(), prepare=False)
        return self._app

    def reading_app(self) -> App:
        """The app for a command that only reads the store: from the config's snapshot while the file is unchanged
        (no validation to import and run), else from the file validated in full."""
        if self._app is None:
            from .app import App
            from .reading import read_snapshot

            snapshot = read_snapshot(self.config_file())
            self._app = App.open(snapshot if snapshot is not None else self.config(), prepare=False)
        return self._app

    def read_only_app(self) -> App:
        """An app over a copy of the database in memory (an empty one when there is none yet), for `check`,
        which records nothing: it never creates, upgrades or writes the database."""
        from .app import App
        from .store import Store

        config = self.config()
        self._app = App(config, Store.copy_of(config.database), prepare=False)
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="YAML config file (default: $COACHSYNC_CONFIG, else the user config directory).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="info",
    show_default=True,
    help="How much to log on standard error.",
)
@click.version_option(__version__, prog_name="coachsync")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, log_level: str) -> None:
    """Watch a coach's calendar and keep a per-client history of reschedules."""
    configure_logging(log_level)
    context = _Context(config_path)
    ctx.obj = context
    ctx.call_on_close(context.close)


def _app(ctx: click.Context) -> App:
    context = ctx.find_object(_Context)
    assert context is not None  # main() always sets it
    return context.app()


def _reading_app(ctx: click.Context) -> App:
    """The app for a command that only reads: `history`, `clients`, `sessions`, `agreement show`, and the
    listings of `fees`, `outbox` and `suggestions`."""
    context = ctx.find_object(_Context)
    assert context is not None
    return context.reading_app()


@main.command()
@click.option("--accept-mass-change", is_flag=True, help="Record a pass even if it cancels many sessions at once.")
@click.pass_context
def sync(ctx: click.Context, accept_mass_change: bool) -> None:
    """Make one pass over every calendar and print a line per calendar."""
    from .app import PassFailure, utc_now

    app = _app(ctx)
    app.prepare()  # a broken plugin stops the command before the first pass
    failed = False
    for result in app.sync_all(utc_now(), accept_mass_change):
        failed |= isinstance(result, PassFailure)
        click.echo(result.summary(), err=isinstance(result, PassFailure))
    app.run_daily(utc_now())  # once a day, when `run` has not done it already
    for failure in app.open_policy_failures():
        failed = True
        click.echo(_policy_failure(failure), err=True)
    if failed:
        ctx.exit(1)


def _policy_failure(failure: PolicyFailure) -> str:
    tries = f"{failure.attempts} attempt{'s' if failure.attempts != 1 else ''}"
    return (
        f"policy {failure.plugin} FAILED on change {failure.change_id} ({tries}): {failure.error};"
        " it is retried on every pass: fix the plugin or switch it off"
    )


@main.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run in the foreground, watching every calendar until SIGTERM or Ctrl-C; SIGHUP reloads the config."""
    from .daemon import Daemon
    from .notify import Notifier

    app = _app(ctx)
    app.prepare()  # a broken plugin stops the daemon before it reports ready
    daemon = Daemon(app, notifier=Notifier.from_environment())

    def stop(signum: int, _frame: object) -> None:
        log.info("received %s, finishing the current pass", signal.Signals(signum).name)
        daemon.stop()

    def reload(_signum: int, _frame: object) -> None:
        log.info("received SIGHUP, reloading the config after the current pass")
        daemon.request_reload()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, reload)
    log.info("watching %d calendar(s); database %s", len(daemon.app.sources), daemon.app.database_path)
    daemon.run()
    log.info("stopped")


def _parse_since(value: str, zone: tzinfo) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD", param_hint="--since") from None
    if len(value) <= 10:
        return datetime.combine(date.fromisoformat(value), time(0, 0), tzinfo=zone)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _iso(moment: datetime | None, zone: tzinfo) -> str | None:
    return None if moment is None else moment.astimezone(zone).isoformat()


def _local(moment: datetime | None, zone: tzinfo) -> str:
    return "-" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def record_json(
    record: Record, zone: tzinfo, standing: Standing | None = None, term_now: datetime | None = None
) -> dict[str, Any]:
    change = record.change
    found: dict[str, Any] = {}
    if standing is not None:
        found = {
            "late": standing.late,
            "counts": standing.counts,
            "why_not": standing.why_not,
            "allowance_used": standing.allowance_used,
            "allowance": standing.allowance,
            "over": standing.over,
            "period_start": _iso(standing.period_start, zone),
            "agreement_since": _iso(standing.term_start, zone),
            "earlier_agreement": standing.term_start != term_now,
        }
    return {
        "type": "change",
        "id": record.id,
        "calendar": change.calendar,
        "client": change.client,
        "uid": change.uid,
        "recurrence_id": change.recurrence_id or None,
        "kind": change.kind.value,
        "summary": change.summary,
        "old_start": _iso(change.old_start, zone),
        "new_start": _iso(change.new_start, zone),
        "notice_hours": change.notice_hours,
        "changed_at": _iso(change.changed_at, zone),
        "detected_at": _iso(record.detected_at, zone),
        "new_uid": change.new_uid,
        "instances": change.instances,
        "excused": record.excused,
        "reason": record.reason,
        "excuses": [{"reason": e.reason, "at": _iso(e.at, zone), "taken_back": e.taken_back} for e in record.excuses],
        **found,
    }


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    from .tables import table

    return table(headers, rows)


def _cell(text: str, limit: int = 40) -> str:
    """A table cell: one line, at most `limit` display columns."""
    from .tables import cell

    return cell(text, limit)


def _client_name(app: App, given: str | None, recorded: Callable[[], Iterable[str | None]]) -> str | None:
    """The exact name of the client `--client` means, compared with Unicode case folding.

    The configured clients come first, then the names `recorded()` holds, so a client removed
    from the config keeps their history. The store gets the exact name: SQLite's lower() folds
    only A-Z. Anything else is a NotFoundError with the nearest name.
    """
    if given is None:
        return None
    wanted = given.strip().casefold()
    names = [client.name for client in app.reading.clients]
    found = next((name for name in names if name.casefold() == wanted), None)
    if found is None:
        names += sorted({name for name in recorded() if name and name not in names})
        found = next((name for name in names if name.casefold() == wanted), None)
    if found is not None:
        return found
    folded = {name.casefold(): name for name in reversed(names)}
    close = difflib.get_close_matches(wanted, list(folded), n=1)
    if close:
        hint = f"did you mean {folded[close[0]]!r}?"
    else:
        hint = f"the clients are {', '.join(names)}" if names else "the config lists no clients"
    raise NotFoundError(f"no client named {given!r} in the config or the history; {hint}")


@main.command()
@click.option("--client", help="Only this client's records.")
@click.option("--since", help="Only records detected on or after this date (YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, oldest first.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV with the fields of --json, oldest first.")
@click.pass_context
def history(ctx: click.Context, client: str | None, since: str | None, as_json: bool, as_csv: bool) -> None:
    """List every recorded reschedule and cancellation, with its standing against the agreement."""
    _json_or_csv(as_json, as_csv)
    app = _reading_app(ctx)
    client = _client_name(app, client, lambda: (r.change.client for r in app.history()))
    start = _parse_since(since, app.zone) if since else None
    records = app.history(client=client, since=start)
    found = app.history_standings(records)
    events = [e for e in app.engagement_events(client) if start is None or e.at >= start]
    # When each client's current agreement began, so records from before the last revisit are marked.
    current = {name: _term_now(app, name) for name in {r.change.client for r in records}}
    if as_json or as_csv:
        from .exports import HISTORY_FIELDS

        entries = [(r.detected_at, record_json(r, app.zone, found[r.id], current[r.change.client])) for r in records]
        entries += [(e.at, engagement_json(e, app.zone)) for e in events]
        _print_listing([entry for _, entry in sorted(entries, key=lambda item: item[0])], HISTORY_FIELDS, as_csv)
        return
    if not records and not events:
        click.echo("No reschedules recorded yet.")
        return
    rows: list[tuple[datetime, tuple[str, ...]]] = [
        (
            r.detected_at,
            (
                str(r.id),
                _local(r.detected_at, app.zone),
                r.change.client or "-",
                r.change.kind.value,
                _local(r.change.old_start, app.zone),
                _local(r.change.new_start, app.zone),
                f"{r.change.notice_hours:.1f}",
                _standing_cell(found[r.id], current[r.change.client]),
                f"yes: {_cell(r.reason or '', 30)}" if r.excused else "no",
                _cell(r.change.summary),
            ),
        )
        for r in records
    ]
    rows += [(e.at, _engagement_row(e, app.zone)) for e in events]
    headers = ("ID", "DETECTED", "CLIENT", "KIND", "SESSION", "NEW TIME", "NOTICE H", "STANDING", "EXCUSED", "SUMMARY")
    click.echo(_table(headers, [row for _, row in sorted(rows, key=lambda item: item[0])]))


def _json_or_csv(as_json: bool, as_csv: bool) -> None:
    if as_json and as_csv:
        raise click.UsageError("use either --json or --csv, not both")


def _print_listing(items: list[dict[str, Any]], csv_fields: Sequence[str], as_csv: bool) -> None:
    """A listing as --json prints it, or as CSV with the same fields (formulas guarded)."""
    if as_csv:
        from .exports import csv_text

        click.echo(csv_text(csv_fields, items), nl=False)
        return
    click.echo(json.dumps(items, indent=2))


def _term_now(app: App, client: str | None) -> datetime | None:
    """When the client's current agreement began (its last revisit or start), to mark earlier records."""
    from .app import utc_now
    from .engagement import term_start

    if client is None:
        return None
    return term_start(app.engagement_events(client), app.reading.agreement_for(client).started, utc_now(), app.zone)


def _standing_cell(standing: Standing, term_now: datetime | None) -> str:
    """ "late, 1 of 2", "on time, 3 of 2, over", "late, not counted (excused)", with ", earlier agreement"
    for a record from before the last revisit."""
    text = standing.words()
    if standing.term_start != term_now:
        text += ", earlier agreement"
    return text


def _engagement_row(event: EngagementEvent, zone: tzinfo) -> tuple[str, ...]:
    from .engagement import step_words

    what = step_words(event)
    note = f"{event.reason} (by {event.by})" if event.reason else f"(by {event.by})"
    return ("-", _local(event.at, zone), event.client, what, "-", "-", "-", "-", "-", _cell(note))


def engagement_json(event: EngagementEvent, zone: tzinfo) -> dict[str, Any]:
    return {
        "type": "engagement",
        "id": event.id,
        "client": event.client,
        "kind": event.kind.value,
        "at": _iso(event.at, zone),
        "by": event.by,
        "reason": event.reason,
        "until": event.until.isoformat() if event.until else None,
    }


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV with the fields of --json.")
@click.pass_context
def clients(ctx: click.Context, as_json: bool, as_csv: bool) -> None:
    """Per client: status, upcoming sessions, allowance used, reschedules, late ones, no-shows, attendance."""
    from .app import utc_now

    _json_or_csv(as_json, as_csv)
    app = _reading_app(ctx)
    summaries = app.client_summaries(utc_now())
    if as_json or as_csv:
        from .exports import CLIENT_FIELDS

        _print_listing([s.as_json() for s in summaries], CLIENT_FIELDS, as_csv)
        return
    headers = (
        "CLIENT",
        "STATUS",
        "UPCOMING",
        "ALLOWANCE",
        "RESCHEDULES",
        "LATE",
        "CANCELLATIONS",
        "EXCUSED",
        "HELD",
        "NO-SHOWS",
        "ATTENDANCE",
    )
    rows = [
        (
            s.name,
            s.engagement.describe(),
            str(s.upcoming),
            f"{s.allowance_used} of {s.agreement.allowance} per {s.agreement.per}",
            str(s.reschedules),
            str(s.late),
            str(s.cancellations),
            str(s.excused),
            str(s.attendance.held),
            str(s.attendance.no_shows),
            s.attendance.describe(),
        )
        for s in summaries
    ]
    click.echo(_table(headers, rows))


@main.command()
@click.option("--client", metavar="NAME", help="Only this client.")
@click.option("--since", metavar="YYYY-MM-DD", help="From this day on; by default six months back.")
@click.option("--output", default="report.html", show_default=True, metavar="FILE", help="The file; - prints it.")
@click.pass_context
def report(ctx: click.Context, client: str | None, since: str | None, output: str) -> None:
    """Write a self-contained HTML report: the practice at a glance, then each client's charts and tables."""
    from datetime import timedelta

    from .app import utc_now
    from .report import render_report, write_report

    app = _app(ctx)
    now = utc_now()
    name = _configured_client(app, client) if client else None
    start = _parse_since(since, app.zone) if since else now - timedelta(days=183)
    if start >= now:
        raise click.BadParameter(
            f"{since!r} is not before today; give the first day the report covers", param_hint="--since"
        )
    written = write_report(render_report(app, now=now, since=start, client=name), output)
    if written is not None:
        click.echo(f"Report written to {written}", err=True)


# --- sessions and no-shows ----------------------------------------------------


@main.command()
@click.option("--client", help="Only this client's sessions.")
@click.option("--past", default=14, show_default=True, type=click.IntRange(min=0), help="Days back.")
@click.option("--ahead", default=14, show_default=True, type=click.IntRange(min=0), help="Days ahead.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, earliest first.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV with the fields of --json, earliest first.")
@click.pass_context
def sessions(ctx: click.Context, client: str | None, past: int, ahead: int, as_json: bool, as_csv: bool) -> None:
    """Sessions around today with their references (S142) and how they went: upcoming, held, no_show,
    cancelled, moved."""
    from datetime import timedelta

    from .app import utc_now

    _json_or_csv(as_json, as_csv)
    app = _reading_app(ctx)
    now = utc_now()
    names = [_configured_client(app, client)] if client else [c.name for c in app.reading.clients]
    start, end = now - timedelta(days=past), now + timedelta(days=ahead)
    found = [item for name in names for item in app.sessions(name, start, end, now)]
    found.sort(key=lambda item: (item[1].start, item[0]))
    if as_json or as_csv:
        from .exports import SESSION_FIELDS

        _print_listing([session_json(ref, row, app.zone) for ref, row in found], SESSION_FIELDS, as_csv)
        return
    if not found:
        click.echo(f"No sessions from {past} days back to {ahead} days ahead.")
        return
    rows = [
        (
            f"S{ref}",
            _local(row.start, app.zone),
            row.client,
            row.state.value + (f" to {_local(row.moved_to, app.zone)}" if row.moved_to else ""),
            _cell(row.summary),
        )
        for ref, row in found
    ]
    click.echo(_table(("REF", "SESSION", "CLIENT", "STATE", "SUMMARY"), rows))


def session_json(ref: int, row: SessionRow, zone: tzinfo) -> dict[str, Any]:
    return {
        "ref": f"S{ref}",
        "calendar": row.key[0],
        "uid": row.key[1],
        "recurrence_id": row.key[2] or None,
        "client": row.client,
        "start": _iso(row.start, zone),
        "state": row.state.value,
        "moved_to": _iso(row.moved_to, zone),
        "record_id": row.record_id,
        "summary": row.summary,
    }


def _session_ref(value: str) -> int:
    text = value.strip().upper().removeprefix("S")
    if not text.isdigit():
        raise click.BadParameter(f"expected a session reference such as S142, got {value!r}", param_hint="REF")
    return int(text)


@main.command()
@click.argument("ref")
@click.option("--excused", is_flag=True, help="The client was excused (illness, emergency…): it does not count.")
@click.option("--reason", help="Why (kept in the history; the excuse when --excused).")
@click.option("--undo", is_flag=True, help="Take a no-show back: it stops counting and its fees are waived.")
@click.pass_context
def noshow(ctx: click.Context, ref: str, excused: bool, reason: str | None, undo: bool) -> None:
    """Mark past session REF (see `coachsync sessions`) as a no-show; the policies act on it."""
    from .app import utc_now

    app = _app(ctx)
    number = _session_ref(ref)
    if undo:
        record = app.undo_no_show(number, utc_now())
        click.echo(
            f"S{number}: no-show taken back (change {record.id} stays in the history, no longer counts;"
            " its fees are waived)"
        )
        return
    if excused and not reason:
        raise click.UsageError("--excused needs --reason: say why the client was excused")
    app.prepare()  # the policies act on a no-show as on any recorded change
    record = app.mark_no_show(number, utc_now(), excused=one_line(reason) if excused and reason else None)
    when = _local(record.change.old_start, app.zone)
    how = f"excused: {record.reason}" if record.excused else "counts against the agreement"
    click.echo(f"S{number}: {record.change.client} did not come on {when}; change {record.id} recorded ({how})")


# --- the coaching agreement and the engagement -------------------------------


@main.group()
def agreement() -> None:
    """Show a client's coaching agreement, or record that you revisited it together."""


@agreement.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print it as JSON.")
@click.pass_context
def agreement_show(ctx: click.Context, name: str, as_json: bool) -> None:
    """Every term of NAME's agreement, and whether it is theirs or the practice's default."""
    from .app import utc_now

    app = _reading_app(ctx)
    client = _configured_client(app, name)
    [summary] = [s for s in app.client_summaries(utc_now()) if s.name == client]
    terms = summary.agreement
    if as_json:
        values = {"name": client, **terms.as_json(), "status": summary.engagement.status.value}
        values["paused_until"] = summary.engagement.until.isoformat() if summary.engagement.until else None
        values["allowance_used"] = summary.allowance_used
        click.echo(json.dumps(values, indent=2))
        return
    rows = [
        ("notice period", f"{terms.notice_hours:g} hours", terms.sources["notice_hours"].value),
        ("cadence", str(terms.cadence) if terms.cadence else "not set", terms.sources["cadence"].value),
        ("allowance", f"{terms.allowance} reschedules", terms.sources["allowance"].value),
        ("per", str(terms.per), terms.sources["per"].value),
        ("started", terms.started.isoformat() if terms.started else "not set", terms.sources["started"].value),
    ]
    click.echo(f"Coaching agreement of {client}")
    click.echo(_table(("TERM", "VALUE", "FROM"), rows))
    click.echo(f"Status: {summary.engagement.describe()}")
    click.echo(f"Used this period: {summary.allowance_used} of {terms.allowance}")


@agreement.command("revisit")
@click.argument("name")
@click.option("--note", help="What you agreed (kept in the history).")
@click.pass_context
def agreement_revisit(ctx: click.Context, name: str, note: str | None) -> None:
    """Record that you and NAME revisited the agreement today: a new period starts from zero."""
    from .app import utc_now
    from .model import EngagementKind

    app = _app(ctx)
    client = _configured_client(app, name)
    event, _ = app.record_step(client, EngagementKind.REVISIT, utc_now(), reason=one_line(note) if note else None)
    terms = app.reading.agreement_for(client)
    click.echo(
        f"{client}: agreement revisited on {_local(event.at, app.zone)[:10]}; the allowance"
        f" ({terms.allowance} per {terms.per}) and the escalation steps start again from zero."
        " Earlier records stay in the history."
    )


@main.group()
def client() -> None:
    """Pause, resume or end a client's engagement."""


@client.command("pause")
@click.argument("name")
@click.option("--until", "until", help="The day sessions start again (YYYY-MM-DD); the pause ends by itself then.")
@click.option("--reason", help="Why (kept in the history).")
@click.pass_context
def client_pause(ctx: click.Context, name: str, until: str | None, reason: str | None) -> None:
    """Pause NAME's engagement: changes are still recorded, but none counts and no policy acts."""
    from .app import utc_now
    from .model import EngagementKind

    app = _app(ctx)
    client = _configured_client(app, name)
    day = _parse_day(until, "--until") if until else None
    app.record_step(client, EngagementKind.PAUSE, utc_now(), reason=one_line(reason) if reason else None, until=day)
    how_long = f"until {day.isoformat()}" if day else "until you resume it"
    click.echo(
        f"{client}: paused {how_long}. Changes to their sessions are still recorded,"
        " but none counts and no policy acts on them."
    )


@client.command("resume")
@click.argument("name")
@click.pass_context
def client_resume(ctx: click.Context, name: str) -> None:
    """Resume NAME's paused or ended engagement."""
    from .app import utc_now
    from .engagement import Status
    from .model import EngagementKind

    app = _app(ctx)
    client = _configured_client(app, name)
    _, before = app.record_step(client, EngagementKind.RESUME, utc_now())
    since = _local(before.since, app.zone)[:10]
    if before.status is Status.ENDED:
        click.echo(f"{client}: resumed after the engagement ended on {since}; their changes count again from now.")
    else:
        click.echo(f"{client}: resumed (paused since {since}); their changes count again from now.")


@client.command("end")
@click.argument("name")
@click.option("--reason", help="Why (kept in the history).")
@click.pass_context
def client_end(ctx: click.Context, name: str, reason: str | None) -> None:
    """End NAME's engagement: changes are still recorded, but none counts and no policy acts."""
    from .app import utc_now
    from .model import EngagementKind

    app = _app(ctx)
    client = _configured_client(app, name)
    app.record_step(client, EngagementKind.END, utc_now(), reason=one_line(reason) if reason else None)
    click.echo(
        f"{client}: engagement ended. Changes to their sessions are still recorded but never count;"
        f" `coachsync client resume {_shell_word(client)}` takes it back."
    )


def _configured_client(app: App, name: str) -> str:
    """The configured client `name` means (any case); an unknown name is an error with the nearest one."""
    found = _client_name(app, name, lambda: ())
    assert found is not None  # a name was given
    if found not in {c.name for c in app.reading.clients}:
        raise NotFoundError(f"{found!r} is not a client in the config; add them under clients: first")
    return found


def _parse_day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a date such as 2027-01-10, got {value!r}", param_hint=option) from None


def _shell_word(text: str) -> str:
    """A name as the coach would type it in a shell: quoted when it has spaces or quotes."""
    import shlex

    return shlex.quote(text)


@main.command()
@click.argument("change_id", type=int)
@click.option("--reason", help="Why it is excused (illness, emergency, coach-initiated…); with --undo, why not.")
@click.option("--replace", is_flag=True, help="Replace the reason of an excused change; the earlier one is kept.")
@click.option("--undo", is_flag=True, help="Take the excuse back: the change counts again; waived fees stay waived.")
@click.pass_context
def excuse(ctx: click.Context, change_id: int, reason: str | None, replace: bool, undo: bool) -> None:
    """Mark a recorded change as excused; it then never counts against the client (--undo takes it back)."""
    if undo and replace:
        raise click.UsageError("use either --undo or --replace, not both")
    app = _app(ctx)
    if undo:
        _take_back(app, change_id, one_line(reason) if reason else None)
        return
    if not reason:
        raise click.UsageError("give --reason: say why the change is excused")
    excused = app.excuse(change_id, one_line(reason), replace=replace)
    record, change = excused.record, excused.record.change
    which = f"change {record.id} ({change.kind.value}, {change.client or 'no client'})"
    if excused.repeated:
        click.echo(f"{which} is already excused: {record.reason}")
        return
    was = f" (was: {excused.replaced})" if excused.replaced is not None else ""
    click.echo(f"{which} excused: {record.reason}{was}")


def _take_back(app: App, change_id: int, reason: str | None) -> None:
    taken = app.take_back_excuse(change_id, reason)
    change = taken.record.change
    click.echo(
        f"change {change_id} ({change.kind.value}, {change.client or 'no client'}): excuse taken back"
        f" (was: {taken.excuse}); it counts against the agreement again, as `coachsync history` shows"
    )
    if taken.waived:
        fees = ", ".join(f"{f.id} ({_amount(f.amount)} {f.currency})" for f in taken.waived)
        where = f" --client {_shell_word(change.client)}" if change.client else ""
        click.echo(
            f"its waived fees stay waived, nothing is charged again: fee{'s' if len(taken.waived) > 1 else ''}"
            f" {fees}; see `coachsync fees{where}`"
        )


# --- mail: outbox, send ---------------------------------------------------


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, oldest first.")
@click.pass_context
def outbox(ctx: click.Context, as_json: bool) -> None:
    """List the emails policies asked for; approve or discard them before they go out."""
    if ctx.invoked_subcommand is not None:
        return
    messages = _reading_app(ctx).outbox()
    if as_json:
        rows = [
            {
                "id": m.id,
                "to": m.recipient,
                "subject": m.subject,
                "status": m.status.value,
                "plugin": m.plugin,
                "client": m.client,
                "change_id": m.change_id,
                "error": m.error,
            }
            for m in messages
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    if not messages:
        click.echo("The outbox is empty.")
        return
    headers = ("ID", "STATUS", "TO", "CLIENT", "PLUGIN", "CHANGE", "SUBJECT", "ERROR")
    table = [
        (
            str(m.id),
            m.status.value,
            m.recipient or "-",
            m.client or "-",
            m.plugin,
            str(m.change_id),
            _cell(m.subject),
            _cell(m.error or "", 60),
        )
        for m in messages
    ]
    click.echo(_table(headers, table))


@outbox.command("show")
@click.argument("message_id", metavar="ID", type=int)
@click.pass_context
def outbox_show(ctx: click.Context, message_id: int) -> None:
    """Print message ID exactly as it is sent: its headers, then its body (decoded)."""
    click.echo(_app(ctx).message_as_sent(message_id), nl=False)


@outbox.command("edit")
@click.argument("message_id", metavar="ID", type=int)
@click.pass_context
def outbox_edit(ctx: click.Context, message_id: int) -> None:
    """Edit the body of message ID, which waits for approval, in $EDITOR; its headers stay as they are."""
    app = _app(ctx)
    message = app.editable_message(message_id)
    edited = app.save_message_edit(message, click.edit(message.body, extension=".txt", require_save=True))
    if edited.unchanged == "unchanged":
        click.echo(f"outbox message {message_id} unchanged; nothing was saved")
    elif edited.unchanged == "empty":
        click.echo(f"outbox message {message_id}: the edit was empty; the message is left as it was")
    else:
        click.echo(
            f"outbox message {message_id} to {edited.message.recipient} edited (the earlier text is kept);"
            f" `coachsync outbox show {message_id}` shows it, `coachsync outbox approve {message_id}` queues it"
        )


@outbox.command("approve")
@click.argument("message_id", metavar="ID", type=int)
@click.pass_context
def outbox_approve(ctx: click.Context, message_id: int) -> None:
    """Queue a message that waits for approval; `coachsync send` (or `run`) then sends it."""
    message = _app(ctx).approve_message(message_id)
    click.echo(f"outbox message {message.id} to {message.recipient} queued: {_cell(message.subject, 60)}")


@outbox.command("discard")
@click.argument("message_id", metavar="ID", type=int)
@click.pass_context
def outbox_discard(ctx: click.Context, message_id: int) -> None:
    """Never send a message (waiting for approval, queued or failed)."""
    message = _app(ctx).discard_message(message_id)
    click.echo(f"outbox message {message.id} discarded: {_cell(message.subject, 60)}")


@main.command()
@click.pass_context
def send(ctx: click.Context) -> None:
    """Deliver the queued emails that are due now; exit 1 if any failed for good."""
    from .app import utc_now

    app = _app(ctx)
    report = app.deliver_mail(utc_now())
    for message in app.outbox():
        if message.id in report.written and report.written_to is not None:
            from .mail import eml_name

            click.echo(f"outbox message {message.id} written to {report.written_to / eml_name(message)}")
        elif message.id in report.failed:
            click.echo(f"outbox message {message.id} failed: {message.error}", err=True)
        elif message.id in report.retrying:
            when = _local(message.next_attempt_at, app.zone)
            click.echo(f"outbox message {message.id} not sent yet, next try {when}: {message.error}", err=True)
    click.echo(report.summary())
    if report.failed:
        ctx.exit(1)


@main.command()
@click.option("--print", "to_print", is_flag=True, help="Print the digest's text instead; queue nothing.")
@click.pass_context
def digest(ctx: click.Context, to_print: bool) -> None:
    """Queue a digest of the last 7 days to mail.coach_email now, the report attached; `send` delivers it."""
    from .app import utc_now
    from .digest import digest_now_text, queue_digest_now

    app = _app(ctx)
    if to_print:
        click.echo(digest_now_text(app, utc_now()), nl=False)
        return
    message = queue_digest_now(app, utc_now())
    click.echo(
        f"digest queued as outbox message {message.id} to {message.recipient};"
        " `coachsync send` delivers it (`coachsync run` does after its next pass)"
    )


# --- policies: plugins, fees, suggestions ---


# The columns of `fees --json` and `fees --csv`, in this order.
FEE_FIELDS = ("id", "client", "change_id", "amount", "currency", "status", "reason", "waived_reason", "paid_on")


def _amount(amount: Decimal) -> str:
    return format(amount, "f")  # "40.00", never "4E+1"


def fee_json(fee: FeeEntry) -> dict[str, Any]:
    return {
        "id": fee.id,
        "client": fee.client,
        "change_id": fee.change_id,
        "amount": _amount(fee.amount),
        "currency": fee.currency,
        "status": fee.status,
        "reason": fee.reason,
        "waived_reason": fee.waived_reason,
        "paid_on": fee.paid_on.isoformat() if fee.paid_on else None,
    }


def fee_steps_json(fee: FeeEntry, zone: tzinfo) -> list[dict[str, Any]]:
    return [
        {
            "status": step.status.value,
            "at": _iso(step.at, zone),
            "note": step.note,
            "on": step.on.isoformat() if step.on else None,
        }
        for step in fee.steps
    ]


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """Every policy plugin found: where it came from, its version, whether it is enabled, its hooks."""
    infos = _app(ctx).plugins.infos
    if as_json:
        click.echo(json.dumps([{**asdict(info), "hooks": list(info.hooks)} for info in infos], indent=2))
        return
    if not infos:
        click.echo("No plugins installed.")
        return
    rows = [
        (i.name, i.source, i.version or "-", "yes" if i.enabled else "no", ", ".join(i.hooks) or "-", i.origin)
        for i in infos
    ]
    click.echo(_table(("NAME", "SOURCE", "VERSION", "ENABLED", "HOOKS", "FROM"), rows))


@main.group(invoke_without_command=True)
@click.option("--client", help="Only this client's fees.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, oldest first.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV with a header row, oldest first.")
@click.option("--summary", is_flag=True, help="Totals owed, paid and waived per client and currency.")
@click.option("--currency", metavar="CODE", help="Only the fees in this currency (EUR).")
@click.option(
    "--format",
    "invoice_format",
    type=click.Choice(["xero", "quickbooks"]),
    help="With --csv: invoices to import into Xero or QuickBooks Online, one per client, of the owed fees.",
)
@click.option("--all", "show_all", is_flag=True, help="With --format: the paid fees too (never the waived ones).")
@click.pass_context
def fees(
    ctx: click.Context,
    client: str | None,
    as_json: bool,
    as_csv: bool,
    summary: bool,
    currency: str | None,
    invoice_format: str | None,
    show_all: bool,
) -> None:
    """The fee ledger: every fee the policies charged, owed, paid or waived."""
    if ctx.invoked_subcommand is not None:
        return
    if as_json and as_csv:
        raise click.UsageError("use either --json or --csv, not both")
    if invoice_format is not None and (not as_csv or summary):
        raise click.UsageError("--format goes with --csv and without --summary: fees --csv --format xero")
    if show_all and invoice_format is None:
        raise click.UsageError("--all goes with --format xero or quickbooks; the ledger always lists every fee")
    app = _reading_app(ctx)
    client = _client_name(
        app, client, lambda: [f.client for f in app.fees()] + [r.change.client for r in app.history()]
    )
    entries = app.fees(client=client)
    if currency is not None:
        entries = [fee for fee in entries if fee.currency == currency.strip().upper()]
    if summary:
        _fee_summary(entries, as_json, as_csv)
        return
    if invoice_format is not None:
        from .app import utc_now
        from .model import FeeStatus

        billed = {FeeStatus.OWED, FeeStatus.PAID} if show_all else {FeeStatus.OWED}
        invoices = app.invoice_export(invoice_format, [f for f in entries if f.status in billed], utc_now())
        click.echo(invoices, nl=False)
        return
    ledger = [fee_json(fee) for fee in entries]
    if as_json:
        steps = [{**row, "steps": fee_steps_json(fee, app.zone)} for row, fee in zip(ledger, entries, strict=True)]
        click.echo(json.dumps(steps, indent=2))
        return
    if as_csv:
        from .exports import csv_text

        click.echo(csv_text(FEE_FIELDS, ledger), nl=False)
        return
    if not ledger:
        click.echo("No fees recorded.")
        return
    rows = [
        (
            str(f["id"]),
            f["client"] or "-",
            str(f["change_id"]),
            f"{f['amount']} {f['currency']}",
            _fee_status(f),
            _cell(f["reason"], 60),
        )
        for f in ledger
    ]
    click.echo(_table(("ID", "CLIENT", "CHANGE", "AMOUNT", "STATUS", "REASON"), rows))


def _fee_status(fee: dict[str, Any]) -> str:
    if fee["status"] == "waived":
        return f"waived: {_cell(fee['waived_reason'] or '', 30)}"
    if fee["status"] == "paid":
        return f"paid {fee['paid_on']}"
    return str(fee["status"])


def _fee_summary(entries: Sequence[FeeEntry], as_json: bool, as_csv: bool) -> None:
    """Per client and currency: how much is owed, paid and waived."""
    totals: dict[tuple[str, str], dict[str, Decimal]] = {}
    for fee in entries:
        row = totals.setdefault(
            (fee.client or "-", fee.currency), dict.fromkeys(("owed", "paid", "waived"), Decimal("0.00"))
        )
        row[fee.status.value] += fee.amount
    rows = [
        {"client": client, "currency": currency, **{status: _amount(amount) for status, amount in sums.items()}}
        for (client, currency), sums in sorted(totals.items())
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if as_csv:
        from .exports import csv_text

        click.echo(csv_text(("client", "currency", "owed", "paid", "waived"), rows), nl=False)
        return
    if not rows:
        click.echo("No fees recorded.")
        return
    lines = [(r["client"], r["currency"], r["owed"], r["paid"], r["waived"]) for r in rows]
    click.echo(_table(("CLIENT", "CURRENCY", "OWED", "PAID", "WAIVED"), lines))


@fees.command()
@click.argument("fee_id", type=int)
@click.option("--on", "on", help="The day it was paid (YYYY-MM-DD; default: today).")
@click.option("--note", help="How it was paid, an invoice number… (kept with the fee).")
@click.pass_context
def paid(ctx: click.Context, fee_id: int, on: str | None, note: str | None) -> None:
    """Record that a fee was paid."""
    from .app import utc_now

    app = _app(ctx)
    day = _parse_day(on, "--on") if on else utc_now().astimezone(app.zone).date()
    fee = app.mark_fee_paid(fee_id, day, one_line(note) if note else None)
    click.echo(
        f"fee {fee.id} ({_amount(fee.amount)} {fee.currency}, {fee.client or 'no client'}) paid on {fee.paid_on}"
    )


@fees.command()
@click.argument("fee_id", type=int)
@click.option("--note", help="Why (kept with the fee).")
@click.pass_context
def unpaid(ctx: click.Context, fee_id: int, note: str | None) -> None:
    """Undo `fees paid`: the fee is owed again."""
    app = _app(ctx)
    fee = app.mark_fee_unpaid(fee_id, one_line(note) if note else None)
    click.echo(f"fee {fee.id} ({_amount(fee.amount)} {fee.currency}, {fee.client or 'no client'}) is owed again")


@fees.command()
@click.argument("fee_id", type=int)
@click.option("--reason", required=True, help="Why it is waived.")
@click.pass_context
def waive(ctx: click.Context, fee_id: int, reason: str) -> None:
    """Waive a fee; it stays in the ledger as waived, with the reason."""
    app = _app(ctx)
    before = app.fee(fee_id)
    fee = app.waive_fee(fee_id, one_line(reason))
    what = f"fee {fee.id} ({_amount(fee.amount)} {fee.currency}, {fee.client or 'no client'})"
    if before.status == "waived":
        click.echo(f"{what} was already waived: {fee.waived_reason}")
        return
    click.echo(f"{what} waived: {fee.waived_reason}")


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, oldest first.")
@click.option("--all", "show_all", is_flag=True, help="The dismissed ones too.")
@click.pass_context
def suggestions(ctx: click.Context, as_json: bool, show_all: bool) -> None:
    """What the policies suggest (revisit the agreement, end the engagement), with why; dismiss the ones
    you dealt with."""
    if ctx.invoked_subcommand is not None:
        return
    app = _reading_app(ctx)
    found = app.suggestions(dismissed=show_all)
    if as_json:
        listed = [
            {
                "id": s.id,
                "client": s.client,
                "plugin": s.plugin,
                "text": s.text,
                "created_at": _iso(s.created_at, app.zone),
                "dismissed_at": _iso(s.dismissed_at, app.zone),
                "dismissal_reason": s.dismissal_reason,
            }
            for s in found
        ]
        click.echo(json.dumps(listed, indent=2))
        return
    if not found:
        click.echo("No suggestions yet." if show_all or not app.suggestions(dismissed=True) else _NONE_OPEN)
        return
    for s in found:
        dismissed = f"  dismissed {_local(s.dismissed_at, app.zone)}" if s.dismissed_at else ""
        because = f": {s.dismissal_reason}" if s.dismissed_at and s.dismissal_reason else ""
        click.echo(f"#{s.id}  {_local(s.created_at, app.zone)}  {s.client or '-'}  ({s.plugin}){dismissed}{because}")
        click.echo("".join(f"    {line}\n" for line in s.text.splitlines()))


_NONE_OPEN = "No open suggestions; `coachsync suggestions --all` shows the dismissed ones."


@suggestions.command("dismiss")
@click.argument("suggestion_id", metavar="ID", type=int)
@click.option("--reason", help="Why, or what you did about it (kept with the suggestion).")
@click.pass_context
def suggestions_dismiss(ctx: click.Context, suggestion_id: int, reason: str | None) -> None:
    """Dismiss suggestion ID: it leaves the listing and stays in the record (`suggestions --all`)."""
    app = _app(ctx)
    found, before = app.dismiss_suggestion(suggestion_id, one_line(reason) if reason else None)
    which = f"suggestion {found.id} ({found.client or 'no client'}, {found.plugin})"
    when = _local(found.dismissed_at, app.zone)
    because = f": {found.dismissal_reason}" if found.dismissal_reason else ""
    if before:
        click.echo(f"{which} was already dismissed on {when}{because}")
        return
    click.echo(f"{which} dismissed{because}; `coachsync suggestions --all` still shows it")


# --- service: check, install-service ---


def _context(ctx: click.Context) -> _Context:
    context = ctx.find_object(_Context)
    assert context is not None  # main() always sets it
    return context


@main.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Check the config, reach every calendar and the mail server, and show whose sessions are whose.

    Records nothing. Exits 0 when all is well, 1 when a calendar or the mail server cannot be reached,
    2 on a config error.
    """
    from .app import utc_now
    from .check import check_calendar, check_smtp, client_warnings
    from .ics import describe_events

    app = _context(ctx).read_only_app()
    database = app.config.database
    app.prepare()  # the config, its plugins and the database, as `run` checks them before it is ready
    now = utc_now()
    click.echo(f"config {app.config.path}: ok")
    for notice in app.config.notices():
        click.echo(f"config: note: {notice}")
    for warning in client_warnings(app.config.clients):
        click.echo(warning)
    if database.exists():  # the app read a copy of it and never creates it
        click.echo(f"database {database}: ok")
    else:
        click.echo(f"database: not created yet (the first pass creates {database})")
    enabled = [info.name for info in app.plugins.infos if info.enabled]
    click.echo(f"plugins: ok, enabled: {', '.join(enabled) or 'none'}")
    problems = 0
    for failure in app.open_policy_failures():
        problems += 1
        click.echo(_policy_failure(failure))
    for name in app.sources:
        result = check_calendar(app, name, now)
        if result.problem is not None:
            problems += 1
            click.echo(f"calendar {name}: FAILED: {result.problem}")
            continue
        unreadable = f", {result.unreadable} unreadable skipped" if result.unreadable else ""
        click.echo(f"calendar {name}: ok, {result.events} events{unreadable}")
        for zone in result.zones:
            click.echo(f'  time zone "{zone.tzid}": unknown, {describe_events(zone.uids)} read in {zone.read_in}')
        for note in result.notes:
            click.echo(f"  note: {note}")
        for sessions in result.clients:
            upcoming = f"{sessions.upcoming} upcoming"
            if sessions.next_start is not None:
                upcoming += f", next {_local(sessions.next_start, app.zone)}"
            click.echo(f"  {sessions.client or 'no client'}: {upcoming}")
    mail = app.config.mail
    if mail.mode == "smtp" and mail.smtp is not None:
        where = f"smtp {mail.smtp.host}:{mail.smtp.port}"
        problem = check_smtp(mail.smtp, mail.sender)
        if problem is not None:
            problems += 1
            click.echo(f"{where}: FAILED: {problem}")
        else:
            login = f", logged in as {mail.smtp.username}" if mail.smtp.username else ""
            click.echo(f"{where}: ok{login}")
    else:
        click.echo(f"mail: outbox mode, nothing is sent; messages go to {mail.outbox_dir}")
    if problems:
        click.echo(f"{problems} problem{'s' if problems > 1 else ''} found")
        ctx.exit(1)
    click.echo("all good")


@main.command("install-service")
@click.option("--user", is_flag=True, help="A unit for `systemctl --user` instead of the hardened system unit.")
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    help="Write the unit to this .service file or into this directory instead of systemd's unit directory.",
)
@click.pass_context
def install_service(ctx: click.Context, user: bool, output: Path | None) -> None:
    """Write a systemd unit that runs this install of coachsync with this config."""
    from .service import (
        UNIT_NAME,
        coachsync_command,
        default_unit_path,
        enable_commands,
        exec_start,
        python_executable,
        render,
        system_service_warnings,
        template,
        write_unit,
    )

    config = _context(ctx).config()  # a unit for a config that fails would only restart until it gives up
    command = coachsync_command(python_executable())
    line = exec_start(command, config.path)
    if not user:
        # Only what the config sets: left unset, the database and outbox go to the unit's own state directory.
        written = []
        if "database" in config.model_fields_set:
            written.append(("database:", config.database.parent))
        if config.mail.mode == "outbox" and "outbox_dir" in config.mail.model_fields_set:
            written.append(("mail.outbox_dir:", config.mail.outbox_dir))
        for warning in system_service_warnings(
            template(user), program=Path(command[0]), config=config.path, written=written
        ):
            click.echo(warning, err=True)
    default = default_unit_path(user)
    # An --output that does not name a .service file is a directory to put coachsync.service in.
    target = default if output is None else output if output.suffix == ".service" else output / UNIT_NAME
    target = Path(os.path.abspath(target))
    write_unit(target, render(template(user), line), default_location=output is None)
    click.echo(f"wrote {target}")
    click.echo("enable and start it with:")
    for command_line in enable_commands(user, target, in_search_path=target.parent == default.parent):
        click.echo(f"  {command_line}")


# --- set-up: init, schema ---


@main.command()
@click.option("--ics-file", type=click.Path(path_type=Path, dir_okay=False), help="Your calendar as a local .ics file.")
@click.option("--ics-url", metavar="URL", help="Your calendar's published https:// or webcal:// address.")
@click.option("--caldav-url", metavar="URL", help="Your CalDAV server, account or calendar address.")
@click.option("--caldav-username", metavar="NAME", help="The CalDAV login name.")
@click.option("--caldav-calendar", metavar="NAME", help="The CalDAV calendar's display name.")
@click.option("--caldav-password-command", metavar="COMMAND", help="Prints the CalDAV password; written to the config.")
@click.option("--timezone", metavar="ZONE", help="Your IANA time zone, e.g. Europe/Berlin.")
@click.option("--notice-hours", type=float, metavar="HOURS", help="Your notice period (default 24).")
@click.option("--yes", is_flag=True, help="Ask nothing: take every default and every proposed client.")
@click.option("--force", is_flag=True, help="Replace an existing config, keeping it as FILE.bak.")
@click.option("--add-client", "add_client", metavar="NAME", help="Add this client to an existing config instead.")
@click.option("--email", "emails", multiple=True, metavar="ADDRESS", help="With --add-client: an email (repeatable).")
@click.option("--alias", "aliases", multiple=True, metavar="WORD", help="With --add-client: a title word (repeatable).")
@click.pass_context
def init(
    ctx: click.Context, add_client: str | None, emails: tuple[str, ...], aliases: tuple[str, ...], **answers: Any
) -> None:
    """Write a first config from your calendar, proposing your clients; or add a client with --add-client."""
    from .app import utc_now
    from .init_command import InitRequest, run_init
    from .reading import default_config_path

    context = _context(ctx)
    path = Path(os.path.abspath(context.config_path or default_config_path()))
    if add_client is not None:
        from .init_config import add_client as add
        from .onboarding import ProposedClient

        client = ProposedClient(one_line(add_client), tuple(e.strip().lower() for e in emails), tuple(aliases))
        add(path, client)
        click.echo(f"added client {client.name} to {path}")
        return
    result = run_init(InitRequest(path=path, **answers), utc_now())
    from .sources.caldav import PASSWORD_ENV

    context.config_path = path
    click.echo("checking it as `coachsync check` does:")
    typed = result.password is not None and not os.environ.get(PASSWORD_ENV)
    if typed:  # the password typed above serves this check too; it leaves with this process
        os.environ[PASSWORD_ENV] = str(result.password)
    try:
        ctx.invoke(check)
    except click.exceptions.Exit as stop:
        if stop.exit_code:
            click.echo(f"fix what failed above in {path}, then run `coachsync check`")
        raise
    finally:
        if typed:
            del os.environ[PASSWORD_ENV]
    prefix = "" if path == Path(os.path.abspath(default_config_path())) else f"--config {_shell_word(str(path))} "
    click.echo("next:")
    click.echo(f"  watch your calendar now (Ctrl-C stops):  coachsync {prefix}run")
    click.echo(f"  keep it running with systemd:            coachsync {prefix}install-service --user")
    click.echo(f"  add a client later:                      coachsync {prefix}init --add-client NAME --email ADDRESS")


@main.command()
@click.pass_context
def schema(ctx: click.Context) -> None:
    """Print the config's JSON Schema, with every installed policy's settings and those of the plugins in
    your config's plugins_dir, for your editor."""
    from .schema import installed_schema

    click.echo(json.dumps(installed_schema(_own_plugins_dir(ctx)), indent=2, ensure_ascii=False))


def _own_plugins_dir(ctx: click.Context) -> Path | None:
    """The config's `plugins_dir`, if there is a config; one with a problem gets a note and is left out, since
    a coach fixing their config is who most wants the schema."""
    context = _context(ctx)
    if not context.config_file().exists():
        return None
    try:
        return context.config().plugins_dir
    except ConfigError as error:
        click.echo(
            f"coachsync: note: the schema leaves out your own plugins, as the config has a problem: {error}", err=True
        )
        return None
