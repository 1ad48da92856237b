"""A database written by coachsync 0.1.0 (schema 2) opens in this release and keeps every record.

tests/data/release-0.1.0/ was made by that release itself: a baseline of the
calendar beside it, then a late move of Bob's session (a fee, later excused and
so waived), Alice's session skipped by EXDATE (a tombstone), another move of
Bob's (an escalation email, approved and written in outbox mode, and an
end-engagement suggestion), and a plugin that failed on all three changes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from coachsync.model import ChangeKind, Excuse, FeeStatus, MailStatus
from coachsync.store import SCHEMA_VERSION, Store

from support.cli import cli
from support.old_databases import DATA, install_old_database, schema_version_of
from support.scenario import Coach

RELEASE = DATA / "release-0.1.0"
PASSED_AT = datetime(2026, 12, 1, 23, 42, 10, 454824, tzinfo=UTC)


def upgraded(tmp_path: Path) -> Path:
    return install_old_database(RELEASE, tmp_path)


def test_the_fixture_is_what_release_0_1_0_wrote() -> None:
    assert schema_version_of(RELEASE / "coachsync.db") == 2


def test_every_record_of_a_0_1_0_database_reads_back_after_the_upgrade(tmp_path: Path) -> None:
    with Store(upgraded(tmp_path)) as store:
        assert store.schema_version == SCHEMA_VERSION

        records = store.history.records()
        assert [(r.id, r.change.kind, r.change.client, r.change.uid, r.excused, r.reason) for r in records] == [
            (1, ChangeKind.MOVED, "Bob Builder", "bob-1", True, "ill with flu"),
            (2, ChangeKind.CANCELLED, "Alice Example", "alice-weekly", False, None),
            (3, ChangeKind.MOVED, "Bob Builder", "bob-2", False, None),
        ]
        assert [r.change.notice_hours for r in records] == [15.3, 201.3, 320.3]
        # The excuse given under 0.1.0 opens the record's trail, without a time, which 0.1.0 did not keep.
        assert [r.excuses for r in records] == [(Excuse("ill with flu", None),), (), ()]
        assert records[1].change.recurrence_id == "2026-12-10T09:00:00+00:00"

        [fee] = store.ledger.fees()
        assert (fee.id, fee.change_id, fee.plugin, fee.amount, fee.currency, fee.status, fee.waived_reason) == (
            1,
            1,
            "fee",
            Decimal("40.00"),
            "EUR",
            FeeStatus.WAIVED,
            "change excused: ill with flu",
        )

        [suggestion] = store.ledger.suggestions()
        assert (suggestion.key, suggestion.change_id, suggestion.client) == (
            "end_engagement:suggestion:Bob Builder:step-1",
            3,
            "Bob Builder",
        )
        assert suggestion.text.startswith("Bob Builder has rescheduled or cancelled 2 times without an excuse")

        [message] = store.outbox.messages()
        assert (message.key, message.message_id, message.status, message.recipient, message.subject) == (
            "escalation_email:email:Bob Builder:step-1",
            "<10fc1d70d05f9a7603637492c94b1b45@example.com>",
            MailStatus.SENT,
            "bob@example.com",
            "Checking in, Bob",
        )

        assert [(f.change_id, f.plugin, f.attempts) for f in store.ledger.failures()] == [
            (1, "boom", 1),
            (2, "boom", 1),
            (3, "boom", 1),
        ]

        state = store.snapshots.state("coaching")
        assert state is not None
        assert (state.zone, state.last_pass_at) == ("Europe/Berlin", PASSED_AT)
        occurrences = store.snapshots.occurrences("coaching")
        assert len(occurrences) == 10
        assert [(o.uid, o.recurrence_id) for o in occurrences if o.cancelled] == [
            ("alice-weekly", "2026-12-10T09:00:00+00:00")
        ]


def test_the_first_pass_after_the_upgrade_reads_the_old_snapshot_as_its_own(tmp_path: Path) -> None:
    upgraded(tmp_path)
    coach = Coach(tmp_path)  # the same calendar file, clients and database path as the release's config

    result = cli(coach, "sync")

    assert (result.exit_code, result.stdout) == (0, "coaching: unchanged\n")
    with Store(coach.database) as store:
        assert len(store.history.records()) == 3
