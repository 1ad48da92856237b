"""Log lines for a terminal and for the journal: one event per line, context as key=value.

Calendar data is written by other people (a client can type anything into a
booking form), so every value and the message itself are escaped: no
summary, UID or error text can end a line early and forge another event.

    log.info("change recorded", extra={"calendar": name, "change": 7, "client": "Alice Example"})
    INFO coachsync.sync: change recorded calendar=coaching change=7 client="Alice Example"
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TextIO

# Attributes every LogRecord has; anything else on a record came from `extra=` and is context.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

# sd-daemon(3) priorities: journald reads a leading <N> and files the line under that level.
_SYSLOG_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}

_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_BARE_UNSAFE = frozenset(' "=\\')


def _escape_char(char: str) -> str:
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escape_text(text: str) -> str:
    """Free text on one line: control characters and Unicode line breaks become escapes."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape_char(char) for char in text)


def format_value(value: object) -> str:
    """A value as logfmt writes it: bare when safe, else double-quoted with backslash escapes."""
    text = str(value)
    if text and text.isprintable() and not _BARE_UNSAFE.intersection(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escape_text(escaped) + '"'


def format_context(context: Mapping[str, object]) -> str:
    return " ".join(f"{key}={format_value(value)}" for key, value in context.items())


class EventFormatter(logging.Formatter):
    """`[time ]LEVEL logger: message key=value ...`, always one line.

    Under journald (`journal=True`) the journal adds its own timestamp, so the
    line starts with a `<N>` priority prefix instead, which journald strips.
    """

    def __init__(self, journal: bool = False) -> None:
        super().__init__(datefmt="%Y-%m-%d %H:%M:%S")
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        context = {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES}
        if record.exc_info:
            # A traceback is many lines; it stays one event, escaped into one quoted value.
            context["traceback"] = self.formatException(record.exc_info)
        line = f"{record.levelname} {record.name}: {escape_text(record.getMessage())}"
        if context:
            line += " " + format_context(context)
        if self.journal:
            return f"<{_SYSLOG_PRIORITY.get(record.levelno, 6)}>{line}"
        return f"{self.formatTime(record, self.datefmt)} {line}"


class _EventHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler configure_logging() installed, so a second call replaces it."""


def stderr_is_journal(environ: Mapping[str, str] = os.environ, stream: TextIO | None = None) -> bool:
    """True when stderr is the journal stream systemd connected us to (JOURNAL_STREAM=dev:inode)."""
    expected = environ.get("JOURNAL_STREAM", "")
    try:
        status = os.fstat((stream or sys.stderr).fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor: not the journal
        return False
    return bool(expected) and expected == f"{status.st_dev}:{status.st_ino}"


def configure_logging(level: str, environ: Mapping[str, str] = os.environ) -> None:
    """Send every log event to stderr in the one-line format.

    Like logging.basicConfig(), it leaves alone a program (or test runner) that
    already set up logging; calling it again replaces its own handler.
    """
    # urllib3 logs request paths at debug level, and a private calendar address keeps its token in the path.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    root = logging.getLogger()
    if any(not isinstance(handler, _EventHandler) for handler in root.handlers):
        return
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = _EventHandler(sys.stderr)
    handler.setFormatter(EventFormatter(journal=stderr_is_journal(environ, sys.stderr)))
    root.addHandler(handler)
    root.setLevel(level.upper())
