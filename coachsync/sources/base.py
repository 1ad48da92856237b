"""What every calendar source returns, and the proof that a calendar arrived whole.

A source that hands back partial or empty data would be read downstream as
"every session was cancelled", so sources check completeness here and raise
`SourceError` instead of guessing.
"""

from __future__ import annotations

import bisect
import codecs
import hashlib
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Protocol
from urllib.parse import urlsplit

from coachsync.errors import SourceError

__all__ = [
    "DEFAULT_MAX_CALENDAR_MB",
    "Delta",
    "Fetched",
    "HeldResources",
    "Resource",
    "Source",
    "describe_request_error",
    "ensure_complete_calendar",
    "exception_chain",
    "redact_url",
    "server_hint",
    "too_large",
    "url_problem",
]

# How much of one calendar a source reads, decompressed, before it gives up: a real
# calendar of 10,000 events is about 10 MB; a gzip bomb or an endless body is not a calendar.
DEFAULT_MAX_CALENDAR_MB = 64.0
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Resource:
    """One calendar object resource of a collection: its ETag, its VEVENT blocks and the time zones it carries."""

    etag: str
    events: str
    zones: tuple[str, ...]  # digests into Delta.zones, in the order the resource carries them


@dataclass(frozen=True, slots=True)
class Delta:
    """What changed in a collection since the resources the store holds: new or changed resources, and gone ones.

    A changed ETag may come with the very same content (a server rewrite); the store tells. After a
    whole listing (`complete`), `gone` names every held resource the server no longer lists.
    """

    changed: Mapping[str, Resource]
    gone: frozenset[str]
    zones: Mapping[str, tuple[str, str]]  # digest -> (TZID, VTIMEZONE text), for the zones `changed` carries
    complete: bool


@dataclass(frozen=True, slots=True)
class Fetched:
    """One fetch: the whole calendar text, or None when the server said "not modified"; or a delta.

    A source of one resource per event (CalDAV) sets `delta` instead of `text` when anything changed.
    """

    text: str | None
    state: Mapping[str, str]
    delta: Delta | None = None


class HeldResources(Protocol):
    """The resources the store holds for a calendar, as a delta source compares them: href -> ETag."""

    def etags(self, hrefs: Iterable[str]) -> dict[str, str]:
        """The ETags held for those of `hrefs` the store holds."""
        ...

    def all_etags(self) -> dict[str, str]:
        """Every held resource's ETag: only for a whole listing, which is calendar-sized anyway."""
        ...


class Source(Protocol):
    """A calendar the daemon can read; it reports data and never decides what changed.

    A source whose `reports_deltas` is true is handed the held resources too, as `fetch(state, held)`.
    """

    name: str

    def fetch(self, state: Mapping[str, str]) -> Fetched:
        """Read the whole calendar, or raise SourceError; `state` is what the last fetch returned."""
        ...


log = logging.getLogger(__name__)

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_CHARSET = re.compile(r""";\s*charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)
_BEGIN_VCALENDAR = re.compile(r"BEGIN:VCALENDAR[ \t]*(?:\r?\n|\r|\Z)", re.IGNORECASE)
# Anchored on "\n" rather than "^" so the regex engine can skip ahead between
# lines: ~4 ms on a 4 MB calendar instead of ~15 ms. The first line is checked
# separately. A line starting with a space is a folded continuation, never a
# component boundary, so it correctly does not match.
_BOUNDARY = re.compile(r"\n((?:BEGIN|END):V(?:CALENDAR|EVENT))[ \t]*\r?$", re.MULTILINE | re.IGNORECASE)
_END_VCALENDAR = re.compile(r"^END:VCALENDAR[ \t]*(?:\r\n|\r|\n|\Z)", re.MULTILINE | re.IGNORECASE)
# A line break and a space or tab continue a line; blank lines before it are skipped, as icalendar does.
_BYTE_FOLD = re.compile(rb"(?:\r?\n)+[ \t]")
# One line of bytes with its line break; a last line may lack one.
_BYTE_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
# A content line starts with its name (an iana-token or x-name), then parameters or the value.
_PROPERTY_NAME = re.compile(rb"[A-Za-z0-9-]+(?=[;:])")
_COMPONENT_LINE = re.compile(r"^(?:BEGIN|END):", re.MULTILINE | re.IGNORECASE)
# What each calendar was last warned about, so a daemon polling an unchanged file warns once, not every poll.
_warned: dict[tuple[str, str], str] = {}


def _warn_once(origin: str, topic: str, message: str, *args: object) -> None:
    """Log a warning about `origin` unless the very same one was the last logged on `topic`."""
    rendered = message % args if args else message
    fingerprint = hashlib.blake2b(rendered.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    if _warned.get((origin, topic)) != fingerprint:
        _warned[(origin, topic)] = fingerprint
        log.warning("%s: %s", origin, rendered)


def ensure_complete_calendar(data: bytes, origin: str, content_type: str | None = None) -> str:
    """Decode and check that `data` is one whole iCalendar object; raise SourceError otherwise.

    `origin` names the calendar in messages (already redacted for URLs).
    """
    text = _decode(data, origin, content_type)
    stripped = text.strip()
    if not stripped:
        raise SourceError(f"{origin}: calendar is empty; check that it points at the exported calendar")
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    is_calendar_start = _BEGIN_VCALENDAR.match(stripped) is not None
    # A body that really is a calendar wins over a misconfigured Content-Type.
    if stripped.startswith("<") or (media_type in _HTML_TYPES and not is_calendar_start):
        raise SourceError(f"{origin}: got an HTML page, not an iCalendar file; check the URL and credentials")
    if not is_calendar_start:
        raise SourceError(
            f"{origin}: not an iCalendar file (it does not start with BEGIN:VCALENDAR); "
            "check that it points at the .ics export"
        )
    last_break = max(stripped.rfind("\n"), stripped.rfind("\r"))
    if stripped[last_break + 1 :].rstrip().upper() != "END:VCALENDAR":
        text = _without_trailer(text, origin)
        stripped = text.strip()
    else:
        _warned.pop((origin, "trailer"), None)  # fixed: warn again should the lines come back
    counts = Counter({"BEGIN:VCALENDAR": 1})  # the first line, which _BOUNDARY cannot see
    for boundary, seen in Counter(_BOUNDARY.findall(stripped)).items():
        counts[boundary.upper()] += seen  # a handful of distinct spellings, not one per line
    for component in ("VCALENDAR", "VEVENT"):
        begins, ends = counts[f"BEGIN:{component}"], counts[f"END:{component}"]
        if begins != ends:
            raise SourceError(
                f"{origin}: calendar is truncated or damaged: {begins} BEGIN:{component} "
                f"but {ends} END:{component} lines; export the calendar again"
            )
    return text


def _without_trailer(text: str, origin: str) -> str:
    """The calendar up to its last END:VCALENDAR, when only stray lines (Podio's comments) follow it."""
    cut_off = SourceError(
        f"{origin}: calendar is cut off: no END:VCALENDAR at the end; was the file still being written?"
    )
    ends = list(_END_VCALENDAR.finditer(text))
    if not ends:
        raise cut_off
    end = ends[-1]
    trailer = text[end.end() :]
    if _COMPONENT_LINE.search(trailer):  # a component begun after the end: the calendar did not end there
        raise cut_off
    lines = sum(1 for line in trailer.splitlines() if line.strip())
    _warn_once(origin, "trailer", "ignored %d lines after END:VCALENDAR; they are not part of the calendar", lines)
    kept = text[: end.end()]
    return kept if kept.endswith(("\n", "\r")) else kept + "\r\n"


def _decode(data: bytes, origin: str, content_type: str | None) -> str:
    """Decode as the declared charset (default UTF-8); a BOM overrides the declaration."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            data, charset = data[len(bom) :], encoding
            break
    else:
        declared = _CHARSET.search(content_type or "")
        charset = declared.group(1).lower() if declared else "utf-8"
    try:
        text = data.decode(charset)
        _warned.pop((origin, "encoding"), None)  # fixed: warn again should bad bytes come back
        return text
    except LookupError:
        raise SourceError(
            f"{origin}: the server declares an unknown charset {charset!r}; serve the calendar as UTF-8"
        ) from None
    except UnicodeDecodeError as exc:
        if codecs.lookup(charset).name != "utf-8":
            raise SourceError(
                f"{origin}: calendar is not valid {charset} text (bad byte at offset {exc.start}); "
                "save or serve it as UTF-8"
            ) from None
    if (unfolded := _unfolded_utf8(data)) is not None:
        _warned.pop((origin, "encoding"), None)
        return unfolded
    return _repaired_utf8(data, origin)


def _unfolded_utf8(data: bytes) -> str | None:
    """The text with its folds undone on the bytes, or None when it is not UTF-8 even then.

    RFC 5545 folds lines between octets, so a fold may cut a character in two; only
    the unfolded bytes decode. Unfolding changes nothing an iCalendar reader sees.
    """
    try:
        return _BYTE_FOLD.sub(b"", data).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _repaired_utf8(data: bytes, origin: str) -> str:
    """The unfolded text with undecodable bytes replaced, when they all lie in property values.

    That is what "structure intact" means here: every line holding a byte that is not
    UTF-8 is a content line, its property name is whole ASCII (RFC 5545 names are), it is
    not a BEGIN or END that delimits a component, and the bad bytes come after the name,
    in the parameters or the value, which are free text. A Latin-1 export or a few
    damaged bytes in a description pass; a binary file or a damaged name does not.
    """
    unfolded = _BYTE_FOLD.sub(b"", data)
    # Where each fold was taken out, so a line is named by its number in the file as it stands.
    fold_at: list[int] = []
    removed_through: list[int] = []
    removed = 0
    for fold in _BYTE_FOLD.finditer(data):
        fold_at.append(fold.start() - removed)
        removed += fold.end() - fold.start()
        removed_through.append(removed)
    parts: list[str] = []
    repaired: list[int] = []
    for found in _BYTE_LINE.finditer(unfolded):
        raw = found[0]
        try:
            parts.append(raw.decode("utf-8"))
            continue
        except UnicodeDecodeError as exc:
            bad = exc.start
        before = bisect.bisect_right(fold_at, found.start() + bad)
        offset = found.start() + bad + (removed_through[before - 1] if before else 0)
        line = data.count(b"\n", 0, offset) + 1
        name = _PROPERTY_NAME.match(raw)
        if name is None or name[0].upper() in (b"BEGIN", b"END") or bad < name.end():
            raise SourceError(
                f"{origin}: line {line} is not valid UTF-8 and not a property whose value could be repaired; "
                "the file is damaged or not a calendar; save or serve it as UTF-8"
            )
        parts.append(raw.decode("utf-8", "replace"))
        repaired.append(line)
    many = len(repaired) > 1
    _warn_once(
        origin,
        "encoding",
        "%s %s not valid UTF-8; %s undecodable bytes were replaced with \ufffd; save or serve the calendar as UTF-8",
        _numbered_lines(repaired),
        "are" if many else "is",
        "their" if many else "its",
    )
    return "".join(parts)


def _numbered_lines(numbers: list[int], shown: int = 10) -> str:
    """How line numbers read in a message: "line 3", "lines 3 and 9", "lines 3, 5, … and 40 more"."""
    if len(numbers) == 1:
        return f"line {numbers[0]}"
    if len(numbers) > shown:
        return f"lines {', '.join(map(str, numbers[:shown]))} and {len(numbers) - shown} more"
    return f"lines {', '.join(map(str, numbers[:-1]))} and {numbers[-1]}"


def too_large(origin: str, max_calendar_mb: float, decompressed: bool = False) -> SourceError:
    """The one-line error for a calendar that passed its cap, naming the cap and the key that raises it."""
    return SourceError(
        f"{origin}: calendar is larger than max_calendar_mb ({max_calendar_mb:g} MB)"
        f"{' once decompressed' if decompressed else ''}; reading stopped there; "
        "raise max_calendar_mb for this calendar if it really is this large"
    )


def redact_url(url: str) -> str:
    """Show `scheme://host[:port]/…` only: ICS URLs often carry a secret token or user:password."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return "<unparsable URL>"
    if not parts.scheme or not host:
        return "<unparsable URL>"
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    has_more = parts.path.strip("/") or parts.query or parts.fragment
    return f"{parts.scheme.lower()}://{netloc}{'/…' if has_more else '/'}"


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """Every exception wrapped inside `exc`: HTTP libraries nest the real cause several deep."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = (current.__cause__, current.__context__, getattr(current, "reason", None), *current.args)
        stack.extend(e for e in nested if isinstance(e, BaseException))


def url_problem(url: str, schemes: tuple[str, ...] = ("http", "https")) -> str | None:
    """Why `url` is not a URL with one of `schemes` and a host, or None when it is.

    The URL may hold a secret token, so the answer names its scheme at most, never the URL.
    """
    parts = urlsplit(url.strip())
    if parts.scheme.lower() in schemes and parts.netloc:
        return None
    listed = [f"{scheme}://" for scheme in schemes]
    wanted = listed[0] if len(listed) == 1 else f"{', '.join(listed[:-1])} or {listed[-1]}"
    got = f"a {parts.scheme}: address" if parts.scheme else "no scheme"
    return f"expected an {wanted} URL, got {got}"


def server_hint(code: int) -> str | None:
    """The remedy for a status that means the server, not the coach's settings, is the problem."""
    if code == 429:
        return "the server is rate-limiting; poll less often"
    if code >= 500:
        return "the server has a problem; try again later"
    return None


def describe_request_error(
    exc: BaseException, http: ModuleType, timeout: float, url: str = "the URL", tls_hint: str = ""
) -> str:
    """What went wrong with a request, in words a coach can act on; never the exception's text, which holds the URL.

    `http` is the requests-compatible library that raised: requests, or niquests under caldav; both name
    their exceptions alike. `url` names what to check ("the URL", "caldav.url").
    """
    # Here, not at the top: the config imports this module for url_problem, and ssl costs start-up time.
    import socket
    import ssl

    chain = list(exception_chain(exc))
    errors = http.exceptions

    def has(*types: type[BaseException]) -> bool:
        return any(isinstance(e, types) for e in chain)

    if has(errors.Timeout, TimeoutError):
        return f"did not answer within {timeout:g} s; check the URL and the network, or raise the timeout"
    if has(ConnectionRefusedError):
        return "refused the connection; check the host and port, and that the server is running"
    if has(socket.gaierror):
        return f"the host name could not be resolved; check {url} and the network"
    if has(ssl.SSLCertVerificationError):
        why = next((e.verify_message for e in chain if isinstance(e, ssl.SSLCertVerificationError)), None)
        why = why or "no reason given"
        return f"the TLS certificate could not be verified ({why}); check {url}'s host name{tls_hint}"
    if has(errors.SSLError, ssl.SSLError):
        return f"the TLS/SSL handshake failed; check that {url}'s scheme and port are right"
    if has(errors.ChunkedEncodingError, errors.ContentDecodingError):
        return "the download was cut short or damaged; check the network and try again"
    if has(errors.TooManyRedirects):
        return f"redirects in a loop; check {url}"
    if has(errors.InvalidURL, errors.MissingSchema, errors.InvalidSchema):
        return f"{url} is not valid; check it"
    if has(errors.ConnectionError):
        return "the connection failed or was closed early; check the network and try again"
    return f"the request failed ({type(exc).__name__}); try again"
