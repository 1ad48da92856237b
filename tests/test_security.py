"""Hostile input and secrets: no header a policy or a calendar did not ask for, no part of a password
in any output, no log that feeds itself, no database other users can read."""

from __future__ import annotations

import email
import email.policy
import logging
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from coachsync.daemon import Daemon
from coachsync.mail import DeliveryReport, InvalidMessage, compose
from coachsync.model import MailStatus, OutboxMessage
from coachsync.secrets import SecretError

from support.cli import cli
from support.ical import HOUR, vevent
from support.mail_world import echo_coach, queue
from support.ports import free_port
from support.scenario import NOW, OpenApp
from support.smtp_server import SmtpHandler, smtp_server

DAY = timedelta(days=1)
DEC_10 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
HEADERS = ["From", "To", "Subject", "Date", "Message-ID", "Content-Type", "Content-Transfer-Encoding", "MIME-Version"]

# Line breaks, plain and as RFC 2047 encoded words (Q and B, nested, mid-subject, ending the header block).
HOSTILE_SUBJECTS = [
    "Hi\r\nBcc: evil@example.com",
    "Hi\nBcc: evil@example.com",
    "Hi\rBcc: evil@example.com",
    "Hi\u2028Bcc: evil@example.com",
    "=?utf-8?q?Hi=0D=0ABcc:_evil@example.com?=",
    "=?UTF-8?Q?Hi=0ABcc:_evil@example.com?=",
    "=?utf-8?b?SGkNCkJjYzogZXZpbEBleGFtcGxlLmNvbQ==?=",
    "Hello =?utf-8?q?there=0D=0ABcc:_evil@example.com?= friend",
    "=?utf-8?q?Hi=0D=0A=0D=0AFake_body?=",
    "=?iso-8859-1?q?Hi=0D=0AReply-To:_evil@example.com?=",
    "=?utf-8?q?=3D=3Futf-8=3Fq=3FHi=3D0D=3D0ABcc:_evil@example.com=3F=3D?=",
    "=?utf-8?q?Hi?= =?utf-8?q?=0D=0ABcc:_evil@example.com?=",
]


def outbox_row(**fields: object) -> OutboxMessage:
    values: dict[str, object] = {
        "id": 1,
        "message_id": "<0123abcd@example.com>",
        "change_id": 1,
        "plugin": "echo",
        "client": "Alice Example",
        "recipient": "alice@example.com",
        "subject": "Coaching",
        "body": "See you.",
        "status": MailStatus.QUEUED,
        "attempts": 0,
        "next_attempt_at": None,
        "error": None,
        "created_at": NOW,
        "sent_at": None,
    }
    values.update(fields)
    return OutboxMessage(**values)  # type: ignore[arg-type]


def parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def assert_only_our_headers(data: bytes) -> EmailMessage:
    """The exact header set, each header one logical line, the body where it belongs."""
    message = parsed(data)
    assert list(message.keys()) == HEADERS
    for name in HEADERS:
        assert not any(ch in str(message[name]) for ch in "\r\n"), name
    head = data.partition(b"\r\n\r\n")[0].split(b"\r\n")
    names = [line.partition(b":")[0].decode() for line in head if not line[:1].isspace()]
    assert names == HEADERS
    return message


def smtp_yaml(port: int, *extra: str) -> str:
    lines = ["mail:", "  from: coach@example.com", "  mode: smtp", "  smtp:", "    host: 127.0.0.1"]
    lines += [f"    port: {port}", "    starttls: false", "    timeout: 5", *(f"    {line}" for line in extra)]
    return "\n".join(lines) + "\n"


# --- S1: header injection through encoded words ----------------------------------------


@pytest.mark.parametrize("subject", HOSTILE_SUBJECTS)
def test_a_subject_never_adds_a_header_in_plain_or_encoded_form(subject: str) -> None:
    data = compose(outbox_row(subject=subject), "coach@example.com").as_bytes()

    message = assert_only_our_headers(data)
    assert "evil@example.com" not in str(message.get("Bcc", ""))
    assert message.get_content().replace("\r\n", "\n") == "See you.\n"


def test_a_decoded_subject_reads_as_it_was_written() -> None:
    data = compose(outbox_row(subject="=?utf-8?q?Caf=C3=A9_at_10?="), "coach@example.com").as_bytes()

    assert parsed(data)["Subject"] == "Café at 10"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("recipient", "alice@example.com\r\nBcc: evil@example.com"),
        ("recipient", "=?utf-8?q?a=0D=0ABcc=3A_evil=40example.com?=@example.com"),
        ("message_id", "<a@example.com>\r\nBcc: evil@example.com"),
    ],
)
def test_a_line_break_in_an_address_or_message_id_is_refused(field: str, value: str) -> None:
    with pytest.raises(InvalidMessage):
        compose(outbox_row(**{field: value}), "coach@example.com")


@pytest.mark.parametrize(
    "sender", ["coach@example.com\r\nBcc: evil@example.com", "=?utf-8?q?c=0D=0ABcc=3A_e=40x.org?=@example.com"]
)
def test_a_line_break_in_the_sender_is_refused(sender: str) -> None:
    with pytest.raises(InvalidMessage):
        compose(outbox_row(), sender)


def test_an_encoded_word_in_a_message_id_reads_back_unchanged() -> None:
    odd = "<=?utf-8?q?a=0D=0ABcc=3A_evil=40example.com?=@example.com>"
    data = compose(outbox_row(message_id=odd), "coach@example.com").as_bytes()

    message = assert_only_our_headers(data)
    assert (message["Message-ID"], message["Date"]) == (odd, "Tue, 01 Dec 2026 12:00:00 +0000")


def test_hostile_titles_write_eml_files_with_only_our_headers(tmp_path: Path, open_app: OpenApp) -> None:
    coach = echo_coach(tmp_path, "mail:\n  from: coach@example.com\n  outbox_dir: outbox\n")
    app = queue(coach, open_app, *HOSTILE_SUBJECTS)

    app.deliver_mail(NOW)

    files = sorted((tmp_path / "outbox").iterdir())
    assert len(files) == len(HOSTILE_SUBJECTS)
    for path in files:
        assert_only_our_headers(path.read_bytes())


def test_hostile_titles_reach_a_real_smtp_server_with_only_our_headers(tmp_path: Path, open_app: OpenApp) -> None:
    with smtp_server() as (controller, server):
        app = queue(echo_coach(tmp_path, smtp_yaml(controller.port)), open_app, *HOSTILE_SUBJECTS)
        report = app.deliver_mail(NOW)

    assert len(report.sent) == len(HOSTILE_SUBJECTS)
    assert [r.rcpt_tos for r in server.received] == [["alice@example.com"]] * len(HOSTILE_SUBJECTS)
    for received in server.received:
        assert_only_our_headers(received.data)


# --- S2: a password that is not ASCII ---------------------------------------------------------

UTF8_PASSWORD = "Grüße-€-пароль-密码"
SECRET_CHARS = {ch for ch in UTF8_PASSWORD if not ch.isascii()}


def test_a_non_ascii_password_logs_in_with_auth_plain_and_the_mail_is_delivered(
    tmp_path: Path, open_app: OpenApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COACHSYNC_SMTP_PASSWORD", UTF8_PASSWORD)
    with smtp_server(SmtpHandler(password=UTF8_PASSWORD)) as (controller, server):
        app = queue(echo_coach(tmp_path, smtp_yaml(controller.port, "username: coach")), open_app, "Hi")
        report = app.deliver_mail(NOW)

    assert report == DeliveryReport(sent=(1,))
    assert server.logins == [("coach", UTF8_PASSWORD)]
    assert len(server.received) == 1


def test_a_non_ascii_password_logs_in_with_auth_login(
    tmp_path: Path, open_app: OpenApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COACHSYNC_SMTP_PASSWORD", UTF8_PASSWORD)
    handler = SmtpHandler(password=UTF8_PASSWORD)
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=handler.authenticate,
        auth_require_tls=False,
        auth_exclude_mechanism=["PLAIN"],
    )
    controller.start()
    try:
        app = queue(echo_coach(tmp_path, smtp_yaml(controller.port, "username: coach")), open_app, "Hi")
        report = app.deliver_mail(NOW)
    finally:
        controller.stop()

    assert report == DeliveryReport(sent=(1,))
    assert handler.logins == [("coach", UTF8_PASSWORD)]
    assert len(handler.received) == 1


def test_send_check_and_the_daemon_deliver_with_a_non_ascii_password(
    tmp_path: Path, open_app: OpenApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"COACHSYNC_SMTP_PASSWORD": UTF8_PASSWORD}
    monkeypatch.setenv("COACHSYNC_SMTP_PASSWORD", UTF8_PASSWORD)
    with smtp_server(SmtpHandler(password=UTF8_PASSWORD)) as (controller, server):
        coach = echo_coach(tmp_path, smtp_yaml(controller.port, "username: coach"))
        queue(coach, open_app, "one")
        checked = cli(coach, "check", env=env)
        sent = cli(coach, "send", env=env)
        app = open_app(coach)
        coach.write(vevent("s0", DEC_10 + 3 * HOUR, summary="one", attendees=("alice@example.com",)))
        Daemon(app, clock=lambda: NOW + DAY).run_once("coaching")

    assert "logged in as coach" in checked.output, checked.output
    assert "Traceback" not in checked.output and not SECRET_CHARS & set(checked.output)
    assert (sent.exit_code, sent.output) == (0, "mail: 1 sent, 0 to retry, 0 failed\n")
    assert len(server.received) == 2


def test_a_wrong_non_ascii_password_is_one_line_without_any_of_its_characters(
    tmp_path: Path, open_app: OpenApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = {"COACHSYNC_SMTP_PASSWORD": "wrong-" + UTF8_PASSWORD}
    with smtp_server(SmtpHandler(password=UTF8_PASSWORD)) as (controller, _):
        coach = echo_coach(tmp_path, smtp_yaml(controller.port, "username: coach"))
        queue(coach, open_app, "one")
        sent = cli(coach, "send", env=wrong)
        checked = cli(coach, "check", env=wrong)

    assert (sent.exit_code, sent.output) == (
        1,
        "coachsync: SMTP login as coach refused: 535 5.7.8 Authentication credentials invalid;"
        " check mail.smtp.username and the password\n",
    )
    for output in (sent.output, checked.output, caplog.text):
        assert not SECRET_CHARS & set(output)
        assert "position" not in output and "Traceback" not in output


def test_a_password_command_that_prints_bytes_that_are_not_utf8_never_shows_them(
    tmp_path: Path, open_app: OpenApp
) -> None:
    with smtp_server(SmtpHandler(password=UTF8_PASSWORD)) as (controller, _):
        command = "password_command: printf 'se\\344cret'"
        coach = echo_coach(tmp_path, smtp_yaml(controller.port, "username: coach", command))
        app = queue(coach, open_app, "one")
        with pytest.raises(SecretError) as caught:
            app.deliver_mail(NOW)

    assert str(caught.value) == "mail.smtp.password_command: printf printed text that is not UTF-8"
