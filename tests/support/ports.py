"""Ports on 127.0.0.1 chosen at run time."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port that was just bound and closed again: nothing listens there, so connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
