"""Calendar sources: each returns the whole calendar (or, for CalDAV, a delta of its resources) plus an opaque
sync state, or raises SourceError."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from coachsync.errors import SourceError
from coachsync.sources.base import Delta, Fetched, Resource, Source, ensure_complete_calendar

if TYPE_CHECKING:
    from coachsync.sources.ics_file import IcsFileSource
    from coachsync.sources.ics_url import IcsUrlSource

__all__ = [
    "Delta",
    "Fetched",
    "IcsFileSource",
    "IcsUrlSource",
    "Resource",
    "Source",
    "SourceError",
    "ensure_complete_calendar",
]


def __getattr__(name: str) -> Any:
    # The sources load on first use: the config imports `base` alone, and must not pull in requests.
    if name == "IcsFileSource":
        from coachsync.sources.ics_file import IcsFileSource

        return IcsFileSource
    if name == "IcsUrlSource":
        from coachsync.sources.ics_url import IcsUrlSource

        return IcsUrlSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
