"""Exports for spreadsheets: the CSV columns of each listing, and one guard against formulas in cells.

A CSV export has the fields of the listing's `--json`, under the same names and in the same order,
one row per item. A nested object becomes one column per field, named by its path
(`agreement.allowance.per`); a list stays one cell holding its JSON; true and false are spelt as in
JSON; a missing or null value is an empty cell. The columns are fixed here, not taken from the
data, so an empty listing still has its header and every export has the same columns.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .agreement import TERM_NAMES
from .errors import RefusedError

if TYPE_CHECKING:  # the config (pydantic) is not imported by the listings that only print CSV
    from .config import FeeExportConfig
    from .model import FeeEntry

# `history --csv`: a change's fields, then those only an engagement step has (`type` tells them apart).
HISTORY_FIELDS = (
    "type", "id", "calendar", "client", "uid", "recurrence_id", "kind", "summary", "old_start", "new_start",
    "notice_hours", "changed_at", "detected_at", "new_uid", "instances", "excused", "reason", "excuses", "late",
    "counts", "why_not", "allowance_used", "allowance", "over", "period_start", "agreement_since",
    "earlier_agreement", "at", "by", "until",
)  # fmt: skip

CLIENT_FIELDS = (
    "name", "upcoming", "reschedules", "late", "cancellations", "excused", "status", "paused_until",
    "allowance_used", "held", "no_shows", "late_cancellations", "attendance", "agreement.notice_hours",
    "agreement.cadence", "agreement.cadence_days", "agreement.allowance.reschedules", "agreement.allowance.per",
    "agreement.started", *(f"agreement.sources.{name}" for name in TERM_NAMES),
)  # fmt: skip

SESSION_FIELDS = (
    "ref", "calendar", "uid", "recurrence_id", "client", "start", "state", "moved_to", "record_id", "summary",
)  # fmt: skip


def spreadsheet_safe(value: object) -> object:
    """Text can quote the calendar; a cell starting with = + - @ (or a tab or CR) would run as a
    spreadsheet formula, so it is prefixed with ' and shown as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def flat(item: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A JSON object as one row: nested objects by path, lists as JSON text, booleans as in JSON."""
    row: dict[str, Any] = {}
    for key, value in item.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            row.update(flat(value, f"{name}."))
        elif isinstance(value, list | tuple):
            row[name] = json.dumps(value, ensure_ascii=False)
        elif isinstance(value, bool):
            row[name] = "true" if value else "false"
        else:
            row[name] = value
    return row


def csv_text(fields: Sequence[str], items: Iterable[Mapping[str, Any]]) -> str:
    """A header of `fields`, then a row per item, every text cell guarded; a field an item lacks is empty."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fields), lineterminator="\n", extrasaction="raise")
    writer.writeheader()
    writer.writerows({key: spreadsheet_safe(value) for key, value in flat(item).items()} for item in items)
    return out.getvalue()


# --- invoices for accounting tools ----------------------------------------------

# The columns Xero's sales invoice import and QuickBooks Online's invoice import read, in their order.
XERO_FIELDS = (
    "ContactName", "InvoiceNumber", "InvoiceDate", "DueDate", "Description", "Quantity", "UnitAmount",
    "AccountCode", "TaxType",
)  # fmt: skip
QUICKBOOKS_FIELDS = (
    "Invoice number", "Customer", "Invoice date", "Due date", "Item Amount", "Item Description", "Item Quantity",
    "Item Rate", "Service Date", "Memo",
)  # fmt: skip
INVOICE_FORMATS = ("xero", "quickbooks")
_DATE_FORMATS = {"DD/MM/YYYY": "%d/%m/%Y", "MM/DD/YYYY": "%m/%d/%Y", "YYYY-MM-DD": "%Y-%m-%d"}
_CENTS = Decimal("0.01")


def invoice_csv(
    kind: str, fees: Sequence[FeeEntry], sessions: Mapping[int, date], today: date, settings: FeeExportConfig
) -> str:
    """One invoice per client, a line per fee, as the accounting tool `kind` imports it.

    The invoice is dated `today` (the export is when the coach invoices) and due `due_days` later;
    its number is the prefix and the id of its first fee, so exporting the same fees again gives the
    same numbers, which the tool refuses as duplicates instead of invoicing twice. `sessions` gives
    the day of the session each change was about, for QuickBooks' Service Date.
    """
    if kind == "xero" and (settings.account_code is None or settings.tax_type is None):
        raise RefusedError(
            "fees --format xero needs fees.export.account_code and fees.export.tax_type in the config:"
            " the sales account code and the tax rate's name as Xero shows them"
        )
    currencies = sorted({fee.currency for fee in fees})
    if len(currencies) > 1:
        raise RefusedError(
            f"the fees to export are in {' and '.join(currencies)}; an invoice import takes one currency,"
            f" so export each with --currency {currencies[0]}, then --currency {currencies[1]}…"
        )
    written = _DATE_FORMATS[settings.date_format]
    issued, due = today.strftime(written), (today + timedelta(days=settings.due_days)).strftime(written)
    invoices: dict[str, list[FeeEntry]] = {}
    for fee in sorted(fees, key=lambda f: f.id):
        if fee.client is not None:
            invoices.setdefault(fee.client, []).append(fee)
    rows: list[dict[str, Any]] = []
    for client, lines in invoices.items():  # in the order of each invoice's first fee
        number = f"{settings.invoice_prefix}{lines[0].id}"
        memo = "coachsync fee" + ("s " if len(lines) > 1 else " ") + ", ".join(str(f.id) for f in lines)
        for fee in lines:
            amount = format(fee.amount.quantize(_CENTS), "f")
            description = f"{fee.reason} (fee {fee.id})"
            if kind == "xero":
                rows.append(
                    {
                        "ContactName": client,
                        "InvoiceNumber": number,
                        "InvoiceDate": issued,
                        "DueDate": due,
                        "Description": description,
                        "Quantity": 1,
                        "UnitAmount": amount,
                        "AccountCode": settings.account_code,
                        "TaxType": settings.tax_type,
                    }
                )
                continue
            served = sessions.get(fee.change_id)
            rows.append(
                {
                    "Invoice number": number,
                    "Customer": client,
                    "Invoice date": issued,
                    "Due date": due,
                    "Item Amount": amount,
                    "Item Description": description,
                    "Item Quantity": 1,
                    "Item Rate": amount,
                    "Service Date": served.strftime(written) if served else None,
                    "Memo": memo,
                }
            )
    return csv_text(XERO_FIELDS if kind == "xero" else QUICKBOOKS_FIELDS, rows)
