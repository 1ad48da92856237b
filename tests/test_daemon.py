"""`coachsync run` as a real process: it wakes on file writes and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from coachsync.daemon import Daemon
from coachsync.store import Store

from support.http_calendar import FakeCalendarServer, Route
from support.ical import HOUR, session, vcalendar
from support.scenario import Coach, OpenApp
from support.wait import wait_for

START = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0, second=0, minute=0)


@pytest.fixture
def daemon_coach(tmp_path) -> Coach:  # type: ignore[no-untyped-def]
    coach = Coach(tmp_path, extra_yaml="debounce_seconds: 0.3\n")
    coach.write(session("alice-1", START))
    return coach


@pytest.fixture
def daemon(daemon_coach: Coach) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "coachsync", "--config", str(daemon_coach.config_path), "run"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def kinds(coach: Coach) -> list[str]:
    database = coach.root / "state" / "coachsync.db"
    if not database.exists():
        return []
    with Store(database) as store:
        return [record.change.kind.value for record in store.history.records()]


def baseline_taken(coach: Coach) -> bool:
    database = coach.root / "state" / "coachsync.db"
    if not database.exists():
        return False
    with Store(database) as store:
        return store.snapshots.state("coaching") is not None


def test_daemon_records_a_move_when_the_file_changes_and_stops_on_sigterm(
    daemon_coach: Coach, daemon: subprocess.Popen[str]
) -> None:
    wait_for(lambda: baseline_taken(daemon_coach))

    daemon_coach.write(session("alice-1", START + 2 * HOUR))
    wait_for(lambda: kinds(daemon_coach) == ["moved"])
    daemon.send_signal(signal.SIGTERM)

    assert daemon.wait(timeout=15) == 0
    assert "received SIGTERM" in daemon.stderr.read()  # type: ignore[union-attr]


def test_half_written_file_is_retried_not_read_as_cancellations(
    daemon_coach: Coach, daemon: subprocess.Popen[str]
) -> None:
    wait_for(lambda: baseline_taken(daemon_coach))
    complete = vcalendar(session("alice-1", START + 3 * HOUR))

    daemon_coach.write_raw(complete[: len(complete) // 2])
    time.sleep(1.0)  # the watcher fires on the partial write; that pass must fail and record nothing
    assert kinds(daemon_coach) == []
    daemon_coach.write_raw(complete)
    wait_for(lambda: kinds(daemon_coach) == ["moved"])
    daemon.send_signal(signal.SIGINT)

    assert daemon.wait(timeout=15) == 0
    assert "calendar is cut off" in daemon.stderr.read()  # type: ignore[union-attr]


def test_url_calendar_is_polled_and_a_failing_calendar_does_not_stop_the_others(
    tmp_path,  # type: ignore[no-untyped-def]
    server: FakeCalendarServer,
    open_app: OpenApp,
) -> None:
    coach = Coach(tmp_path)
    coach.write(session("alice-1", START))
    server.routes["/booking.ics"] = Route(body=vcalendar(session("b1", START + 24 * HOUR)).encode())
    coach.config_path.write_text(
        coach.config_path.read_text().replace(
            "calendars:\n",
            "calendars:\n"
            f"  - name: booking\n    ics_url: {server.url('/booking.ics')}\n    poll_interval: 0.2\n"
            f"  - name: broken\n    ics_url: {server.url('/missing.ics')}\n    poll_interval: 0.2\n",
        )
    )
    app = open_app(coach)
    daemon = Daemon(app)
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        wait_for(lambda: daemon.last_results.get("booking") == "booking: baseline taken, 1 events")
        server.routes["/booking.ics"] = Route(body=vcalendar(session("b1", START + 26 * HOUR)).encode())
        wait_for(lambda: "1 recorded (1 moved)" in daemon.last_results.get("booking", ""))
    finally:
        daemon.stop()
        thread.join(timeout=10)

    assert not thread.is_alive()
    assert "answered HTTP 404" in daemon.last_results["broken"]
    assert daemon.last_results["coaching"] == "coaching: baseline taken, 1 events"


def test_a_write_during_a_pass_gets_a_pass_of_its_own(daemon_coach: Coach, open_app: OpenApp) -> None:
    app = open_app(daemon_coach)
    daemon = Daemon(app)
    real_source = app.sources["coaching"]
    fetches: list[float] = []

    class WrittenWhileReading:
        name = real_source.name

        def fetch(self, state):  # type: ignore[no-untyped-def]
            fetches.append(time.monotonic())
            fetched = real_source.fetch(state)
            if len(fetches) == 1:
                # the coach saves just after the pass read the file
                daemon_coach.write(session("alice-1", START + HOUR))
                wait_for(lambda: daemon._schedule.written_during_pass == {"coaching"}, 5)
                time.sleep(0.5)  # let every event of that write arrive while this pass still runs
            return fetched

    app.sync_calendar("coaching", datetime.now(UTC))  # baseline
    app.sources["coaching"] = WrittenWhileReading()
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        wait_for(lambda: len(fetches) >= 2, 10)  # poll_interval is 300 s: only the watcher explains this
        wait_for(lambda: "1 recorded (1 moved)" in daemon.last_results.get("coaching", ""), 10)
    finally:
        daemon.stop()
        thread.join(timeout=10)
