"""A policy that kills its process mid-pass when $COACHSYNC_TEST_CRASH is set, like a power cut."""

from __future__ import annotations

import os

from coachsync.api import Record, hookimpl


@hookimpl
def coachsync_on_change(record: Record) -> list[object]:
    if os.environ.get("COACHSYNC_TEST_CRASH"):
        os._exit(86)  # the process dies inside the pass's transaction, after the change row is written
    return []
