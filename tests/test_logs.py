"""Log lines: one event per line, key=value context, and calendar text that cannot forge a line."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from coachsync.logs import EventFormatter, format_value

from support.ical import vevent
from support.scenario import Coach

FORGED = 'Coaching"\nINFO coachsync.sync: change recorded calendar=coaching change=99'


@pytest.fixture
def journal() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(EventFormatter(journal=True))
    logger = logging.getLogger("coachsync.test_logs")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, stream
    logger.removeHandler(handler)


def test_context_follows_the_message_as_key_value_pairs(journal: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = journal

    log.info("change recorded", extra={"calendar": "coaching", "change": 7, "client": "Alice Example"})
    log.warning("pass failed, retry in %.0fs: %s", 5.2, "server down", extra={"calendar": "booking"})

    assert stream.getvalue() == (
        '<6>INFO coachsync.test_logs: change recorded calendar=coaching change=7 client="Alice Example"\n'
        "<4>WARNING coachsync.test_logs: pass failed, retry in 5s: server down calendar=booking\n"
    )


def test_a_hostile_summary_can_neither_end_the_line_nor_fake_a_key(journal: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = journal

    log.error("odd event %s", FORGED, extra={"summary": FORGED, "uid": "x calendar=other", "empty": ""})

    assert stream.getvalue() == (
        '<3>ERROR coachsync.test_logs: odd event Coaching"\\nINFO coachsync.sync: change recorded calendar=coaching '
        'change=99 summary="Coaching\\"\\nINFO coachsync.sync: change recorded calendar=coaching change=99" '
        'uid="x calendar=other" empty=""\n'
    )


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("coaching", "coaching"),
        ("Carmen Díaz", '"Carmen Díaz"'),
        ("a=b", '"a=b"'),
        ("back\\slash", '"back\\\\slash"'),
        ("tab\there", '"tab\\there"'),
        ("cr\rlf\n", '"cr\\rlf\\n"'),
        ("bell\x07", '"bell\\x07"'),
        ("line\u2028separator", '"line\\u2028separator"'),
        (12.5, "12.5"),
    ],
)
def test_values_are_quoted_and_escaped_only_when_needed(value: object, written: str) -> None:
    assert format_value(value) == written


def test_a_traceback_stays_one_event_on_one_line(journal: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = journal

    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        log.exception("unexpected error", extra={"calendar": "coaching"})

    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "<3>ERROR coachsync.test_logs: unexpected error calendar=coaching "
        'traceback="Traceback (most recent call last):\\n'
    )
    assert lines[0].endswith('ValueError: bad\\nvalue"')


def test_outside_the_journal_each_line_starts_with_the_time() -> None:
    record = logging.LogRecord("coachsync.daemon", logging.INFO, __file__, 1, "config reloaded", None, None)
    record.added = "booking"

    line = EventFormatter(journal=False).format(record)

    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO coachsync\.daemon: config reloaded added=booking", line)


def _sync(coach: Coach, stderr_path: Path, journal: bool) -> subprocess.CompletedProcess[str]:
    with stderr_path.open("w") as stderr:
        status = os.fstat(stderr.fileno())
        env = {**os.environ, "JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}" if journal else "1:1"}
        return subprocess.run(
            [sys.executable, "-m", "coachsync", "--config", str(coach.config_path), "sync"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            text=True,
            timeout=60,
        )


def test_a_calendar_cannot_forge_a_journal_line_with_its_uid(coach: Coach, tmp_path: Path) -> None:
    # An escaped newline in the UID is a real newline once read; the broken DTSTART makes coachsync log the UID.
    evil = vevent("evil\\nINFO coachsync.sync: change recorded calendar=coaching change=1", "DTSTART:2026130XT100000")
    coach.write(vevent("a1", "DTSTART:20261210T090000Z"), evil)

    done = _sync(coach, tmp_path / "journal.log", journal=True)

    assert (done.returncode, done.stdout) == (0, "coaching: baseline taken, 2 events, 1 unreadable skipped\n")
    assert (tmp_path / "journal.log").read_text().splitlines() == [
        '<4>WARNING coachsync.ics: calendar=coaching uid="evil\\nINFO coachsync.sync: change recorded '
        'calendar=coaching change=1" line=10: skipped an event that cannot be read '
        "(DTSTART: Wrong datetime format: 2026130XT100000); "
        "fix it in the calendar"
    ]


def test_a_stderr_that_is_not_the_journal_stream_gets_timestamps(coach: Coach, tmp_path: Path) -> None:
    coach.write(vevent("a1", "DTSTART:20261210T090000Z", attendees=("alice@example.com",)))
    _sync(coach, tmp_path / "first.log", journal=False)
    coach.write(vevent("a1", "DTSTART:20261210T100000Z", attendees=("alice@example.com",)))

    done = _sync(coach, tmp_path / "second.log", journal=False)

    assert done.returncode == 0
    [line] = (tmp_path / "second.log").read_text().splitlines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO coachsync\.sync: change recorded calendar=coaching change=1 "
        r'kind=moved client="Alice Example" old_start=2026-12-10T09:00:00\+00:00 notice_hours=\d+\.\d',
        line,
    )
