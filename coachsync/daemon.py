"""`coachsync run`: keep every calendar's history up to date until told to stop.

File calendars wake on filesystem events (debounced, so an editor's several
writes make one pass); URL calendars poll with jitter. A calendar whose read
fails is retried with exponential backoff and never stops the others.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from .app import App, PassFailure, utc_now
from .errors import CoachsyncError

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600.0
FIRST_RETRY_SECONDS = 5.0


@dataclass
class _Schedule:
    """When each calendar is next due, how many times in a row it failed, and which were
    written to while their pass ran (their watcher-set due time must survive that pass)."""

    due: dict[str, float] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    written_during_pass: set[str] = field(default_factory=set)


class _FileEvents(FileSystemEventHandler):
    """Marks a file calendar due, `debounce` seconds after the last write to it."""

    def __init__(self, paths: dict[Path, str], mark_due: Callable[[str], None]) -> None:
        self._paths = paths
        self._mark_due = mark_due

    def on_any_event(self, event: FileSystemEvent) -> None:
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if not raw:
                continue
            name = self._paths.get(Path(str(raw)).resolve())
            if name is not None:
                self._mark_due(name)


class Daemon:
    """Keeps every calendar of one config up to date in one process, one pass at a time."""

    def __init__(self, app: App, clock: Callable[[], datetime] = utc_now) -> None:
        self.app = app
        self.clock = clock
        self.stop_event = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._schedule = _Schedule()
        self.last_results: dict[str, str] = {}

    def stop(self) -> None:
        self.stop_event.set()
        self._wake.set()

    def _mark_due(self, name: str) -> None:
        with self._lock:
            self._schedule.due[name] = time.monotonic() + self.app.config.debounce_seconds
            self._schedule.written_during_pass.add(name)
        self._wake.set()

    def _poll_delay(self, name: str) -> float:
        # File calendars are woken by the watcher; polling them too is a cheap safety net
        # (an unchanged file costs one read and a hash) for file systems that send no events.
        calendar = next(c for c in self.app.config.calendars if c.name == name)
        return calendar.poll_interval * random.uniform(0.9, 1.1)

    def _retry_delay(self, name: str) -> float:
        failures = self._schedule.failures.get(name, 0)
        base = min(FIRST_RETRY_SECONDS * 2 ** max(failures - 1, 0), MAX_BACKOFF_SECONDS)
        return base * random.uniform(0.8, 1.2)

    def run_once(self, name: str) -> None:
        """One pass over one calendar, then schedule its next one."""
        with self._lock:
            self._schedule.written_during_pass.discard(name)
        try:
            report = self.app.sync_calendar(name, self.clock())
        except Exception as error:  # one calendar's failure must never stop the others
            self._schedule.failures[name] = self._schedule.failures.get(name, 0) + 1
            delay = self._retry_delay(name)
            if isinstance(error, CoachsyncError):
                log.warning("calendar=%s pass failed, retry in %.0fs: %s", name, delay, error)
                self.last_results[name] = PassFailure(name, error).summary()
            else:
                log.exception("calendar=%s unexpected error, retry in %.0fs", name, delay)
                self.last_results[name] = f"{name}: FAILED: unexpected {type(error).__name__}"
        else:
            self._schedule.failures.pop(name, None)
            delay = self._poll_delay(name)
            self.last_results[name] = report.summary()
            log.info("%s", report.summary())
        with self._lock:
            if name not in self._schedule.written_during_pass:  # else the watcher already set it due
                self._schedule.due[name] = time.monotonic() + delay

    def _start_watcher(self) -> BaseObserver | None:
        paths = {c.ics_file.resolve(): c.name for c in self.app.config.calendars if c.ics_file is not None}
        if not paths:
            return None
        observer = Observer()
        handler = _FileEvents(paths, self._mark_due)
        for directory in {path.parent for path in paths}:
            observer.schedule(handler, str(directory), recursive=False)
        observer.daemon = True
        observer.start()
        return observer

    def run(self) -> None:
        """Pass over every calendar now, then whenever one is due, until stop() is called."""
        observer = self._start_watcher()
        try:
            for name in self.app.sources:
                if self.stop_event.is_set():
                    break
                self.run_once(name)
            while not self.stop_event.is_set():
                with self._lock:
                    name, due = min(self._schedule.due.items(), key=lambda item: item[1], default=("", float("inf")))
                wait = due - time.monotonic()
                if wait > 0:
                    self._wake.wait(timeout=min(wait, 60.0))
                    self._wake.clear()
                    continue
                self.run_once(name)
        finally:
            if observer is not None:
                observer.stop()
                observer.join(timeout=5)
