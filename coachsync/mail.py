"""Delivery: drains the outbox into `.eml` files (`mail.mode: outbox`) or out through SMTP.

Every queued row becomes one plain-text message built here with the standard
`email` package: From, To, Subject, Date, Message-ID and a single text/plain
body, nothing else; a row with attachments (the weekly digest's report) is
multipart/mixed, the text first, each attachment under the file name we
gave it. The Message-ID is the row's own, fixed when the row was
written, so a message sent twice (a crash after the server accepted it but
before the row was marked sent) reaches the client with the same Message-ID
and can be recognised as one; only the one message in flight can repeat.

SMTP goes through yagmail, which opens the connection, does SSL or STARTTLS
and logs in (or skips the login when there is no username). Its message
builder is not used, for what yagmail 0.16 does to contents: a string that is
the path of an existing file is read and attached (a session DESCRIPTION of
"/etc/passwd" would mail that file); every text part also goes into an HTML
alternative unescaped, and even the text/plain part gets "<br>" for each
newline. Its `send` also swallows a dropped connection (sleeping 3 + 6 + 9
seconds, then returning False), which would hide the difference between a
temporary and a permanent failure. So the finished message is handed over
the connection yagmail opened, and the server's reply decides what happens:
2xx sent, 4xx or a dropped connection or timeout retried with exponential
backoff, 5xx failed with the server's reason.
"""

from __future__ import annotations

import base64
import email.policy
import hashlib
import hmac
import logging
import os
import re
import smtplib
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import yagmail

from .addresses import InvalidAddress, check_address
from .config import MailConfig, SmtpConfig
from .errors import CoachsyncError
from .model import Attachment, MailStatus, OutboxMessage
from .secrets import read_secret
from .store.outbox import Outbox
from .text import one_line, shorten

log = logging.getLogger(__name__)

# About a day of retries (1, 2, 4 … minutes, at most 6 hours apart) before a message is given up.
MAX_ATTEMPTS = 12
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=6)
_ERROR_LIMIT = 300
_SMTP_POLICY = email.policy.SMTP
_MESSAGE_ID = re.compile(r"<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+>")
# Attachment names are ours (`coachsync-report-2026-W49.html`); anything else is refused, not cleaned up.
_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_CONTENT_TYPE = re.compile(r"[a-z]+/[a-z0-9.+-]+")


class MailError(CoachsyncError):
    """Mail cannot be delivered at all (no password, login refused); queued rows stay queued."""


class InvalidMessage(ValueError):
    """A row that can never be sent as it is (a bad address); it is marked failed with this reason."""


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """Which outbox rows one delivery run sent, left for a later attempt, or gave up on."""

    sent: tuple[int, ...] = ()
    retrying: tuple[int, ...] = ()
    failed: tuple[int, ...] = ()
    # Outbox mode: rows written as .eml files into `written_to`, none of them sent.
    written: tuple[int, ...] = ()
    written_to: Path | None = None

    def __bool__(self) -> bool:
        return bool(self.sent or self.retrying or self.failed or self.written)

    def summary(self) -> str:
        if not self:
            return "mail: nothing to send"
        if self.written_to is not None:
            return f"mail: {len(self.written)} written to {self.written_to}, nothing sent, {len(self.failed)} failed"
        return f"mail: {len(self.sent)} sent, {len(self.retrying)} to retry, {len(self.failed)} failed"


def retry_delay(attempts: int) -> timedelta:
    """Wait before the next attempt, after `attempts` failed ones: 1 min, 2 min, 4 min, … at most 6 h."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


def checked_address(value: str | None, what: str) -> str:
    """A bare address (`name@example.com`) that is safe in a header, or InvalidMessage saying why not."""
    if not value:
        raise InvalidMessage(f"no {what} address")
    try:
        return check_address(value)
    except InvalidAddress:
        raise InvalidMessage(f"invalid {what} address {shorten(repr(value), 80)}") from None


def compose(message: OutboxMessage, sender: str, attachments: tuple[Attachment, ...] = ()) -> EmailMessage:
    """The message exactly as it is sent or written: plain text, one line per header, then any attachments."""
    if not _MESSAGE_ID.fullmatch(message.message_id):
        raise InvalidMessage(f"invalid Message-ID {shorten(repr(message.message_id), 80)}")
    mail = EmailMessage(policy=_SMTP_POLICY)
    mail["From"] = checked_address(sender, "sender (mail.from)")
    mail["To"] = checked_address(message.recipient, "recipient")
    mail["Subject"] = subject_line(message.subject)
    mail["Date"] = format_datetime(message.created_at)
    mail["Message-ID"] = message.message_id
    mail.set_content(message.body, subtype="plain", charset="utf-8", cte="quoted-printable")
    for attachment in attachments:
        if not _FILENAME.fullmatch(attachment.filename) or not _CONTENT_TYPE.fullmatch(attachment.content_type):
            raise InvalidMessage(f"invalid attachment {shorten(repr(attachment.filename), 80)}")
        maintype, subtype = attachment.content_type.split("/")
        mail.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename)
    _check_headers(mail)
    return mail


def subject_line(text: str) -> str:
    """The subject as one printable line that a mail client reads back exactly so.

    The email package decodes RFC 2047 encoded words (`=?utf-8?q?Hi=0D=0A…?=`) when a header is
    set, and a receiver decodes what we write once more; so the text is decoded until nothing is
    left to decode, and flattened to one line after each round, before it becomes the header.
    """
    while True:
        line = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
        decoded = str(_SMTP_POLICY.header_factory("Subject", line))
        if decoded == line:
            return line
        text = decoded  # shorter than `line`: decoding an encoded word always shrinks it


def _check_headers(mail: EmailMessage) -> None:
    """Belt and braces: the bytes we send must parse back to exactly the headers we set, unchanged."""
    head = mail.as_bytes().partition(b"\r\n\r\n")[0] + b"\r\n\r\n"
    parsed = email.message_from_bytes(head, policy=email.policy.default)
    if parsed.items() != [(name, str(value)) for name, value in mail.items()]:
        raise InvalidMessage("its headers would not read back as written")


def eml_name(message: OutboxMessage) -> str:
    """From the row id and the Message-ID's digest only: calendar text never names a file."""
    return f"{message.id:06d}-{hashlib.sha256(message.message_id.encode()).hexdigest()[:12]}.eml"


def deliver_outbox(outbox: Outbox, mail: MailConfig, now: datetime) -> DeliveryReport:
    """Send (or write) every queued message that is due; returns what became of each."""
    due = outbox.due(now)
    if not due:
        return DeliveryReport()
    if mail.mode == "outbox":
        return _write_files(outbox, mail, due, now)
    assert mail.smtp is not None  # the config requires smtp: when mode is smtp
    return _SmtpDelivery(outbox, mail.sender, mail.smtp, now).run(due)


def _write_files(outbox: Outbox, mail: MailConfig, due: list[OutboxMessage], now: datetime) -> DeliveryReport:
    written: list[int] = []
    failed: list[int] = []
    try:
        mail.outbox_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MailError(f"cannot create mail.outbox_dir {mail.outbox_dir}: {error.strerror}") from None
    for message in due:
        try:
            data = compose(message, mail.sender, outbox.attachments(message.id)).as_bytes()
        except InvalidMessage as error:
            outbox.mark_failed(message.id, str(error))
            failed.append(message.id)
            continue
        _write_atomically(mail.outbox_dir / eml_name(message), data)
        outbox.mark_written(message.id, now)
        written.append(message.id)
        log.info("outbox message %d written to %s", message.id, mail.outbox_dir)
    return DeliveryReport(failed=tuple(failed), written=tuple(written), written_to=mail.outbox_dir)


def _write_atomically(path: Path, data: bytes) -> None:
    """Whole or not at all; written again after a crash, it is the same file."""
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False) as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(file.name, path)
    except OSError as error:
        raise MailError(f"cannot write {path}: {error.strerror}; check mail.outbox_dir") from None


class _Temporary(Exception):
    """The server or the network failed in a way worth another try later."""


class _Unreachable(_Temporary):
    """No conversation with the server at all (refused, dropped, timed out): nothing after it can go either."""


def smtp_password(smtp: SmtpConfig) -> str | None:
    """The login password, or None when no username is set (then there is no login)."""
    if smtp.username is None:
        return None
    password = read_secret(
        what="mail.smtp.password_command",
        command=smtp.password_command,
        env_var="COACHSYNC_SMTP_PASSWORD",
        credential="smtp-password",
    )
    if password is None:
        # yagmail would fall back to the keyring and then prompt on the terminal: never in a daemon.
        raise MailError(
            "mail.smtp.username is set but no password was found; set mail.smtp.password_command,"
            " $COACHSYNC_SMTP_PASSWORD or the systemd credential smtp-password"
        )
    return password


class _Utf8Smtp(smtplib.SMTP):
    """smtplib sends AUTH only in ASCII and raises UnicodeEncodeError (naming a character of the
    password and its position) for anything else; RFC 4616 PLAIN carries UTF-8, and servers read
    LOGIN and CRAM-MD5 the same way, so the login here is encoded as UTF-8."""

    def auth(self, mechanism: str, authobject: Any, *, initial_response_ok: bool = True) -> tuple[int, bytes]:
        mechanism = mechanism.upper()
        initial = authobject() if initial_response_ok else None
        if initial is not None:
            code, reply = self.docmd("AUTH", f"{mechanism} {_base64(initial)}")
            self._auth_challenge_count = 1
        else:
            code, reply = self.docmd("AUTH", mechanism)
            self._auth_challenge_count = 0
        while code == 334:
            self._auth_challenge_count += 1
            if self._auth_challenge_count > _MAX_CHALLENGES:
                raise smtplib.SMTPException(f"the server kept asking during AUTH {mechanism}")
            code, reply = self.docmd(_base64(authobject(base64.decodebytes(reply))))
        if code in (235, 503):
            return code, reply
        raise smtplib.SMTPAuthenticationError(code, reply)

    def auth_cram_md5(self, challenge: bytes | None = None) -> str | None:  # type: ignore[override]
        if challenge is None:
            return None
        return f"{self.user} {hmac.HMAC(self.password.encode(), challenge, 'md5').hexdigest()}"


class _Utf8SmtpSsl(_Utf8Smtp, smtplib.SMTP_SSL):
    """The same login over an SSL connection (`mail.smtp.ssl`)."""


_MAX_CHALLENGES = 5


def _base64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


class _Client(yagmail.Client):
    """yagmail's session, opened on a connection that logs in with UTF-8."""

    @property
    def connection(self) -> type[smtplib.SMTP]:
        return _Utf8SmtpSsl if self.ssl else _Utf8Smtp


def smtp_client(smtp: SmtpConfig, sender: str, password: str | None) -> yagmail.Client:
    """A yagmail client for the coach's server, not yet connected; `login()` opens the session."""
    client = _Client(
        # A dict keeps yagmail from appending "@gmail.com" to a username without "@".
        user={smtp.username: smtp.username} if smtp.username else sender,
        password=password,
        host=smtp.host,
        port=smtp.port,
        smtp_ssl=smtp.ssl,
        smtp_starttls=smtp.starttls,
        smtp_skip_login=smtp.username is None,
        soft_email_validation=False,  # addresses are checked in compose(), strictly
        timeout=smtp.timeout,
    )
    client.set_logging(None)  # yagmail's own logger writes to stderr; ours says what matters
    return client


class _SmtpDelivery:
    """One SMTP session over the due messages, opened at the first message that can be sent."""

    def __init__(self, outbox: Outbox, sender: str, smtp: SmtpConfig, now: datetime) -> None:
        self.outbox = outbox
        self.sender = sender
        self.smtp = smtp
        self.now = now
        self.password = smtp_password(smtp)
        self.client: yagmail.Client | None = None
        self.sent: list[int] = []
        self.retrying: list[int] = []
        self.failed: list[int] = []

    def run(self, due: list[OutboxMessage]) -> DeliveryReport:
        try:
            for index, message in enumerate(due):
                try:
                    data = compose(message, self.sender, self.outbox.attachments(message.id)).as_bytes()
                    self._send(message, data)
                except InvalidMessage as error:
                    self._fail(message, str(error))
                except _Unreachable as error:
                    # The server went away: this message and every one after it waits for the next attempt.
                    for waiting in due[index:]:
                        self._retry(waiting, str(error))
                    break
                except _Temporary as error:
                    self._retry(message, str(error))
                except smtplib.SMTPResponseException as error:
                    self._fail(message, self._reason(error.smtp_code, error.smtp_error))
                else:
                    self.outbox.mark_sent(message.id, self.now)
                    self.sent.append(message.id)
                    log.info("outbox message %d sent (%s)", message.id, message.message_id)
        finally:
            self._close()
        return DeliveryReport(tuple(self.sent), tuple(self.retrying), tuple(self.failed))

    def _send(self, message: OutboxMessage, data: bytes) -> None:
        """Hand one message to the server; raises _Temporary, _Unreachable or a permanent refusal."""
        client = self._connect()
        try:
            client.smtp.sendmail(self.sender, [message.recipient], data)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            if 400 <= code < 500:
                raise _Temporary(self._reason(code, reply)) from None
            raise smtplib.SMTPResponseException(code, reply) from None
        except smtplib.SMTPResponseException as error:
            if 400 <= error.smtp_code < 500:
                raise _Temporary(self._reason(error.smtp_code, error.smtp_error)) from None
            raise
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            self._drop()
            raise _Unreachable(self._network_reason(error)) from None

    def _connect(self) -> yagmail.Client:
        if self.client is not None:
            return self.client
        smtp = self.smtp
        client = smtp_client(smtp, self.sender, self.password)
        try:
            client.login()
        except smtplib.SMTPAuthenticationError as error:
            client.close()
            raise MailError(
                f"SMTP login as {smtp.username} refused: {self._reason(error.smtp_code, error.smtp_error)};"
                " check mail.smtp.username and the password"
            ) from None
        except smtplib.SMTPNotSupportedError as error:
            client.close()
            raise MailError(
                f"{smtp.host}:{smtp.port} does not support {shorten(str(error), 80)};"
                " check mail.smtp.starttls, ssl and username"
            ) from None
        except smtplib.SMTPResponseException as error:
            client.close()
            if 400 <= error.smtp_code < 500:
                raise _Unreachable(self._reason(error.smtp_code, error.smtp_error)) from None
            raise MailError(
                f"{smtp.host}:{smtp.port} refused the session: {self._reason(error.smtp_code, error.smtp_error)}"
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            client.close()
            raise _Unreachable(self._network_reason(error)) from None
        self.client = client
        return client

    def _drop(self) -> None:
        if self.client is not None:
            # The conversation is over: release the socket without a QUIT nobody will answer.
            self.client.is_closed = True
            self.client.smtp.close()
            self.client = None

    def _close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def _retry(self, message: OutboxMessage, reason: str) -> None:
        attempts = message.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            self._fail(message, f"gave up after {attempts} attempts: {reason}")
            return
        next_at = self.now + retry_delay(attempts)
        self.outbox.mark_retry(message.id, reason, next_at)
        self.retrying.append(message.id)
        log.warning("outbox message %d not sent, retry at %s: %s", message.id, next_at.isoformat(), reason)

    def _fail(self, message: OutboxMessage, reason: str) -> None:
        self.outbox.mark_failed(message.id, reason)
        self.failed.append(message.id)
        log.warning("outbox message %d failed: %s", message.id, reason)

    def _reason(self, code: int, reply: bytes | str) -> str:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        return self._redact(one_line(f"{code} {text}", _ERROR_LIMIT))

    def _network_reason(self, error: BaseException) -> str:
        if isinstance(error, TimeoutError):
            what = f"timed out after {self.smtp.timeout:g}s"
        elif isinstance(error, smtplib.SMTPServerDisconnected):
            what = "connection dropped"
        else:
            what = getattr(error, "strerror", None) or type(error).__name__
        return self._redact(f"{self.smtp.host}:{self.smtp.port}: {what}")

    def _redact(self, text: str) -> str:
        """Belt and braces: whatever a server or the network says, the password never travels on."""
        return text.replace(self.password, "***") if self.password else text


__all__ = [
    "DeliveryReport",
    "InvalidMessage",
    "MailError",
    "MailStatus",
    "checked_address",
    "compose",
    "deliver_outbox",
    "eml_name",
    "retry_delay",
]
