"""What an event's TZID means when the calendar does not define it with a VTIMEZONE.

icalendar already knows IANA names, Windows zone names ("W. Europe Standard
Time") and globally unique TZIDs ("/mozilla.org/…/Europe/Berlin"). Outlook
also writes its display names, "(UTC-05:00) Eastern Time (US & Canada)",
often without the VTIMEZONE that would define them; those are resolved here
from the name (a city in it, or the Windows zone it abbreviates), checked
against the UTC offset it shows, and otherwise read at that fixed offset.
Anything else ("tzone://Microsoft/Custom", "foo") is unknown: the caller
reads it in the coach's zone and warns.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

__all__ = ["Resolved", "known_name", "resolve_tzid"]

# "(UTC-05:00) Eastern Time (US & Canada)", "(UTC) Dublin, Edinburgh", "(GMT+01:00) Amsterdam, Berlin"
_DISPLAY_NAME = re.compile(r"\((?:UTC|GMT)(?:([+-−])(\d{1,2}):?(\d{2})?)?\)\s*(.*)", re.IGNORECASE)
_IN_PARENTHESES = re.compile(r"\([^)]*\)")


@dataclass(frozen=True, slots=True)
class Resolved:
    """The IANA zone a TZID stands for; `exact` False when only its fixed UTC offset was known."""

    key: str
    exact: bool = True


@functools.cache
def resolve_tzid(tzid: str) -> Resolved | None:
    """What `tzid` means without a VTIMEZONE: the name icalendar knows it by, an IANA zone, or None."""
    if (known := known_name(tzid)) is not None:
        return Resolved(known)
    display = _DISPLAY_NAME.fullmatch(tzid.strip())
    if display is None:
        return None
    sign, hours, minutes, name = display.groups()
    offset = timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
    if sign in ("-", "−"):
        offset = -offset
    for key in _candidates(name):
        if _standard_offset(key) == offset:
            return Resolved(key)
    if offset % timedelta(hours=1) == timedelta(0) and abs(offset) <= timedelta(hours=14):
        hours_east = offset // timedelta(hours=1)
        # POSIX signs: Etc/GMT+5 is five hours behind UTC.
        return Resolved("Etc/UTC" if hours_east == 0 else f"Etc/GMT{-hours_east:+d}", exact=False)
    return None


def known_name(tzid: str) -> str | None:
    """The IANA zone of an IANA, Windows or globally unique ("/vendor/Europe/Berlin") TZID, as icalendar
    reads them, but never from icalendar's cache: it keeps the first VTIMEZONE it saw under a TZID, from
    whichever calendar, for the life of the process."""
    cleaned = tzid.strip().strip("/")
    candidates = [cleaned, WINDOWS_TO_OLSON.get(cleaned)]
    if tzid.startswith("/"):
        parts = cleaned.split("/")
        candidates.extend("/".join(parts[start:]) for start in range(1, len(parts)))
    return next((key for key in candidates if key in _iana_keys()), None)


@functools.cache
def _iana_keys() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _candidates(name: str) -> list[str]:
    """IANA zones a display name may mean: the cities it lists, then the Windows zone it abbreviates."""
    plain = _IN_PARENTHESES.sub("", name).strip()
    found = [_cities().get(city.strip().casefold()) for city in re.split(r",| - |/", plain)]
    words = plain.split()
    if words:
        # "Eastern Time" is the "Eastern Standard Time" zone; "Alaska" is "Alaskan Standard Time".
        for windows, key in WINDOWS_TO_OLSON.items():
            if windows == plain.replace(" Time", " Standard Time") or (
                len(words) == 1 and windows.startswith(words[0]) and windows.endswith(" Standard Time")
            ):
                found.append(key)
    return [key for key in found if key is not None]


@functools.cache
def _cities() -> dict[str, str]:
    """Each IANA zone by its city, "new york" -> "America/New_York"; the first zone wins a shared name."""
    cities: dict[str, str] = {}
    for key in sorted(_iana_keys()):
        if "/" in key and not key.startswith(("Etc/", "SystemV/", "US/")):
            cities.setdefault(key.rsplit("/", 1)[1].replace("_", " ").casefold(), key)
    return cities


def _standard_offset(key: str) -> timedelta | None:
    """The zone's offset outside daylight saving time, as a display name shows it."""
    try:
        zone = ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    offsets = [datetime(2026, month, 1, tzinfo=zone).utcoffset() for month in (1, 7)]
    return min(offset for offset in offsets if offset is not None)
