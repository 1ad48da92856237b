"""A real HTTP server on 127.0.0.1 (port chosen at run time) that serves calendars for tests.

Each route answers with a configurable status, headers and body, honours
ETag / Last-Modified for conditional GETs, and records what it was sent.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

CALENDAR = (
    "BEGIN:VCALENDAR\r\n"
    "VERSION:2.0\r\n"
    "PRODID:-//coachsync tests//EN\r\n"
    "BEGIN:VEVENT\r\n"
    "UID:session-1@example.com\r\n"
    "DTSTAMP:20250101T090000Z\r\n"
    "DTSTART:20250110T100000Z\r\n"
    "DTEND:20250110T110000Z\r\n"
    "SUMMARY:Coaching with Alice\r\n"
    "END:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


@dataclass
class Route:
    """How the server answers one path."""

    status: int = 200
    body: bytes = CALENDAR.encode()
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/calendar; charset=utf-8"})
    etag: str | None = None  # answer 304 when If-None-Match matches
    last_modified: str | None = None  # answer 304 when If-Modified-Since matches
    delay: float = 0.0  # sleep before answering
    extra_length: int = 0  # declare Content-Length this much larger than the body, then close
    content_length: bool = True  # False: close-delimited body, as HTTP/1.0 allows
    endless: bytes = b""  # after the body, send this line again and again until the client goes away


@dataclass
class Seen:
    """What the server received, so tests assert on the real request."""

    path: str
    headers: dict[str, str]


class FakeCalendarServer(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.stopping = threading.Event()

    def url(self, path: str, userinfo: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.server_address[1]}{path}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: FakeCalendarServer

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first (timeout tests); that is the point

    def do_GET(self) -> None:
        self.server.seen.append(Seen(self.path, dict(self.headers.items())))
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        if route.delay:
            self.server.stopping.wait(route.delay)
        if (route.etag and self.headers.get("If-None-Match") == route.etag) or (
            route.last_modified and self.headers.get("If-Modified-Since") == route.last_modified
        ):
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(route.status)
        for name, value in route.headers.items():
            self.send_header(name, value)
        if route.etag:
            self.send_header("ETag", route.etag)
        if route.last_modified:
            self.send_header("Last-Modified", route.last_modified)
        if route.content_length and not route.endless:
            self.send_header("Content-Length", str(len(route.body) + route.extra_length))
        self.end_headers()
        self.wfile.write(route.body)
        if route.endless:
            lines = route.endless * max(1, 64 * 1024 // len(route.endless))
            while not self.server.stopping.is_set():
                self.wfile.write(lines)
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(httpd: FakeCalendarServer) -> Iterator[FakeCalendarServer]:
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.stopping.set()  # wake handlers still sleeping
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
