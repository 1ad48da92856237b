"""The plugin author's one import: hook markers, the settings base, and every value a hook sees or returns.

    from coachsync.api import Fee, PolicySettings, Record, hookimpl

Everything here is stable for plugins; anything imported from elsewhere in
coachsync may move between releases.
"""

from __future__ import annotations

from .actions import Action, Email, Fee, Recipient, Suggestion
from .agreement import Agreement, Cadence, Period, PeriodKind
from .hookspecs import PolicySettings, Render, hookimpl
from .model import Change, ChangeKind, ClientInfo, Occurrence, Record
from .standing import RESCHEDULE_KINDS, Standing, counts_against, is_late

__all__ = [
    "RESCHEDULE_KINDS",
    "Action",
    "Agreement",
    "Cadence",
    "Change",
    "ChangeKind",
    "ClientInfo",
    "Email",
    "Fee",
    "Occurrence",
    "Period",
    "PeriodKind",
    "PolicySettings",
    "Recipient",
    "Record",
    "Render",
    "Standing",
    "Suggestion",
    "counts_against",
    "hookimpl",
    "is_late",
]
