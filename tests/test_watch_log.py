"""A log file inside the watched folder: the daemon reacts to the calendar files alone, so its own
log lines never wake it or log again."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.ical import HOUR, session
from support.scenario import Coach
from support.wait import wait_for


def test_a_debug_log_inside_the_watched_folder_does_not_feed_itself(tmp_path: Path) -> None:
    start = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0, second=0, minute=0)
    coach = Coach(tmp_path, extra_yaml="debounce_seconds: 0.2\n")
    coach.write(session("alice-1", start))
    log_path = tmp_path / "coachsync.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "coachsync", "--config", str(coach.config_path), "--log-level", "debug", "run"],
            stderr=log_file,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        wait_for(lambda: "baseline taken" in log_path.read_text())
        time.sleep(1.0)
        settled = log_path.stat().st_size
        time.sleep(1.5)
        later = log_path.stat().st_size
        coach.write(session("alice-1", start + 2 * HOUR))
        wait_for(lambda: "1 recorded (1 moved)" in log_path.read_text())
    finally:
        process.terminate()
        process.wait(timeout=15)

    assert later == settled
    assert settled < 20_000
