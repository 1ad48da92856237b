"""Delivering the outbox: to a real SMTP server (aiosmtpd on 127.0.0.1) or into .eml files.

Emails are queued the way they are in production: a calendar edit, a pass, and
a policy (here a local plugin that echoes the session's summary, so calendar
text reaches the message) asking for an email.
"""

from __future__ import annotations

import email.policy
import hashlib
import json
import logging
import sqlite3
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from coachsync.app import App
from coachsync.daemon import Daemon
from coachsync.mail import MAX_ATTEMPTS, DeliveryReport, InvalidMessage, MailError, checked_address, compose
from coachsync.model import MailStatus, OutboxMessage
from coachsync.store import Store
from coachsync.store.outbox import Outbox

from support.cli import cli
from support.ical import vevent
from support.mail_world import echo_coach, queue
from support.ports import free_port
from support.scenario import NOW, Coach, OpenApp
from support.smtp_server import DROP, Received, SmtpHandler, smtp_server

DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)
DEC_10 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
PASSWORD = "s3cret-Pa55word"
HEADERS = ["From", "To", "Subject", "Date", "Message-ID", "Content-Type", "Content-Transfer-Encoding", "MIME-Version"]


def smtp_yaml(port: int, *extra: str) -> str:
    lines = ["mail:", "  from: coach@example.com", "  mode: smtp", "  smtp:", "    host: 127.0.0.1"]
    lines += [f"    port: {port}", "    starttls: false", "    timeout: 5", *(f"    {line}" for line in extra)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def smtp() -> Iterator[tuple[int, SmtpHandler]]:
    with smtp_server() as (controller, handler):
        yield controller.port, handler


def text(received: Received) -> str:
    """The body as the client reads it; on the wire every line ends in CRLF."""
    return received.message.get_content().replace("\r\n", "\n")


def statuses(app: App) -> list[tuple[str, int, str | None]]:
    return [(m.status.value, m.attempts, m.error) for m in app.store.outbox.messages()]


# --- SMTP ----------------------------------------------------------------------


def test_queued_mail_is_sent_once_with_its_message_id(
    tmp_path: Path, smtp: tuple[int, SmtpHandler], open_app: OpenApp
) -> None:
    port, server = smtp
    app = queue(echo_coach(tmp_path, smtp_yaml(port)), open_app, "Coaching with Alice", "Goal review")
    rows = app.store.outbox.messages()

    first = app.deliver_mail(NOW)
    again = app.deliver_mail(NOW + DAY)

    assert (first, again) == (DeliveryReport(sent=(1, 2)), DeliveryReport())
    assert [(r.mail_from, r.rcpt_tos) for r in server.received] == [("coach@example.com", ["alice@example.com"])] * 2
    messages = [r.message for r in server.received]
    assert [list(m.keys()) for m in messages] == [HEADERS, HEADERS]
    assert [m["Message-ID"] for m in messages] == [row.message_id for row in rows]
    assert [(m["Subject"], text(r)) for m, r in zip(messages, server.received, strict=True)] == [
        ("About: Coaching with Alice", "Coaching with Alice\n"),
        ("About: Goal review", "Goal review\n"),
    ]
    assert statuses(app) == [("sent", 1, None), ("sent", 1, None)]
    assert [m.sent_at for m in app.store.outbox.messages()] == [NOW, NOW]
    assert server.logins == []  # no username, no login


def test_a_crash_between_send_and_mark_sent_resends_only_that_message_with_the_same_id(
    tmp_path: Path, smtp: tuple[int, SmtpHandler], open_app: OpenApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, server = smtp
    app = queue(echo_coach(tmp_path, smtp_yaml(port)), open_app, "one", "two", "three")
    ids = [m.message_id for m in app.store.outbox.messages()]
    mark_sent = Outbox.mark_sent
    calls: list[int] = []

    def crash_on_the_second(outbox: Outbox, message_id: int, sent_at: datetime) -> None:
        calls.append(message_id)
        if len(calls) == 2:
            raise KeyboardInterrupt("power cut")
        mark_sent(outbox, message_id, sent_at)

    monkeypatch.setattr(Outbox, "mark_sent", crash_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        app.deliver_mail(NOW)
    monkeypatch.setattr(Outbox, "mark_sent", mark_sent)
    restarted = open_app(tmp_path / "config.yaml")  # the row of "two" is still queued
    after = restarted.deliver_mail(NOW + MINUTE)

    assert after == DeliveryReport(sent=(2, 3))
    assert [r.message["Message-ID"] for r in server.received] == [ids[0], ids[1], ids[1], ids[2]]
    assert [text(r) for r in server.received] == ["one\n", "two\n", "two\n", "three\n"]
    assert statuses(app) == [("sent", 1, None)] * 3


def test_a_temporary_refusal_is_retried_after_a_backoff_then_sent(
    tmp_path: Path, smtp: tuple[int, SmtpHandler], open_app: OpenApp
) -> None:
    port, server = smtp
    server.answers = ["451 4.3.0 Mailbox busy, try again later"]
    app = queue(echo_coach(tmp_path, smtp_yaml(port)), open_app, "Coaching")

    refused = app.deliver_mail(NOW)
    [row] = app.store.outbox.messages()
    too_early = app.deliver_mail(NOW + MINUTE - timedelta(seconds=1))
    retried = app.deliver_mail(NOW + MINUTE)

    assert refused == DeliveryReport(retrying=(1,))
    assert (row.status, row.attempts, row.error, row.next_attempt_at) == (
        MailStatus.QUEUED,
        1,
        "451 4.3.0 Mailbox busy, try again later",
        NOW + MINUTE,
    )
    assert (too_early, retried) == (DeliveryReport(), DeliveryReport(sent=(1,)))
    assert statuses(app) == [("sent", 2, None)]
    assert len(server.received) == 1


def test_temporary_refusals_back_off_exponentially_and_give_up(
    tmp_path: Path, smtp: tuple[int, SmtpHandler], open_app: OpenApp
) -> None:
    port, server = smtp
    server.answers = ["421 4.7.0 Too many connections"] * MAX_ATTEMPTS
    app = queue(echo_coach(tmp_path, smtp_yaml(port)), open_app, "Coaching")

    waits: list[timedelta] = []
    moment = NOW
    for _ in range(MAX_ATTEMPTS):
        app.deliver_mail(moment)
        [row] = app.store.outbox.messages()
        if row.next_attempt_at is None:
            break
        waits.append(row.next_attempt_at - moment)
        moment = row.next_attempt_at

    assert [w / MINUTE for w in waits] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360]
    assert statuses(app) == [("failed", MAX_ATTEMPTS, "gave up after 12 attempts: 421 4.7.0 Too many connections")]
    assert server.received == []


def test_a_permanent_refusal_fails_with_the_servers_reason_and_the_rest_still_go(
    tmp_path: Path, smtp: tuple[int, SmtpHandler], open_app: OpenApp
) -> None:
    port, server = smtp
    server.answers = ["550 5.1.1 Mailbox unavailable"]
    app = queue(echo_coach(tmp_path, smtp_yaml(port)), open_app, "refused", "accepted")

    report = app.deliver_mail(NOW)
    later = app.deliver_mail(NOW + DAY)

    assert (report, later) == (DeliveryReport(sent=(2,), failed=(1,)), DeliveryReport())
    assert statuses(app) == [("failed", 1, "550 5.1.1 Mailbox unavailable"), ("sent", 1, None)]
    assert [text(r) for r in server.received] == ["accepted\n"]


def test_a_connection_dropped_after_the_data_resends_with_the_same_message_id(
    tmp_path: Path, smtp: tuple[int, SmtpHandler], open_app: OpenApp
) -> None:
    port, server = smtp
    server.answers = [DROP]
    app = queue(echo_coach(tmp_path, smtp_yaml(port)), open_app, "first", "second")

    dropped = app.deliver_mail(NOW)
    waiting = statuses(app)
    retried = app.deliver_mail(NOW + MINUTE)

    assert dropped == DeliveryReport(retrying=(1, 2))
    assert waiting == [("queued", 1, f"127.0.0.1:{port}: connection dropped")] * 2
    assert retried == DeliveryReport(sent=(1, 2))
    [first_id, second_id] = [m.message_id for m in app.store.outbox.messages()]
    # At least once: the server may have kept the first copy, and the receiver can tell it is the same message.
    assert [r.message["Message-ID"] for r in server.received] == [first_id, first_id, second_id]
    assert statuses(app) == [("sent", 2, None)] * 2


def test_an_unreachable_server_keeps_every_message_queued_for_a_retry(tmp_path: Path, open_app: OpenApp) -> None:
    port = free_port()  # nothing listens there
    app = queue(echo_coach(tmp_path, smtp_yaml(port)), open_app, "one", "two")

    report = app.deliver_mail(NOW)

    assert report == DeliveryReport(retrying=(1, 2))
    assert statuses(app) == [("queued", 1, f"127.0.0.1:{port}: Connection refused")] * 2
    assert [m.next_attempt_at for m in app.store.outbox.messages()] == [NOW + MINUTE] * 2


# --- hostile calendar text -------------------------------------------------------


def test_a_summary_with_line_breaks_never_adds_a_header(
    tmp_path: Path, smtp: tuple[int, SmtpHandler], open_app: OpenApp
) -> None:
    port, server = smtp
    hostile = "Coaching\\nBcc: eve@example.com\\nX-Injected: yes"  # ICS-escaped line breaks
    app = queue(echo_coach(tmp_path, smtp_yaml(port)), open_app, hostile)

    app.deliver_mail(NOW)

    [received] = server.received
    message = received.message
    assert received.rcpt_tos == ["alice@example.com"]
    assert list(message.keys()) == HEADERS
    assert message["Subject"] == "About: Coaching Bcc: eve@example.com X-Injected: yes"
    assert text(received) == "Coaching\nBcc: eve@example.com\nX-Injected: yes\n"


def test_a_file_path_in_calendar_text_is_sent_as_text_never_attached(
    tmp_path: Path, smtp: tuple[int, SmtpHandler], open_app: OpenApp
) -> None:
    port, server = smtp
    app = queue(echo_coach(tmp_path, smtp_yaml(port)), open_app, "/etc/passwd", "<b>Bold</b> & <script>x</script>")

    app.deliver_mail(NOW)

    path_message, markup_message = (r.message for r in server.received)
    for message in (path_message, markup_message):
        assert (message.get_content_type(), message.is_multipart()) == ("text/plain", False)
        assert message.get_filename() is None
    assert text(server.received[0]) == "/etc/passwd\n"
    assert b"root:" not in server.received[0].data
    assert text(server.received[1]) == "<b>Bold</b> & <script>x</script>\n"  # plain text, never HTML


def message_row(
    subject: str = "Hello", recipient: str | None = "alice@example.com", **changes: object
) -> OutboxMessage:
    values: dict[str, object] = {
        "id": 7,
        "message_id": "<0123abcd@example.com>",
        "change_id": 1,
        "plugin": "echo",
        "client": "Alice Example",
        "recipient": recipient,
        "subject": subject,
        "body": "Body\n",
        "status": MailStatus.QUEUED,
        "attempts": 0,
        "next_attempt_at": None,
        "error": None,
        "created_at": NOW,
        "sent_at": None,
    }
    values.update(changes)
    return OutboxMessage(**values)  # type: ignore[arg-type]


def test_compose_folds_any_line_break_in_a_subject_onto_one_header_line() -> None:
    composed = compose(message_row("Hi\r\nBcc: eve@example.com\rX: 1\n\tTo: x@example.com"), "coach@example.com")
    data = composed.as_bytes()

    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert list(parsed.keys()) == HEADERS
    assert parsed["Subject"] == "Hi Bcc: eve@example.com X: 1 To: x@example.com"
    assert data.split(b"\r\n\r\n")[0].count(b"\r\n") == len(HEADERS) - 1


@pytest.mark.parametrize(
    "address",
    [
        "alice@example.com\r\nBcc: eve@example.com",
        "alice@example.com\n",
        "Alice <alice@example.com>",
        "alice@example.com, eve@example.com",
        "not an address",
        "alice@",
        "",
        None,
    ],
)
def test_invalid_addresses_are_refused(address: str | None) -> None:
    with pytest.raises(InvalidMessage):
        checked_address(address, "recipient")
    with pytest.raises(InvalidMessage):
        compose(message_row(recipient=address), "coach@example.com")


def test_an_invalid_message_id_is_refused() -> None:
    with pytest.raises(InvalidMessage, match="invalid Message-ID"):
        compose(message_row(message_id="<a@b>\r\nBcc: eve@example.com"), "coach@example.com")


# --- outbox mode -----------------------------------------------------------------


def test_outbox_mode_writes_eml_files_with_exact_headers_and_sends_nothing(
    tmp_path: Path, smtp: tuple[int, SmtpHandler], open_app: OpenApp
) -> None:
    _, server = smtp
    mail_yaml = "mail:\n  from: coach@example.com\n  outbox_dir: outbox\n"
    app = queue(echo_coach(tmp_path, mail_yaml), open_app, "../../etc/evil name", "Goal review")
    rows = app.store.outbox.messages()

    first = app.deliver_mail(NOW)
    again = app.deliver_mail(NOW + DAY)

    names = [f"{r.id:06d}-{hashlib.sha256(r.message_id.encode()).hexdigest()[:12]}.eml" for r in rows]
    # Written, not sent: outbox mode only ever writes files.
    assert (first, again) == (DeliveryReport(written=(1, 2), written_to=tmp_path / "outbox"), DeliveryReport())
    assert sorted(p.name for p in (tmp_path / "outbox").iterdir()) == names
    data = (tmp_path / "outbox" / names[0]).read_bytes()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.decode().split("\r\n") == [
        "From: coach@example.com",
        "To: alice@example.com",
        "Subject: About: ../../etc/evil name",
        "Date: Tue, 01 Dec 2026 12:00:00 +0000",
        f"Message-ID: {rows[0].message_id}",
        'Content-Type: text/plain; charset="utf-8"',
        "Content-Transfer-Encoding: quoted-printable",
        "MIME-Version: 1.0",
    ]
    assert body == b"../../etc/evil name\r\n"
    assert statuses(app) == [("written", 1, None)] * 2
    assert server.received == []


# --- login and the password --------------------------------------------------------


def test_smtp_login_takes_the_password_from_password_command_and_never_keeps_it(
    tmp_path: Path, open_app: OpenApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with smtp_server(SmtpHandler(password=PASSWORD)) as (controller, server):
        mail_yaml = smtp_yaml(controller.port, "username: coach", f"password_command: echo {PASSWORD}")
        app = queue(echo_coach(tmp_path, mail_yaml), open_app, "Coaching")
        report = app.deliver_mail(NOW)

    assert report == DeliveryReport(sent=(1,))
    assert server.logins == [("coach", PASSWORD)]
    assert len(server.received) == 1
    assert all(PASSWORD not in record.getMessage() for record in caplog.records)
    assert PASSWORD not in caplog.text
    database = app.config.database
    for path in (database, database.with_name(database.name + "-wal")):
        if path.exists():
            assert PASSWORD.encode() not in path.read_bytes()
    dump = "\n".join(sqlite3.connect(database).iterdump())
    assert PASSWORD not in dump


def test_a_refused_login_keeps_mail_queued_and_never_shows_the_password(
    tmp_path: Path, open_app: OpenApp, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("COACHSYNC_SMTP_PASSWORD", "wrong-" + PASSWORD)
    with smtp_server(SmtpHandler(password=PASSWORD)) as (controller, server):
        app = queue(echo_coach(tmp_path, smtp_yaml(controller.port, "username: coach")), open_app, "Coaching")
        with pytest.raises(MailError) as caught:
            app.deliver_mail(NOW)

    assert str(caught.value) == (
        "SMTP login as coach refused: 535 5.7.8 Authentication credentials invalid;"
        " check mail.smtp.username and the password"
    )
    assert server.logins == [("coach", "wrong-" + PASSWORD)] * 2  # smtplib tries PLAIN, then LOGIN
    assert statuses(app) == [("queued", 0, None)]
    assert PASSWORD not in caplog.text


def test_a_username_without_any_password_source_is_a_clear_error(tmp_path: Path, open_app: OpenApp) -> None:
    app = queue(echo_coach(tmp_path, smtp_yaml(free_port(), "username: coach")), open_app, "Coaching")

    with pytest.raises(MailError) as caught:
        app.deliver_mail(NOW)

    assert str(caught.value) == (
        "mail.smtp.username is set but no password was found; set mail.smtp.password_command,"
        " $COACHSYNC_SMTP_PASSWORD or the systemd credential smtp-password"
    )
    assert statuses(app) == [("queued", 0, None)]


# --- through the commands and the daemon -------------------------------------------


def weekly(shifts: dict[int, tuple[datetime, datetime]]) -> list[str]:
    """Alice's four December sessions, some of them moved."""
    starts = [datetime(2026, 12, day, 10, 0, tzinfo=UTC) for day in (3, 10, 17, 24)]
    return [
        vevent(f"w{day}", shifts.get(index, (start, start))[1], summary="Coaching", attendees=("alice@example.com",))
        for index, (day, start) in enumerate(zip((3, 10, 17, 24), starts, strict=True))
    ]


def test_built_in_policies_end_to_end_from_calendar_edits_to_the_mail_server(
    tmp_path: Path, smtp: tuple[int, SmtpHandler]
) -> None:
    port, server = smtp
    policies = textwrap.dedent(
        """\
        policies:
          fee: {enabled: true, amount: 40, currency: EUR, free_reschedules: 1}
          escalation_email: {enabled: true, after: 3, within_days: 90}
          checkin: {enabled: true, gap_days: 10}
        """
    )
    coach = Coach(tmp_path, extra_yaml=policies + smtp_yaml(port))
    moves: dict[int, tuple[datetime, datetime]] = {}
    coach.write(*weekly(moves))
    assert cli(coach, "sync", at=NOW - DAY).exit_code == 0
    for index, at, notice in ((0, NOW, "early"), (1, datetime(2026, 12, 10, 6, tzinfo=UTC), "late, free")):
        moves[index] = (at, datetime(2026, 12, 3 + 7 * index + 1, 10, 0, tzinfo=UTC))
        coach.write(*weekly(moves))
        assert cli(coach, "sync", at=at).exit_code == 0, notice
    moves[2] = (datetime(2026, 12, 17, 8, tzinfo=UTC), datetime(2026, 12, 18, 10, 0, tzinfo=UTC))
    coach.write(*weekly(moves))
    third = cli(coach, "sync", at=moves[2][0])

    listed = cli(coach, "outbox", "--json", at=moves[2][0])
    waiting = cli(coach, "send", at=moves[2][0])
    approved = cli(coach, "outbox", "approve", "1", at=moves[2][0])
    again = cli(coach, "outbox", "approve", "1", at=moves[2][0])
    sent = cli(coach, "send", at=moves[2][0])
    resync = cli(coach, "sync", at=moves[2][0] + MINUTE)
    resend = cli(coach, "send", at=moves[2][0] + MINUTE)

    assert third.exit_code == 0
    assert json.loads(listed.output) == [
        {
            "id": 1,
            "to": "alice@example.com",
            "subject": "Checking in, Alice",
            "status": "pending_approval",
            "plugin": "escalation_email",
            "client": "Alice Example",
            "change_id": 3,
            "error": None,
        }
    ]
    assert (waiting.exit_code, waiting.output) == (0, "mail: nothing to send\n")
    assert (approved.exit_code, approved.output) == (
        0,
        "outbox message 1 to alice@example.com queued: Checking in, Alice\n",
    )
    assert (again.exit_code, again.output) == (
        1,
        "coachsync: cannot approve outbox message 1: it is queued, not pending_approval\n",
    )
    assert (sent.exit_code, sent.output) == (0, "mail: 1 sent, 0 to retry, 0 failed\n")
    assert (resync.exit_code, resend.exit_code, resend.output) == (0, 0, "mail: nothing to send\n")
    [received] = server.received
    assert (received.rcpt_tos, received.message["Subject"]) == (["alice@example.com"], "Checking in, Alice")
    assert "most recently the one on Thu 17 Dec 2026, 11:00" in text(received)
    with Store(coach.root / "state" / "coachsync.db") as store:
        assert [(f.change_id, f.amount, f.currency, f.status) for f in store.ledger.fees()] == [
            (3, Decimal("40.00"), "EUR", "owed")
        ]


def test_outbox_commands_list_discard_and_name_unknown_ids(
    tmp_path: Path, smtp: tuple[int, SmtpHandler], open_app: OpenApp
) -> None:
    port, server = smtp
    server.answers = ["554 5.7.1 Rejected as spam"]
    coach = echo_coach(tmp_path, smtp_yaml(port))
    queue(coach, open_app, "one", "two")

    discarded = cli(coach, "outbox", "discard", "2")
    sent = cli(coach, "send")
    table = cli(coach, "outbox")
    unknown = cli(coach, "outbox", "approve", "99")
    sent_one = cli(coach, "outbox", "discard", "1")

    assert (discarded.exit_code, discarded.output) == (0, "outbox message 2 discarded: About: two\n")
    assert (sent.exit_code, sent.output) == (
        1,
        "outbox message 1 failed: 554 5.7.1 Rejected as spam\nmail: 0 sent, 0 to retry, 1 failed\n",
    )
    assert table.output.splitlines() == [
        "ID  STATUS     TO                 CLIENT         PLUGIN  CHANGE  SUBJECT     ERROR",
        "1   failed     alice@example.com  Alice Example  echo    1       About: one  554 5.7.1 Rejected as spam",
        "2   discarded  alice@example.com  Alice Example  echo    2       About: two",
    ]
    assert (unknown.exit_code, unknown.output) == (
        2,
        "coachsync: no outbox message with id 99; see `coachsync outbox`\n",
    )
    assert (sent_one.exit_code, sent_one.output) == (0, "outbox message 1 discarded: About: one\n")
    assert server.received == []


def test_the_daemon_delivers_mail_after_a_pass(
    tmp_path: Path, smtp: tuple[int, SmtpHandler], open_app: OpenApp
) -> None:
    port, server = smtp
    coach = echo_coach(tmp_path, smtp_yaml(port))
    app = open_app(coach)
    session = vevent("d1", DEC_10, summary="Coaching", attendees=("alice@example.com",))
    coach.write(session)
    Daemon(app, clock=lambda: NOW - DAY).run_once("coaching")
    coach.write(vevent("d1", DEC_10 + DAY, summary="Coaching", attendees=("alice@example.com",)))

    Daemon(app, clock=lambda: NOW).run_once("coaching")

    assert [text(r) for r in server.received] == ["Coaching\n"]
    assert statuses(app) == [("sent", 1, None)]
