"""A source reads at most `max_calendar_mb` of one calendar: a gzip bomb or an endless body stops early.

Real files and a real HTTP server on 127.0.0.1; peak memory is measured with
tracemalloc while the source reads.
"""

from __future__ import annotations

import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from coachsync.config import load_config
from coachsync.errors import SourceError
from coachsync.sources import IcsFileSource, IcsUrlSource
from coachsync.sources.base import Fetched

from support.config_files import error, write
from support.http_calendar import CALENDAR, FakeCalendarServer, Route, serve

MB = 1024 * 1024
HEAD = CALENDAR[: CALENDAR.index("BEGIN:VEVENT")].encode()
FILLER = b"X-FILLER:" + b"a" * 70 + b"\r\n"
BOMB_MB = 256


def _too_large(origin: str, limit: str, decompressed: bool = False) -> str:
    return (
        f"{origin}: calendar is larger than max_calendar_mb ({limit} MB)"
        f"{' once decompressed' if decompressed else ''}; reading stopped there; "
        "raise max_calendar_mb for this calendar if it really is this large"
    )


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """About 0.5 MB of gzip that inflates to a calendar head and BOMB_MB of filler lines."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = FILLER * (MB // len(FILLER))
    parts = [packer.compress(HEAD)]
    parts.extend(packer.compress(block) for _ in range(BOMB_MB))
    parts.append(packer.flush())
    return b"".join(parts)


@pytest.fixture
def server() -> Iterator[FakeCalendarServer]:
    with serve(FakeCalendarServer()) as httpd:
        yield httpd


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False
        yield s


def _peak(read: Callable[[], Fetched]) -> tuple[SourceError, float, int]:
    """The error `read` raises, how long it took, and the peak of memory allocated meanwhile."""
    tracemalloc.start()
    began = time.monotonic()
    try:
        with pytest.raises(SourceError) as info:
            read()
        return info.value, time.monotonic() - began, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_gzip_bomb_stops_at_the_cap_with_little_memory(
    server: FakeCalendarServer, session: requests.Session, gzip_bomb: bytes
) -> None:
    assert len(gzip_bomb) < MB
    server.routes["/cal.ics"] = Route(
        body=gzip_bomb, headers={"Content-Type": "text/calendar", "Content-Encoding": "gzip"}
    )
    source = IcsUrlSource("coaching", server.url("/cal.ics"), session=session, max_calendar_mb=2)

    problem, _, peak = _peak(lambda: source.fetch({}))

    assert str(problem) == _too_large(source.origin, "2", decompressed=True)
    assert peak < 12 * MB, f"peak {peak / MB:.1f} MB"


def test_an_endless_body_stops_at_the_cap_long_before_the_timeout(
    server: FakeCalendarServer, session: requests.Session
) -> None:
    server.routes["/cal.ics"] = Route(body=HEAD, endless=FILLER)
    source = IcsUrlSource("coaching", server.url("/cal.ics"), timeout=30, session=session, max_calendar_mb=1.5)

    problem, took, peak = _peak(lambda: source.fetch({}))

    assert str(problem) == _too_large(source.origin, "1.5")
    assert took < 10
    assert peak < 8 * MB, f"peak {peak / MB:.1f} MB"


def test_a_calendar_of_exactly_the_cap_is_read(server: FakeCalendarServer, session: requests.Session) -> None:
    pad = MB - len(CALENDAR) - len("X-FILLER:\r\n")
    body = CALENDAR.replace("BEGIN:VEVENT", "X-FILLER:" + "a" * pad + "\r\nBEGIN:VEVENT").encode()
    assert len(body) == MB
    server.routes["/cal.ics"] = Route(body=body)

    fetched = IcsUrlSource("coaching", server.url("/cal.ics"), session=session, max_calendar_mb=1).fetch({})

    assert fetched.text == body.decode()


def test_a_file_over_the_cap_is_refused_and_one_under_it_read(tmp_path: Path) -> None:
    path = tmp_path / "coaching.ics"
    path.write_bytes(HEAD + FILLER * (3 * MB // len(FILLER)) + CALENDAR[len(HEAD) :].encode())
    source = IcsFileSource("coaching", path, max_calendar_mb=2)

    problem, _, peak = _peak(lambda: source.fetch({}))
    path.write_bytes(CALENDAR.encode())

    assert str(problem) == _too_large(source.origin, "2")
    assert peak < 8 * MB, f"peak {peak / MB:.1f} MB"
    assert source.fetch({}).text == CALENDAR


def test_max_calendar_mb_defaults_to_64_per_calendar(tmp_path: Path) -> None:
    (tmp_path / "a.ics").write_text(CALENDAR, encoding="utf-8")
    path = write(
        tmp_path,
        """
        calendars:
          - name: a
            ics_file: a.ics
          - name: b
            ics_file: a.ics
            max_calendar_mb: 200
        """,
    )

    assert [c.max_calendar_mb for c in load_config(path).calendars] == [64, 200]


def test_max_calendar_mb_must_be_positive(tmp_path: Path) -> None:
    (tmp_path / "a.ics").write_text(CALENDAR, encoding="utf-8")
    path = write(
        tmp_path,
        """
        calendars:
          - name: a
            ics_file: a.ics
            max_calendar_mb: 0
        """,
    )

    assert error(path) == f"{path}:4: calendars[0].max_calendar_mb: must be greater than 0, got 0"
