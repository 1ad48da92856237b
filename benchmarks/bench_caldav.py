"""CalDAV sync benchmark: coachsync's incremental sync against a plain full fetch, on a local Radicale.

Loads a calendar of N events (default 2,000, 10,000 and 20,000, generated as in bench_sync.py)
into a real Radicale server on 127.0.0.1 behind a counting WSGI middleware,
then measures side by side in one run:

- baseline: caldav's `calendar.events()` plus parsing each event with
  icalendar, the plain way to read a CalDAV calendar. It has no state, so every
  poll costs what the first one does.
- coachsync: `run_pass` over a `CaldavSource` into an empty SQLite file (the
  first sync, discovery included), then idle polls, one-change polls and
  length-changing edits; at the end, our CPU per poll at each size side by
  side with the smallest, against the targets on how it may grow.

Requests and bytes are what the server's middleware saw (request line, headers
and body both ways). "CPU" is our own: the CPU time of the thread running the
pass (Radicale answers from threads of its own). "Written" is what that thread
wrote (`wchar` in /proc/thread-self/io), less the requests it sent: the
database, its WAL and any temporary file.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import TypeVar

import caldav
import icalendar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from bench_sync import (  # noqa: E402  # the same generated calendar as the file benchmark
    CALENDAR,
    DAYS_AHEAD,
    DAYS_BACK,
    NOW,
    ZONE,
    Session,
    Workload,
    make_clients,
    make_workload,
    render_calendar,
)

from coachsync.clients import ClientMatcher  # noqa: E402
from coachsync.ics import window_around  # noqa: E402
from coachsync.model import ChangeKind  # noqa: E402
from coachsync.sources.caldav import PASSWORD_ENV, CaldavSource  # noqa: E402
from coachsync.store import Store  # noqa: E402
from coachsync.sync import Outcome, PassReport, PassSettings, run_pass  # noqa: E402

from support.caldav_servers import PASSWORD, USERNAME, CaldavServer, running  # noqa: E402

T = TypeVar("T")

IDLE_RUNS = 5
ONE_CHANGE_RUNS = 5
BASELINE_RUNS = 3
TARGET_IDLE_REQUESTS = 1
TARGET_IDLE_BYTES = 2 * 1024
TARGET_ONE_CHANGE_REQUESTS = 3
TARGET_FIRST_SYNC_RATIO = 1.5
# Above this, Radicale answers the baseline's one calendar-query REPORT with 400: no baseline is measured.
MAX_BASELINE_SIZE = 10_000
# Against the smallest size: one-change and idle CPU grow at most this much, plus a few milliseconds.
TARGET_CPU_GROWTH = 1.5
TARGET_ONE_CHANGE_SLACK_MS = 20.0
TARGET_IDLE_SLACK_MS = 5.0
TARGET_EDIT_WRITTEN = 256 * 1024


@dataclass(frozen=True, slots=True)
class Cost:
    """One measured operation: milliseconds, and what crossed the wire."""

    ms: float
    requests: int
    sent: int
    received: int
    cpu_ms: float = 0.0
    written: int = 0

    @property
    def bytes(self) -> int:
        return self.sent + self.received


def check(condition: bool, message: str) -> None:
    """An assert that `python -O` cannot strip: a fast wrong answer is no result."""
    if not condition:
        raise AssertionError(message)


def progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def _written() -> int:
    """Bytes this thread has written through system calls so far (files and sockets alike)."""
    with open("/proc/thread-self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("wchar:"))


def measured(server: CaldavServer, action: Callable[[], T]) -> tuple[Cost, T]:
    gc.collect()
    server.exchanges.clear()
    written = _written()
    start, cpu = time.perf_counter(), time.thread_time()
    result = action()
    ms, cpu_ms = (time.perf_counter() - start) * 1000, (time.thread_time() - cpu) * 1000
    exchanges = list(server.exchanges)
    sent = sum(e.request_bytes for e in exchanges)
    received = sum(e.response_bytes for e in exchanges)
    return Cost(ms, len(exchanges), sent, received, cpu_ms, max(_written() - written - sent, 0)), result


def fastest(costs: Sequence[Cost]) -> Cost:
    """The least CPU of several runs, with the most any of them wrote: noise only ever adds CPU."""
    best = min(costs, key=lambda c: c.cpu_ms)
    return dataclasses.replace(best, written=max(c.written for c in costs))


def stored_state(database: Path) -> int:
    """What the database keeps to sync the calendar: the sync state and every resource row, in bytes."""
    import sqlite3

    with sqlite3.connect(database) as db:
        total = db.execute("SELECT coalesce(sum(length(sync_state)), 0) FROM calendars").fetchone()[0]
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "caldav_resources" in tables:
            total += db.execute(
                "SELECT coalesce(sum(length(href) + length(etag) + length(events) + length(zones) + length(uids)), 0)"
                " FROM caldav_resources"
            ).fetchone()[0]
            total += db.execute("SELECT coalesce(sum(length(body)), 0) FROM caldav_zones").fetchone()[0]
    return int(total)


def resource(session: Session) -> str:
    """One event as a calendar app stores it on a CalDAV server (METHOD is not allowed there)."""
    return render_calendar([session]).replace("METHOD:PUBLISH\r\n", "")


def load(server: CaldavServer, workload: Workload) -> None:
    """Store every event, then list the calendar both ways once.

    Seeded files skip what a PUT makes Radicale do (its item and sync-history caches); these
    unmeasured listings build them, so no measured run pays for a cold server.
    """
    server.seed({f"{session.uid}.ics": resource(session) for session in workload.sessions})
    if len(workload.sessions) <= MAX_BASELINE_SIZE:
        baseline_fetch(server)
    warm = CaldavSource("warm-up", server.url(server.collection), username=USERNAME, timeout=600)
    warm.fetch({})
    server.exchanges.clear()


def baseline_fetch(server: CaldavServer) -> int:
    """The plain full fetch: a fresh client, every event downloaded and parsed."""
    with caldav.DAVClient(
        url=server.url(server.collection), username=USERNAME, password=PASSWORD, enable_rfc6764=False, timeout=600
    ) as client:
        calendar = client.calendar(url=server.url(server.collection))
        events = calendar.events()
        parsed = [icalendar.Calendar.from_ical(event.data) for event in events]
    return len(parsed)


class Passes:
    """Passes the way the daemon runs them: one store, one long-lived source, a clock that moves on."""

    def __init__(self, store: Store, source: CaldavSource, match_client: ClientMatcher) -> None:
        self._store = store
        self._source = source
        self._match_client = match_client
        self._count = 0

    def run(self) -> PassReport:
        now = NOW + timedelta(minutes=self._count)
        self._count += 1
        settings = PassSettings(window_around(now, DAYS_BACK, DAYS_AHEAD), ZONE, self._match_client)
        return run_pass(self._store, self._source, now, settings)


@dataclass(frozen=True, slots=True)
class Result:
    size: int
    calendar_bytes: int
    baseline: Cost | None
    first_sync: Cost
    idle: Cost
    one_change: Cost
    edit: Cost
    state_bytes: int


def bench(size: int, workdir: Path) -> Result:
    clients = make_clients()
    match_client = ClientMatcher.from_settings(clients)
    workload = make_workload(size, clients)
    # The password comes the way a coach's systemd unit could give it: from the environment.
    os.environ[PASSWORD_ENV] = PASSWORD
    with running("radicale", workdir / "radicale") as server:
        progress(f"storing {size:,} events on Radicale")
        load(server, workload)

        baseline = None
        if size <= MAX_BASELINE_SIZE:
            progress("baseline: calendar.events() + icalendar")
            # A large calendar's baseline takes a minute a run; once is enough to compare the first sync with.
            count = BASELINE_RUNS if size <= 2_000 else 1
            runs = [measured(server, lambda: baseline_fetch(server)) for _ in range(count)]
            check(all(n == size for _, n in runs), f"baseline read {[n for _, n in runs]} events, not {size}")
            baseline = min((cost for cost, _ in runs), key=lambda c: c.ms)

        with Store(workdir / "state.sqlite") as store:
            source = CaldavSource(CALENDAR, server.url(server.collection), username=USERNAME, timeout=600)
            passes = Passes(store, source, match_client)

            progress("coachsync: first sync")
            first_sync, report = measured(server, passes.run)
            check(report.outcome is Outcome.BASELINE, f"first sync: expected a baseline, got {report.summary()}")
            check(report.events == size, f"first sync: read {report.events} events, not {size}")

            progress("coachsync: idle polls")
            idle_runs = []
            for _ in range(IDLE_RUNS):
                cost, report = measured(server, passes.run)
                check(report.outcome is Outcome.UNCHANGED, f"idle poll: expected unchanged, got {report.summary()}")
                idle_runs.append(cost)

            progress("coachsync: one-change polls")
            change_runs = []
            for run in range(ONE_CHANGE_RUNS):
                away = run % 2 == 0
                moved = workload.moved_away if away else workload.moved
                server.put(f"{moved.uid}.ics", resource(moved))  # the coach's edit, not the poll: untimed
                cost, report = measured(server, passes.run)
                kinds = [c.kind for c in report.changes]
                check(kinds == [ChangeKind.MOVED], f"one-change poll: expected one move, got {report.summary()}")
                check(report.changes[0].uid == moved.uid, "one-change poll: the wrong session was recorded")
                change_runs.append(cost)

            progress("coachsync: length-changing edits")
            edit_runs = []
            for run in range(ONE_CHANGE_RUNS):
                # A longer title, then the old one: the resource's text changes length, nothing is rescheduled.
                current = workload.moved_away  # where the last one-change poll left it
                retitled = dataclasses.replace(current, summary=current.summary + " (with a note)" * (1 + run % 2))
                server.put(f"{current.uid}.ics", resource(retitled))
                cost, report = measured(server, passes.run)
                check(report.outcome is Outcome.UPDATED, f"edit: expected an update, got {report.summary()}")
                check(report.changes == (), f"edit: expected nothing recorded, got {report.summary()}")
                edit_runs.append(cost)
            state_bytes = stored_state(workdir / "state.sqlite")

    return Result(
        size=size,
        calendar_bytes=len(render_calendar(workload.sessions).encode()),
        baseline=baseline,
        first_sync=first_sync,
        idle=fastest(idle_runs),
        one_change=fastest(change_runs),
        edit=fastest(edit_runs),
        state_bytes=state_bytes,
    )


def kib(value: int) -> str:
    return f"{value / 1024:,.1f} KiB" if value < 1024 * 1024 else f"{value / 2**20:,.2f} MiB"


def print_report(result: Result) -> None:
    print(f"{result.size:,} events on a local Radicale ({kib(result.calendar_bytes)} as one ICS file)")
    print()
    rows: list[tuple[str, Cost]] = [
        *([("baseline: events() + icalendar (fastest run); every poll", result.baseline)] if result.baseline else []),
        ("coachsync first sync (discovery + pass)", result.first_sync),
        (f"coachsync idle poll (least CPU of {IDLE_RUNS})", result.idle),
        (f"coachsync one-change poll (least CPU of {ONE_CHANGE_RUNS})", result.one_change),
        (f"coachsync length-changing edit (least CPU of {ONE_CHANGE_RUNS})", result.edit),
    ]
    width = 62
    print(f"{'':<{width}}{'ms':>10}{'our CPU ms':>12}{'requests':>10}{'sent':>13}{'received':>13}{'written':>13}")
    for label, cost in rows:
        print(
            f"{label:<{width}}{cost.ms:>10,.1f}{cost.cpu_ms:>12,.1f}{cost.requests:>10}{kib(cost.sent):>13}"
            f"{kib(cost.received):>13}{kib(cost.written):>13}"
        )
    print(f"stored sync state: {kib(result.state_bytes)}")
    print()
    print("Targets:")
    ratio = result.first_sync.ms / result.baseline.ms if result.baseline else None
    targets = (
        (
            f"idle poll: {TARGET_IDLE_REQUESTS} request of at most {TARGET_IDLE_BYTES // 1024} KiB",
            f"{result.idle.requests} request(s), {result.idle.bytes:,} bytes",
            result.idle.requests <= TARGET_IDLE_REQUESTS and result.idle.bytes <= TARGET_IDLE_BYTES,
        ),
        (
            f"one-change poll: at most {TARGET_ONE_CHANGE_REQUESTS} requests",
            f"{result.one_change.requests} requests",
            result.one_change.requests <= TARGET_ONE_CHANGE_REQUESTS,
        ),
        *(
            [
                (
                    f"first sync: at most {TARGET_FIRST_SYNC_RATIO:g}x the baseline's time",
                    f"{ratio:.2f}x",
                    ratio <= TARGET_FIRST_SYNC_RATIO,
                )
            ]
            if ratio is not None
            else []
        ),
        (
            f"length-changing edit: at most {TARGET_EDIT_WRITTEN // 1024} KiB written",
            kib(result.edit.written),
            result.edit.written <= TARGET_EDIT_WRITTEN,
        ),
    )
    for goal, measured_value, met in targets:
        print(f"  {goal:<58} {measured_value:<28} {'met' if met else 'MISSED'}")


def print_growth(results: Sequence[Result]) -> None:
    """Our CPU per poll at each size, side by side with the smallest, and the targets on its growth."""
    small, large = results[0], results[-1]
    print("Side by side:")
    print(f"{'':<34}" + "".join(f"{r.size:>14,}" for r in results))
    lines: list[tuple[str, Callable[[Result], str]]] = [
        ("idle poll, our CPU", lambda r: f"{r.idle.cpu_ms:,.1f} ms"),
        ("one-change poll, our CPU", lambda r: f"{r.one_change.cpu_ms:,.1f} ms"),
        ("length-changing edit, our CPU", lambda r: f"{r.edit.cpu_ms:,.1f} ms"),
        ("written by a length-changing edit", lambda r: kib(r.edit.written)),
        ("written by a one-change poll", lambda r: kib(r.one_change.written)),
        ("stored sync state", lambda r: kib(r.state_bytes)),
    ]
    for label, cell in lines:
        print(f"{label:<34}" + "".join(f"{cell(r):>14}" for r in results))
    if len(results) < 2:
        return
    print()
    print(f"Targets ({large.size:,} against {small.size:,} events):")
    change_cap = TARGET_CPU_GROWTH * small.one_change.cpu_ms + TARGET_ONE_CHANGE_SLACK_MS
    idle_cap = TARGET_CPU_GROWTH * small.idle.cpu_ms + TARGET_IDLE_SLACK_MS
    targets = (
        (
            f"one-change CPU at most {TARGET_CPU_GROWTH:g}x + {TARGET_ONE_CHANGE_SLACK_MS:g} ms",
            f"{large.one_change.cpu_ms:,.1f} ms (cap {change_cap:,.1f})",
            large.one_change.cpu_ms <= change_cap,
        ),
        (
            f"idle CPU at most {TARGET_CPU_GROWTH:g}x + {TARGET_IDLE_SLACK_MS:g} ms",
            f"{large.idle.cpu_ms:,.1f} ms (cap {idle_cap:,.1f})",
            large.idle.cpu_ms <= idle_cap,
        ),
        (
            f"every size: an edit writes at most {TARGET_EDIT_WRITTEN // 1024} KiB",
            kib(max(r.edit.written for r in results)),
            all(r.edit.written <= TARGET_EDIT_WRITTEN for r in results),
        ),
    )
    for goal, measured_value, met in targets:
        print(f"  {goal:<58} {measured_value:<28} {'met' if met else 'MISSED'}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sizes",
        default="2000,10000,20000",
        help="events in the calendar, comma-separated (default: 2000,10000,20000)",
    )
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    print(
        f"coachsync CalDAV benchmark: Python {sys.version.split()[0]}, caldav {version('caldav')}, "
        f"Radicale {version('radicale')}, icalendar {version('icalendar')}"
    )
    results = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="coachsync-bench-caldav-") as workdir:
            results.append(bench(size, Path(workdir)))
        print()
        print_report(results[-1])
    print()
    print_growth(results)
    return 0  # a missed target is a finding, not a failure


if __name__ == "__main__":
    sys.exit(main())
