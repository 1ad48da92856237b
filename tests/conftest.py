"""Shared fixtures: a coach's directory with a config and a calendar file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
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
