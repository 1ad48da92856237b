"""Sessions and no-shows, end to end: stable references, held sessions, marking, fees, attendance."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coachsync.model import FeeStatus, MailStatus
from coachsync.store import Store

from support.cli import cli
from support.ical import HOUR, session
from support.scenario import NOW, Coach

DAY = timedelta(days=1)
# Alice's sessions: two past ones, one tomorrow; Bob one past; a past event of no client.
PAST_1 = NOW - 6 * DAY  # Wed 25 Nov, 12:00 UTC
PAST_2 = NOW - 2 * DAY
TOMORROW = NOW + DAY
CALENDAR = (
    session("a1", PAST_1),
    session("a2", PAST_2),
    session("a3", TOMORROW),
    session("b1", NOW - 3 * DAY, "bob@example.com"),
    session("x1", NOW - DAY, None, "Dentist"),
)
POLICIES = """\
agreement:
  allowance: {reschedules: 0, per: month}
policies:
  fee: {enabled: true, amount: 40, no_show_amount: 70, currency: EUR}
  escalation_email: {enabled: true, to: coach}
"""


@pytest.fixture
def coach(tmp_path: Path) -> Coach:
    coach = Coach(tmp_path, extra_yaml=POLICIES)
    coach.write(*CALENDAR)
    # The baseline a week ago, when all of these were still ahead.
    assert cli(coach, "sync", at=NOW - 7 * DAY).exit_code == 0
    assert cli(coach, "sync").exit_code == 0
    return coach


def listed(coach: Coach, *args: str, at: datetime = NOW) -> list[dict[str, object]]:
    result = cli(coach, "sessions", "--json", *args, at=at)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_sessions_list_each_with_a_reference_and_held_needs_no_marking(coach: Coach) -> None:
    rows = listed(coach)

    assert [(r["ref"], r["client"], r["uid"], r["state"]) for r in rows] == [
        ("S1", "Alice Example", "a1", "held"),
        ("S4", "Bob Builder", "b1", "held"),
        ("S2", "Alice Example", "a2", "held"),
        ("S3", "Alice Example", "a3", "upcoming"),
    ]
    table = cli(coach, "sessions", "--client", "alice example").stdout.splitlines()
    assert table[0].split() == ["REF", "SESSION", "CLIENT", "STATE", "SUMMARY"]
    assert table[1].split() == ["S1", "2026-11-25", "13:00", "Alice", "Example", "held", "Coaching"]


def test_references_survive_later_passes_and_a_move(coach: Coach) -> None:
    before = {r["uid"]: r["ref"] for r in listed(coach)}
    coach.write(*CALENDAR[:2], session("a3", TOMORROW + 2 * DAY), *CALENDAR[3:])
    cli(coach, "sync", at=NOW + HOUR)

    rows = listed(coach, at=NOW + HOUR)

    assert {r["uid"]: r["ref"] for r in rows} == before
    moved = [(r["ref"], r["state"], r["moved_to"]) for r in rows if r["uid"] == "a3"]
    assert moved == [
        ("S3", "moved", "2026-12-04T13:00:00+01:00"),
        ("S3", "upcoming", None),
    ]


def test_a_no_show_is_recorded_charged_and_escalated_and_shows_everywhere(coach: Coach) -> None:
    result = listed(coach)
    result = cli(coach, "noshow", "s2")

    assert (result.exit_code, result.stdout) == (
        0,
        "S2: Alice Example did not come on 2026-11-29 13:00; change 1 recorded (counts against the agreement)\n",
    )
    [record] = json.loads(cli(coach, "history", "--json").stdout)
    assert (record["kind"], record["notice_hours"], record["counts"], record["allowance_used"]) == (
        "no_show",
        0.0,
        True,
        1,
    )
    assert record["old_start"] == "2026-11-29T13:00:00+01:00"
    with Store(coach.database) as store:
        [fee] = store.ledger.fees()
        [email] = store.outbox.messages()
    assert (str(fee.amount), fee.reason) == (
        "70.00",
        "no-show at the session of Sun 29 Nov 2026, 13:00; 1 change this period, 0 allowed per month",
    )
    assert email.subject == "Alice Example: 1 reschedule since Sun 1 Nov 2026"
    assert "- #1 Sun 29 Nov 2026, 13:00: did not come to the session (no-show)" in email.body
    assert [(r["uid"], r["state"], r["record_id"]) for r in listed(coach) if r["uid"] == "a2"] == [("a2", "no_show", 1)]


def test_an_excused_no_show_does_not_count_and_costs_nothing(coach: Coach) -> None:
    listed(coach)
    result = cli(coach, "noshow", "S2", "--excused", "--reason", "her child was ill")

    assert result.stdout.endswith("change 1 recorded (excused: her child was ill)\n")
    [record] = json.loads(cli(coach, "history", "--json").stdout)
    assert (record["counts"], record["why_not"]) == (False, "excused")
    with Store(coach.database) as store:
        assert (store.ledger.fees(), store.outbox.messages()) == ([], [])


def test_undo_takes_a_no_show_back_waives_its_fee_and_discards_its_unsent_email(tmp_path: Path) -> None:
    coach = Coach(tmp_path, extra_yaml=POLICIES.replace("to: coach", "to: client"))
    coach.write(*CALENDAR)
    cli(coach, "sync", at=NOW - 7 * DAY)
    listed(coach)
    cli(coach, "noshow", "S2")

    undone = cli(coach, "noshow", "S2", "--undo", at=NOW + HOUR)
    again = cli(coach, "noshow", "S2", "--undo", at=NOW + HOUR)

    assert undone.stdout == (
        "S2: no-show taken back (change 1 stays in the history, no longer counts; its fees are waived)\n"
    )
    assert (again.exit_code, again.stderr) == (
        2,
        "coachsync: S2 is not marked as a no-show; see `coachsync sessions`\n",
    )
    [record] = json.loads(cli(coach, "history", "--json").stdout)
    assert (record["kind"], record["counts"], record["why_not"]) == ("no_show", False, "taken back")
    with Store(coach.database) as store:
        [fee] = store.ledger.fees()
        [email] = store.outbox.messages()
    assert (fee.status, fee.waived_reason, email.status) == (
        FeeStatus.WAIVED,
        "no-show taken back",
        MailStatus.DISCARDED,
    )
    assert [r["state"] for r in listed(coach, at=NOW + HOUR) if r["uid"] == "a2"] == ["held"]
    # Taken back, it can be marked again.
    assert cli(coach, "noshow", "S2", at=NOW + 2 * HOUR).stdout.endswith(
        "change 2 recorded (counts against the agreement)\n"
    )


def test_marking_an_upcoming_unknown_duplicate_or_clientless_session_is_an_error(coach: Coach) -> None:
    refs = {r["uid"]: r["ref"] for r in listed(coach)}
    cli(coach, "noshow", "S2")

    upcoming = cli(coach, "noshow", str(refs["a3"]))
    unknown = cli(coach, "noshow", "S99")
    twice = cli(coach, "noshow", "S2")
    garbled = cli(coach, "noshow", "tuesday")

    assert (upcoming.exit_code, upcoming.stderr) == (
        2,
        "coachsync: S3 (2026-12-02 13:00) is still upcoming; only a session that has begun can be a no-show\n",
    )
    assert (unknown.exit_code, unknown.stderr) == (
        2,
        "coachsync: no session S99; see `coachsync sessions` for the references\n",
    )
    assert (twice.exit_code, twice.stderr) == (
        2,
        "coachsync: S2 is already marked as a no-show (change 1); see `coachsync history`\n",
    )
    assert garbled.exit_code == 2
    assert "expected a session reference such as S142, got 'tuesday'" in garbled.stderr


def test_a_session_of_no_client_cannot_be_a_no_show(tmp_path: Path) -> None:
    from coachsync.app import App
    from coachsync.config import load_config
    from coachsync.errors import RefusedError

    coach = Coach(tmp_path)
    coach.write(*CALENDAR)
    cli(coach, "sync", at=NOW - 7 * DAY)
    app = App(load_config(coach.config_path), Store(coach.database), prepare=False)
    try:
        [ref] = app.store.sessions.refs([("coaching", "x1", "")]).values()
        with pytest.raises(RefusedError) as info:
            app.mark_no_show(ref, NOW)
    finally:
        app.close()

    assert str(info.value) == f"S{ref} (2026-11-30 13:00) belongs to no client; add the client to the config first"


def test_attendance_is_held_over_held_no_shows_and_late_cancellations_in_the_period(tmp_path: Path) -> None:
    coach = Coach(tmp_path, extra_yaml="agreement:\n  allowance: {reschedules: 5, per: month}\n")
    # December: five sessions of Alice's, 2-6 Dec at 09:00 UTC.
    days = [datetime(2026, 12, day, 9, 0, tzinfo=UTC) for day in range(2, 7)]
    coach.write(*(session(f"d{i}", start) for i, start in enumerate(days)))
    cli(coach, "sync", at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    # 4 Dec cancelled at 20:00 the evening before (late); 5 Dec cancelled two days before (on time).
    coach.write(*(session(f"d{i}", start) for i, start in enumerate(days) if i != 2))
    cli(coach, "sync", at=datetime(2026, 12, 3, 20, 0, tzinfo=UTC))
    coach.write(*(session(f"d{i}", start) for i, start in enumerate(days) if i not in (2, 3)))
    cli(coach, "sync", at=datetime(2026, 12, 3, 21, 0, tzinfo=UTC))
    at = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    refs = {r["uid"]: r["ref"] for r in listed(coach, at=at)}
    cli(coach, "noshow", str(refs["d1"]), at=at)

    [alice] = [s for s in json.loads(cli(coach, "clients", "--json", at=at).stdout) if s["name"] == "Alice Example"]
    table = cli(coach, "clients", at=at).stdout.splitlines()

    # Held: 2 and 6 Dec. Missed: 3 Dec. Late cancellation: 4 Dec. The on-time one is not an absence.
    assert (alice["held"], alice["no_shows"], alice["late_cancellations"], alice["attendance"]) == (2, 1, 1, 0.5)
    assert table[0].split()[-3:] == ["HELD", "NO-SHOWS", "ATTENDANCE"]
    assert table[1].split()[-3:] == ["2", "1", "50%"]


def test_a_no_show_queues_a_kind_note_to_rebook_unless_it_is_excused(tmp_path: Path) -> None:
    coach = Coach(tmp_path, extra_yaml="policies:\n  noshow_followup: {enabled: true}\n")
    coach.write(*CALENDAR)
    cli(coach, "sync", at=NOW - 7 * DAY)
    listed(coach)

    cli(coach, "noshow", "S2")
    cli(coach, "noshow", "S1", "--excused", "--reason", "told me the day before")

    with Store(coach.database) as store:
        [email] = store.outbox.messages()
    assert (email.status, email.recipient, email.change_id, email.subject) == (
        MailStatus.PENDING_APPROVAL,
        "alice@example.com",
        1,
        "We missed you today, Alice",
    )
    assert email.body == (
        "Hi Alice,\n\n"
        "we were due to meet on Sun 29 Nov 2026, 13:00, and I missed you. I hope everything is all right.\n\n"
        "Whenever it suits you, reply with a few times that work for you and we will find a new slot for our"
        " session.\n\n"
        "Warm regards\n"
    )
