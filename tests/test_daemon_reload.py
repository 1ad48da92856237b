"""Reloading in-process: calendars dropped, a new database opened, the old one closed; status text for systemd."""

from __future__ import annotations

import socket
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coachsync.daemon import Daemon
from coachsync.notify import Notifier

from support.ical import session, vcalendar, vevent
from support.scenario import Coach, OpenApp
from support.wait import wait_for

START = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0, second=0, minute=0)


def test_reload_drops_a_removed_calendar_and_moves_to_a_new_database(tmp_path: Path, open_app: OpenApp) -> None:
    coach = Coach(tmp_path)
    coach.write(session("a1", START))
    (tmp_path / "booking.ics").write_text(vcalendar(vevent("b1", START)), encoding="utf-8", newline="")
    config = coach.config_path.read_text()
    coach.config_path.write_text(
        config.replace("calendars:\n", "calendars:\n  - name: booking\n    ics_file: booking.ics\n")
    )
    app = open_app(coach)
    old_store = app.store
    daemon = Daemon(app)
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        wait_for(lambda: set(daemon.last_passes) == {"booking", "coaching"})
        coach.config_path.write_text(config.replace("database: state/coachsync.db", "database: other/coachsync.db"))
        daemon.request_reload()
        wait_for(lambda: daemon.app is not app and "coaching" in daemon.last_results)
        wait_for(lambda: daemon.last_passes.get("coaching", "").startswith("baseline taken"))
    finally:
        daemon.stop()
        thread.join(timeout=10)

    assert not thread.is_alive()
    assert set(daemon.last_passes) == {"coaching"}
    assert daemon.status_line().startswith("coaching: baseline taken at ")
    assert daemon.app.store.path == tmp_path / "other" / "coachsync.db"
    with pytest.raises(sqlite3.ProgrammingError):  # closed once the new database took over
        old_store.snapshots.state("coaching")
    daemon.app.store.close()


def test_status_reaches_systemd_as_utf8_on_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    systemd.bind(str(tmp_path / "notify.sock"))
    systemd.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)

    notifier = Notifier.from_environment()
    notifier.status("Carmen Díaz: unchanged\nREADY=1")
    notifier.watchdog()

    assert notifier.watchdog_interval == 15.0
    assert systemd.recv(4096) == "STATUS=Carmen Díaz: unchanged\\nREADY=1".encode()
    assert systemd.recv(4096) == b"WATCHDOG=1"
    systemd.close()


def test_without_notify_socket_nothing_is_sent_and_there_is_no_watchdog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")

    notifier = Notifier.from_environment()
    notifier.ready("x")

    assert notifier.watchdog_interval is None


def test_a_watchdog_meant_for_another_process_is_not_ours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", "1")

    assert Notifier.from_environment().watchdog_interval is None
