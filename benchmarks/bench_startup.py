"""What starting the `coachsync` command costs next to starting Python itself.

Run with `make bench`. Every command a coach types pays the interpreter's
start-up plus coachsync's imports; this times, side by side, in fresh
processes:

1. baseline: ``python -c pass``;
2. ``coachsync --help``;
3. ``coachsync history`` on the demo config's database, after one sync and
   one cancelled session so there is a record to print: it starts from the
   config's snapshot (coachsync.reading), as every run after the first on an
   unchanged config does;
4. the same right after the config was edited, which validates the YAML in
   full (pydantic) and writes a new snapshot: shown, no target.

Each is the median of 5 runs after one untimed warm-up run (which compiles
bytecode and fills the page cache). Ratios are against the baseline, because
the promise is relative: a command that only reads the history must not pay
for caldav, requests or Jinja2. Missed targets are reported (exit 0); a
command that fails or prints the wrong thing fails loudly.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path

RUNS = 5
DEMO = Path(__file__).resolve().parent.parent / "config"
TARGETS = {"--help": 5.0, "history": 8.0}  # at most this many times `python -c pass`


def coachsync_command() -> list[str]:
    """The installed console script next to this interpreter, as a coach runs it; else `python -m coachsync`."""
    script = Path(sys.executable).with_name("coachsync")
    return [str(script)] if script.exists() else [sys.executable, "-m", "coachsync"]


def median_seconds(command: Sequence[str], cwd: Path, before: Callable[[], None] = lambda: None) -> tuple[float, str]:
    """Median wall time of RUNS fresh processes, and what the last one printed; `before` runs untimed before each."""
    run = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True)  # warm-up
    times = []
    for _ in range(RUNS):
        before()
        started = time.perf_counter()
        run = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times), run.stdout


def demo_with_history(directory: Path, coachsync: list[str]) -> Path:
    """The demo config and calendar in `directory`, synced, then one upcoming Alice session cancelled and synced."""
    for name in ("demo.yaml", "demo.ics"):
        shutil.copy(DEMO / name, directory / name)
    config = directory / "demo.yaml"
    subprocess.run([*coachsync, "--config", str(config), "sync"], cwd=directory, capture_output=True, check=True)
    # Alice's weekly series is on Tuesdays at 10:00 Berlin time; cancel the first one at least a week away.
    day = date.today() + timedelta(days=7)
    day += timedelta(days=(1 - day.weekday()) % 7)
    calendar = directory / "demo.ics"
    text = calendar.read_bytes().decode("utf-8")  # as is: CRLF line ends stay CRLF
    exdate = rf"\g<0>EXDATE;TZID=Europe/Berlin:{day:%Y%m%d}T100000\g<1>"
    changed, found = re.subn(r"RRULE:FREQ=WEEKLY;BYDAY=TU(\r?\n)", exdate, text, count=1)
    if found != 1:
        raise SystemExit("config/demo.ics no longer has Alice's weekly Tuesday series; update this benchmark")
    calendar.write_bytes(changed.encode("utf-8"))
    subprocess.run([*coachsync, "--config", str(config), "sync"], cwd=directory, capture_output=True, check=True)
    return config


def edit(config: Path, number: int) -> None:
    """A change to the config's text that changes no setting: the snapshot no longer matches it."""
    with config.open("a", encoding="utf-8") as file:
        file.write(f"# edit {number}\n")


def main() -> int:
    coachsync = coachsync_command()
    with tempfile.TemporaryDirectory(prefix="coachsync-bench-") as tmp:
        directory = Path(tmp)
        config = demo_with_history(directory, coachsync)
        baseline, _ = median_seconds([sys.executable, "-c", "pass"], directory)
        help_time, help_text = median_seconds([*coachsync, "--help"], directory)
        history = [*coachsync, "--config", str(config), "history"]
        history_time, history_text = median_seconds(history, directory)
        edits = iter(range(RUNS))
        edited_time, edited_text = median_seconds(history, directory, before=lambda: edit(config, next(edits)))
    if not help_text.startswith("Usage: coachsync"):
        raise SystemExit(f"coachsync --help printed something else:\n{help_text}")
    for text in (history_text, edited_text):
        if not re.search(r"\bAlice Example\s+cancelled\b", text):
            raise SystemExit(f"coachsync history does not show the cancelled session:\n{text}")

    rows = [("python -c pass", baseline, None), ("coachsync --help", help_time, "--help")]
    rows.append(("coachsync history (demo)", history_time, "history"))
    rows.append(("  after a config edit", edited_time, None))
    print(f"Start-up, median of {RUNS} runs; Python {sys.version.split()[0]}")
    print(f"{'command':<26} {'ms':>8} {'ratio':>7} {'target':>7}")
    for label, seconds, key in rows:
        ratio = seconds / baseline
        if key is None:
            print(f"{label:<26} {seconds * 1000:>8.1f} {ratio:>6.1f}x {'':>7}")
            continue
        target = TARGETS[key]
        verdict = "ok" if ratio <= target else "MISSED"
        print(f"{label:<26} {seconds * 1000:>8.1f} {ratio:>6.1f}x {f'<={target:g}x':>7}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
