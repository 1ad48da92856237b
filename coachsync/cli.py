"""The `coachsync` command: thin, it parses arguments, calls the core and prints."""

from __future__ import annotations

import csv
import difflib
import io
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
    from .config import Config
    from .model import FeeEntry, PolicyFailure, Record

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
        from .config import default_config_path, load_config

        return load_config(self.config_path or default_config_path())

    def app(self) -> App:
        if self._app is None:
            from .app import App

            # Sources and plugins wait for a command that runs a pass; `sync`, `run` and `check` prepare them first.
            self._app = App.open(self.config(), prepare=False)
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


def record_json(record: Record, zone: tzinfo) -> dict[str, Any]:
    change = record.change
    return {
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
    }


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _cell(text: str, limit: int = 40) -> str:
    """A table cell: one line, at most `limit` characters."""
    return one_line(text, limit)


def _client_name(app: App, given: str | None, recorded: Callable[[], Iterable[str | None]]) -> str | None:
    """The exact name of the client `--client` means, compared with Unicode case folding.

    The configured clients come first, then the names `recorded()` holds, so a client removed
    from the config keeps their history. The store gets the exact name: SQLite's lower() folds
    only A-Z. Anything else is a NotFoundError with the nearest name.
    """
    if given is None:
        return None
    wanted = given.strip().casefold()
    names = [client.name for client in app.config.clients]
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
@click.pass_context
def history(ctx: click.Context, client: str | None, since: str | None, as_json: bool) -> None:
    """List every recorded reschedule and cancellation."""
    app = _app(ctx)
    client = _client_name(app, client, lambda: (r.change.client for r in app.history()))
    records = app.history(client=client, since=_parse_since(since, app.zone) if since else None)
    if as_json:
        click.echo(json.dumps([record_json(r, app.zone) for r in records], indent=2))
        return
    if not records:
        click.echo("No reschedules recorded yet.")
        return
    rows = [
        (
            str(r.id),
            _local(r.detected_at, app.zone),
            r.change.client or "-",
            r.change.kind.value,
            _local(r.change.old_start, app.zone),
            _local(r.change.new_start, app.zone),
            f"{r.change.notice_hours:.1f}",
            f"yes: {_cell(r.reason or '', 30)}" if r.excused else "no",
            _cell(r.change.summary),
        )
        for r in records
    ]
    headers = ("ID", "DETECTED", "CLIENT", "KIND", "SESSION", "NEW TIME", "NOTICE H", "EXCUSED", "SUMMARY")
    click.echo(_table(headers, rows))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def clients(ctx: click.Context, as_json: bool) -> None:
    """Per client: upcoming sessions, reschedules, late ones, cancellations, excused."""
    from .app import utc_now

    app = _app(ctx)
    summaries = app.client_summaries(utc_now())
    if as_json:
        click.echo(json.dumps([s.as_json() for s in summaries], indent=2))
        return
    headers = ("CLIENT", "UPCOMING", "RESCHEDULES", "LATE", "CANCELLATIONS", "EXCUSED")
    rows = [
        (s.name, str(s.upcoming), str(s.reschedules), str(s.late), str(s.cancellations), str(s.excused))
        for s in summaries
    ]
    click.echo(_table(headers, rows))


@main.command()
@click.argument("change_id", type=int)
@click.option("--reason", required=True, help="Why it is excused (illness, emergency, coach-initiated…).")
@click.pass_context
def excuse(ctx: click.Context, change_id: int, reason: str) -> None:
    """Mark a recorded change as excused; it then never counts against the client."""
    app = _app(ctx)
    record = app.excuse(change_id, one_line(reason))
    change = record.change
    click.echo(f"change {record.id} ({change.kind.value}, {change.client or 'no client'}) excused: {record.reason}")


# --- mail: outbox, send ---------------------------------------------------


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, oldest first.")
@click.pass_context
def outbox(ctx: click.Context, as_json: bool) -> None:
    """List the emails policies asked for; approve or discard them before they go out."""
    if ctx.invoked_subcommand is not None:
        return
    messages = _app(ctx).outbox()
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


# --- policies: plugins, fees, suggestions ---


# The columns of `fees --json` and `fees --csv`, in this order.
FEE_FIELDS = ("id", "client", "change_id", "amount", "currency", "status", "reason", "waived_reason")


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
    }


def _spreadsheet_safe(value: object) -> object:
    """Reasons can quote calendar text; a cell starting with = + - @ would run as a spreadsheet formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


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
@click.pass_context
def fees(ctx: click.Context, client: str | None, as_json: bool, as_csv: bool) -> None:
    """The fee ledger: every fee the policies charged, owed or waived."""
    if ctx.invoked_subcommand is not None:
        return
    if as_json and as_csv:
        raise click.UsageError("use either --json or --csv, not both")
    app = _app(ctx)
    client = _client_name(
        app, client, lambda: [f.client for f in app.fees()] + [r.change.client for r in app.history()]
    )
    ledger = [fee_json(fee) for fee in app.fees(client=client)]
    if as_json:
        click.echo(json.dumps(ledger, indent=2))
        return
    if as_csv:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(FEE_FIELDS), lineterminator="\n")
        writer.writeheader()
        writer.writerows({key: _spreadsheet_safe(value) for key, value in fee.items()} for fee in ledger)
        click.echo(out.getvalue(), nl=False)
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
            f["status"] if f["status"] == "owed" else f"waived: {_cell(f['waived_reason'] or '', 30)}",
            _cell(f["reason"], 60),
        )
        for f in ledger
    ]
    click.echo(_table(("ID", "CLIENT", "CHANGE", "AMOUNT", "STATUS", "REASON"), rows))


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


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, oldest first.")
@click.pass_context
def suggestions(ctx: click.Context, as_json: bool) -> None:
    """What the policies suggest (revisit the agreement, end the engagement), with why."""
    app = _app(ctx)
    found = app.suggestions()
    if as_json:
        listed = [
            {
                "id": s.id,
                "client": s.client,
                "plugin": s.plugin,
                "text": s.text,
                "created_at": _iso(s.created_at, app.zone),
            }
            for s in found
        ]
        click.echo(json.dumps(listed, indent=2))
        return
    if not found:
        click.echo("No suggestions yet.")
        return
    for s in found:
        click.echo(f"#{s.id}  {_local(s.created_at, app.zone)}  {s.client or '-'}  ({s.plugin})")
        click.echo("".join(f"    {line}\n" for line in s.text.splitlines()))


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
            read_in = zone.fixed or str(app.zone)
            click.echo(f'  time zone "{zone.tzid}": unknown, {describe_events(zone.uids)} read in {read_in}')
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
