"""Real CalDAV servers on 127.0.0.1 for tests and benchmarks.

Radicale and Xandikos run in-process as WSGI apps on a port chosen at run
time, behind a counting middleware that records every request it was sent
(method, path, bytes in and out), so tests assert on what really crossed the
wire. The middleware can also stand in for a failing proxy (`fault`), which is
how a test makes a real server answer 503 or refuse sync-collection.

Cyrus and DAViCal run as the Debian packages install them (support.cyrus,
support.davical), with a fresh user per test (`PackagedServer`) and nothing in
between; only `make test-servers` runs them.
"""

from __future__ import annotations

import contextlib
import shutil
import socketserver
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import requests

from support.cyrus import CyrusDaemon
from support.davical import ROOT_PATH as DAVICAL_ROOT
from support.davical import DavicalDaemon

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]
# A canned answer (status line, headers, body) that replaces the server's, or None to pass through.
Fault = Callable[[Environ, bytes], "tuple[str, list[tuple[str, str]], bytes] | None"]

USERNAME = "coach"
PASSWORD = "correct horse battery staple"
CALENDAR_NAME = "Coaching"
OTHER_CALENDAR_NAME = "Personal"


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request as the server saw it; byte counts include the request/status line and headers."""

    method: str
    path: str
    status: int
    request_bytes: int
    response_bytes: int
    body: bytes


class CountingMiddleware:
    """Records every request and its answer; optionally answers in the server's place."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.exchanges: list[Exchange] = []
        self.fault: Fault | None = None
        self._lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = _Body(body)
        head = f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')} HTTP/1.1\r\n"
        headers = "".join(
            f"{key[5:].replace('_', '-').title()}: {value}\r\n" for key, value in environ.items() if key[:5] == "HTTP_"
        )
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers += f"{key.replace('_', '-').title()}: {environ[key]}\r\n"
        request_bytes = len(head) + len(headers) + 2 + len(body)

        seen: dict[str, Any] = {}

        def counting_start(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"] = status
            seen["head"] = len(f"HTTP/1.1 {status}\r\n") + sum(len(f"{k}: {v}\r\n") for k, v in response_headers) + 2
            return (
                start_response(status, response_headers, exc_info)
                if exc_info
                else start_response(status, response_headers)
            )

        canned = self.fault(environ, body) if self.fault is not None else None
        if canned is not None:
            status, response_headers, payload = canned
            counting_start(status, [*response_headers, ("Content-Length", str(len(payload)))])
            chunks: list[bytes] = [payload]
        else:
            result = self.app(environ, counting_start)
            try:
                chunks = [bytes(chunk) for chunk in result]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        response_bytes = seen.get("head", 0) + sum(len(chunk) for chunk in chunks)
        exchange = Exchange(
            method=environ["REQUEST_METHOD"],
            path=environ.get("PATH_INFO", ""),
            status=int(str(seen.get("status", "0")).split()[0]),
            request_bytes=request_bytes,
            response_bytes=response_bytes,
            body=body,
        )
        with self._lock:
            self.exchanges.append(exchange)
        return chunks

    def forward(self, environ: Environ, body: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
        """The server's own answer to this request with `body` in place of the one sent (for a `fault`)."""
        environ = {**environ, "wsgi.input": _Body(body), "CONTENT_LENGTH": str(len(body))}
        environ.pop("HTTP_ACCEPT_ENCODING", None)  # plain text, so that the fault can read and change it
        seen: dict[str, Any] = {}

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            seen["status"], seen["headers"] = status, [(k, v) for k, v in headers if k.lower() != "content-length"]

        result = self.app(environ, keep)
        try:
            payload = b"".join(bytes(chunk) for chunk in result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return seen["status"], seen["headers"], payload


class _Body:
    """A re-readable request body: the middleware reads it once to count it."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size is None or size < 0 else min(len(self._data), self._position + size)
        chunk = self._data[self._position : end]
        self._position = end
        return chunk

    def readline(self, size: int = -1) -> bytes:
        newline = self._data.find(b"\n", self._position)
        end = len(self._data) if newline == -1 else newline + 1
        if size is not None and size >= 0:
            end = min(end, self._position + size)
        chunk = self._data[self._position : end]
        self._position = end
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class CalendarApp:
    """What a calendar app does on any of the servers: make calendars, PUT and DELETE events, over HTTP.

    `root_path` is where the server's CalDAV tree starts (what a coach would give as its root URL).
    """

    kind: str
    port: int
    principal: str
    collection: str
    other_collection: str
    root_path: str = "/"
    _session: requests.Session

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _request(self, method: str, path: str, data: bytes | str = b"", headers: dict[str, str] | None = None) -> int:
        response = self._session.request(method, self.url(path), data=data, headers=headers or {}, timeout=10)
        if response.status_code >= 400:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.status_code

    def _mkcalendar(self, path: str, name: str) -> None:
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>'
            f"<D:displayname>{name}</D:displayname>"
            '<C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set>'
            "</D:prop></D:set></C:mkcalendar>"
        )
        self._request("MKCALENDAR", path, body, {"Content-Type": "application/xml; charset=utf-8"})

    def put(self, name: str, ics: str, collection: str | None = None) -> None:
        """Store one calendar object resource `name` (e.g. "s1.ics")."""
        path = (collection or self.collection) + name
        self._request("PUT", path, ics.encode(), {"Content-Type": "text/calendar; charset=utf-8"})

    def delete(self, name: str, collection: str | None = None) -> None:
        self._request("DELETE", (collection or self.collection) + name)


@dataclass
class CaldavServer(CalendarApp):
    """A CalDAV server of one `kind` ("radicale" or "xandikos") with its data under `root`.

    `collection` is the path of the "Coaching" calendar; "Personal" sits beside it.
    Only Radicale asks for a password (HTTP basic); Xandikos has no authentication.
    """

    kind: str
    root: Path
    port: int = 0
    principal: str = ""
    collection: str = ""
    other_collection: str = ""
    middleware: CountingMiddleware = field(init=False)
    _httpd: _ThreadingServer | None = field(init=False, default=None)
    _thread: threading.Thread | None = field(init=False, default=None)
    _session: requests.Session = field(init=False)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.middleware = CountingMiddleware(self._build_app())
        self._session = requests.Session()
        self._session.trust_env = False
        if self.needs_password:
            self._session.auth = (USERNAME, PASSWORD)

    @property
    def needs_password(self) -> bool:
        return self.kind == "radicale"

    @property
    def username(self) -> str | None:
        return USERNAME if self.needs_password else None

    @property
    def exchanges(self) -> list[Exchange]:
        return self.middleware.exchanges

    # --- life cycle ------------------------------------------------------------------------------

    def start(self) -> CaldavServer:
        """Serve on the same port as before, or on a fresh one the first time."""
        self._httpd = make_server(
            "127.0.0.1", self.port, self.middleware, server_class=_ThreadingServer, handler_class=_QuietHandler
        )
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self._session.close()

    def setup_calendars(self) -> None:
        """Create the "Coaching" and "Personal" calendars (and, on Radicale, the principal)."""
        if self.kind == "radicale":
            self.principal = f"/{USERNAME}/"
            self._request("PROPFIND", self.principal, headers={"Depth": "0"})  # Radicale creates it on first login
        else:
            self.principal = "/user/"
        home = self.principal if self.kind == "radicale" else f"{self.principal}calendars/"
        self.collection = f"{home}coaching/"
        self.other_collection = f"{home}personal/"
        self._mkcalendar(self.collection, CALENDAR_NAME)
        self._mkcalendar(self.other_collection, OTHER_CALENDAR_NAME)
        self.exchanges.clear()

    def _build_app(self) -> WsgiApp:
        if self.kind == "radicale":
            import radicale
            import radicale.config

            htpasswd = self.root / "users"
            htpasswd.write_text(f"{USERNAME}:{PASSWORD}\n", encoding="utf-8")
            configuration = radicale.config.load()
            configuration.update(
                {
                    "storage": {"filesystem_folder": str(self.root / "collections")},
                    "auth": {
                        "type": "htpasswd",
                        "htpasswd_filename": str(htpasswd),
                        "htpasswd_encryption": "plain",
                        "delay": "0.001",
                    },
                    "rights": {"type": "owner_only"},
                    "logging": {"level": "warning", "mask_passwords": "True"},
                    "server": {"delay_on_error": "0.001"},
                },
                "coachsync tests",
                privileged=True,
            )
            return radicale.Application(configuration)  # type: ignore[no-any-return]
        if self.kind == "xandikos":
            from xandikos.web import SingleUserFilesystemBackend, XandikosApp

            backend = SingleUserFilesystemBackend(str(self.root / "data"), autocreate=True)
            backend._mark_as_principal("/user/")
            if backend.get_resource("/user/") is None:
                backend.create_principal("/user/", create_defaults=False)
            return XandikosApp(backend, current_user_principal="/user/")  # type: ignore[no-any-return]
        raise ValueError(f"unknown CalDAV server kind {self.kind!r}")

    # --- what only these servers allow -------------------------------------------------------------

    def seed(self, resources: dict[str, str]) -> None:
        """Write many resources straight into Radicale's storage: thousands of PUTs would take minutes.

        Radicale reads its folders on every request, so they are served as if PUT.
        """
        if self.kind != "radicale":
            raise ValueError("only Radicale's storage is plain files")
        folder = self.root / "collections" / "collection-root" / self.collection.strip("/")
        for name, text in resources.items():
            (folder / name).write_text(text, encoding="utf-8", newline="")

    def reset_sync_state(self) -> None:
        """Forget every sync-token the server ever issued (Radicale keeps them on disk)."""
        if self.kind != "radicale":
            raise ValueError("only Radicale keeps its sync tokens in files")
        collection = self.root / "collections" / "collection-root" / self.collection.strip("/")
        shutil.rmtree(collection / ".Radicale.cache" / "sync-token")


@contextlib.contextmanager
def running(kind: str, root: Path) -> Iterator[CaldavServer]:
    server = CaldavServer(kind, root).start()
    try:
        server.setup_calendars()
        yield server
    finally:
        server.close()


@dataclass
class PackagedServer(CalendarApp):
    """A user of its own with "Coaching" and "Personal" on Cyrus or DAViCal, as Debian installs them.

    A DAViCal daemon is shared by the tests of a session (it takes seconds to start), a Cyrus daemon is
    started for each test; either way each test gets a fresh user, so no test sees another's calendars.
    There is no middleware in between: only what the real server does is tested here. `stop()` and
    `start()` stop and start the daemon's web server.
    """

    kind: str
    daemon: CyrusDaemon | DavicalDaemon
    username: str = ""
    port: int = 0
    principal: str = ""
    collection: str = ""
    other_collection: str = ""
    root_path: str = "/"
    needs_password: bool = True
    _session: requests.Session = field(init=False)

    def __post_init__(self) -> None:
        self.port = self.daemon.port
        self.username = self.daemon.add_user(PASSWORD)
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.auth = (self.username, PASSWORD)
        if self.kind == "cyrus":
            self.principal = f"/dav/principals/user/{self.username}/"
            home = f"/dav/calendars/user/{self.username}/"
            self._request("PROPFIND", home, headers={"Depth": "0"})  # Cyrus provisions the home on first login
        else:
            self.root_path = DAVICAL_ROOT
            self.principal = home = f"{DAVICAL_ROOT}{self.username}/"
        self.collection = f"{home}coaching/"
        self.other_collection = f"{home}personal/"
        self._mkcalendar(self.collection, CALENDAR_NAME)
        self._mkcalendar(self.other_collection, OTHER_CALENDAR_NAME)

    def stop(self) -> None:
        self.daemon.stop()

    def start(self) -> PackagedServer:
        self.daemon.start()
        return self

    def close(self) -> None:
        self._session.close()


AnyServer = CaldavServer | PackagedServer
