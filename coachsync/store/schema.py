"""The database schema: forward migrations, counted by `PRAGMA user_version`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..errors import CoachsyncError

MIGRATIONS: tuple[str, ...] = (
    # version 1
    """
    CREATE TABLE calendars (
        name            TEXT PRIMARY KEY,
        content_digest  TEXT,
        header_digest   TEXT,
        zone            TEXT,
        sync_state      TEXT NOT NULL DEFAULT '{}',
        last_pass_at    TEXT
    );
    CREATE TABLE event_groups (
        calendar      TEXT NOT NULL,
        uid           TEXT NOT NULL,
        digest        TEXT NOT NULL,
        expanded_to   TEXT NOT NULL,
        PRIMARY KEY (calendar, uid)
    ) WITHOUT ROWID;
    CREATE TABLE occurrences (
        calendar       TEXT NOT NULL,
        uid            TEXT NOT NULL,
        recurrence_id  TEXT NOT NULL,
        start          TEXT NOT NULL,
        end            TEXT NOT NULL,
        summary        TEXT NOT NULL,
        all_day        INTEGER NOT NULL,
        cancelled      INTEGER NOT NULL,
        recurring      INTEGER NOT NULL,
        attendees      TEXT NOT NULL,
        sequence       INTEGER NOT NULL,
        last_modified  TEXT,
        PRIMARY KEY (calendar, uid, recurrence_id)
    ) WITHOUT ROWID;
    CREATE TABLE changes (
        id             INTEGER PRIMARY KEY,
        calendar       TEXT NOT NULL,
        client         TEXT,
        uid            TEXT NOT NULL,
        recurrence_id  TEXT NOT NULL,
        kind           TEXT NOT NULL,
        summary        TEXT NOT NULL,
        old_start      TEXT NOT NULL,
        new_start      TEXT,
        notice_hours   REAL NOT NULL,
        changed_at     TEXT NOT NULL,
        detected_at    TEXT NOT NULL,
        new_uid        TEXT,
        instances      INTEGER NOT NULL DEFAULT 1,
        excused        INTEGER NOT NULL DEFAULT 0,
        reason         TEXT
    );
    CREATE INDEX changes_by_client ON changes (client, detected_at);
    """,
    # version 2: what policies asked for. Every action row carries a UNIQUE idempotency key,
    # "{change id}:{plugin}:{kind}[:{key}]", or "{plugin}:{kind}:{once_per}" for actions that
    # are once per client rather than once per change; re-running a pass can never add a second.
    """
    CREATE TABLE fees (
        id               INTEGER PRIMARY KEY,
        idempotency_key  TEXT NOT NULL UNIQUE,
        change_id        INTEGER NOT NULL REFERENCES changes (id),
        plugin           TEXT NOT NULL,
        client           TEXT,
        amount           TEXT NOT NULL,
        currency         TEXT NOT NULL,
        status           TEXT NOT NULL DEFAULT 'owed' CHECK (status IN ('owed', 'waived')),
        reason           TEXT NOT NULL,
        waived_reason    TEXT,
        created_at       TEXT NOT NULL
    );
    CREATE TABLE suggestions (
        id               INTEGER PRIMARY KEY,
        idempotency_key  TEXT NOT NULL UNIQUE,
        change_id        INTEGER NOT NULL REFERENCES changes (id),
        plugin           TEXT NOT NULL,
        client           TEXT,
        text             TEXT NOT NULL,
        created_at       TEXT NOT NULL
    );
    CREATE TABLE outbox (
        id               INTEGER PRIMARY KEY,
        idempotency_key  TEXT NOT NULL UNIQUE,
        message_id       TEXT NOT NULL UNIQUE,
        change_id        INTEGER NOT NULL REFERENCES changes (id),
        plugin           TEXT NOT NULL,
        client           TEXT,
        recipient        TEXT,
        subject          TEXT NOT NULL,
        body             TEXT NOT NULL,
        status           TEXT NOT NULL
                         CHECK (status IN ('pending_approval', 'queued', 'sent', 'failed', 'discarded')),
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  TEXT,
        error            TEXT,
        created_at       TEXT NOT NULL,
        sent_at          TEXT
    );
    CREATE INDEX outbox_by_status ON outbox (status, next_attempt_at);
    CREATE TABLE policy_failures (
        change_id   INTEGER NOT NULL REFERENCES changes (id),
        plugin      TEXT NOT NULL,
        error       TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 1,
        failed_at   TEXT NOT NULL,
        PRIMARY KEY (change_id, plugin)
    );
    """,
    # version 3: in outbox mode a message is `written` to an .eml file, not `sent`. SQLite cannot change a
    # CHECK constraint in place, so the table is rebuilt with every row kept.
    """
    CREATE TABLE outbox_v3 (
        id               INTEGER PRIMARY KEY,
        idempotency_key  TEXT NOT NULL UNIQUE,
        message_id       TEXT NOT NULL UNIQUE,
        change_id        INTEGER NOT NULL REFERENCES changes (id),
        plugin           TEXT NOT NULL,
        client           TEXT,
        recipient        TEXT,
        subject          TEXT NOT NULL,
        body             TEXT NOT NULL,
        status           TEXT NOT NULL
                         CHECK (status IN ('pending_approval', 'queued', 'sent', 'written', 'failed', 'discarded')),
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  TEXT,
        error            TEXT,
        created_at       TEXT NOT NULL,
        sent_at          TEXT
    );
    INSERT INTO outbox_v3 SELECT * FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_v3 RENAME TO outbox;
    CREATE INDEX outbox_by_status ON outbox (status, next_attempt_at);
    """,
    # version 4: the engagement log. Each revisit, pause, resume and end the coach recorded, never rewritten:
    # what counted at any moment is worked out from it and the history.
    """
    CREATE TABLE engagement_events (
        id        INTEGER PRIMARY KEY,
        client    TEXT NOT NULL,
        kind      TEXT NOT NULL CHECK (kind IN ('revisit', 'pause', 'resume', 'end')),
        at        TEXT NOT NULL,
        by_user   TEXT NOT NULL,
        reason    TEXT,
        until     TEXT
    );
    CREATE INDEX engagement_by_client ON engagement_events (client, at);
    """,
    # version 5: every excuse the coach gave, never rewritten, so replacing a reason keeps the earlier one;
    # `changes.reason` is the latest. An excuse given before this version has no time.
    """
    CREATE TABLE excuses (
        id         INTEGER PRIMARY KEY,
        change_id  INTEGER NOT NULL REFERENCES changes (id),
        reason     TEXT,
        at         TEXT
    );
    CREATE INDEX excuses_by_change ON excuses (change_id, id);
    INSERT INTO excuses (change_id, reason, at) SELECT id, reason, NULL FROM changes WHERE excused = 1;
    """,
    # version 6: an occurrence names its title and attendees by id, each distinct text stored once, so a
    # weekly series keeps one copy, not one per week. Titles are cut to 1,000 characters ending in "…",
    # as the parser now cuts them.
    """
    CREATE TABLE texts (
        id    INTEGER PRIMARY KEY,
        text  TEXT NOT NULL UNIQUE
    );
    UPDATE occurrences SET summary = substr(summary, 1, 999) || '…' WHERE length(summary) > 1000;
    UPDATE changes SET summary = substr(summary, 1, 999) || '…' WHERE length(summary) > 1000;
    INSERT OR IGNORE INTO texts (text) SELECT summary FROM occurrences UNION SELECT attendees FROM occurrences;
    CREATE TABLE occurrences_v6 (
        calendar       TEXT NOT NULL,
        uid            TEXT NOT NULL,
        recurrence_id  TEXT NOT NULL,
        start          TEXT NOT NULL,
        end            TEXT NOT NULL,
        summary_id     INTEGER NOT NULL REFERENCES texts (id),
        all_day        INTEGER NOT NULL,
        cancelled      INTEGER NOT NULL,
        recurring      INTEGER NOT NULL,
        attendees_id   INTEGER NOT NULL REFERENCES texts (id),
        sequence       INTEGER NOT NULL,
        last_modified  TEXT,
        PRIMARY KEY (calendar, uid, recurrence_id)
    ) WITHOUT ROWID;
    INSERT INTO occurrences_v6
        SELECT o.calendar, o.uid, o.recurrence_id, o.start, o.end, s.id, o.all_day, o.cancelled, o.recurring,
               a.id, o.sequence, o.last_modified
        FROM occurrences AS o JOIN texts AS s ON s.text = o.summary JOIN texts AS a ON a.text = o.attendees;
    DROP TABLE occurrences;
    ALTER TABLE occurrences_v6 RENAME TO occurrences;
    CREATE INDEX occurrences_by_summary ON occurrences (summary_id);
    CREATE INDEX occurrences_by_attendees ON occurrences (attendees_id);
    """,
    # version 7: sessions get short references that survive moves (`coachsync sessions`, "S142"), and a
    # no-show the coach takes back is kept with when and by whom, so it stops counting but is not lost.
    """
    CREATE TABLE session_refs (
        id             INTEGER PRIMARY KEY,
        calendar       TEXT NOT NULL,
        uid            TEXT NOT NULL,
        recurrence_id  TEXT NOT NULL,
        UNIQUE (calendar, uid, recurrence_id)
    );
    CREATE TABLE withdrawals (
        change_id  INTEGER PRIMARY KEY REFERENCES changes (id),
        at         TEXT NOT NULL,
        by_user    TEXT NOT NULL
    );
    """,
    # version 8: a fee can be `paid` (on a day), and every change of a fee's status is kept with its time.
    # SQLite cannot change a CHECK constraint in place, so the table is rebuilt with every row kept.
    """
    CREATE TABLE fees_v8 (
        id               INTEGER PRIMARY KEY,
        idempotency_key  TEXT NOT NULL UNIQUE,
        change_id        INTEGER NOT NULL REFERENCES changes (id),
        plugin           TEXT NOT NULL,
        client           TEXT,
        amount           TEXT NOT NULL,
        currency         TEXT NOT NULL,
        status           TEXT NOT NULL DEFAULT 'owed' CHECK (status IN ('owed', 'paid', 'waived')),
        reason           TEXT NOT NULL,
        waived_reason    TEXT,
        created_at       TEXT NOT NULL,
        paid_on          TEXT
    );
    INSERT INTO fees_v8 SELECT *, NULL FROM fees;
    DROP TABLE fees;
    ALTER TABLE fees_v8 RENAME TO fees;
    CREATE TABLE fee_steps (
        id       INTEGER PRIMARY KEY,
        fee_id   INTEGER NOT NULL REFERENCES fees (id),
        status   TEXT NOT NULL CHECK (status IN ('owed', 'paid', 'waived')),
        at       TEXT,
        note     TEXT,
        paid_on  TEXT
    );
    CREATE INDEX fee_steps_by_fee ON fee_steps (fee_id, id);
    INSERT INTO fee_steps (fee_id, status, at, note) SELECT id, 'waived', NULL, waived_reason FROM fees
        WHERE status = 'waived';
    """,
    # version 9: a CalDAV collection's resources in rows of their own, one per resource, instead of one JSON
    # cache inside the calendar's sync state, so a pass writes what changed. The old cache is dropped; its
    # state format is no longer read, so the next pass lists the calendar whole once and compares event
    # fingerprints as always: nothing is recorded for it.
    """
    CREATE TABLE caldav_resources (
        calendar  TEXT NOT NULL,
        href      TEXT NOT NULL,
        etag      TEXT NOT NULL,
        events    TEXT NOT NULL,
        zones     TEXT NOT NULL,
        uids      TEXT NOT NULL,
        keyless   INTEGER NOT NULL,
        PRIMARY KEY (calendar, href)
    );
    CREATE INDEX caldav_resources_keyless ON caldav_resources (calendar) WHERE keyless = 1;
    CREATE TABLE caldav_resource_uids (
        calendar  TEXT NOT NULL,
        uid       TEXT NOT NULL,
        href      TEXT NOT NULL,
        PRIMARY KEY (calendar, uid, href)
    ) WITHOUT ROWID;
    CREATE INDEX caldav_resource_uids_by_href ON caldav_resource_uids (calendar, href);
    CREATE TABLE caldav_resource_zones (
        calendar  TEXT NOT NULL,
        tzid      TEXT NOT NULL,
        href      TEXT NOT NULL,
        digest    TEXT NOT NULL,
        PRIMARY KEY (calendar, tzid, href)
    ) WITHOUT ROWID;
    CREATE INDEX caldav_resource_zones_by_href ON caldav_resource_zones (calendar, href);
    CREATE INDEX caldav_resource_zones_by_digest ON caldav_resource_zones (calendar, digest);
    CREATE TABLE caldav_zones (
        calendar  TEXT NOT NULL,
        digest    TEXT NOT NULL,
        tzid      TEXT NOT NULL,
        body      TEXT NOT NULL,
        PRIMARY KEY (calendar, digest)
    );
    CREATE TABLE caldav_header (
        calendar  TEXT NOT NULL,
        tzid      TEXT NOT NULL,
        digest    TEXT NOT NULL,
        PRIMARY KEY (calendar, tzid)
    ) WITHOUT ROWID;
    UPDATE calendars SET sync_state = json_remove(sync_state, '$.cache')
        WHERE json_type(sync_state, '$.cache') IS NOT NULL;
    CREATE INDEX occurrences_tombstones ON occurrences (calendar, start) WHERE cancelled = 1;
    CREATE INDEX occurrences_upcoming ON occurrences (calendar, start) WHERE cancelled = 0;
    """,
    # version 10: the daily hook's actions belong to a client and a day, not to a change, so a suggestion or
    # an email may have no change; and each local day the daily hook ran is kept, so it runs once a day.
    """
    CREATE TABLE suggestions_v10 (
        id               INTEGER PRIMARY KEY,
        idempotency_key  TEXT NOT NULL UNIQUE,
        change_id        INTEGER REFERENCES changes (id),
        plugin           TEXT NOT NULL,
        client           TEXT,
        text             TEXT NOT NULL,
        created_at       TEXT NOT NULL
    );
    INSERT INTO suggestions_v10 SELECT * FROM suggestions;
    DROP TABLE suggestions;
    ALTER TABLE suggestions_v10 RENAME TO suggestions;
    CREATE TABLE outbox_v10 (
        id               INTEGER PRIMARY KEY,
        idempotency_key  TEXT NOT NULL UNIQUE,
        message_id       TEXT NOT NULL UNIQUE,
        change_id        INTEGER REFERENCES changes (id),
        plugin           TEXT NOT NULL,
        client           TEXT,
        recipient        TEXT,
        subject          TEXT NOT NULL,
        body             TEXT NOT NULL,
        status           TEXT NOT NULL
                         CHECK (status IN ('pending_approval', 'queued', 'sent', 'written', 'failed', 'discarded')),
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  TEXT,
        error            TEXT,
        created_at       TEXT NOT NULL,
        sent_at          TEXT
    );
    INSERT INTO outbox_v10 SELECT * FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_v10 RENAME TO outbox;
    CREATE INDEX outbox_by_status ON outbox (status, next_attempt_at);
    CREATE TABLE daily_runs (
        day     TEXT PRIMARY KEY,
        ran_at  TEXT NOT NULL
    );
    """,
    # a suggestion the coach dismissed: when and why; the suggestion itself stays, so the record is whole.
    """
    CREATE TABLE suggestion_dismissals (
        suggestion_id  INTEGER PRIMARY KEY REFERENCES suggestions (id),
        dismissed_at   TEXT NOT NULL,
        reason         TEXT
    );
    """,
    # the coach's edits of an email's body before approving it: the text each edit replaced, and when.
    """
    CREATE TABLE outbox_edits (
        id           INTEGER PRIMARY KEY,
        outbox_id    INTEGER NOT NULL REFERENCES outbox (id),
        body_before  TEXT NOT NULL,
        edited_at    TEXT NOT NULL
    );
    CREATE INDEX outbox_edits_by_message ON outbox_edits (outbox_id);
    """,
    # an excuse the coach took back is a step of the change's excuse trail, with why when they said.
    """
    ALTER TABLE excuses ADD COLUMN taken_back INTEGER NOT NULL DEFAULT 0;
    """,
    # an email may carry attachments (the weekly digest's report), kept with it; each ISO week
    # whose digest was queued, claimed in the transaction that queues it; and each calendar whose last pass
    # failed, since when and why, cleared by its next good pass. outbox_id names no REFERENCES: a later
    # migration that rebuilds the outbox table (as version 10 did) could not drop it with rows pointing at it.
    """
    CREATE TABLE outbox_attachments (
        id            INTEGER PRIMARY KEY,
        outbox_id     INTEGER NOT NULL,
        filename      TEXT NOT NULL,
        content_type  TEXT NOT NULL,
        content       BLOB NOT NULL
    );
    CREATE INDEX outbox_attachments_by_message ON outbox_attachments (outbox_id);
    CREATE TABLE digest_weeks (
        week       TEXT PRIMARY KEY,
        outbox_id  INTEGER NOT NULL,
        queued_at  TEXT NOT NULL
    );
    CREATE TABLE calendar_failures (
        calendar        TEXT PRIMARY KEY,
        since           TEXT NOT NULL,
        last_failed_at  TEXT NOT NULL,
        error           TEXT NOT NULL
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Apply forward migrations, each in its own transaction; the version is read under the write
    lock, since the daemon and a CLI command may open a new database at the same moment."""
    while True:
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise CoachsyncError(
                    f"the database {path} was written by a newer coachsync (schema {version}); upgrade coachsync"
                )
            if version < SCHEMA_VERSION:
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {version + 1}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        if version >= SCHEMA_VERSION:
            return
