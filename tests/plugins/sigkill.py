"""Kills its own process with SIGKILL while a pass is being recorded, when COACHSYNC_TEST_SIGKILL=1.

It runs after the built-in policies of the same change (plugins run in name
order), so their actions are in the open transaction when the process dies.
"""

from __future__ import annotations

import os
import signal

from coachsync.api import Record, hookimpl


@hookimpl
def coachsync_on_change(record: Record) -> None:
    if os.environ.get("COACHSYNC_TEST_SIGKILL") == "1":
        os.kill(os.getpid(), signal.SIGKILL)
