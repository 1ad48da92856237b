"""Shared fixtures: a coach's directory with a config and a calendar file, the coach's app, a web server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from coachsync.app import App
from coachsync.config import load_config
from coachsync.store import Store

from support.http_calendar import FakeCalendarServer, serve
from support.scenario import Coach, OpenApp


@pytest.fixture(autouse=True)
def _own_cache_directory(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Config snapshots (coachsync.reading) go to a directory of each test's own, never the user's cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def coach(tmp_path: Path) -> Coach:
    return Coach(tmp_path)


@pytest.fixture
def open_app() -> Iterator[OpenApp]:
    """Open the app of a coach or of a config file (again, as after a restart); each is closed when the test ends."""
    opened: list[App] = []

    def open_one(where: Coach | Path) -> App:
        config = load_config(where.config_path if isinstance(where, Coach) else where)
        application = App(config, Store(config.database))
        opened.append(application)
        return application

    yield open_one
    for application in opened:
        application.store.close()


@pytest.fixture
def app(coach: Coach, open_app: OpenApp) -> App:
    return open_app(coach)


@pytest.fixture
def server() -> Iterator[FakeCalendarServer]:
    """A calendar web server on 127.0.0.1, stopped after the test."""
    with serve(FakeCalendarServer()) as httpd:
        yield httpd
