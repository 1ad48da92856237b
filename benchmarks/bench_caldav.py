"""CalDAV sync benchmark: coachsync's incremental sync against a plain full fetch, on a local Radicale.

Loads a calendar of N events (default 2,000, generated as in bench_sync.py)
into a real Radicale server on 127.0.0.1 behind a counting WSGI middleware,
then measures side by side in one run:

- baseline: caldav's `calendar.events()` plus parsing each event with
  icalendar, the plain way to read a CalDAV calendar. It has no state, so every
  poll costs what the first one does.
- coachsync: `run_pass` over a `CaldavSource` into an empty SQLite file (the
  first sync, discovery included), then idle polls and one-change polls.

Requests and bytes are what the server's middleware saw (request line, headers
and body both ways).
"""

from __future__ import annotations

import argparse
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


@dataclass(frozen=True, slots=True)
class Cost:
    """One measured operation: milliseconds, and what crossed the wire."""

    ms: float
    requests: int
    sent: int
    received: int

    @property
    def bytes(self) -> int:
        return self.sent + self.received


def check(condition: bool, message: str) -> None:
    """An assert that `python -O` cannot strip: a fast wrong answer is no result."""
    if not condition:
        raise AssertionError(message)


def progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def measured(server: CaldavServer, action: Callable[[], T]) -> tuple[Cost, T]:
    gc.collect()
    server.exchanges.clear()
    start = time.perf_counter()
    result = action()
    ms = (time.perf_counter() - start) * 1000
    exchanges = list(server.exchanges)
    sent = sum(e.request_bytes for e in exchanges)
    received = sum(e.response_bytes for e in exchanges)
    return Cost(ms, len(exchanges), sent, received), result


def resource(session: Session) -> str:
    """One event as a calendar app stores it on a CalDAV server (METHOD is not allowed there)."""
    return render_calendar([session]).replace("METHOD:PUBLISH\r\n", "")


def load(server: CaldavServer, workload: Workload) -> None:
    """Store every event, then list the calendar both ways once.

    Seeded files skip what a PUT makes Radicale do (its item and sync-history caches); these
    unmeasured listings build them, so no measured run pays for a cold server.
    """
    server.seed({f"{session.uid}.ics": resource(session) for session in workload.sessions})
    baseline_fetch(server)
    warm = CaldavSource("warm-up", server.url(server.collection), username=USERNAME, timeout=60)
    warm.fetch({})
    server.exchanges.clear()


def baseline_fetch(server: CaldavServer) -> int:
    """The plain full fetch: a fresh client, every event downloaded and parsed."""
    with caldav.DAVClient(
        url=server.url(server.collection), username=USERNAME, password=PASSWORD, enable_rfc6764=False
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
    baseline: Cost
    first_sync: Cost
    idle: Cost
    one_change: Cost


def bench(size: int, workdir: Path) -> Result:
    clients = make_clients()
    match_client = ClientMatcher.from_settings(clients)
    workload = make_workload(size, clients)
    # The password comes the way a coach's systemd unit could give it: from the environment.
    os.environ[PASSWORD_ENV] = PASSWORD
    with running("radicale", workdir / "radicale") as server:
        progress(f"storing {size:,} events on Radicale")
        load(server, workload)

        progress("baseline: calendar.events() + icalendar")
        runs = [measured(server, lambda: baseline_fetch(server)) for _ in range(BASELINE_RUNS)]
        check(all(count == size for _, count in runs), f"baseline read {[c for _, c in runs]} events, not {size}")
        baseline = min((cost for cost, _ in runs), key=lambda c: c.ms)

        with Store(workdir / "state.sqlite") as store:
            source = CaldavSource(CALENDAR, server.url(server.collection), username=USERNAME, timeout=60)
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

    return Result(
        size=size,
        calendar_bytes=len(render_calendar(workload.sessions).encode()),
        baseline=baseline,
        first_sync=first_sync,
        idle=min(idle_runs, key=lambda c: c.ms),
        one_change=min(change_runs, key=lambda c: c.ms),
    )


def kib(value: int) -> str:
    return f"{value / 1024:,.1f} KiB" if value < 1024 * 1024 else f"{value / 2**20:,.2f} MiB"


def print_report(result: Result) -> None:
    print(
        f"coachsync CalDAV benchmark: Python {sys.version.split()[0]}, caldav {version('caldav')}, "
        f"Radicale {version('radicale')}, icalendar {version('icalendar')}"
    )
    print(f"{result.size:,} events on a local Radicale ({kib(result.calendar_bytes)} as one ICS file)")
    print()
    rows: list[tuple[str, Cost]] = [
        (f"baseline: events() + icalendar (min of {BASELINE_RUNS}); every poll", result.baseline),
        ("coachsync first sync (discovery + pass)", result.first_sync),
        (f"coachsync idle poll (min of {IDLE_RUNS})", result.idle),
        (f"coachsync one-change poll (min of {ONE_CHANGE_RUNS})", result.one_change),
    ]
    width = 58
    print(f"{'':<{width}}{'ms':>10}{'requests':>10}{'sent':>13}{'received':>13}")
    for label, cost in rows:
        print(f"{label:<{width}}{cost.ms:>10,.1f}{cost.requests:>10}{kib(cost.sent):>13}{kib(cost.received):>13}")
    print()
    print("Targets:")
    ratio = result.first_sync.ms / result.baseline.ms
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
        (
            f"first sync: at most {TARGET_FIRST_SYNC_RATIO:g}x the baseline's time",
            f"{ratio:.2f}x",
            ratio <= TARGET_FIRST_SYNC_RATIO,
        ),
    )
    for goal, measured_value, met in targets:
        print(f"  {goal:<50} {measured_value:<28} {'met' if met else 'MISSED'}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=2_000, help="events in the calendar (default: 2000)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="coachsync-bench-caldav-") as workdir:
        result = bench(args.size, Path(workdir))
    print_report(result)
    return 0  # a missed target is a finding, not a failure


if __name__ == "__main__":
    sys.exit(main())
