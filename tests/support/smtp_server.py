"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, on a port chosen at run time.

It records every message it accepts and can be told how to answer the next
DATA commands ("451 …" then "250 OK", or "550 …"), whether to ask for a login,
and to drop the connection after storing a message (the reply is lost).
"""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from support.ports import free_port

DROP = "drop"  # an answer that stores the message, then hangs up without replying


@dataclass
class Received:
    """One accepted message as the server stored it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpHandler:
    """Answers DATA from `answers` in turn (then 250), and keeps what it accepted."""

    answers: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    password: str | None = None  # when set, AUTH must present it
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            answer = self.answers.pop(0) if self.answers else "250 OK"
            if answer.startswith("250") or answer == DROP:
                data = envelope.original_content or b""
                self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), data))
        if answer == DROP:
            assert server.transport is not None
            server.transport.close()
            return "250 OK"  # never reaches the client: the connection is already closed
        return answer

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> Any:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        with self.lock:
            self.logins.append((login, password))
        # handled=False: aiosmtpd itself answers 235 or 535.
        return AuthResult(success=password == self.password, handled=False)


@contextmanager
def smtp_server(handler: SmtpHandler | None = None) -> Iterator[tuple[Controller, SmtpHandler]]:
    """Start a server; AUTH is offered (without TLS, as on a local relay) when the handler has a password."""
    handler = handler or SmtpHandler()
    kwargs: dict[str, Any] = {}
    if handler.password is not None:
        kwargs = {"authenticator": handler.authenticate, "auth_require_tls": False}
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()
