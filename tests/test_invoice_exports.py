"""Invoices for Xero and QuickBooks Online: one per client, a line per fee, exact rows on a hand-built
ledger (the pure export) and through `fees --csv --format` on a recorded one."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from coachsync.config import FeeExportConfig
from coachsync.errors import RefusedError
from coachsync.exports import QUICKBOOKS_FIELDS, XERO_FIELDS, invoice_csv
from coachsync.model import FeeEntry, FeeStatus

from support.cli import cli
from support.ical import HOUR, session
from support.plugin_world import FLAT_FEE, plugin_coach, plugin_file
from support.scenario import NOW, Coach

XERO = FeeExportConfig(account_code="200", tax_type="Tax Exempt")
TODAY = date(2026, 12, 1)
SESSIONS = {1: date(2026, 11, 28), 2: date(2026, 11, 29), 3: date(2026, 11, 30)}


def fee(fee_id: int, change_id: int, client: str | None, amount: str, reason: str = "late cancellation") -> FeeEntry:
    return FeeEntry(fee_id, change_id, "fee", client, Decimal(amount), "EUR", FeeStatus.OWED, reason, None, NOW)


# Bob's first fee comes before Alice's second: invoices follow their first fee, lines their fee ids.
LEDGER = [
    fee(3, 2, "Alice Example", "60"),
    fee(4, 2, "Bob Builder", "40.5", "=cmd|' /C calc'!A0"),
    fee(7, 3, "Alice Example", "12.50", "no-show"),
]


def lines(text: str) -> list[str]:
    return text.splitlines()


def test_xero_has_one_invoice_per_client_with_a_line_per_fee() -> None:
    assert lines(invoice_csv("xero", LEDGER, SESSIONS, TODAY, XERO)) == [
        ",".join(XERO_FIELDS),
        "Alice Example,CS-3,01/12/2026,15/12/2026,late cancellation (fee 3),1,60.00,200,Tax Exempt",
        "Alice Example,CS-3,01/12/2026,15/12/2026,no-show (fee 7),1,12.50,200,Tax Exempt",
        "Bob Builder,CS-4,01/12/2026,15/12/2026,'=cmd|' /C calc'!A0 (fee 4),1,40.50,200,Tax Exempt",
    ]


def test_quickbooks_has_the_session_day_as_service_date_and_the_fees_in_the_memo() -> None:
    settings = FeeExportConfig(invoice_prefix="INV-", due_days=30, date_format="MM/DD/YYYY")

    assert lines(invoice_csv("quickbooks", LEDGER, SESSIONS, TODAY, settings)) == [
        ",".join(QUICKBOOKS_FIELDS),
        "INV-3,Alice Example,12/01/2026,12/31/2026,60.00,late cancellation (fee 3),1,60.00,11/29/2026,"
        '"coachsync fees 3, 7"',
        'INV-3,Alice Example,12/01/2026,12/31/2026,12.50,no-show (fee 7),1,12.50,11/30/2026,"coachsync fees 3, 7"',
        "INV-4,Bob Builder,12/01/2026,12/31/2026,40.50,'=cmd|' /C calc'!A0 (fee 4),1,40.50,11/29/2026,coachsync fee 4",
    ]


def test_iso_dates_and_no_fees_give_a_header_alone() -> None:
    settings = FeeExportConfig(date_format="YYYY-MM-DD", due_days=0)

    assert lines(invoice_csv("quickbooks", LEDGER[:1], SESSIONS, TODAY, settings))[1].startswith(
        "CS-3,Alice Example,2026-12-01,2026-12-01,60.00,"
    )
    assert invoice_csv("xero", [], SESSIONS, TODAY, XERO) == ",".join(XERO_FIELDS) + "\n"


def test_xero_needs_the_account_and_tax_codes() -> None:
    with pytest.raises(RefusedError, match=r"needs fees\.export\.account_code and fees\.export\.tax_type"):
        invoice_csv("xero", LEDGER, SESSIONS, TODAY, FeeExportConfig(account_code="200"))


def test_one_export_takes_one_currency() -> None:
    dollars = FeeEntry(9, 3, "fee", "Bob Builder", Decimal("5"), "USD", FeeStatus.OWED, "x", None, NOW)

    with pytest.raises(RefusedError) as refused:
        invoice_csv("quickbooks", [*LEDGER, dollars], SESSIONS, TODAY, FeeExportConfig())

    assert str(refused.value) == (
        "the fees to export are in EUR and USD; an invoice import takes one currency,"
        " so export each with --currency EUR, then --currency USD…"
    )


# --- through the command ---------------------------------------------------------

DEC_10 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
EXPORT_YAML = "fees:\n  export: {account_code: 200, tax_type: No VAT, invoice_prefix: CO-, due_days: 7}\n"


@pytest.fixture
def ledger(tmp_path: Path) -> Coach:
    """Alice moved a session (fees 1: 40 EUR and 2: 12.50 USD); Bob cancelled one (fees 3 and 4)."""
    policies = "flat_fee: {enabled: true}\nsummary_fee: {enabled: true}\n"
    plugins = {"flat_fee": FLAT_FEE, "summary_fee": plugin_file("summary_fee")}
    coach = plugin_coach(tmp_path, plugins, policies, EXPORT_YAML)
    coach.write(session("a1", DEC_10), session("b1", DEC_10 + 24 * HOUR, "bob@example.com"))
    assert cli(coach, "sync").exit_code == 0
    coach.write(session("a1", DEC_10 + HOUR))
    assert cli(coach, "sync").exit_code == 0
    return coach


def test_the_command_exports_the_owed_fees_of_one_currency(ledger: Coach) -> None:
    cli(ledger, "fees", "paid", "1", "--on", "2026-11-30")
    cli(ledger, "fees", "waive", "3", "--reason", "goodwill")
    cli(ledger, "fees", "waive", "4", "--reason", "goodwill")

    owed = cli(ledger, "fees", "--csv", "--format", "xero", "--currency", "usd")
    everything = cli(ledger, "fees", "--csv", "--format", "quickbooks", "--currency", "EUR", "--all")

    assert (owed.exit_code, lines(owed.stdout)) == (
        0,
        [",".join(XERO_FIELDS), "Alice Example,CO-2,01/12/2026,08/12/2026,Coaching (fee 2),1,12.50,200,No VAT"],
    )
    assert (everything.exit_code, lines(everything.stdout)) == (
        0,
        [
            ",".join(QUICKBOOKS_FIELDS),
            "CO-1,Alice Example,01/12/2026,08/12/2026,40.00,moved session (fee 1),1,40.00,10/12/2026,coachsync fee 1",
        ],
    )


def test_mixed_currencies_and_bad_combinations_are_refused(ledger: Coach) -> None:
    mixed = cli(ledger, "fees", "--csv", "--format", "quickbooks")
    no_csv = cli(ledger, "fees", "--format", "xero")
    stray_all = cli(ledger, "fees", "--csv", "--all")

    assert (mixed.exit_code, mixed.stdout, mixed.stderr) == (
        2,
        "",
        "coachsync: the fees to export are in EUR and USD; an invoice import takes one currency,"
        " so export each with --currency EUR, then --currency USD…\n",
    )
    assert (no_csv.exit_code, no_csv.stderr.splitlines()[-1]) == (
        2,
        "Error: --format goes with --csv and without --summary: fees --csv --format xero",
    )
    assert (stray_all.exit_code, stray_all.stderr.splitlines()[-1]) == (
        2,
        "Error: --all goes with --format xero or quickbooks; the ledger always lists every fee",
    )


def test_xero_without_its_codes_says_which_keys_to_set(tmp_path: Path) -> None:
    coach = plugin_coach(tmp_path, {"flat_fee": FLAT_FEE}, "flat_fee: {enabled: true}\n")

    result = cli(coach, "fees", "--csv", "--format", "xero")

    assert (result.exit_code, result.stderr) == (
        2,
        "coachsync: fees --format xero needs fees.export.account_code and fees.export.tax_type in the config:"
        " the sales account code and the tax rate's name as Xero shows them\n",
    )
