"""The coach reads an email as it will be sent and edits its body before approving it.

`outbox show` is compared with what the real SMTP server (aiosmtpd) receives and with the
.eml file outbox mode writes; `outbox edit` runs $EDITOR, here a small script rewriting the file.
"""

from __future__ import annotations

import email.policy
import sys
from pathlib import Path

import pytest

from support.cli import cli
from support.ical import HOUR, session
from support.plugin_world import plugin_coach, plugin_file
from support.scenario import NOW, Coach, rows
from support.smtp_server import smtp_server

MAILER = plugin_file("mailer")  # Alice's email waits for approval, Bob's is queued; a note to the coach each
EDITED = "Dear Alice,\n\nGrüße aus Berlin — shall we find a new time?\n"


def mailer_coach(root: Path, mail_yaml: str = "mail:\n  from: coach@example.com\n") -> Coach:
    """Alice and Bob each moved a session: outbox 1 (to Alice, pending approval), 2 and 4 (to the
    coach, queued), 3 (to Bob, queued)."""
    coach = plugin_coach(root, {"mailer": MAILER}, "mailer: {enabled: true}\n", mail_yaml)
    start = NOW + 9 * 24 * HOUR
    coach.write(session("a1", start), session("b1", start + HOUR, "bob@example.com"))
    assert cli(coach, "sync").exit_code == 0
    coach.write(session("a1", start + 2 * HOUR), session("b1", start + 3 * HOUR, "bob@example.com"))
    assert cli(coach, "sync").exit_code == 0
    return coach


def editor(root: Path, text: str | None) -> dict[str, str]:
    """$EDITOR (and $VISUAL) as a script that keeps a copy of what it was given, then writes `text`
    over the file (or leaves it alone when `text` is None)."""
    script = root / "editor.py"
    lines = [
        "import pathlib, shutil, sys",
        f"shutil.copy(sys.argv[1], {str(root / 'seen.txt')!r})",
    ]
    if text is not None:
        lines.append(f"pathlib.Path(sys.argv[1]).write_text({text!r}, encoding='utf-8')")
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    command = f"{sys.executable} {script}"
    return {"EDITOR": command, "VISUAL": command}


def as_read(data: bytes) -> str:
    """A message as its receiver reads it: each header decoded, a blank line, the body decoded."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    headers = "".join(f"{name}: {value}\n" for name, value in message.items())
    return headers + "\n" + message.get_content().replace("\r\n", "\n")


def message_id(coach: Coach, outbox_id: int) -> str:
    [(found,)] = rows(coach, f"SELECT message_id FROM outbox WHERE id = {outbox_id}")
    return str(found)


def test_show_prints_the_headers_and_the_decoded_body(tmp_path: Path) -> None:
    coach = mailer_coach(tmp_path)

    shown = cli(coach, "outbox", "show", "1")

    assert (shown.exit_code, shown.stdout) == (
        0,
        "From: coach@example.com\n"
        "To: alice@example.com\n"
        "Subject: Hello Alice Example Bcc: someone@example.org\n"
        "Date: Tue, 01 Dec 2026 12:00:00 +0000\n"
        f"Message-ID: {message_id(coach, 1)}\n"
        'Content-Type: text/plain; charset="utf-8"\n'
        "Content-Transfer-Encoding: quoted-printable\n"
        "MIME-Version: 1.0\n"
        "\n"
        "How are you?\n",
    )


def test_an_edited_message_is_shown_exactly_as_the_smtp_server_receives_it(tmp_path: Path) -> None:
    with smtp_server() as (controller, server):
        smtp = f"mail:\n  from: coach@example.com\n  mode: smtp\n  smtp: {{host: 127.0.0.1, port: {controller.port},"
        coach = mailer_coach(tmp_path, smtp + " starttls: false, timeout: 5}\n")
        edited = cli(coach, "outbox", "edit", "1", env=editor(tmp_path, EDITED))
        shown = cli(coach, "outbox", "show", "1").stdout
        assert cli(coach, "outbox", "approve", "1").exit_code == 0
        assert cli(coach, "send").exit_code == 0

    assert (edited.exit_code, edited.stdout) == (
        0,
        "outbox message 1 to alice@example.com edited (the earlier text is kept);"
        " `coachsync outbox show 1` shows it, `coachsync outbox approve 1` queues it\n",
    )
    assert (tmp_path / "seen.txt").read_text(encoding="utf-8") == "How are you?\n"  # the body alone, no header
    [to_alice] = [r for r in server.received if r.rcpt_tos == ["alice@example.com"]]
    assert shown == as_read(to_alice.data)
    assert shown.endswith("\n\n" + EDITED)
    assert b"Gr=C3=BC=C3=9Fe" in to_alice.data  # on the wire it is quoted-printable; shown, it is decoded
    assert rows(coach, "SELECT outbox_id, body_before, edited_at FROM outbox_edits") == [
        (1, "How are you?", "2026-12-01T12:00:00+00:00")
    ]


def test_show_matches_the_eml_file_outbox_mode_writes(tmp_path: Path) -> None:
    coach = mailer_coach(tmp_path, "mail:\n  from: coach@example.com\n  outbox_dir: written\n")
    shown = cli(coach, "outbox", "show", "3").stdout

    assert cli(coach, "send").exit_code == 0

    [eml] = sorted((tmp_path / "written").glob("000003-*.eml"))
    assert shown == as_read(eml.read_bytes())


def test_a_message_not_pending_approval_cannot_be_edited(tmp_path: Path) -> None:
    coach = mailer_coach(tmp_path)

    result = cli(coach, "outbox", "edit", "3", env=editor(tmp_path, "Hi Bob"))

    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        "coachsync: outbox message 3 is queued; only a message pending approval can be edited\n",
    )
    assert not (tmp_path / "seen.txt").exists()  # the editor never opened
    assert rows(coach, "SELECT body FROM outbox WHERE id = 3") == [("How are you?",)]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (None, "outbox message 1 unchanged; nothing was saved\n"),
        ("How are you?\n\n", "outbox message 1 unchanged; nothing was saved\n"),
        (" \n\n", "outbox message 1: the edit was empty; the message is left as it was\n"),
    ],
)
def test_an_unchanged_or_empty_edit_changes_nothing(tmp_path: Path, text: str | None, said: str) -> None:
    coach = mailer_coach(tmp_path)

    result = cli(coach, "outbox", "edit", "1", env=editor(tmp_path, text))

    assert (result.exit_code, result.stdout) == (0, said)
    assert rows(coach, "SELECT body, status FROM outbox WHERE id = 1") == [("How are you?", "pending_approval")]
    assert rows(coach, "SELECT count(*) FROM outbox_edits") == [(0,)]


def test_an_edit_of_a_message_approved_meanwhile_is_not_kept(tmp_path: Path) -> None:
    coach = mailer_coach(tmp_path)
    script = tmp_path / "approve_then_edit.py"
    script.write_text(
        "import pathlib, sqlite3, sys\n"
        f"db = sqlite3.connect({str(coach.database)!r})\n"
        "db.execute(\"UPDATE outbox SET status = 'queued' WHERE id = 1\")\n"
        "db.commit()\n"
        "pathlib.Path(sys.argv[1]).write_text('too late', encoding='utf-8')\n",
        encoding="utf-8",
    )
    command = f"{sys.executable} {script}"

    result = cli(coach, "outbox", "edit", "1", env={"EDITOR": command, "VISUAL": command})

    assert (result.exit_code, result.stderr) == (
        2,
        "coachsync: outbox message 1 changed while you edited it (approved, discarded or edited elsewhere);"
        " your edit was not kept, see `coachsync outbox`\n",
    )
    assert rows(coach, "SELECT body, status FROM outbox WHERE id = 1") == [("How are you?", "queued")]


def test_showing_or_editing_an_unknown_message_exits_2(tmp_path: Path) -> None:
    coach = mailer_coach(tmp_path)

    shown = cli(coach, "outbox", "show", "9")
    edited = cli(coach, "outbox", "edit", "9", env=editor(tmp_path, "x"))

    expected = (2, "coachsync: no outbox message with id 9; see `coachsync outbox`\n")
    assert (shown.exit_code, shown.stderr) == expected
    assert (edited.exit_code, edited.stderr) == expected


def test_a_message_that_cannot_be_sent_says_why_instead_of_showing(tmp_path: Path) -> None:
    coach = mailer_coach(tmp_path)
    coach.write(session("c1", NOW + 9 * 24 * HOUR, "", "Carmen"))
    cli(coach, "sync")
    coach.write(session("c1", NOW + 9 * 24 * HOUR + HOUR, "", "Carmen"))
    cli(coach, "sync")
    [(failed,)] = rows(coach, "SELECT id FROM outbox WHERE recipient IS NULL")

    result = cli(coach, "outbox", "show", str(failed))

    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        f"coachsync: outbox message {failed} cannot be sent as it is: no recipient address\n",
    )
