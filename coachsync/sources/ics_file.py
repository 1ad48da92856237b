"""A calendar exported to a local .ics file (Apple Calendar, Thunderbird, a sync tool)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from coachsync.errors import SourceError
from coachsync.sources.base import Fetched, ensure_complete_calendar

__all__ = ["IcsFileSource"]


class IcsFileSource:
    """Reads the whole file on every fetch; the caller hashes the text to skip unchanged passes."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path

    @property
    def origin(self) -> str:
        """How messages name this calendar."""
        return f'calendar "{self.name}" ({self.path})'

    def fetch(self, state: Mapping[str, str]) -> Fetched:
        """Return the full text; a file sync state would add nothing the hash does not."""
        try:
            data = self.path.read_bytes()
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
        return Fetched(ensure_complete_calendar(data, self.origin), {})
