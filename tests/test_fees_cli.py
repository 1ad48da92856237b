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
    fee = {"status": "owed", "waived_reason": None, "paid_on": None, "steps": []}
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
        "id,client,change_id,amount,currency,status,reason,waived_reason,paid_on\n"
        "1,Alice Example,1,40.00,EUR,owed,moved session,,\n"
        "2,Alice Example,1,12.50,USD,owed,Coaching,,\n"
        "3,Bob Builder,2,40.00,EUR,owed,cancelled session,,\n"
        '4,Bob Builder,2,12.50,USD,owed,"\'=HYPERLINK(""x"")",,\n',
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
    assert cli(coach, "fees", "--csv").stdout == (
        "id,client,change_id,amount,currency,status,reason,waived_reason,paid_on\n"
    )
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
            "dismissed_at": None,
            "dismissal_reason": None,
        },
        {
            "id": 2,
            "client": "Bob Builder",
            "plugin": "summary_fee",
            "text": 'talk with Bob Builder\nabout =HYPERLINK("x")',
            "created_at": "2026-12-01T13:00:00+01:00",
            "dismissed_at": None,
            "dismissal_reason": None,
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


def test_fees_paid_unpaid_and_a_summary_per_client_and_currency(ledger: Coach) -> None:
    paid = cli(ledger, "fees", "paid", "1", "--on", "2026-11-30", "--note", "bank transfer")
    twice = cli(ledger, "fees", "paid", "1")
    waive_paid = cli(ledger, "fees", "waive", "1", "--reason", "goodwill")
    cli(ledger, "fees", "waive", "3", "--reason", "goodwill")
    pay_waived = cli(ledger, "fees", "paid", "3")
    cli(ledger, "fees", "paid", "4")  # today, 1 Dec
    unpaid = cli(ledger, "fees", "unpaid", "4", "--note", "the transfer bounced")

    assert (paid.exit_code, paid.stdout) == (0, "fee 1 (40.00 EUR, Alice Example) paid on 2026-11-30\n")
    assert (twice.exit_code, twice.stderr) == (
        2,
        "coachsync: fee 1 is already paid (on 2026-11-30); `coachsync fees unpaid 1` undoes it\n",
    )
    assert (waive_paid.exit_code, waive_paid.stderr) == (
        2,
        "coachsync: fee 1 was paid on 2026-11-30; a paid fee cannot be waived"
        " (`coachsync fees unpaid 1` first, if it was recorded as paid by mistake)\n",
    )
    assert (pay_waived.exit_code, pay_waived.stderr) == (
        2,
        "coachsync: fee 3 was waived (goodwill); a waived fee cannot be paid\n",
    )
    assert unpaid.stdout == "fee 4 (12.50 USD, Bob Builder) is owed again\n"
    fees = json.loads(cli(ledger, "fees", "--json").stdout)
    assert [(f["id"], f["status"], f["paid_on"]) for f in fees] == [
        (1, "paid", "2026-11-30"),
        (2, "owed", None),
        (3, "waived", None),
        (4, "owed", None),
    ]
    assert fees[3]["steps"] == [
        {"status": "paid", "at": "2026-12-01T13:00:00+01:00", "note": None, "on": "2026-12-01"},
        {"status": "owed", "at": "2026-12-01T13:00:00+01:00", "note": "the transfer bounced", "on": None},
    ]
    assert json.loads(cli(ledger, "fees", "--summary", "--json").stdout) == [
        {"client": "Alice Example", "currency": "EUR", "owed": "0.00", "paid": "40.00", "waived": "0.00"},
        {"client": "Alice Example", "currency": "USD", "owed": "12.50", "paid": "0.00", "waived": "0.00"},
        {"client": "Bob Builder", "currency": "EUR", "owed": "0.00", "paid": "0.00", "waived": "40.00"},
        {"client": "Bob Builder", "currency": "USD", "owed": "12.50", "paid": "0.00", "waived": "0.00"},
    ]
    assert cli(ledger, "fees", "--summary").stdout.splitlines() == [
        "CLIENT         CURRENCY  OWED   PAID   WAIVED",
        "Alice Example  EUR       0.00   40.00  0.00",
        "Alice Example  USD       12.50  0.00   0.00",
        "Bob Builder    EUR       0.00   0.00   40.00",
        "Bob Builder    USD       12.50  0.00   0.00",
    ]
