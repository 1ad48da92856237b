"""What `coachsync report` costs for a large practice: 50 clients, a year of weekly sessions each.

Run with `make bench`. It writes a calendar of 50 weekly series that began a
year ago, takes it in with one real pass, records for each client a year of
changes (moves, late cancellations, a no-show; one excused), fees and a
suggestion, then times, each the best of three:

1. import: matplotlib and its SVG backend, in a fresh interpreter (what a report adds to start-up);
2. data: the report's rows (`report_data`), from the store;
3. whole: `render_report`, the HTML document with every client's four charts.

Target: the whole report in under 5 s. A miss prints `MISSED` and still exits 0;
a wrong result (a client or a chart missing from the page) fails loudly.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import TypeVar

from coachsync.app import App
from coachsync.config import load_config
from coachsync.model import Change, ChangeKind, FeeEntry, FeeStatus, SuggestionEntry
from coachsync.report import render_report, report_data
from coachsync.store import Store

T = TypeVar("T")

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CLIENTS = 50
WEEKS = 52
TARGET_SECONDS = 5.0
RUNS = 3


def calendar() -> str:
    first = NOW - timedelta(weeks=WEEKS)
    events = []
    for n in range(CLIENTS):
        start = (first + timedelta(days=n % 5, hours=n % 8)).replace(hour=8 + n % 9, minute=0)
        events.append(
            "BEGIN:VEVENT\r\n"
            f"UID:series-{n}\r\n"
            "DTSTAMP:20250101T000000Z\r\n"
            f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\n"
            f"DTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}\r\n"
            f"RRULE:FREQ=WEEKLY;COUNT={WEEKS + 8}\r\n"
            f"SUMMARY:Coaching: Client {n:02d}\r\n"
            f"ATTENDEE;CN=Client:mailto:client{n:02d}@example.com\r\n"
            "END:VEVENT\r\n"
        )
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n" + "".join(events) + "END:VCALENDAR\r\n"


def config(root: Path) -> Path:
    (root / "coaching.ics").write_text(calendar(), encoding="utf-8", newline="")
    clients = "".join(f"  - name: Client {n:02d}\n    emails: [client{n:02d}@example.com]\n" for n in range(CLIENTS))
    path = root / "config.yaml"
    path.write_text(
        "database: state/coachsync.db\ntimezone: Europe/Berlin\n"
        "window: {days_back: 400, days_ahead: 60}\n"
        "calendars:\n  - name: coaching\n    ics_file: coaching.ics\n"
        "agreement: {notice_hours: 24, cadence: weekly, allowance: {reschedules: 2, per: 90 days}}\n"
        f"clients:\n{clients}",
        encoding="utf-8",
    )
    return path


def history(app: App) -> None:
    """A year of changes per client, recorded as a pass would: every sixth week moved, every
    thirteenth cancelled at short notice, one no-show, the first cancellation excused."""
    store = app.store
    for n in range(CLIENTS):
        client = f"Client {n:02d}"
        occurrences = sorted(
            (o for o in app._occurrences() if o.client == client and o.start < NOW), key=lambda o: o.start
        )
        for week, occurrence in enumerate(occurrences):
            kind = None
            if week % 6 == 3:
                kind, new_start, notice = ChangeKind.MOVED, occurrence.start + timedelta(days=2), 30.0 + week % 50
            elif week % 13 == 7:
                kind, new_start, notice = ChangeKind.CANCELLED, None, 4.0 + week % 10
            elif week == 20:
                kind, new_start, notice = ChangeKind.NO_SHOW, None, 0.0
            if kind is None:
                continue
            changed_at = occurrence.start - timedelta(hours=notice)
            change = Change(
                kind,
                "coaching",
                occurrence.uid,
                occurrence.recurrence_id,
                client,
                occurrence.summary,
                occurrence.start,
                new_start,
                notice,
                changed_at,
            )
            (record,) = store.history.add([change], changed_at)
            if kind is ChangeKind.CANCELLED:
                store.ledger.add_fees(
                    [
                        FeeEntry(
                            0,
                            record.id,
                            "fee",
                            client,
                            Decimal("40.00"),
                            "EUR",
                            FeeStatus.OWED,
                            "late cancellation",
                            None,
                            changed_at,
                            key=f"{record.id}:fee:fee",
                        )
                    ]
                )
                if week == 7:
                    app.excuse(record.id, "illness")
        store.ledger.add_suggestions(
            [SuggestionEntry(0, None, "cadence", client, f"{client}'s sessions drifted", NOW, key=f"bench:{n}")]
        )


def best(runs: int, work: Callable[[], T]) -> tuple[float, T]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    assert result is not None
    return min(times), result


def import_seconds() -> float:
    probe = (
        "import time; t = time.perf_counter(); import matplotlib; matplotlib.use('svg');"
        " from matplotlib.figure import Figure; print(time.perf_counter() - t)"
    )
    found = [
        float(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout)
        for _ in range(RUNS)
    ]
    return min(found)


def main() -> None:
    print(f"bench_report: {CLIENTS} clients x {WEEKS} weekly sessions; matplotlib {version('matplotlib')}")
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        settings = load_config(config(root))
        app = App(settings, Store(settings.database))
        try:
            for report in app.sync_all(NOW):
                print(f"  {report.summary()}")
            history(app)
            since = NOW - timedelta(days=183)
            imported = import_seconds()
            data_time, data = best(RUNS, lambda: report_data(app, now=NOW, since=since))
            whole_time, html = best(RUNS, lambda: render_report(app, now=NOW, since=since))
        finally:
            app.close()
    sessions = sum(len(c.timeline) for c in data.clients)
    records = sum(len(c.history) for c in data.clients)
    charts = html.count("<svg ")
    if len(data.clients) != CLIENTS or charts != 4 * CLIENTS:
        raise SystemExit(f"bench_report: wrong page: {len(data.clients)} clients, {charts} charts")
    verdict = "ok" if whole_time < TARGET_SECONDS else "MISSED"
    print(f"  shown: {sessions} sessions, {records} history rows, {charts} charts, {len(html) / 1e6:.1f} MB of HTML")
    print(f"  import matplotlib (fresh interpreter): {imported * 1000:6.0f} ms")
    print(f"  report data:                           {data_time * 1000:6.0f} ms")
    print(f"  whole report:                          {whole_time * 1000:6.0f} ms", end="")
    print(f"  (target < {TARGET_SECONDS:g} s: {verdict})")
    print(f"  per client:                            {whole_time / CLIENTS * 1000:6.0f} ms")


if __name__ == "__main__":
    main()
