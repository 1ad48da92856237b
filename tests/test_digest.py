"""The weekly digest: when it is due (pure), what it says about a hand-built week (exact text), exactly one
per ISO week across restarts and a killed process, and its report attached in the .eml file and over SMTP."""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from coachsync.app import App
from coachsync.config import DigestConfig, load_config
from coachsync.daemon import Daemon
from coachsync.digest import digest_due
from coachsync.errors import ConfigError
from coachsync.mail import eml_name
from coachsync.model import MailStatus, OutboxMessage
from coachsync.store import Store

from support.cli import cli
from support.ical import session
from support.scenario import Coach
from support.smtp_server import SmtpHandler, smtp_server

BERLIN = ZoneInfo("Europe/Berlin")
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MONDAY = DigestConfig(enabled=True)  # monday, 08:00
REPO = Path(__file__).resolve().parent.parent


def berlin(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


# --- when a digest is due ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "week"),
    [
        (berlin(11, 30, 7, 59), None),  # Monday, a minute early: last week's is past its catch-up time
        (berlin(11, 30, 8, 0), "2026-W49"),
        (berlin(12, 1, 10, 0), "2026-W49"),  # down on Monday 08:00, started on Tuesday: still this week's
        (berlin(12, 3, 7, 59), "2026-W49"),  # three days late, less a minute
        (berlin(12, 3, 8, 0), None),  # later than that: wait for next week's
        (berlin(12, 6, 20, 0), None),  # started on Sunday: nothing ...
        (berlin(12, 7, 7, 59), None),
        (berlin(12, 7, 8, 0), "2026-W50"),  # ... until Monday 08:00
        (berlin(12, 28, 9, 0), "2026-W53"),  # 2026 has 53 ISO weeks
        (berlin(1, 5, 9, 0).replace(year=2027), "2027-W01"),
    ],
)
def test_a_digest_is_due_from_its_weekday_and_time_for_three_days(now: datetime, week: str | None) -> None:
    due = digest_due(now.astimezone(UTC), BERLIN, MONDAY)

    assert (due.week if due else None) == week


def test_the_time_is_the_coachs_local_time_and_the_week_before_keeps_it_across_a_clock_change() -> None:
    # Berlin leaves summer time on Sunday 25 October 2026: 08:00 is 07:00 UTC after it, 06:00 before.
    due = digest_due(datetime(2026, 10, 26, 7, 0, tzinfo=UTC), BERLIN, MONDAY)

    assert due is not None
    assert (due.week, due.moment, due.since) == ("2026-W44", berlin(10, 26, 8), berlin(10, 19, 8))
    assert due.since.astimezone(UTC) == datetime(2026, 10, 19, 6, 0, tzinfo=UTC)
    assert digest_due(datetime(2026, 10, 26, 6, 59, tzinfo=UTC), BERLIN, MONDAY) is None
    assert digest_due(datetime(2026, 10, 26, 6, 59, tzinfo=UTC), ZoneInfo("UTC"), MONDAY) is None
    assert digest_due(datetime(2026, 10, 26, 8, 0, tzinfo=UTC), ZoneInfo("UTC"), MONDAY) is not None


def test_a_sunday_evening_digest_is_still_due_on_monday_morning_as_the_week_it_belongs_to() -> None:
    sunday = DigestConfig(enabled=True, weekday="sunday", time="20:00")

    due = digest_due(berlin(11, 30, 9, 0).astimezone(UTC), BERLIN, sunday)

    assert due is not None and (due.week, due.moment) == ("2026-W48", berlin(11, 29, 20))


# --- its config ----------------------------------------------------------------------------------


def test_a_digest_without_coach_email_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    coach = Coach(tmp_path, extra_yaml="mail:\n  digest: {enabled: true}\n")

    with pytest.raises(ConfigError) as raised:
        load_config(coach.config_path)

    assert str(raised.value) == (
        f"{coach.config_path}:15: mail.digest.enabled: the weekly digest is enabled but there is no coach_email:"
        " give the address it goes to"
    )


@pytest.mark.parametrize("written", ['"8:00"', '"08:00:00"', '"25:00"', "eight"])
def test_a_time_that_is_not_hh_mm_is_refused(tmp_path: Path, written: str) -> None:
    coach = Coach(tmp_path, extra_yaml=f"mail:\n  coach_email: me@example.com\n  digest: {{time: {written}}}\n")

    with pytest.raises(ConfigError) as raised:
        load_config(coach.config_path)

    problem = f"not a time of day as HH:MM: '{written.strip(chr(34))}'; write it like \"08:00\""
    assert str(raised.value) == f"{coach.config_path}:16: mail.digest.time: {problem}"


# --- a hand-built week -----------------------------------------------------------------------------

WEEK_YAML = """\
agreement:
  allowance: {reschedules: 1, per: month}
policies:
  fee: {enabled: true, amount: 40, currency: EUR}
  escalation_email: {enabled: true, after: 2, within_days: 30, to: client}
  end_engagement: {enabled: true, trigger: after, after: 2, within_days: 30}
mail:
  coach_email: coach@example.com
  outbox_dir: outbox
  digest: {enabled: true}
"""
# The digest of week 49 is due on Monday 30 November at 08:00 in Berlin; it covers the seven days before.
DUE = berlin(11, 30, 8).astimezone(UTC)


def utc(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=UTC)


def built_week(root: Path, extra: str = "") -> Coach:
    """Bob cancels three times late (the last this week, a fee; one the week before, a fee), Alice moves
    twice (once late), Carmen misses a session, two check-ins wait for approval and the calendar fails."""
    coach = Coach(root, extra_yaml=WEEK_YAML + extra)
    alice = [utc(26, 9), utc(30, 9) + 3 * DAY]
    bob = [utc(18, 15), utc(21, 15), utc(25, 15)]

    def write(alice: list[datetime], bob_left: int) -> None:
        bobs = [session(f"b{i}", start, "bob@example.com") for i, start in enumerate(bob) if i >= 3 - bob_left]
        coach.write(session("a1", alice[0]), session("a2", alice[1]), *bobs, session("c1", utc(24, 16), None, "Carmen"))

    write(alice, 3)
    steps = [(utc(10, 12), alice, 3), (utc(18, 10), alice, 2), (utc(21, 9), alice, 1), (utc(25, 9), alice, 0)]
    steps += [(utc(25, 20), [alice[0] + 2 * DAY, alice[1]], 0), (utc(27, 10), [alice[0] + 2 * DAY, alice[1] + DAY], 0)]
    for at, moved, left in steps:
        write(moved, left)
        assert cli(coach, "sync", at=at).exit_code == 0
        if at == utc(21, 9):  # Carmen's session of Tuesday 24 November: she does not come
            app = coach.app()
            try:
                [(ref, _)] = app.sessions("Carmen Diaz", utc(24, 0), utc(25, 0), utc(24, 18))
                app.mark_no_show(ref, utc(24, 18))
            finally:
                app.close()
    coach.write_raw("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")  # cut off: the next passes fail
    assert cli(coach, "sync", at=utc(29, 14)).exit_code == 1
    assert cli(coach, "sync", at=utc(29, 18)).exit_code == 1
    return coach


def indented(text: str) -> str:
    return "\n".join(f"    {line}".rstrip() for line in text.splitlines())


def expected_text(coach: Coach) -> str:
    with Store(coach.database) as store:
        waiting = store.outbox.messages(MailStatus.PENDING_APPROVAL)
        suggestions = store.ledger.suggestions()
    assert [(m.id, m.recipient) for m in waiting] == [(1, "bob@example.com"), (2, "alice@example.com")]
    assert [(s.client, s.created_at) for s in suggestions] == [
        ("Bob Builder", utc(21, 9)),
        ("Alice Example", utc(27, 10)),
    ]
    cut_off = f'calendar "coaching" ({coach.calendar}): calendar is cut off: no END:VCALENDAR at the end;'
    cut_off += " was the file still being written?"
    return (
        textwrap.dedent(
            """\
            Week 2026-W49: from Mon 23 Nov 2026, 08:00 to Mon 30 Nov 2026, 08:00.
            All times are in Europe/Berlin.

            Changes this week
            -----------------
            Alice Example: 2 of 1 reschedules used, per month: over the allowance
              Thu 26 Nov 10:00 moved to Sat 28 Nov 10:00 with 13 hours' notice: late,
                counts 1 of 1 (Coaching)
              Thu 03 Dec 10:00 moved to Fri 04 Dec 10:00 with 143 hours' notice: on time,
                counts 2 of 1, over the allowance (Coaching)

            Bob Builder: 3 of 1 reschedules used, per month: over the allowance
              Wed 25 Nov 16:00 cancelled with 6 hours' notice: late, counts 3 of 1, over
                the allowance (Coaching)

            No-shows
            --------
            Carmen Diaz: Tue 24 Nov 17:00, counts 1 of 1 (Carmen)

            Fees
            ----
            New this week:
              Bob Builder: 40.00 EUR (fee 2, owed): session of Wed 25 Nov 2026, 16:00
                cancelled with 6 h notice (less than 24 h); 3 changes this period, 1
                allowed per month
            Owed in total: 80.00 EUR
              Bob Builder: 80.00 EUR

            Waiting for your approval
            -------------------------
            Message 1 to bob@example.com (Bob Builder)
            Subject: Checking in, Bob

            {bob}

              Approve: coachsync outbox approve 1
              Edit first: coachsync outbox edit 1
              Discard: coachsync outbox discard 1

            Message 2 to alice@example.com (Alice Example)
            Subject: Checking in, Alice

            {alice}

              Approve: coachsync outbox approve 2
              Edit first: coachsync outbox edit 2
              Discard: coachsync outbox discard 2

            Open suggestions
            ----------------
            Bob Builder, Sat 21 Nov:
            {bob_suggestion}

              Dismiss when done: coachsync suggestions dismiss 1

            Alice Example, Fri 27 Nov:
            {alice_suggestion}

              Dismiss when done: coachsync suggestions dismiss 2

            Calendars not read
            ------------------
            coaching: failing since Sun 29 Nov 2026, 15:00:
                {cut_off}

            Attached: coachsync-report-2026-W49.html, the report of the last 90 days.
            """
        )
        .replace("{bob}", indented(waiting[0].body))
        .replace("{alice}", indented(waiting[1].body))
        .replace("{bob_suggestion}", indented(suggestions[0].text))
        .replace("{alice_suggestion}", indented(suggestions[1].text))
        .replace("{cut_off}", cut_off)
    )


def test_the_digest_of_a_hand_built_week_says_exactly_this(tmp_path: Path) -> None:
    coach = built_week(tmp_path)

    printed = cli(coach, "digest", "--print", at=DUE)

    assert printed.exit_code == 0, printed.stderr
    assert printed.stdout == expected_text(coach)
    with Store(coach.database) as store:
        assert [m.plugin for m in store.outbox.messages()] == ["escalation_email", "escalation_email"]


def test_a_dismissed_suggestion_is_left_out(tmp_path: Path) -> None:
    coach = built_week(tmp_path)
    assert cli(coach, "suggestions", "dismiss", "1", "--reason", "we talked", at=DUE - HOUR).exit_code == 0

    printed = cli(coach, "digest", "--print", at=DUE).stdout

    suggestions = printed[printed.index("Open suggestions") : printed.index("Calendars not read")]
    assert suggestions.startswith("Open suggestions\n----------------\nAlice Example, Fri 27 Nov:\n")
    assert "Bob Builder" not in suggestions and "dismiss 1" not in suggestions
    assert "Dismiss when done: coachsync suggestions dismiss 2\n" in suggestions


def test_an_empty_week_is_one_sentence_per_section(tmp_path: Path) -> None:
    coach = Coach(tmp_path)
    coach.write(session("a1", DUE + 2 * DAY))
    cli(coach, "sync", at=DUE - DAY)

    printed = cli(coach, "digest", "--print", at=DUE)

    assert printed.stdout == textwrap.dedent(
        """\
        Week 2026-W49: from Mon 23 Nov 2026, 08:00 to Mon 30 Nov 2026, 08:00.
        All times are in Europe/Berlin.

        Changes this week
        -----------------
        No changes this week.

        No-shows
        --------
        No no-shows this week.

        Fees
        ----
        No new fees this week, and nothing is owed.

        Waiting for your approval
        -------------------------
        No message is waiting for your approval.

        Open suggestions
        ----------------
        No open suggestions.

        Calendars not read
        ------------------
        Every calendar was read in its last pass.

        Attached: coachsync-report-2026-W49.html, the report of the last 90 days.
        """
    )


# --- exactly once a week -----------------------------------------------------------------------------


def digests(coach: Coach) -> list[OutboxMessage]:
    with Store(coach.database) as store:
        return [m for m in store.outbox.messages() if m.plugin == "digest"]


def claimed(coach: Coach) -> list[tuple[str, int]]:
    with Store(coach.database) as store:
        return list(store._db.execute("SELECT week, outbox_id FROM digest_weeks ORDER BY week"))


def daemon_pass(coach: Coach, at: datetime) -> None:
    """A daemon started at `at` (a new process, as after a restart) makes one pass."""
    app = App(load_config(coach.config_path), Store(coach.database))
    try:
        Daemon(app, clock=lambda: at).run_once("coaching")
    finally:
        app.close()


def test_the_daemon_queues_one_digest_per_iso_week_across_restarts(tmp_path: Path) -> None:
    coach = built_week(tmp_path)

    daemon_pass(coach, DUE - HOUR)  # Monday 07:00 in Berlin: not yet
    assert digests(coach) == []
    for at in (DUE, DUE + HOUR, DUE + DAY, DUE + 6 * DAY):  # Monday 08:00, 09:00, Tuesday, Sunday: one
        daemon_pass(coach, at)
    [first] = digests(coach)
    daemon_pass(coach, DUE + 7 * DAY)  # next Monday 08:00: week 50's

    [first, second] = digests(coach)
    assert (first.subject, first.recipient, first.status) == (
        "coachsync weekly digest, 2026-W49",
        "coach@example.com",
        MailStatus.WRITTEN,  # needs no approval: written to the outbox folder at once
    )
    assert (first.created_at, second.created_at, second.subject) == (
        DUE,
        DUE + 7 * DAY,
        "coachsync weekly digest, 2026-W50",
    )
    assert claimed(coach) == [("2026-W49", first.id), ("2026-W50", second.id)]
    # The daemon's pass read the calendar again, still cut off: it is failing since Sunday all the same.
    assert first.body == expected_text(coach)


def test_a_daemon_down_on_monday_sends_on_tuesday_and_one_started_on_sunday_waits_for_monday(tmp_path: Path) -> None:
    coach = built_week(tmp_path)

    daemon_pass(coach, DUE + DAY + 2 * HOUR)  # first started on Tuesday
    assert [m.subject for m in digests(coach)] == ["coachsync weekly digest, 2026-W49"]
    assert digests(coach)[0].body.startswith("Week 2026-W49: from Mon 23 Nov 2026, 08:00 to Tue 01 Dec 2026, 10:00.\n")
    daemon_pass(coach, DUE + 7 * DAY)  # the next week's starts where the late one ended
    assert digests(coach)[1].body.startswith("Week 2026-W50: from Tue 01 Dec 2026, 10:00 to Mon 07 Dec 2026, 08:00.\n")

    (tmp_path / "fresh").mkdir()
    fresh = built_week(tmp_path / "fresh")
    daemon_pass(fresh, DUE + 6 * DAY)  # first started on Sunday 6 December
    daemon_pass(fresh, DUE + 7 * DAY - HOUR)
    assert digests(fresh) == []
    daemon_pass(fresh, DUE + 7 * DAY)
    assert [m.subject for m in digests(fresh)] == ["coachsync weekly digest, 2026-W50"]


KILLER = """
import os, signal, sys
from datetime import datetime
from pathlib import Path

import time_machine

from coachsync.app import App
from coachsync.config import load_config
from coachsync.daemon import Daemon

config, at, where = sys.argv[1:4]
if where == "claim":  # dies inside the transaction, the digest queued and the week claimed, before COMMIT
    from coachsync.store.ledger import Ledger

    claim = Ledger.mark_digest

    def claim_and_die(self, *args, **kwargs):
        claim(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)

    Ledger.mark_digest = claim_and_die
elif where == "deliver":  # dies after COMMIT, before the digest is delivered
    Daemon._deliver_mail = lambda self: os.kill(os.getpid(), signal.SIGKILL)
with time_machine.travel(datetime.fromisoformat(at), tick=False):
    app = App.open(load_config(Path(config)))
    Daemon(app).run_once("coaching")
    app.close()
"""


def killed_daemon_pass(coach: Coach, at: datetime, where: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", KILLER, str(coach.config_path), at.isoformat(), where],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "tests")},
        check=False,
    )
    return done.returncode


def test_a_daemon_killed_while_queueing_or_before_delivering_leaves_one_digest(tmp_path: Path) -> None:
    coach = built_week(tmp_path)

    assert killed_daemon_pass(coach, DUE, "claim") == -9
    assert (digests(coach), claimed(coach)) == ([], [])  # neither the message nor the claim
    assert killed_daemon_pass(coach, DUE + HOUR, "deliver") == -9
    [queued] = digests(coach)
    assert (queued.status, claimed(coach)) == (MailStatus.QUEUED, [("2026-W49", queued.id)])
    assert killed_daemon_pass(coach, DUE + 2 * HOUR, "none") == 0

    [written] = digests(coach)
    assert (written.id, written.status) == (queued.id, MailStatus.WRITTEN)
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == [eml_name(written)]


# --- on demand -----------------------------------------------------------------------------------------


def test_digest_on_demand_queues_one_now_without_taking_the_weeks(tmp_path: Path) -> None:
    coach = built_week(tmp_path)

    queued = cli(coach, "digest", at=DUE - DAY)

    assert queued.exit_code == 0, queued.stderr
    [on_demand] = digests(coach)
    assert queued.stdout == (
        f"digest queued as outbox message {on_demand.id} to coach@example.com;"
        " `coachsync send` delivers it (`coachsync run` does after its next pass)\n"
    )
    assert (on_demand.status, on_demand.subject, claimed(coach)) == (
        MailStatus.QUEUED,
        "coachsync weekly digest, 2026-W48",  # Sunday 29 November's week
        [],
    )
    daemon_pass(coach, DUE)
    assert [m.created_at for m in digests(coach)] == [DUE - DAY, DUE]


def test_digest_without_coach_email_says_which_key_to_set(tmp_path: Path) -> None:
    coach = Coach(tmp_path)
    coach.write(session("a1", DUE + 2 * DAY))

    refused = cli(coach, "digest", at=DUE)

    assert (refused.exit_code, refused.stderr) == (
        2,
        f"{coach.config_path}: mail.coach_email: not set: the digest goes to that address\n",
    )
    with Store(coach.database) as store:
        assert store.outbox.messages() == []


# --- the attachment ------------------------------------------------------------------------------------


def report_at(coach: Coach, now: datetime) -> bytes:
    from coachsync.report import render_report

    app = App(load_config(coach.config_path), Store(coach.database))
    try:
        return render_report(app, now=now, since=now - 90 * DAY).encode()
    finally:
        app.close()


def parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_the_eml_file_holds_the_text_and_the_report_as_a_mime_attachment(tmp_path: Path) -> None:
    coach = built_week(tmp_path)

    daemon_pass(coach, DUE)

    [digest] = digests(coach)
    written = parse((tmp_path / "outbox" / eml_name(digest)).read_bytes())
    assert written.get_content_type() == "multipart/mixed"
    assert (written["To"], written["Subject"], written["Message-ID"]) == (
        "coach@example.com",
        "coachsync weekly digest, 2026-W49",
        digest.message_id,
    )
    body, attachment = written.iter_parts()
    assert body.get_content_type() == "text/plain"
    assert body.get_content().replace("\r\n", "\n") == digest.body  # type: ignore[attr-defined]
    assert (attachment.get_content_type(), attachment.get_filename(), attachment.get_content_disposition()) == (
        "text/html",
        "coachsync-report-2026-W49.html",
        "attachment",
    )
    assert attachment.get_payload(decode=True) == report_at(coach, DUE)  # type: ignore[union-attr]


def test_the_digest_goes_through_smtp_with_its_attachment(tmp_path: Path) -> None:
    with smtp_server(SmtpHandler()) as (controller, server):
        smtp = f"  from: coach@example.com\n  mode: smtp\n  smtp: {{host: 127.0.0.1, port: {controller.port}"
        smtp += ", starttls: false, timeout: 5}\n"
        coach = built_week(tmp_path, smtp)

        daemon_pass(coach, DUE)

    [digest] = digests(coach)
    assert digest.status is MailStatus.SENT
    [received] = [r for r in server.received if r.rcpt_tos == ["coach@example.com"]]
    message = received.message
    assert message["Subject"] == "coachsync weekly digest, 2026-W49"
    [attachment] = message.iter_attachments()
    assert attachment.get_filename() == "coachsync-report-2026-W49.html"
    assert attachment.get_payload(decode=True) == report_at(coach, DUE)  # type: ignore[union-attr]
