"""How tests/data/schema-3 was made: run by the code of schema 3 (commit 25a162c), e.g.

    git worktree add /tmp/schema-3 25a162c
    PYTHONPATH=/tmp/schema-3 .venv/bin/python tests/data/make_schema_3.py /tmp/out

then copy the database out of /tmp/out/state. The fixture keeps what that code wrote.
"""

import shutil
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import time_machine
from click.testing import CliRunner

import coachsync
from coachsync.cli import main

out = Path(sys.argv[1])
shutil.rmtree(out, ignore_errors=True)
out.mkdir(parents=True)
plugins = out / "plugins"
plugins.mkdir()
plugins.joinpath("boom.py").write_text(
    textwrap.dedent("""\
    from coachsync.api import hookimpl

    @hookimpl
    def coachsync_on_change(record):
        raise RuntimeError("boom")
""")
)
fixture_ics = (Path(__file__).parent / "release-0.1.0" / "coaching.ics").read_text()
before = fixture_ics.replace("EXDATE;TZID=Europe/Berlin:20261210T100000\r\n", "").replace(
    "EXDATE;TZID=Europe/Berlin:20261210T100000\n", ""
)
before = before.replace("20261203T160000", "20261202T160000").replace("20261216T090000", "20261215T090000")
assert before != fixture_ics
(out / "config.yaml").write_text(
    textwrap.dedent("""\
    database: state/coachsync.db
    timezone: Europe/Berlin
    plugins_dir: plugins
    calendars:
      - name: coaching
        ics_file: coaching.ics
    clients:
      - name: Alice Example
        emails: [alice@example.com]
      - name: Bob Builder
        emails: [bob@example.com]
    policies:
      fee: {enabled: true, amount: 40, currency: EUR}
      escalation_email: {enabled: true, after: 2}
      end_engagement: {enabled: true, after: 2}
      boom: {enabled: true}
    mail:
      mode: outbox
      outbox_dir: outbox
""")
)
ics = out / "coaching.ics"
at = datetime(2026, 12, 1, 23, 42, 10, 454824, tzinfo=UTC)


def run(*args):
    with time_machine.travel(at, tick=False):
        r = CliRunner().invoke(main, ["--config", str(out / "config.yaml"), *args])
    print("$", *args, "->", r.exit_code)
    print(r.output)


ics.write_text(before, newline="")
run("sync")
ics.write_text(before.replace("20261202T160000", "20261203T160000"), newline="")
run("sync")
ics.write_text(fixture_ics.replace("20261216T090000", "20261215T090000"), newline="")
run("sync")
ics.write_text(fixture_ics, newline="")
run("sync")
run("excuse", "1", "--reason", "ill with flu")
run("outbox")
run("outbox", "approve", "1")
run("send")
run("history")
print(coachsync.__file__)
