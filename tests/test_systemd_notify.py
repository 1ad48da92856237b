"""`coachsync run` under a stand-in for systemd: a real AF_UNIX datagram socket as $NOTIFY_SOCKET.

The daemon runs as a real process, so signals, the notify protocol and the
journal log format are exercised exactly as systemd would see them.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coachsync.store import Store

from support.ical import HOUR, session, vcalendar
from support.scenario import Coach
from support.wait import wait_for

START = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0, second=0, minute=0)
WATCHDOG_USEC = 400_000  # the daemon must ping every 0.2 s at the latest
CLOCK = r"\d\d:\d\d:\d\d"


class SystemdStandIn:
    """Receives sd_notify datagrams in order, as systemd's notify socket would."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(path))
        self.socket.settimeout(0.1)
        self.messages: list[str] = []

    def _receive(self) -> None:
        try:
            self.messages.append(self.socket.recv(4096).decode("utf-8"))
        except TimeoutError:
            pass

    def wait_for(self, wanted: Callable[[str], bool], after: int = 0, seconds: float = 20.0) -> int:
        """Index of the first message from `after` on that is wanted, receiving until it arrives."""
        deadline = time.monotonic() + seconds
        while True:
            for index in range(after, len(self.messages)):
                if wanted(self.messages[index]):
                    return index
            if time.monotonic() > deadline:
                raise AssertionError(f"no such message; received {self.messages}")
            self._receive()

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._receive()


class Service:
    """`coachsync run` started the way systemd starts a Type=notify unit, its stderr a journal-like file."""

    def __init__(self, coach: Coach, tmp_path: Path) -> None:
        run = tmp_path / "run"  # the calendar directory's watcher is not recursive: it never sees the journal
        run.mkdir()
        self.systemd = SystemdStandIn(run / "notify.sock")
        self.log_path = run / "journal.log"
        log_file = self.log_path.open("w")
        status = os.fstat(log_file.fileno())
        env = {
            **os.environ,
            "NOTIFY_SOCKET": str(self.systemd.path),
            "WATCHDOG_USEC": str(WATCHDOG_USEC),
            "JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "coachsync", "--config", str(coach.config_path), "run"],
            stderr=log_file,
            env=env,
        )
        log_file.close()

    def log(self) -> list[str]:
        return self.log_path.read_text(encoding="utf-8").splitlines()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=15)


@pytest.fixture
def coach(tmp_path: Path) -> Coach:
    coach = Coach(tmp_path, extra_yaml="debounce_seconds: 0.2\n")
    coach.write(session("alice-1", START))
    return coach


@pytest.fixture
def service(coach: Coach, tmp_path: Path) -> Iterator[Service]:
    started = Service(coach, tmp_path)
    yield started
    if started.process.poll() is None:
        started.process.kill()
        started.process.wait()
    started.systemd.socket.close()


def history(coach: Coach) -> list[tuple[str, str]]:
    with Store(coach.root / "state" / "coachsync.db") as store:
        return [(r.change.calendar, r.change.kind.value) for r in store.history.records()]


def test_systemd_hears_ready_then_status_and_watchdog_then_stopping(coach: Coach, service: Service) -> None:
    systemd = service.systemd

    ready = systemd.wait_for(lambda m: m.startswith("READY=1"))
    database_at_ready = (coach.root / "state" / "coachsync.db").exists()
    status = systemd.wait_for(lambda m: m.startswith("STATUS=coaching"), after=ready)
    systemd.wait_for(lambda m: systemd.messages[ready:].count("WATCHDOG=1") >= 4, after=ready)
    code = service.stop()
    stopping = systemd.wait_for(lambda m: m == "STOPPING=1")
    systemd.drain(0.3)

    assert code == 0
    assert ready == 0  # nothing, not even a watchdog ping, before the config and database were checked
    assert systemd.messages[ready] == "READY=1\nSTATUS=starting: first pass over every calendar"
    assert database_at_ready
    assert re.fullmatch(rf"STATUS=coaching: baseline taken at {CLOCK}", systemd.messages[status])
    assert stopping == len(systemd.messages) - 1  # the last word
    pings = [index for index, message in enumerate(systemd.messages) if message == "WATCHDOG=1"]
    assert len(pings) >= 4
    assert set(systemd.messages) - {"WATCHDOG=1"} == {
        systemd.messages[ready],
        systemd.messages[status],
        "STOPPING=1",
    }
    assert service.log()[-2:] == [
        "<6>INFO coachsync: received SIGTERM, finishing the current pass",
        "<6>INFO coachsync: stopped",
    ]


def test_watchdog_pings_keep_coming_while_the_daemon_is_idle(service: Service) -> None:
    systemd = service.systemd
    ready = systemd.wait_for(lambda m: m.startswith("READY=1"))
    systemd.wait_for(lambda m: m.startswith("STATUS=coaching"), after=ready)
    before = len(systemd.messages)

    systemd.drain(1.0)  # poll_interval is 300 s: only the watchdog can wake the loop now
    pings = systemd.messages[before:]

    # Every 0.1 s (a quarter of WATCHDOG_USEC); systemd acts after 0.4 s without one, so a loaded machine that
    # delays some pings still must show at least one per 0.4 s, and never a busy loop of them.
    assert set(pings) == {"WATCHDOG=1"}
    assert 3 <= len(pings) <= 12
    assert service.stop() == 0


def test_a_broken_config_on_sighup_is_logged_with_its_line_and_the_old_one_keeps_working(
    coach: Coach, service: Service
) -> None:
    systemd = service.systemd
    systemd.wait_for(lambda m: m.startswith("STATUS=coaching: baseline taken"))
    coach.config_path.write_text("calendars:\n  - name: coaching\n    ics_fle: coaching.ics\n")

    service.process.send_signal(signal.SIGHUP)
    reloading = systemd.wait_for(lambda m: m.startswith("RELOADING=1"))
    systemd.wait_for(lambda m: m == "READY=1", after=reloading)
    coach.write(session("alice-1", START + 2 * HOUR))
    wait_for(lambda: history(coach) == [("coaching", "moved")])

    assert service.process.poll() is None
    assert re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=\d+", systemd.messages[reloading])
    assert (
        f"<3>ERROR coachsync.daemon: config reload rejected, keeping the running config: "
        f"{coach.config_path}:3: calendars[0].ics_fle: unknown key 'ics_fle'; did you mean 'ics_file'?"
    ) in service.log()
    assert service.stop() == 0


def test_a_calendar_added_on_sighup_is_watched_from_then_on(coach: Coach, service: Service) -> None:
    systemd = service.systemd
    systemd.wait_for(lambda m: m.startswith("STATUS=coaching: baseline taken"))
    booking = coach.root / "booking.ics"
    booking.write_text(vcalendar(session("bob-1", START + 24 * HOUR)), encoding="utf-8", newline="")
    coach.config_path.write_text(
        coach.config_path.read_text().replace(
            "calendars:\n", "calendars:\n  - name: booking\n    ics_file: booking.ics\n"
        )
    )

    service.process.send_signal(signal.SIGHUP)
    added = systemd.wait_for(lambda m: "booking: baseline taken" in m)
    booking.write_text(vcalendar(session("bob-1", START + 26 * HOUR)), encoding="utf-8", newline="")
    wait_for(lambda: history(coach) == [("booking", "moved")])

    assert re.fullmatch(
        rf"STATUS=booking: baseline taken at {CLOCK}; coaching: (baseline taken|unchanged) at {CLOCK}",
        systemd.messages[added],
    )
    assert (
        f"<6>INFO coachsync.daemon: config reloaded config={coach.config_path} added=booking removed=-" in service.log()
    )
    assert service.stop() == 0


def test_a_config_error_at_start_exits_2_and_never_says_ready(tmp_path: Path) -> None:
    systemd = SystemdStandIn(tmp_path / "notify.sock")
    config = tmp_path / "config.yaml"
    config.write_text("calendars:\n  - name: coaching\n    ics_file: missing.ics\n")

    done = subprocess.run(
        [sys.executable, "-m", "coachsync", "--config", str(config), "run"],
        env={**os.environ, "NOTIFY_SOCKET": str(systemd.path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    systemd.drain(0.2)

    assert done.returncode == 2
    assert done.stderr == f"{config}:3: calendars[0].ics_file: file not found: {tmp_path / 'missing.ics'}\n"
    assert systemd.messages == []
