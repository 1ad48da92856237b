"""A calendar collection on a CalDAV server (Nextcloud, Fastmail/Cyrus, iCloud, Radicale, Baïkal, Xandikos, DAViCal).

A CalDAV collection is one resource per event. The store keeps a row per
resource (href, ETag, VEVENT text, time zones); this source compares what the
server lists with the ETags it is handed (`HeldResources`) and returns a
`Delta`: the resources that changed, with their text, and the ones that are
gone. The opaque sync state holds only small values (the sync-token, how the
collection is listed, when it was last listed whole). The pass writes the
rows, the token and the snapshot in one transaction, so they always describe
the same calendar.

Requests per poll (see docs/config.md): an idle poll is one sync-collection
REPORT (RFC 6578); a change adds one calendar-multiget REPORT (RFC 4791) for
the changed resources only. A rejected token or a server without sync support
costs one listing of hrefs and ETags, and still only the resources whose ETag
differs from the held one are downloaded. So does an answer to a token that names
unchanged resources (DAViCal's answer to a token it forgot), and a poll every
`full_listing_hours`, which catch a deletion a server failed to report.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit
from xml.sax.saxutils import escape

# caldav (2.0 and later) sends its requests through niquests, so network failures arrive as niquests errors.
import niquests
from caldav.collection import Calendar, Principal
from caldav.davclient import DAVClient
from caldav.elements import dav
from caldav.lib import error as caldav_error
from lxml import etree

from coachsync import __version__
from coachsync.errors import SourceError
from coachsync.secrets import SecretError, read_secret
from coachsync.sources.base import (
    Delta,
    Fetched,
    HeldResources,
    Resource,
    describe_request_error,
    ensure_complete_calendar,
    redact_url,
    server_hint,
)

__all__ = ["CaldavSource", "DEFAULT_FULL_LISTING_HOURS", "MULTIGET_BATCH", "PASSWORD_CREDENTIAL", "PASSWORD_ENV"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

PASSWORD_ENV = "COACHSYNC_CALDAV_PASSWORD"
PASSWORD_CREDENTIAL = "caldav-password"
# Hrefs per calendar-multiget: one request for most calendars, bounded bodies for huge ones.
MULTIGET_BATCH = 1000
# How often a calendar is listed whole instead of asking for the changes since the token.
DEFAULT_FULL_LISTING_HOURS = 24.0
# A server that truncates sync results (507) is asked again from the new token, this many times at most.
_MAX_SYNC_ROUNDS = 50
# "2": the resources live in the store, not in the state; a state of format "1" is listed whole once.
_STATE_FORMAT = "2"

_DAV = "DAV:"
_CALDAV = "urn:ietf:params:xml:ns:caldav"
_XML_HEADERS = {"Content-Type": "application/xml; charset=utf-8"}
_COMPONENT = re.compile(
    r"^BEGIN:(VEVENT|VTIMEZONE)[ \t]*\r?$.*?^END:\1[ \t]*\r?$", re.MULTILINE | re.DOTALL | re.IGNORECASE
)
_TZID = re.compile(r"^TZID[;:][^\r\n]*(?:\r?\n[ \t][^\r\n]*)*", re.MULTILINE | re.IGNORECASE)
_FOLD = re.compile(r"\r?\n[ \t]")


@dataclass(frozen=True, slots=True)
class _Listing:
    """What the server said is in the collection: href -> ETag ("" unknown, None deleted)."""

    entries: dict[str, str | None]
    complete: bool  # True: every resource is listed, so anything unlisted is gone
    token: str
    method: str  # "sync" or "propfind": how the next poll lists


# What the caldav library was doing when it raised, for the one line a coach reads.
_REQUEST_NAMES: dict[type[caldav_error.DAVError], str] = {
    caldav_error.PropfindError: "PROPFIND",
    caldav_error.ReportError: "REPORT",
}


class _TokenRejected(Exception):
    pass


class _NoSyncSupport(Exception):
    pass


class CaldavSource:
    """Polls one CalDAV calendar collection with its sync-token; returns text only when an event changed.

    Discovery (which collection `url` and `calendar` name) happens once per
    process, on the first fetch. The password is read then, and again after
    the server refused it, so a corrected secret is picked up without a restart.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        username: str | None = None,
        password_command: str | None = None,
        calendar: str | None = None,
        verify_tls: bool = True,
        ca_file: Path | None = None,
        timeout: float = 30.0,
        full_listing_hours: float = DEFAULT_FULL_LISTING_HOURS,
        password: str | None = None,
    ) -> None:
        self.name = name
        self._password = password  # given by `coachsync init`, which asked the coach; never kept
        self.timeout = timeout
        self._full_listing_hours = full_listing_hours
        self._url = url.strip()
        self._username = username
        self._password_command = password_command
        self._calendar_name = calendar
        self._verify: bool | str = str(ca_file) if ca_file is not None else verify_tls
        self.origin = f'calendar "{name}" ({redact_url(self._url)})'
        self._log = {"calendar": name}
        self._client: DAVClient | None = None
        self._collection: str | None = None

    # --- the Source interface -------------------------------------------------------------------

    reports_deltas = True  # fetch is handed the resources the store holds, and answers with a Delta

    def fetch(self, state: Mapping[str, str], held: HeldResources | None = None) -> Fetched:
        """A delta of the resources that changed compared with `held`; `delta=None` when none did.

        Without `held` (`coachsync check`, `init`), the caller holds nothing: the calendar is listed
        and read whole, and `text` is the whole calendar, beside a delta of every resource.
        """
        if held is None:
            return self._answered(lambda: self._whole(state))
        return self._answered(lambda: self._fetch(state, held))

    def _whole(self, state: Mapping[str, str]) -> Fetched:
        fetched = self._fetch({k: v for k, v in state.items() if k != "sync_token"}, _NOTHING_HELD)
        delta = fetched.delta
        assert delta is not None  # a whole listing always answers with a delta
        return Fetched(_calendar_text(delta.changed, delta.zones), fetched.state, delta)

    def calendar_names(self) -> list[str]:
        """The display names of the account's calendars, for `coachsync init` to offer; fetch's errors."""
        return self._answered(lambda: [name for name, _ in self._account_calendars(self._login())])

    def _answered(self, request: Callable[[], _T]) -> _T:
        """Run requests to the server, turning each failure into one SourceError that says what to fix."""
        try:
            return request()
        except SourceError:
            raise
        except caldav_error.AuthorizationError as exc:
            if exc.status == 401 or exc.status is None:
                self._forget_login()
            raise SourceError(self._refused(exc.status)) from None
        except caldav_error.RateLimitError:
            raise SourceError(
                f"{self.origin}: the server is busy or rate-limiting (HTTP 429/503); poll less often"
            ) from None
        except etree.XMLSyntaxError:
            raise SourceError(
                f"{self.origin}: the server's answer was cut short or is not valid XML; try again later"
            ) from None
        except niquests.RequestException as exc:
            # `from None`: the library's exception text holds the full URL.
            problem = describe_request_error(
                exc, niquests, self.timeout, url="caldav.url", tls_hint=", or set caldav.ca_file"
            )
            raise SourceError(f"{self.origin}: {problem}") from None
        except caldav_error.DAVError as exc:
            raise SourceError(f"{self.origin}: {self._failed_request(exc)}") from None
        except NotImplementedError as exc:
            raise SourceError(f"{self.origin}: the CalDAV request failed ({type(exc).__name__}); try again") from None

    def _fetch(self, state: Mapping[str, str], held: HeldResources) -> Fetched:
        client, collection = self._connect()
        collection_key = hashlib.blake2b(collection.encode(), digest_size=8).hexdigest()
        known = state.get("format") == _STATE_FORMAT and state.get("collection") == collection_key
        now = time.time()
        token = state.get("sync_token", "") if known else ""
        if token and self._full_listing_due(state, now):
            # A server may lose a change silently (a pruned token answered as if new); the whole listing finds it.
            log.info("listing the whole calendar, as every caldav.full_listing_hours hours", extra=self._log)
            token = ""
        listing = self._list(client, collection, token, state.get("listing"))
        if known and not listing.complete and not listing.entries and listing.token == state.get("sync_token"):
            return Fetched(None, state)  # the idle poll: nothing to read, nothing to write

        if not listing.complete and _names_unchanged(listing, held.etags(listing.entries) if known else {}):
            # DAViCal answers a token it has forgotten with 207 and every resource, so what it deleted is just
            # absent. A real list of changes hardly ever names an unchanged ETag: list again, whole, and trust that.
            log.info(
                "the server answered the sync token with unchanged events; listing the whole calendar", extra=self._log
            )
            listing = self._list(client, collection, "", listing.method)
        gone: set[str] = set()
        if listing.complete:
            every = held.all_etags()
            gone = {href for href in every if href not in listing.entries}
            etags = every if known else {}  # resources of another collection or state format are read again
        else:
            etags = held.etags(listing.entries)
        gone.update(href for href, etag in listing.entries.items() if etag is None)
        wanted = [
            href
            for href, etag in listing.entries.items()
            if etag is not None and (href not in etags or not etag or etags[href] != etag)
        ]
        zones: dict[str, tuple[str, str]] = {}
        changed: dict[str, Resource] = {}
        for href, fetched in self._multiget(client, collection, wanted, zones).items():
            if fetched is None:
                gone.add(href)  # deleted between the listing and the download
            else:
                changed[href] = fetched
        new_state = {
            "format": _STATE_FORMAT,
            "collection": collection_key,
            "listing": listing.method,
            "sync_token": listing.token,
            "listed_at": str(int(now)) if listing.complete else state.get("listed_at", str(int(now))),
        }
        if not changed and not gone and not listing.complete:
            return Fetched(None, new_state)
        return Fetched(None, new_state, Delta(changed, frozenset(gone - changed.keys()), zones, listing.complete))

    def _full_listing_due(self, state: Mapping[str, str], now: float) -> bool:
        """True when the last whole listing is older than full_listing_hours (or unknown, or in the future)."""
        try:
            listed_at = float(state["listed_at"])
        except (KeyError, ValueError):
            return True
        return not 0 <= now - listed_at < self._full_listing_hours * 3600

    # --- discovery ------------------------------------------------------------------------------

    def _connect(self) -> tuple[DAVClient, str]:
        if self._client is not None and self._collection is not None:
            return self._client, self._collection
        client = self._login()
        self._client = client
        self._collection = self._discover(client)
        return client, self._collection

    def _login(self) -> DAVClient:
        try:
            password = self._password or read_secret(
                what="caldav.password_command",
                command=self._password_command,
                env_var=PASSWORD_ENV,
                credential=PASSWORD_CREDENTIAL,
            )
        except SecretError as exc:
            raise SourceError(f"{self.origin}: cannot read the CalDAV password: {exc}") from None
        client = DAVClient(
            url=self._url,
            username=self._username,
            password=password,
            timeout=self.timeout,  # type: ignore[arg-type]  # passed through to the HTTP library, floats work
            ssl_verify_cert=self._verify,
            headers={"User-Agent": f"coachsync/{__version__}"},
            enable_rfc6764=False,  # the URL is given; no DNS-based guessing
        )
        return client

    def _forget_login(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None
        self._collection = None

    def _discover(self, client: DAVClient) -> str:
        """The collection's URL: `url` itself when it is a calendar, else the principal's calendar named `calendar`."""
        here = client.calendar(url=self._url)
        props = here.get_properties([dav.ResourceType(), dav.DisplayName()])
        kinds = props.get("{DAV:}resourcetype") or []
        if f"{{{_CALDAV}}}calendar" in kinds:
            own_name = props.get("{DAV:}displayname") or _last_segment(self._url)
            if self._calendar_name is None or _same_name(own_name, self._calendar_name):
                return _without_userinfo(str(here.url))
            names = self._calendar_names(client) or [own_name]
            raise SourceError(
                f'{self.origin}: caldav.url is the calendar "{own_name}" but caldav.calendar says '
                f'"{self._calendar_name}" (calendars found: {_quoted(names)}); make them agree or drop caldav.calendar'
            )
        found = self._account_calendars(client)
        names = [name for name, _ in found]
        if not found and client.auth is None:
            raise SourceError(
                f"{self.origin}: {_shown_url(self._url)} answered without a login and named no calendars; "
                "set caldav.username and a password, or point caldav.url at the calendar itself"
            )
        if not found:
            raise SourceError(f"{self.origin}: this account has no calendars; check caldav.url and caldav.username")
        if self._calendar_name is None:
            if len(found) == 1:
                return _without_userinfo(str(found[0][1].url))
            raise SourceError(
                f"{self.origin}: found {len(found)} calendars ({_quoted(names)}); set caldav.calendar to one of "
                "them or point caldav.url at the calendar itself"
            )
        exact = [c for name, c in found if name == self._calendar_name]
        loose = [c for name, c in found if _same_name(name, self._calendar_name)]
        match = exact or (loose if len(loose) == 1 else [])
        if len(match) != 1:
            problem = "several calendars are" if len(match) > 1 else "no calendar is"
            raise SourceError(
                f'{self.origin}: {problem} named "{self._calendar_name}" (calendars found: {_quoted(names)}); '
                "set caldav.calendar to one of them"
            )
        return _without_userinfo(str(match[0].url))

    def _account_calendars(self, client: DAVClient) -> list[tuple[str, Calendar]]:
        calendars = client.principal().get_calendars()
        if not calendars and client.auth is None and self._username is not None:
            # Cyrus answers an anonymous PROPFIND on / with 207 and DAV:unauthenticated instead of a 401
            # challenge, so the login was never sent: send it now and ask again.
            client.build_auth_object(["basic"])
            calendars = Principal(client=client).get_calendars()  # client.principal() keeps the anonymous one
        return [(_display_name(c), c) for c in calendars]

    def _calendar_names(self, client: DAVClient) -> list[str]:
        try:
            return [_display_name(c) for c in client.principal().get_calendars()]
        except (caldav_error.DAVError, niquests.RequestException, etree.XMLSyntaxError):
            return []  # the listing is only a hint in an error message

    # --- listing --------------------------------------------------------------------------------

    def _list(self, client: DAVClient, collection: str, token: str, method: str | None) -> _Listing:
        if method != "propfind":
            try:
                return self._sync(client, collection, token)
            except _TokenRejected:
                log.info(
                    "calendar=%s the server no longer accepts the sync token; listing the whole calendar", self.name
                )
                try:
                    return self._sync(client, collection, "")
                except (_TokenRejected, _NoSyncSupport):
                    pass
            except _NoSyncSupport:
                pass
            log.info("the server does not support sync-collection; listing with PROPFIND", extra=self._log)
        return self._propfind_listing(client, collection)

    def _sync(self, client: DAVClient, collection: str, token: str) -> _Listing:
        """RFC 6578 sync-collection, asking only for ETags: an unchanged calendar answers with just the token."""
        entries: dict[str, str | None] = {}
        complete = not token
        for _ in range(_MAX_SYNC_ROUNDS):
            body = (
                '<?xml version="1.0" encoding="utf-8"?>\n'
                '<D:sync-collection xmlns:D="DAV:">'
                f"<D:sync-token>{escape(token)}</D:sync-token><D:sync-level>1</D:sync-level>"
                "<D:prop><D:getetag/></D:prop></D:sync-collection>"
            )
            try:
                response = client.request(collection, "REPORT", body, {**_XML_HEADERS, "Depth": "0"})
            except caldav_error.AuthorizationError as exc:
                if exc.status != 403:
                    raise
                # "valid-sync-token" arrives as a 403 on most servers; without a token, sync is not offered
                if token:
                    raise _TokenRejected() from None
                raise _NoSyncSupport() from None
            status = response.status
            if status in (403, 409, 410, 412, 418) and token:
                raise _TokenRejected()  # 409 on some, 418 on Nextcloud, 412 on Xandikos
            if status in (400, 403, 405, 409, 412, 415, 418, 422, 501):
                raise _NoSyncSupport()
            tree = self._multistatus(response, "sync-collection REPORT")
            new_token = (tree.findtext(f"{{{_DAV}}}sync-token") or "").strip()
            truncated = False
            for href, code, props in _responses(tree, collection):
                if href is None:
                    truncated = truncated or code == 507
                    continue
                if code == 404 or code == 410:
                    entries[href] = None
                elif code == 200 and props is not None:
                    entries[href] = (props.findtext(f"{{{_DAV}}}getetag") or "").strip()
            if not new_token:
                if token:
                    raise _TokenRejected()
                return _Listing(entries, True, "", "propfind")  # a listing, but nothing to sync from next time
            if not truncated:
                return _Listing(entries, complete, new_token, "sync")
            token = new_token
        raise SourceError(f"{self.origin}: the server kept truncating the list of changes; try again later")

    def _propfind_listing(self, client: DAVClient, collection: str) -> _Listing:
        body = (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:resourcetype/></D:prop></D:propfind>'
        )
        response = client.request(collection, "PROPFIND", body, {**_XML_HEADERS, "Depth": "1"})
        tree = self._multistatus(response, "PROPFIND")
        entries: dict[str, str | None] = {}
        for href, code, props in _responses(tree, collection):
            if href is None or code != 200 or props is None:
                continue
            if props.find(f"{{{_DAV}}}resourcetype/{{{_DAV}}}collection") is not None:
                continue  # a sub-collection, not an event
            entries[href] = (props.findtext(f"{{{_DAV}}}getetag") or "").strip()
        return _Listing(entries, True, "", "propfind")

    # --- downloading ----------------------------------------------------------------------------

    def _multiget(
        self, client: DAVClient, collection: str, hrefs: list[str], zones: dict[str, tuple[str, str]]
    ) -> dict[str, Resource | None]:
        """Download the named resources with calendar-multiget, never one GET each; None for one that vanished."""
        found: dict[str, Resource | None] = {}
        for start in range(0, len(hrefs), MULTIGET_BATCH):
            batch = hrefs[start : start + MULTIGET_BATCH]
            by_path = {unquote(href): href for href in batch}
            body = "".join(
                [
                    '<?xml version="1.0" encoding="utf-8"?>\n'
                    '<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
                    "<D:prop><D:getetag/><C:calendar-data/></D:prop>",
                    *(f"<D:href>{escape(href)}</D:href>" for href in batch),
                    "</C:calendar-multiget>",
                ]
            )
            response = client.request(collection, "REPORT", body, {**_XML_HEADERS, "Depth": "1"})
            tree = self._multistatus(response, "calendar-multiget REPORT")
            for href, code, props in _responses(tree, collection):
                listed = by_path.get(unquote(href)) if href is not None else None
                if listed is None:
                    continue
                if code in (404, 410):
                    found[listed] = None
                    continue
                data = props.findtext(f"{{{_CALDAV}}}calendar-data") if props is not None else None
                if code != 200 or data is None:
                    raise SourceError(
                        f"{self.origin}: the server did not send the event {_last_segment(listed)} "
                        f"(status {code}); try again later"
                    )
                etag = (props.findtext(f"{{{_DAV}}}getetag") or "").strip() if props is not None else ""
                found[listed] = self._resource(listed, etag, data, zones)
            missing = [href for href in batch if href not in found]
            if missing:
                raise SourceError(
                    f"{self.origin}: the server left {len(missing)} of {len(batch)} requested events out of its "
                    "answer; try again later"
                )
        return found

    def _resource(self, href: str, etag: str, data: str, zones: dict[str, tuple[str, str]]) -> Resource:
        text = ensure_complete_calendar(data.encode("utf-8"), f"{self.origin}, event {_last_segment(href)}")
        events: list[str] = []
        carried: list[str] = []
        for match in _COMPONENT.finditer(text):
            block = _crlf(match.group(0))
            if match.group(1).upper() == "VEVENT":
                events.append(block)
                continue
            tzid_line = _TZID.search(block)
            if tzid_line is None:
                continue
            tzid = _FOLD.sub("", tzid_line.group(0)).split(":", 1)[-1].strip()
            digest = hashlib.blake2b(block.encode(), digest_size=12).hexdigest()
            zones.setdefault(digest, (tzid, block))
            carried.append(digest)
        return Resource(etag, "".join(events), tuple(carried))

    # --- answers and messages -------------------------------------------------------------------

    def _multistatus(self, response: Any, what: str) -> Any:
        status = response.status
        if status == 404:
            raise SourceError(f"{self.origin}: no calendar at this address (HTTP 404); check caldav.url")
        if status >= 500:
            raise SourceError(f"{self.origin}: answered HTTP {status} to a {what}; {server_hint(status)}")
        if status != 207:
            raise SourceError(f"{self.origin}: answered HTTP {status} to a {what}, expected 207 Multi-Status")
        tree = response.tree
        if tree is None or tree.tag != f"{{{_DAV}}}multistatus":
            raise SourceError(
                f"{self.origin}: got something other than a WebDAV multistatus (an HTML page?); "
                "check caldav.url and any proxy in between"
            )
        return tree

    @staticmethod
    def _failed_request(exc: caldav_error.DAVError) -> str:
        """A request the caldav library made (finding the calendar) that failed, worded as for our own requests."""
        what = _REQUEST_NAMES.get(type(exc), "request")
        status = exc.status
        if status is None:
            return f"the CalDAV {what} failed without an HTTP status; try again"
        if status == 404:
            return "no calendar at this address (HTTP 404); check caldav.url"
        hint = server_hint(status)
        if hint is not None:
            return f"answered HTTP {status} to a {what}; {hint}"
        return f"answered HTTP {status} to a {what}, expected 207 Multi-Status; check caldav.url"

    def _refused(self, status: int | None) -> str:
        if status == 403:
            who = f'user "{self._username}"' if self._username else "this login"
            return f"{self.origin}: the server refused access (HTTP 403); check that {who} may read this calendar"
        source = self._password_source()
        if self._username is None:
            return f"{self.origin}: the server asks for a login (HTTP 401); set caldav.username and {source}"
        return (
            f'{self.origin}: the server refused the login of user "{self._username}" (HTTP 401); '
            f"check caldav.username and {source}"
        )

    def _password_source(self) -> str:
        """Where the password came from (never what it is), in the order read_secret looks."""
        if self._password_command is not None:
            return "the password printed by caldav.password_command"
        if os.environ.get(PASSWORD_ENV):
            return f"the password in ${PASSWORD_ENV}"
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if directory and (Path(directory) / PASSWORD_CREDENTIAL).is_file():
            return f"the password in the systemd credential {PASSWORD_CREDENTIAL}"
        return (
            f"the password: none is configured (set caldav.password_command, ${PASSWORD_ENV} or the "
            f"systemd credential {PASSWORD_CREDENTIAL})"
        )


def _names_unchanged(listing: _Listing, held: Mapping[str, str]) -> bool:
    """Whether a list of changes names a resource with the very ETag we hold: then it is no list of changes."""
    return any(etag and held.get(href) == etag for href, etag in listing.entries.items())


def _calendar_text(resources: Mapping[str, Resource], zones: Mapping[str, tuple[str, str]]) -> str:
    """The whole calendar: each TZID once (from the first resource, by href, that carries it), then events.

    The store assembles the same text from the rows it holds (`store.resources`).
    """
    chosen: dict[str, str] = {}
    for href in sorted(resources):
        for digest in resources[href].zones:
            tzid, body = zones[digest]
            chosen.setdefault(tzid, body)
    parts = ["BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//coachsync//CalDAV collection//EN\r\n"]
    parts.extend(chosen[tzid] for tzid in sorted(chosen))
    parts.extend(resources[href].events for href in sorted(resources))
    parts.append("END:VCALENDAR\r\n")
    return "".join(parts)


class _NothingHeld:
    """What a fetch compares against when the caller holds no resources: everything is new."""

    def etags(self, hrefs: Iterable[str]) -> dict[str, str]:
        return {}

    def all_etags(self) -> dict[str, str]:
        return {}


_NOTHING_HELD = _NothingHeld()


def _responses(tree: Any, collection: str) -> Iterator[tuple[str | None, int, Any]]:
    """(href, status, prop element) per DAV:response; href None for the collection itself."""
    own = _path(collection).rstrip("/")
    for response in tree.iterfind(f"{{{_DAV}}}response"):
        raw_href = (response.findtext(f"{{{_DAV}}}href") or "").strip()
        href = _path(urljoin(collection, raw_href))
        is_own = href.rstrip("/") == own
        direct = response.findtext(f"{{{_DAV}}}status")
        if direct is not None:
            yield (None if is_own else href), _status_code(direct), None
            continue
        for propstat in response.iterfind(f"{{{_DAV}}}propstat"):
            code = _status_code(propstat.findtext(f"{{{_DAV}}}status") or "")
            if code == 200:
                yield (None if is_own else href), 200, propstat.find(f"{{{_DAV}}}prop")
                break
        else:
            yield (None if is_own else href), 404, None


def _status_code(line: str) -> int:
    parts = line.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def _path(url: str) -> str:
    return urlsplit(url).path or "/"


def _crlf(block: str) -> str:
    return block.replace("\r\n", "\n").replace("\n", "\r\n") + "\r\n"


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def _shown_url(url: str) -> str:
    """The URL without login or query, to name it in a message."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path or "/", "", ""))


def _last_segment(url: str) -> str:
    return unquote(_path(url).rstrip("/").rsplit("/", 1)[-1]) or "/"


def _display_name(calendar: Calendar) -> str:
    name = calendar.get_display_name()
    return str(name) if name else _last_segment(str(calendar.url))


def _same_name(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)
