"""Shared fixtures: a coach's directory with a config and a calendar file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from http_calendar import FakeCalendarServer, serve
from scenario import Coach

from coachsync.app import App


@pytest.fixture
def coach(tmp_path: Path) -> Coach:
    return Coach(tmp_path)


@pytest.fixture
def app(coach: Coach) -> Iterator[App]:
    application = coach.app()
    yield application
    application.store.close()


@pytest.fixture
def server() -> Iterator[FakeCalendarServer]:
    """A calendar web server on 127.0.0.1, stopped after the test."""
    with serve(FakeCalendarServer()) as httpd:
        yield httpd
