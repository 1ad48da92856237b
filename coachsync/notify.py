"""Telling systemd how the daemon is doing (sd_notify): ready, alive, what it last did, stopping.

Outside systemd (no $NOTIFY_SOCKET) every call does nothing, so the daemon
never has to ask whether it runs under a service manager.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

import sdnotify

from .logs import escape_text

STATUS_LIMIT = 200  # `systemctl status` shows one line; a longer one only gets cut off there


class Notifier:
    """sd_notify messages to the socket named by $NOTIFY_SOCKET, or nowhere."""

    def __init__(
        self, notifier: sdnotify.SystemdNotifier | None = None, watchdog_interval: float | None = None
    ) -> None:
        self._notifier = notifier
        self.watchdog_interval = watchdog_interval if notifier is not None else None

    @classmethod
    def from_environment(cls) -> Notifier:
        """Notifies systemd when it started us with $NOTIFY_SOCKET; otherwise a Notifier that does nothing."""
        if not os.environ.get("NOTIFY_SOCKET"):
            return cls()
        # sdnotify connects to the address in $NOTIFY_SOCKET itself.
        return cls(sdnotify.SystemdNotifier(), _watchdog_interval(os.environ))

    def _send(self, message: str) -> None:
        if self._notifier is not None:
            # sdnotify encodes with latin-1; systemd reads UTF-8, so hand it the UTF-8 bytes as latin-1 text.
            self._notifier.notify(message.encode("utf-8").decode("latin-1"))

    def ready(self, status: str | None = None) -> None:
        self._send("READY=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))

    def reloading(self) -> None:
        # MONOTONIC_USEC lets newer systemd match this reload to the request that caused it.
        self._send(f"RELOADING=1\nMONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def watchdog(self) -> None:
        if self.watchdog_interval is not None:
            self._send("WATCHDOG=1")

    def status(self, text: str) -> None:
        self._send(f"STATUS={_one_line(text)}")

    def stopping(self) -> None:
        self._send("STOPPING=1")


def _watchdog_interval(environ: Mapping[str, str]) -> float | None:
    """Half of WATCHDOG_USEC in seconds, as sd_watchdog_enabled(3) advises; None when no watchdog is set
    or it is meant for another process (WATCHDOG_PID)."""
    pid = environ.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2 / 1_000_000 if usec > 0 else None


def _one_line(text: str) -> str:
    flat = escape_text(text)
    return flat if len(flat) <= STATUS_LIMIT else flat[: STATUS_LIMIT - 1] + "…"
