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
from typing import Any

from .agreement import TERM_NAMES

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
