"""Waiting for something another thread or process does, with a deadline instead of a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(condition: Callable[[], bool], seconds: float = 20.0, interval: float = 0.05) -> None:
    """Return as soon as `condition()` is true; fail the test when it is still false after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {seconds:g} s")
        time.sleep(interval)
