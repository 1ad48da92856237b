"""What a sync pass costs next to simply parsing the calendar once.

Run with `make bench`. For each size it builds a realistic ICS export in a
temporary directory and times, side by side:

1. baseline: a plain ``icalendar.Calendar.from_ical`` of the whole file;
2. the first pass into an empty database;
3. a pass over an unchanged file;
4. a pass after one event was moved.

Ratios are against the baseline of the same size, because the daemon's
promise is relative: an idle or one-change pass must cost a small fraction
of re-reading the calendar, whatever the machine. Missed targets are
reported (exit 0); a wrong result (the moved event not reported as exactly
one ``moved`` change) fails loudly.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import random
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from importlib.metadata import version
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import icalendar

from coachsync.clients import ClientMatcher
from coachsync.ics import window_around
from coachsync.model import ChangeKind
from coachsync.sources.ics_file import IcsFileSource
from coachsync.store import Store
from coachsync.sync import Outcome, PassReport, PassSettings, run_pass

T = TypeVar("T")

ZONE = ZoneInfo("Europe/Berlin")
# Fixed rather than the wall clock so every run builds the same calendars; the
# half year that follows crosses the March and October DST switches.
NOW = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)
CALENDAR = "coach"
COACH_EMAIL = "coach@example.com"
DAYS_BACK, DAYS_AHEAD = 30, 365  # the daemon's default window
SERIES_EVERY = 20  # every 20th event is a weekly series: 5%

BASELINE_RUNS = 3
NO_CHANGE_RUNS = 5
ONE_CHANGE_RUNS = 5

TARGET_SIZE = 10_000
TARGET_NO_CHANGE = 1.0  # % of the baseline
TARGET_ONE_CHANGE = 5.0

_FIRST_NAMES = ("Anna", "Jürgen", "Mia", "Lukas", "Zoë", "Paul", "Lena", "Ömer", "Clara", "Felix")
_LAST_NAMES = ("Schmidt", "Weiß", "Novak", "Okafor", "Larsen")
_TO_ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ë": "e"})
# Non-ASCII names and an en dash on purpose: exports are UTF-8, and folding must respect it.
_SUMMARIES = ("Coaching: {name}", "Coaching session – {name}", "Check-in, {name}", "{name} / career review")

_VTIMEZONE = (
    "BEGIN:VTIMEZONE",
    "TZID:Europe/Berlin",
    "X-LIC-LOCATION:Europe/Berlin",
    "BEGIN:DAYLIGHT",
    "TZOFFSETFROM:+0100",
    "TZOFFSETTO:+0200",
    "TZNAME:CEST",
    "DTSTART:19700329T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    "END:DAYLIGHT",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0100",
    "TZNAME:CET",
    "DTSTART:19701025T030000",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    "END:STANDARD",
    "END:VTIMEZONE",
)


# --- a realistic calendar -------------------------------------------------


@dataclass(slots=True)  # not frozen: clients.ClientSettings wants plain attributes, like config.ClientConfig
class Client:
    name: str
    emails: Sequence[str]
    aliases: Sequence[str] = ()

    @property
    def email(self) -> str:
        return self.emails[0]


@dataclass(frozen=True, slots=True)
class Session:
    uid: str
    start: datetime  # aware, in ZONE
    minutes: int
    client: Client
    summary: str
    modified: datetime
    rrule: str | None = None  # a weekly series when set


@dataclass(frozen=True, slots=True)
class Workload:
    sessions: tuple[Session, ...]
    moved: Session  # one upcoming single session, as it is first exported
    moved_away: Session  # the same session a day later

    @property
    def series(self) -> int:
        return sum(s.rrule is not None for s in self.sessions)

    def text(self, *, with_move: bool) -> str:
        if not with_move:
            return render_calendar(self.sessions)
        return render_calendar([self.moved_away if s.uid == self.moved.uid else s for s in self.sessions])


def make_clients() -> list[Client]:
    return [
        Client(f"{first} {last}", (f"{first}.{last}@example.com".lower().translate(_TO_ASCII),))
        for first in _FIRST_NAMES
        for last in _LAST_NAMES
    ]


def make_workload(size: int, clients: Sequence[Client]) -> Workload:
    rng = random.Random(size)  # the same calendar for the same size, run after run
    today = NOW.astimezone(ZONE).date()
    sessions: list[Session] = []
    for index in range(size):
        day = today + timedelta(days=rng.randrange(-DAYS_BACK, 180))
        if day.weekday() >= 5:  # coaching happens on weekdays
            day += timedelta(days=7 - day.weekday())
        start = datetime.combine(day, clock_time(rng.randrange(8, 19), rng.choice((0, 30))), tzinfo=ZONE)
        client = rng.choice(clients)
        rrule = None
        if index % SERIES_EVERY == 0:
            until = (start + timedelta(weeks=rng.randrange(8, 40))).astimezone(UTC)
            rrule = rng.choice(
                ("FREQ=WEEKLY", f"FREQ=WEEKLY;COUNT={rng.randrange(6, 27)}", f"FREQ=WEEKLY;UNTIL={_utc(until)}")
            )
        sessions.append(
            Session(
                uid=f"{uuid.UUID(int=rng.getrandbits(128), version=4)}@example.com",
                start=start,
                minutes=rng.choice((45, 60, 60, 60, 90)),
                client=client,
                summary=rng.choice(_SUMMARIES).format(name=client.name),
                modified=NOW - timedelta(days=rng.randrange(1, 120), seconds=rng.randrange(86_400)),
                rrule=rrule,
            )
        )
    # A session well ahead, so the move has notice and is not history by the time it is detected.
    moved = next(s for s in sessions if s.rrule is None and s.start > NOW + timedelta(days=7))
    return Workload(tuple(sessions), moved, dataclasses.replace(moved, start=moved.start + timedelta(days=1)))


def _local(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Fold at 75 octets as RFC 5545 asks, never inside a UTF-8 sequence."""
    if len(line.encode()) <= 75:
        return line
    pieces: list[str] = []
    current: list[str] = []
    size, limit = 0, 75
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            pieces.append("".join(current))
            current, size, limit = [], 0, 74  # continuation lines lose one octet to the leading space
        current.append(char)
        size += width
    pieces.append("".join(current))
    return "\r\n ".join(pieces)


def _event_lines(session: Session) -> list[str]:
    lines = [
        "BEGIN:VEVENT",
        f"DTSTART;TZID={ZONE.key}:{_local(session.start)}",
        f"DTEND;TZID={ZONE.key}:{_local(session.start + timedelta(minutes=session.minutes))}",
    ]
    if session.rrule is not None:
        lines.append(f"RRULE:{session.rrule}")
    lines += [
        f"DTSTAMP:{_utc(NOW)}",
        f"UID:{session.uid}",
        f"CREATED:{_utc(session.modified - timedelta(days=3))}",
        f"LAST-MODIFIED:{_utc(session.modified)}",
        "SEQUENCE:0",
        f"ORGANIZER;CN=Coach:mailto:{COACH_EMAIL}",
        f"ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN={session.client.name}:"
        f"mailto:{session.client.email}",
        f"ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=CHAIR;PARTSTAT=ACCEPTED;CN=Coach:mailto:{COACH_EMAIL}",
        f"SUMMARY:{_text(session.summary)}",
        "LOCATION:https://meet.example.com/coach",
        "STATUS:CONFIRMED",
        "TRANSP:OPAQUE",
        "END:VEVENT",
    ]
    return lines


def render_calendar(sessions: Sequence[Session]) -> str:
    """The calendar as an export would write it: CRLF line ends, folded lines."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//coachsync//benchmark//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:Coaching",
        f"X-WR-TIMEZONE:{ZONE.key}",
        *_VTIMEZONE,
    ]
    for session in sessions:
        lines += _event_lines(session)
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


# --- measuring --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SizeResult:
    size: int
    series: int
    file_bytes: int
    occurrences: int
    baseline_ms: float
    first_pass_ms: float
    no_change_ms: float
    one_change_ms: float
    one_change_parsed: int
    first_pass_peak_bytes: int


def check(condition: bool, message: str) -> None:
    """An assert that `python -O` cannot strip: a fast wrong answer is no result."""
    if not condition:
        raise AssertionError(message)


def timed(action: Callable[[], T]) -> tuple[float, T]:
    """Milliseconds taken by `action`, and its result."""
    gc.collect()  # a run should not pay for the garbage of the one before
    start = time.perf_counter()
    result = action()
    return (time.perf_counter() - start) * 1000, result


class Passes:
    """Runs passes the way the daemon does: one store, one source, a clock that moves on."""

    def __init__(self, store: Store, source: IcsFileSource, match_client: ClientMatcher) -> None:
        self._store = store
        self._source = source
        self._match_client = match_client
        self._count = 0

    def run(self) -> tuple[float, PassReport]:
        now = NOW + timedelta(minutes=self._count)  # passes are minutes apart, so "last pass" keeps moving
        self._count += 1
        settings = PassSettings(window_around(now, DAYS_BACK, DAYS_AHEAD), ZONE, self._match_client)
        return timed(lambda: run_pass(self._store, self._source, now, settings))


def bench_size(size: int, workdir: Path, clients: Sequence[Client], match_client: ClientMatcher) -> SizeResult:
    progress(f"{size:,} events: generating")
    workload = make_workload(size, clients)
    original, moved = workload.text(with_move=False), workload.text(with_move=True)
    path = workdir / f"calendar-{size}.ics"
    path.write_bytes(original.encode())

    progress(f"{size:,} events: baseline")
    baseline = min(timed(lambda: icalendar.Calendar.from_ical(original))[0] for _ in range(BASELINE_RUNS))

    with Store(workdir / f"state-{size}.sqlite") as store:
        passes = Passes(store, IcsFileSource(CALENDAR, path), match_client)

        progress(f"{size:,} events: first pass")
        first_pass, report = passes.run()
        check(report.outcome is Outcome.BASELINE, f"first pass: expected a baseline, got {report.outcome}")
        check(report.events == size, f"first pass: expected {size} events, read {report.events}")
        check(report.skipped == 0, f"first pass: {report.skipped} events could not be read")
        occurrences = len(store.snapshots.occurrences(CALENDAR))

        progress(f"{size:,} events: no-change passes")
        no_change_runs: list[float] = []
        for _ in range(NO_CHANGE_RUNS):
            elapsed, report = passes.run()
            check(report.outcome is Outcome.UNCHANGED, f"no-change pass: expected unchanged, got {report.summary()}")
            no_change_runs.append(elapsed)

        # Each run moves the session for real: to the next day, then back, and so on.
        progress(f"{size:,} events: one-change passes")
        one_change_runs: list[float] = []
        parsed: set[int] = set()
        for run in range(ONE_CHANGE_RUNS):
            away = run % 2 == 0
            path.write_bytes((moved if away else original).encode())  # the export, not the pass: untimed
            elapsed, report = passes.run()
            check_one_move(report, workload, away)
            one_change_runs.append(elapsed)
            parsed.add(report.parsed)

    progress(f"{size:,} events: first pass under tracemalloc")
    path.write_bytes(original.encode())
    peak = first_pass_peak(workdir / f"memory-{size}.sqlite", path, match_client)

    return SizeResult(
        size=size,
        series=workload.series,
        file_bytes=len(original.encode()),
        occurrences=occurrences,
        baseline_ms=baseline,
        first_pass_ms=first_pass,
        no_change_ms=min(no_change_runs),
        one_change_ms=min(one_change_runs),
        one_change_parsed=max(parsed),
        first_pass_peak_bytes=peak,
    )


def check_one_move(report: PassReport, workload: Workload, away: bool) -> None:
    old, new = (workload.moved, workload.moved_away) if away else (workload.moved_away, workload.moved)
    kinds = [change.kind.value for change in report.changes]
    check(
        len(report.changes) == 1 and report.changes[0].kind is ChangeKind.MOVED,
        f"one-change pass: expected exactly one 'moved' change, got {kinds or 'none'} ({report.summary()})",
    )
    change = report.changes[0]
    check(change.uid == old.uid, f"one-change pass: the change names uid {change.uid}, expected {old.uid}")
    check(
        change.old_start == old.start and change.new_start == new.start,
        f"one-change pass: recorded {change.old_start} -> {change.new_start}, expected {old.start} -> {new.start}",
    )


def first_pass_peak(database: Path, calendar: Path, match_client: ClientMatcher) -> int:
    """Peak Python heap of a first pass, on its own database: tracemalloc would distort the timed runs."""
    with Store(database) as store:
        passes = Passes(store, IcsFileSource(CALENDAR, calendar), match_client)
        gc.collect()
        tracemalloc.start()
        try:
            passes.run()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


# --- reporting --------------------------------------------------------------


def progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def ratio(part: float, whole: float) -> float:
    return 100 * part / whole


def percent(value: float) -> str:
    return f"{value:.2f}%" if value < 1 else f"{value:.1f}%"


def print_report(results: Sequence[SizeResult]) -> None:
    print(
        f"coachsync sync benchmark: Python {sys.version.split()[0]}, icalendar {version('icalendar')}, "
        f"recurring-ical-events {version('recurring-ical-events')}"
    )
    clients = len(_FIRST_NAMES) * len(_LAST_NAMES)
    print(f"window {DAYS_BACK} days back, {DAYS_AHEAD} ahead; zone {ZONE.key}; {clients} clients")
    for r in results:
        print(
            f"  {r.size:>6,} events: {r.series:,} weekly series, {r.file_bytes / 1e6:.1f} MB, "
            f"{r.occurrences:,} occurrences stored; the one-change pass re-read {r.one_change_parsed} event group(s)"
        )
    print()

    label_width, cell_width = 40, 22
    rows: list[tuple[str, Callable[[SizeResult], float]]] = [
        (f"baseline: Calendar.from_ical (min of {BASELINE_RUNS})", lambda r: r.baseline_ms),
        ("first pass, empty database", lambda r: r.first_pass_ms),
        (f"no-change pass (min of {NO_CHANGE_RUNS})", lambda r: r.no_change_ms),
        (f"one-change pass, 1 moved (min of {ONE_CHANGE_RUNS})", lambda r: r.one_change_ms),
    ]
    print(" " * label_width + "".join(f"{f'{r.size:,} events':>{cell_width}}" for r in results))
    print(" " * label_width + "".join(f"{'ms':>12}{'of base':>10}" for _ in results))
    for label, value in rows:
        cells = "".join(f"{value(r):>12,.1f}{percent(ratio(value(r), r.baseline_ms)):>10}" for r in results)
        print(f"{label:<{label_width}}{cells}")
    memory = "".join(f"{f'{r.first_pass_peak_bytes / 2**20:,.1f} MiB':>{cell_width}}" for r in results)
    print(f"{'first pass, peak memory (tracemalloc)':<{label_width}}{memory}")
    print()
    print_targets(results)


def print_targets(results: Sequence[SizeResult]) -> None:
    print(f"Targets at {TARGET_SIZE:,} events:")
    at_target = next((r for r in results if r.size == TARGET_SIZE), None)
    targets: tuple[tuple[str, float, Callable[[SizeResult], float]], ...] = (
        ("no-change pass", TARGET_NO_CHANGE, lambda r: r.no_change_ms),
        ("one-change pass", TARGET_ONE_CHANGE, lambda r: r.one_change_ms),
    )
    for name, limit, value in targets:
        goal = f"  {name:<16} <= {limit:g}% of baseline"
        if at_target is None:
            print(f"{goal}: not measured (add {TARGET_SIZE} to --sizes)")
            continue
        measured = ratio(value(at_target), at_target.baseline_ms)
        verdict = "met" if measured <= limit else "MISSED"
        print(f"{goal}: {percent(measured)} ({value(at_target):,.1f} ms)  {verdict}")


# --- entry point ------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated event counts, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected positive event counts, got {text!r}")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sizes", type=parse_sizes, default=[1_000, 10_000], help="event counts, comma-separated (default: 1000,10000)"
    )
    args = parser.parse_args(argv)
    clients = make_clients()
    match_client = ClientMatcher.from_settings(clients)
    with tempfile.TemporaryDirectory(prefix="coachsync-bench-") as workdir:
        results = [bench_size(size, Path(workdir), clients, match_client) for size in args.sizes]
    print_report(results)
    return 0  # a missed target is a finding, not a failure


if __name__ == "__main__":
    sys.exit(main())
