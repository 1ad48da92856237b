"""A calendar exported to a local .ics file (Apple Calendar, Thunderbird, a sync tool)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from coachsync.errors import SourceError
from coachsync.sources.base import DEFAULT_MAX_CALENDAR_MB, MB, Fetched, ensure_complete_calendar, too_large

__all__ = ["IcsFileSource"]


class IcsFileSource:
    """Reads the whole file on every fetch; the caller hashes the text to skip unchanged passes."""

    def __init__(self, name: str, path: Path, max_calendar_mb: float = DEFAULT_MAX_CALENDAR_MB) -> None:
        self.name = name
        self.path = path
        self.max_calendar_mb = max_calendar_mb

    @property
    def origin(self) -> str:
        """How messages name this calendar."""
        return f'calendar "{self.name}" ({self.path})'

    def fetch(self, state: Mapping[str, str]) -> Fetched:
        """Return the full text; a file sync state would add nothing the hash does not."""
        limit = int(self.max_calendar_mb * MB)
        try:
            with self.path.open("rb") as file:
                data = file.read(limit + 1)  # one byte more tells a file over the cap from one at it
        except FileNotFoundError:
            raise SourceError(f"{self.origin}: file not found; check the ics_file path") from None
        except IsADirectoryError:
            raise SourceError(f"{self.origin}: is a directory, not a file; point ics_file at the .ics file") from None
        except PermissionError:
            raise SourceError(
                f"{self.origin}: permission denied; let the user running coachsync read the file"
            ) from None
        except OSError as exc:
            raise SourceError(f"{self.origin}: cannot read the file: {exc.strerror or exc}") from None
        if len(data) > limit:
            raise too_large(self.origin, self.max_calendar_mb)
        return Fetched(ensure_complete_calendar(data, self.origin), {})
