"""The plugin author's one import: hook markers, the settings base, and every value a hook sees or returns.

    from coachsync.api import Fee, PolicySettings, Record, hookimpl

Everything here is stable for plugins; anything imported from elsewhere in
coachsync may move between releases.
"""

from __future__ import annotations

from .actions import Action, Email, Fee, Recipient, Suggestion
from .agreement import RESCHEDULE_KINDS, counts_against, is_late
from .hookspecs import PolicySettings, Render, hookimpl
from .model import Change, ChangeKind, ClientInfo, Occurrence, Record

__all__ = [
    "RESCHEDULE_KINDS",
    "Action",
    "Change",
    "ChangeKind",
    "ClientInfo",
    "Email",
    "Fee",
    "Occurrence",
    "PolicySettings",
    "Recipient",
    "Record",
    "Render",
    "Suggestion",
    "counts_against",
    "hookimpl",
    "is_late",
]
