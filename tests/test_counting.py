"""What counts against a client: one rule, and `clients` and the policies agree on it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from coachsync.model import Change, ChangeKind, Record
from coachsync.standing import counts_against

from support.cli import cli
from support.ical import HOUR, vevent
from support.scenario import NOW, Coach

DAY = timedelta(days=1)
WEEKLY = dict(
    start=datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
    end=datetime(2026, 12, 2, 10, 0, tzinfo=UTC),
    rrule="FREQ=WEEKLY;COUNT=6",
    attendees=("alice@example.com",),
    summary="Coaching",
)


COUNTS = ("name", "upcoming", "reschedules", "late", "cancellations", "excused", "allowance_used")


def alice_weekly(*exdates: str) -> str:
    return vevent("alice-weekly", **WEEKLY, exdates=exdates)  # type: ignore[arg-type]


def history(coach: Coach) -> list[tuple[str, int]]:
    return [(r["kind"], r["instances"]) for r in json.loads(cli(coach, "history", "--json").output)]


def alice(coach: Coach) -> dict[str, object]:
    summaries = json.loads(cli(coach, "clients", "--json").output)
    return next(s for s in summaries if s["name"] == "Alice Example")


def test_a_deleted_series_put_back_is_one_restoration_and_counts_for_nothing(coach: Coach) -> None:
    coach.write(alice_weekly())
    cli(coach, "sync")
    coach.write()
    cli(coach, "sync", "--accept-mass-change")  # every upcoming session at once: the guard asks first
    coach.write(alice_weekly())

    result = cli(coach, "sync")

    assert result.exit_code == 0
    assert history(coach) == [("cancelled", 6), ("restored", 6)]
    summary = alice(coach)
    assert {key: summary[key] for key in COUNTS} == {
        "name": "Alice Example",
        "upcoming": 6,
        "reschedules": 0,
        "late": 0,
        "cancellations": 0,
        "excused": 0,
        "allowance_used": 0,
    }


def test_an_exdate_added_and_removed_again_counts_for_nothing_in_clients(coach: Coach) -> None:
    coach.write(alice_weekly())
    cli(coach, "sync")
    coach.write(alice_weekly("EXDATE:20261209T090000Z"))
    cli(coach, "sync")
    assert alice(coach)["cancellations"] == 1
    coach.write(alice_weekly())

    cli(coach, "sync")

    assert history(coach) == [("cancelled", 1), ("restored", 1)]
    assert alice(coach)["cancellations"] == 0


def record(id_: int, kind: ChangeKind, recurrence_id: str = "", instances: int = 1, uid: str = "s") -> Record:
    change = Change(
        kind, "coaching", uid, recurrence_id, "Alice", "Coaching", NOW + DAY, None, 24.0, NOW, None, instances
    )
    return Record(id_, change, NOW + id_ * HOUR, False, None)


def test_a_series_restoration_undoes_as_many_earlier_cancellations_of_it_as_sessions_came_back() -> None:
    one = record(1, ChangeKind.CANCELLED, "2026-12-09T09:00:00+00:00")
    two = record(2, ChangeKind.CANCELLED, "2026-12-16T09:00:00+00:00")
    other = record(3, ChangeKind.CANCELLED, "", 1, uid="another")
    back = record(4, ChangeKind.RESTORED, "", 2)

    assert counts_against([one, two, other, back]) == [other]
    assert counts_against([one, two, record(4, ChangeKind.RESTORED, "", 1)]) == [one]


def test_an_instance_restoration_undoes_only_that_instance() -> None:
    one = record(1, ChangeKind.CANCELLED, "2026-12-09T09:00:00+00:00")
    two = record(2, ChangeKind.CANCELLED, "2026-12-16T09:00:00+00:00")

    assert counts_against([one, two, record(3, ChangeKind.RESTORED, "2026-12-09T09:00:00+00:00")]) == [two]
