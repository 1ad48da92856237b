"""`coachsync run`: keep every calendar's history up to date until told to stop.

File calendars wake on filesystem events (debounced, so an editor's several
writes make one pass); URL and CalDAV calendars poll with jitter. A calendar whose read
fails is retried with exponential backoff and never stops the others.
SIGHUP (`request_reload`) swaps in the config file's current content between
passes; a config that does not load leaves the running one in place. After
each pass, good or failed, the week's digest is queued once it is due and the
outbox is delivered.
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

from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from .app import App, PassFailure, utc_now
from .config import Config, load_config
from .errors import CoachsyncError
from .notify import Notifier
from .sync import Outcome, PassReport

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600.0
FIRST_RETRY_SECONDS = 5.0
_WRITE_EVENTS = frozenset(
    {
        EVENT_TYPE_CREATED,
        EVENT_TYPE_MODIFIED,
        EVENT_TYPE_MOVED,
        EVENT_TYPE_DELETED,
        EVENT_TYPE_CLOSED,  # closed after writing
    }
)


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
        # Only writes count: the pass's own read sends "opened" and "closed_no_write", which would
        # otherwise wake another pass, whose read wakes another, every debounce_seconds forever.
        if event.event_type not in _WRITE_EVENTS:
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if not raw:
                continue
            name = self._paths.get(Path(str(raw)).resolve())
            if name is not None:
                self._mark_due(name)


class Daemon:
    """Keeps every calendar of one config up to date in one process, one pass at a time."""

    def __init__(self, app: App, clock: Callable[[], datetime] = utc_now, notifier: Notifier | None = None) -> None:
        self.app = app
        self.clock = clock
        self.notifier = notifier or Notifier()
        self.stop_event = threading.Event()
        self._reload_requested = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._schedule = _Schedule()
        self._observer: BaseObserver | None = None
        self._next_ping = 0.0
        self.last_results: dict[str, str] = {}
        self.last_passes: dict[str, str] = {}  # per calendar, short, for systemd's STATUS= line

    def stop(self) -> None:
        self.stop_event.set()
        self._wake.set()

    def request_reload(self) -> None:
        """Reload the config after the current pass; safe to call from a signal handler."""
        self._reload_requested.set()
        self._wake.set()

    def status_line(self) -> str:
        """`coaching: unchanged at 14:03:22; booking: failed at 14:03:25`, in config order."""
        return "; ".join(f"{name}: {self.last_passes[name]}" for name in self.app.sources if name in self.last_passes)

    def _record_pass(self, name: str, what: str) -> None:
        at = self.clock().astimezone(self.app.zone).strftime("%H:%M:%S")
        self.last_passes[name] = f"{what} at {at}"
        self.notifier.status(self.status_line())

    def _keep_alive(self) -> None:
        """WATCHDOG=1 at a quarter of systemd's watchdog timeout: twice as often as sd_watchdog_enabled(3) asks."""
        interval = self.notifier.watchdog_interval
        now = time.monotonic()
        if interval is not None and now >= self._next_ping:
            self.notifier.watchdog()
            self._next_ping = now + interval / 2

    def _until_ping(self) -> float:
        if self.notifier.watchdog_interval is None:
            return float("inf")
        return max(self._next_ping - time.monotonic(), 0.0)

    def _mark_due(self, name: str) -> None:
        with self._lock:
            if name not in self.app.sources:  # a late event from the watcher of a config reloaded away
                return
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
                log.warning("pass failed, retry in %.0fs: %s", delay, error, extra={"calendar": name})
                self.last_results[name] = PassFailure(name, error).summary()
            else:
                log.exception("unexpected error, retry in %.0fs", delay, extra={"calendar": name})
                self.last_results[name] = f"{name}: FAILED: unexpected {type(error).__name__}"
            self._record_pass(name, "failed")
        else:
            failed_passes = self._schedule.failures.pop(name, 0)
            if failed_passes:
                log.info("calendar read again after %d failed pass(es)", failed_passes, extra={"calendar": name})
            delay = self._poll_delay(name)
            self.last_results[name] = report.summary()
            open_failures = len(self.app.open_policy_failures(name))
            if open_failures:
                self.last_results[name] += f"; {open_failures} policy failure(s), see `coachsync check`"
            # An idle calendar is read every few minutes for months: only what changed is worth a line.
            level = logging.DEBUG if report.outcome is Outcome.UNCHANGED else logging.INFO
            log.log(level, "%s", report.summary(), extra={"calendar": name})
            self._record_pass(name, _short(report))
            self._run_daily()
        # After a failed pass too: the digest tells the coach which calendars are failing, and it (or any
        # other message) must not wait in the outbox for a calendar that is down to be read again.
        self._weekly_digest()
        self._deliver_mail()
        with self._lock:
            if name not in self._schedule.written_during_pass:  # else the watcher already set it due
                self._schedule.due[name] = time.monotonic() + delay

    def _run_daily(self) -> None:
        """After the first good pass of a day, the daily hooks (a no-op the rest of the day)."""
        try:
            self.app.run_daily(self.clock())
        except Exception as error:  # a daily hook's trouble must never stop the calendars being watched
            log.warning("daily run failed: %s", error)

    def _weekly_digest(self) -> None:
        """Queue the week's digest once it is due (one lookup the rest of the week)."""
        try:
            queued = self.app.queue_weekly_digest(self.clock())
        except Exception as error:  # the digest's trouble must never stop the calendars being watched
            log.warning("weekly digest failed: %s", error)
            return
        if queued is not None:
            log.info("weekly digest queued as outbox message %d", queued.id)

    def _deliver_mail(self) -> None:
        """After each pass: what it queued, and earlier retries now due (cheap when nothing is)."""
        try:
            report = self.app.deliver_mail(self.clock())
        except Exception as error:  # mail trouble must never stop the calendars being watched
            log.warning("mail delivery failed: %s", error)
            return
        if report:
            log.info("%s", report.summary())

    def _start_watcher(self) -> BaseObserver | None:
        paths = {c.ics_file.resolve(): c.name for c in self.app.config.calendars if c.ics_file is not None}
        if not paths:
            return None
        # watchdog logs every raw event in the watched folders at debug level, before any handler
        # sees it: a log file in a calendar's folder would then log its own writes, forever.
        # Only the calendar files matter (see _FileEvents), so its own lines stay at info and above.
        logging.getLogger("watchdog").setLevel(max(logging.INFO, logging.getLogger().getEffectiveLevel()))
        observer = Observer()
        handler = _FileEvents(paths, self._mark_due)
        for directory in {path.parent for path in paths}:
            observer.schedule(handler, str(directory), recursive=False)
        observer.daemon = True
        observer.start()
        return observer

    def _stop_watcher(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None

    def _between_passes(self) -> None:
        self._keep_alive()
        if self._reload_requested.is_set():
            self._reload_requested.clear()
            self.reload()

    def reload(self) -> bool:
        """Swap in the config file's current content; a config that does not load is logged and the old one kept."""
        self.notifier.reloading()
        path = self.app.config.path
        try:
            new_app = self._open_app(load_config(path))
        except CoachsyncError as error:
            log.error("config reload rejected, keeping the running config: %s", error)
            self.notifier.ready()
            return False
        except Exception:  # e.g. a plugin that raises while loading: the running config stays
            log.exception("config reload failed, keeping the running config", extra={"config": str(path)})
            self.notifier.ready()
            return False
        old_app = self.app
        self._stop_watcher()
        with self._lock:
            self.app = new_app
            old_calendars = {c.name: c for c in old_app.config.calendars}
            schedule = self._schedule
            for name in set(old_calendars) - set(new_app.sources):
                schedule.due.pop(name, None)
                schedule.failures.pop(name, None)
                schedule.written_during_pass.discard(name)
                self.last_results.pop(name, None)
                self.last_passes.pop(name, None)
            now = time.monotonic()
            for calendar in new_app.config.calendars:
                # New or changed calendars pass now; so do files, whose writes during the swap had no watcher.
                if old_calendars.get(calendar.name) != calendar or calendar.ics_file is not None:
                    schedule.due[calendar.name] = now
        self._observer = self._start_watcher()
        if new_app.store is not old_app.store:
            old_app.store.close()
        added = [name for name in new_app.sources if name not in old_calendars]
        removed = [name for name in old_calendars if name not in new_app.sources]
        log.info(
            "config reloaded",
            extra={"config": str(path), "added": ",".join(added) or "-", "removed": ",".join(removed) or "-"},
        )
        self.notifier.ready(self.status_line())
        return True

    def _open_app(self, config: Config) -> App:
        """Keep the open store unless `database` changed: reopening the same file would gain nothing."""
        # Both load the plugins now, so one that cannot load is found while the running config still runs.
        if config.database == self.app.config.database:
            return App(config, self.app.store)
        return App.open(config)

    def run(self) -> None:
        """Pass over every calendar now, then whenever one is due, until stop() is called."""
        self._observer = self._start_watcher()
        # The App passed in was built from a checked config, an open database and loaded plugins.
        self.notifier.ready("starting: first pass over every calendar")
        try:
            with self._lock:
                start = time.monotonic()
                for name in self.app.sources:
                    self._schedule.due.setdefault(name, start)
            while not self.stop_event.is_set():
                self._between_passes()
                with self._lock:
                    name, due = min(self._schedule.due.items(), key=lambda item: item[1], default=("", float("inf")))
                wait = due - time.monotonic()
                if wait > 0:
                    self._wake.wait(timeout=min(wait, 60.0, self._until_ping()))
                    self._wake.clear()
                    continue
                if name not in self.app.sources:  # dropped by a reload
                    with self._lock:
                        self._schedule.due.pop(name, None)
                    continue
                self.run_once(name)
        finally:
            self.notifier.stopping()
            self._stop_watcher()


def _short(report: PassReport) -> str:
    """A pass in two or three words, for a status line that must fit on one line."""
    if report.outcome is Outcome.UPDATED:
        return f"{len(report.changes)} recorded" if report.changes else "no reschedules"
    return "baseline taken" if report.outcome is Outcome.BASELINE else "unchanged"
