"""A database written at schema 3 (the release before coaching agreements) opens and keeps every record.

tests/data/schema-3/ was made by that code itself (tests/data/make_schema_3.py):
a baseline, a late move of Bob's session (a fee, excused at the end and so
waived), Alice's session skipped by EXDATE, another move of Bob's (an
escalation email, approved and written in outbox mode, and an end-engagement
suggestion), and a plugin that failed on every change.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from coachsync.model import ChangeKind, FeeStatus, FeeStep, MailStatus
from coachsync.store import SCHEMA_VERSION, Store

from support.cli import cli
from support.old_databases import DATA, install_old_database, schema_version_of
from support.scenario import Coach

FIXTURE = DATA / "schema-3"


def upgraded(tmp_path: Path) -> Path:
    return install_old_database(FIXTURE, tmp_path)


def test_the_fixture_is_at_schema_3() -> None:
    assert schema_version_of(FIXTURE / "coachsync.db") == 3


def test_every_record_of_a_schema_3_database_reads_back_after_the_upgrade(tmp_path: Path) -> None:
    with Store(upgraded(tmp_path)) as store:
        assert store.schema_version == SCHEMA_VERSION

        records = store.history.records()
        assert [(r.id, r.change.kind, r.change.client, r.change.uid, r.excused, r.reason) for r in records] == [
            (1, ChangeKind.MOVED, "Bob Builder", "bob-1", True, "ill with flu"),
            (2, ChangeKind.CANCELLED, "Alice Example", "alice-weekly", False, None),
            (3, ChangeKind.MOVED, "Bob Builder", "bob-2", False, None),
        ]
        assert [r.change.notice_hours for r in records] == [15.3, 201.3, 320.3]

        [fee] = store.ledger.fees()
        assert (fee.change_id, fee.amount, fee.currency, fee.status, fee.waived_reason) == (
            1,
            Decimal("40.00"),
            "EUR",
            FeeStatus.WAIVED,
            "change excused: ill with flu",
        )

        # The waiver from before fee steps were kept becomes the fee's one step, with no time.
        assert fee.steps == (FeeStep(FeeStatus.WAIVED, None, "change excused: ill with flu"),)
        assert fee.paid_on is None

        [suggestion] = store.ledger.suggestions()
        assert (suggestion.key, suggestion.change_id) == ("end_engagement:suggestion:Bob Builder:step-1", 3)
        assert suggestion.text.startswith("By Wed 2 Dec 2026, 00:42, Bob Builder had rescheduled or cancelled 2 times")

        [message] = store.outbox.messages()
        assert (message.key, message.status, message.recipient, message.subject) == (
            "escalation_email:email:Bob Builder:step-1",
            MailStatus.WRITTEN,
            "bob@example.com",
            "Checking in, Bob",
        )

        assert store.engagements.events() == []  # the engagement log starts empty

        assert [(f.change_id, f.plugin, f.attempts) for f in store.ledger.failures()] == [
            (1, "boom", 3),
            (2, "boom", 2),
            (3, "boom", 1),
        ]


def test_the_first_pass_after_the_upgrade_reads_the_old_snapshot_as_its_own(tmp_path: Path) -> None:
    upgraded(tmp_path)
    coach = Coach(tmp_path)

    result = cli(coach, "sync")

    assert (result.exit_code, result.stdout) == (0, "coaching: unchanged\n")
    with Store(coach.database) as store:
        assert len(store.history.records()) == 3
    # The old records take their standing against the agreement like new ones.
    standings = [
        (r["id"], r["counts"], r["why_not"], r["allowance_used"])
        for r in json.loads(cli(coach, "history", "--json").stdout)
    ]
    assert standings == [(1, False, "excused", 0), (2, True, None, 1), (3, True, None, 1)]
