"""An outbox message with attachments: stored with it, written into its .eml file and sent through SMTP
as a real MIME attachment under the name we gave it; a name that is not ours is refused."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from coachsync.config import MailConfig, SmtpConfig
from coachsync.mail import InvalidMessage, compose, deliver_outbox, eml_name
from coachsync.model import Attachment, MailStatus, OutboxMessage
from coachsync.store import Store

from support.scenario import NOW
from support.smtp_server import SmtpHandler, smtp_server

REPORT = Attachment("coachsync-report-2026-W49.html", "text/html", "<!doctype html><p>Grüße, 3 < 4</p>\n".encode())
BODY = "Your week.\nAttached: coachsync-report-2026-W49.html\n"


def message(key: str = "digest:week:2026-W49") -> OutboxMessage:
    return OutboxMessage(
        id=0,
        message_id="<d1@example.com>",
        change_id=None,
        plugin="digest",
        client=None,
        recipient="coach@example.com",
        subject="coachsync weekly digest, 2026-W49",
        body=BODY,
        status=MailStatus.QUEUED,
        attempts=0,
        next_attempt_at=None,
        error=None,
        created_at=NOW,
        sent_at=None,
        key=key,
    )


def parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def parts(mail: EmailMessage) -> list[tuple[str, str | None, bytes]]:
    return [
        (part.get_content_type(), part.get_filename(), part.get_payload(decode=True))  # type: ignore[misc]
        for part in mail.iter_parts()
    ]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "coachsync.db") as opened:
        yield opened


def test_attachments_are_kept_with_their_message_and_a_repeat_adds_nothing(store: Store) -> None:
    queued = store.outbox.add_with_attachments(message(), [REPORT])
    again = store.outbox.add_with_attachments(message(), [REPORT])

    assert queued is not None and queued.id == 1 and again is None
    assert store.outbox.attachments(1) == (REPORT,)
    count = store._db.execute("SELECT count(*) FROM outbox_attachments").fetchone()[0]
    assert count == 1


def test_outbox_mode_writes_the_attachment_into_the_eml_file(store: Store, tmp_path: Path) -> None:
    store.outbox.add_with_attachments(message(), [REPORT])
    mail = MailConfig(outbox_dir=tmp_path / "outbox")

    report = deliver_outbox(store.outbox, mail, NOW)

    [row] = store.outbox.messages()
    assert report.written == (1,) and row.status is MailStatus.WRITTEN
    written = parse((tmp_path / "outbox" / eml_name(row)).read_bytes())
    assert written.get_content_type() == "multipart/mixed"
    assert (written["To"], written["Subject"]) == ("coach@example.com", "coachsync weekly digest, 2026-W49")
    assert parts(written) == [
        ("text/plain", None, BODY.replace("\n", "\r\n").encode()),
        ("text/html", "coachsync-report-2026-W49.html", REPORT.content),
    ]
    [attachment] = written.iter_attachments()
    assert attachment.get_content_disposition() == "attachment"


def test_smtp_sends_the_attachment(store: Store) -> None:
    store.outbox.add_with_attachments(message(), [REPORT])
    with smtp_server(SmtpHandler()) as (controller, server):
        smtp = SmtpConfig(host="127.0.0.1", port=controller.port, starttls=False, timeout=5)
        mail = MailConfig.model_validate({"mode": "smtp", "from": "coach@example.com", "smtp": smtp})

        report = deliver_outbox(store.outbox, mail, NOW)

    assert report.sent == (1,)
    [received] = server.received
    assert received.rcpt_tos == ["coach@example.com"]
    assert parts(received.message) == [
        ("text/plain", None, BODY.replace("\n", "\r\n").encode()),
        ("text/html", "coachsync-report-2026-W49.html", REPORT.content),
    ]


@pytest.mark.parametrize(
    "attachment",
    [
        Attachment("../../etc/passwd", "text/html", b"x"),
        Attachment("report\r\nBcc: someone@example.com", "text/html", b"x"),
        Attachment("Coaching with Alice.html", "text/html", b"x"),
        Attachment("report.html", "text/html\r\nX-Evil: 1", b"x"),
    ],
)
def test_an_attachment_name_or_type_that_is_not_ours_is_refused(attachment: Attachment) -> None:
    with pytest.raises(InvalidMessage, match="invalid attachment"):
        compose(message(), "coach@example.com", (attachment,))
