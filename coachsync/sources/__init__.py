"""Calendar sources: each returns the whole calendar plus an opaque sync state, or raises SourceError."""

from coachsync.errors import SourceError
from coachsync.sources.base import Fetched, Source, ensure_complete_calendar
from coachsync.sources.ics_file import IcsFileSource
from coachsync.sources.ics_url import IcsUrlSource

__all__ = [
    "Fetched",
    "IcsFileSource",
    "IcsUrlSource",
    "Source",
    "SourceError",
    "ensure_complete_calendar",
]
