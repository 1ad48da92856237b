"""The coach's ledger commands: fees (and waiving one), suggestions; exact output."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from support.cli import cli
from support.ical import HOUR, session
from support.plugin_world import FLAT_FEE, plugin_coach, plugin_file
from support.scenario import Coach

DEC_10 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)

SUMMARY_FEE = plugin_file("summary_fee")  # quotes the calendar's summary in a fee and a suggestion


@pytest.fixture
def ledger(tmp_path: Path) -> Coach:
    """Alice moved a session (fee 1) and Bob moved one with a formula for a summary (fees 2 and 3)."""
    policies = "flat_fee: {enabled: true}\nsummary_fee: {enabled: true}\n"
    coach = plugin_coach(tmp_path, {"flat_fee": FLAT_FEE, "summary_fee": SUMMARY_FEE}, policies)
    formula = '=HYPERLINK("x")'
    coach.write(session("a1", DEC_10), session("b1", DEC_10 + 24 * HOUR, "bob@example.com", formula))
    assert cli(coach, "sync").exit_code == 0
    coach.write(session("a1", DEC_10 + HOUR))
    assert cli(coach, "sync").stdout == "coaching: 2 recorded (1 cancelled, 1 moved); 1 events, 1 re-read\n"
    return coach


def test_fees_json_lists_the_ledger_with_decimal_strings(ledger: Coach) -> None:
    result = cli(ledger, "fees", "--json")

    assert result.exit_code == 0
    fee = {"status": "owed", "waived_reason": None}
    assert json.loads(result.stdout) == [
        {"id": 1, "client": "Alice Example", "change_id": 1, "amount": "40.00", "currency": "EUR",
         "reason": "moved session", **fee},
        {"id": 2, "client": "Alice Example", "change_id": 1, "amount": "12.50", "currency": "USD",
         "reason": "Coaching", **fee},
        {"id": 3, "client": "Bob Builder", "change_id": 2, "amount": "40.00", "currency": "EUR",
         "reason": "cancelled session", **fee},
        {"id": 4, "client": "Bob Builder", "change_id": 2, "amount": "12.50", "currency": "USD",
         "reason": '=HYPERLINK("x")', **fee},
    ]  # fmt: skip


def test_fees_for_one_client_ignore_case(ledger: Coach) -> None:
    result = cli(ledger, "fees", "--client", "BOB builder", "--json")

    assert [(f["id"], f["client"]) for f in json.loads(result.stdout)] == [(3, "Bob Builder"), (4, "Bob Builder")]


def test_fees_csv_has_a_header_and_defuses_formulas(ledger: Coach) -> None:
    result = cli(ledger, "fees", "--csv")

    assert (result.exit_code, result.stdout) == (
        0,
        "id,client,change_id,amount,currency,status,reason,waived_reason\n"
        "1,Alice Example,1,40.00,EUR,owed,moved session,\n"
        "2,Alice Example,1,12.50,USD,owed,Coaching,\n"
        "3,Bob Builder,2,40.00,EUR,owed,cancelled session,\n"
        '4,Bob Builder,2,12.50,USD,owed,"\'=HYPERLINK(""x"")",\n',
    )


def test_fees_table_and_waiving_a_fee(ledger: Coach) -> None:
    waived = cli(ledger, "fees", "waive", "3", "--reason", "  first   time ")
    again = cli(ledger, "fees", "waive", "3", "--reason", "second thoughts")
    table = cli(ledger, "fees")

    assert (waived.exit_code, waived.stdout) == (0, "fee 3 (40.00 EUR, Bob Builder) waived: first time\n")
    assert (again.exit_code, again.stdout) == (0, "fee 3 (40.00 EUR, Bob Builder) was already waived: first time\n")
    assert table.stdout == (
        "ID  CLIENT         CHANGE  AMOUNT     STATUS              REASON\n"
        "1   Alice Example  1       40.00 EUR  owed                moved session\n"
        "2   Alice Example  1       12.50 USD  owed                Coaching\n"
        "3   Bob Builder    2       40.00 EUR  waived: first time  cancelled session\n"
        '4   Bob Builder    2       12.50 USD  owed                =HYPERLINK("x")\n'
    )


def test_excusing_a_change_waives_its_fees(ledger: Coach) -> None:
    excused = cli(ledger, "excuse", "1", "--reason", "illness")
    fees = json.loads(cli(ledger, "fees", "--json").stdout)

    assert excused.exit_code == 0
    assert [(f["id"], f["status"], f["waived_reason"]) for f in fees] == [
        (1, "waived", "change excused: illness"),
        (2, "waived", "change excused: illness"),
        (3, "owed", None),
        (4, "owed", None),
    ]


def test_waiving_a_fee_that_does_not_exist_exits_2(ledger: Coach) -> None:
    result = cli(ledger, "fees", "waive", "99", "--reason", "x")

    assert (result.exit_code, result.stderr) == (2, "coachsync: no fee with id 99; see `coachsync fees`\n")


def test_fees_json_and_csv_together_is_a_usage_error(ledger: Coach) -> None:
    result = cli(ledger, "fees", "--json", "--csv")

    assert result.exit_code == 2
    assert result.stderr.endswith("Error: use either --json or --csv, not both\n")


def test_no_fees_yet(coach: Coach) -> None:
    assert cli(coach, "fees").stdout == "No fees recorded.\n"
    assert cli(coach, "fees", "--json").stdout == "[]\n"
    assert cli(coach, "fees", "--csv").stdout == "id,client,change_id,amount,currency,status,reason,waived_reason\n"
    assert cli(coach, "suggestions").stdout == "No suggestions yet.\n"


def test_suggestions_json_and_text(ledger: Coach) -> None:
    listed = cli(ledger, "suggestions", "--json")
    text = cli(ledger, "suggestions")

    assert json.loads(listed.stdout) == [
        {
            "id": 1,
            "client": "Alice Example",
            "plugin": "summary_fee",
            "text": "talk with Alice Example\nabout Coaching",
            "created_at": "2026-12-01T13:00:00+01:00",
        },
        {
            "id": 2,
            "client": "Bob Builder",
            "plugin": "summary_fee",
            "text": 'talk with Bob Builder\nabout =HYPERLINK("x")',
            "created_at": "2026-12-01T13:00:00+01:00",
        },
    ]
    assert text.stdout == (
        "#1  2026-12-01 13:00  Alice Example  (summary_fee)\n"
        "    talk with Alice Example\n"
        "    about Coaching\n"
        "\n"
        "#2  2026-12-01 13:00  Bob Builder  (summary_fee)\n"
        "    talk with Bob Builder\n"
        '    about =HYPERLINK("x")\n'
        "\n"
    )
