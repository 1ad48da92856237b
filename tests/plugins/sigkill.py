"""Kills its own process with SIGKILL while a pass (COACHSYNC_TEST_SIGKILL=1) or the daily run
(COACHSYNC_TEST_SIGKILL=daily) is being recorded.

It runs after the built-in policies of the same change (plugins run in name
order), so their actions are in the open transaction when the process dies.
"""

from __future__ import annotations

import os
import signal

from coachsync.api import ClientInfo, Record, hookimpl


@hookimpl
def coachsync_on_change(record: Record) -> None:
    if os.environ.get("COACHSYNC_TEST_SIGKILL") == "1":
        os.kill(os.getpid(), signal.SIGKILL)


@hookimpl
def coachsync_daily(client: ClientInfo) -> None:
    if os.environ.get("COACHSYNC_TEST_SIGKILL") == "daily":
        os.kill(os.getpid(), signal.SIGKILL)
