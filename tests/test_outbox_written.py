"""Outbox mode writes files and sends nothing, and says so: `written`, never `sent`."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from coachsync.model import MailStatus
from coachsync.store import SCHEMA_VERSION, Store
from coachsync.store.schema import MIGRATIONS

from support.cli import cli
from support.ical import vevent
from support.mail_world import echo_coach
from support.scenario import NOW

DEC_10 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)


def test_send_in_outbox_mode_names_each_file_it_wrote_and_sends_nothing(tmp_path: Path) -> None:
    coach = echo_coach(tmp_path, "mail:\n  from: coach@example.com\n  outbox_dir: outbox\n")
    coach.write(vevent("s1", DEC_10, summary="Goal review", attendees=("alice@example.com",)))
    cli(coach, "sync", at=NOW - timedelta(days=1))
    coach.write(vevent("s1", DEC_10 + timedelta(hours=1), summary="Goal review", attendees=("alice@example.com",)))
    cli(coach, "sync")

    sent = cli(coach, "send")
    again = cli(coach, "send")

    with Store(coach.database) as store:
        [message] = store.outbox.messages()
    name = f"000001-{hashlib.sha256(message.message_id.encode()).hexdigest()[:12]}.eml"
    outbox = tmp_path / "outbox"
    assert (sent.exit_code, sent.stdout) == (
        0,
        f"outbox message 1 written to {outbox / name}\nmail: 1 written to {outbox}, nothing sent, 0 failed\n",
    )
    assert (again.exit_code, again.stdout) == (0, "mail: nothing to send\n")
    assert (message.status, message.attempts, message.sent_at) == (MailStatus.WRITTEN, 1, NOW)
    assert [p.name for p in outbox.iterdir()] == [name]


def test_a_version_2_database_keeps_its_outbox_and_learns_written(tmp_path: Path) -> None:
    path = tmp_path / "coachsync.db"
    db = sqlite3.connect(path)
    for script in MIGRATIONS[:2]:
        db.executescript(script)
    db.execute("PRAGMA user_version = 2")
    db.execute(
        "INSERT INTO changes (id, calendar, uid, recurrence_id, kind, summary, old_start, notice_hours, changed_at,"
        " detected_at) VALUES (1, 'coaching', 'u', '', 'moved', 'S', '2026-12-10T09:00:00+00:00', 5,"
        " '2026-12-01T12:00:00+00:00', '2026-12-01T12:00:00+00:00')"
    )
    db.execute(
        "INSERT INTO outbox (idempotency_key, message_id, change_id, plugin, subject, body, status, created_at,"
        " sent_at) VALUES ('1:echo:email', '<a@example.com>', 1, 'echo', 'Hi', 'Body', 'sent',"
        " '2026-12-01T12:00:00+00:00', '2026-12-01T12:00:00+00:00')"
    )
    db.commit()
    db.close()

    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        [kept] = store.outbox.messages()
        assert (kept.id, kept.key, kept.subject, kept.status) == (1, "1:echo:email", "Hi", MailStatus.SENT)
        with store.transaction():
            store._db.execute("UPDATE outbox SET status = 'queued' WHERE id = 1")
        store.outbox.mark_written(1, NOW)
        assert store.outbox.message(1).status is MailStatus.WRITTEN
