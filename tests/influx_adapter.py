"""TEST-ONLY: the InfluxDB v2 write API in front of an InfluxDB 1.6 server.

Debian's influxd 1.6 has no ``/api/v2/write`` and no ``/health`` (1.8 added both). So that
the sink is tested against a real server with the same client calls it makes to 2.x/1.8,
this threaded HTTP server on a free loopback port translates

    POST /api/v2/write?org=ORG&bucket=DB[/RP]&precision=P   Authorization: Token USER:PASS
 -> POST /write?db=DB&rp=RP&precision=P&u=USER&p=PASS

and forwards ``/ping``, ``/health`` and ``/query`` as they are (a ``Token USER:PASS``
header becomes ``u``/``p``: 1.6 does not know the Token scheme). Status codes, bodies and
headers such as ``Retry-After`` come back unchanged. The server stores and answers
everything; the adapter holds no data.

When the upstream server is down, the adapter drops the client's connection without an
answer, so the client sees the outage as it would see a stopped server: a connection error.

``inject(status, body, headers, times)`` makes the next ``times`` writes answer with that
status instead of being forwarded (429 with Retry-After, 503...), for the retry tests.
Never use this in production: it is a test fixture.
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

__all__ = ["InfluxAdapter", "influx_adapter"]

_PASS_HEADERS = ("Content-Type", "Retry-After", "X-Influxdb-Version", "X-Influxdb-Build")


@dataclass
class _Injection:
    status: int
    body: bytes
    headers: dict[str, str]
    times: int


@dataclass
class _Stats:
    writes: int = 0  # write requests forwarded
    injected: int = 0  # write requests answered by an injection
    dropped: int = 0  # connections dropped because upstream was down
    statuses: list[int] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    adapter: ClassVar[InfluxAdapter]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: pytest runs with warnings as errors and captures output

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {}
        for name in ("Content-Type", "Content-Encoding", "Accept", "Accept-Encoding"):
            if self.headers.get(name):
                headers[name] = str(self.headers[name])
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Token ") and ":" in auth:
            user, _, password = auth[len("Token ") :].partition(":")
            query.update(u=user, p=password)
        elif auth:
            headers["Authorization"] = auth
        if url.path == "/api/v2/write":
            injected = self.adapter._take_injection()
            if injected is not None:
                self._reply(injected.status, injected.body, injected.headers)
                return
            db, _, rp = query.pop("bucket", "").partition("/")
            query.pop("org", None)
            query.pop("orgID", None)
            query["db"] = db
            if rp:
                query["rp"] = rp
            path = "/write"
            with self.adapter._lock:
                self.adapter.stats.writes += 1
        elif url.path in ("/ping", "/health", "/query"):
            path = url.path
        else:
            self._reply(404, b'{"message":"not found (test adapter)"}', {})
            return
        target = f"{path}?{urllib.parse.urlencode(query)}" if query else path
        up = self.adapter
        conn = http.client.HTTPConnection(up.upstream_host, up.upstream_port, timeout=60)
        try:
            conn.request(self.command, target, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError:
            with self.adapter._lock:
                self.adapter.stats.dropped += 1
            self.close_connection = True
            return  # no answer: the client sees a dropped connection
        finally:
            conn.close()
        passed = {h: v for h in _PASS_HEADERS if (v := resp.getheader(h)) is not None}
        with self.adapter._lock:
            self.adapter.stats.statuses.append(resp.status)
        self._reply(resp.status, data, passed)

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)


class InfluxAdapter:
    """Runs the adapter in a thread; ``url`` is what the sink gets as ``--influx-url``."""

    def __init__(self, upstream_url: str) -> None:
        up = urllib.parse.urlsplit(upstream_url)
        self.upstream_host = up.hostname or "127.0.0.1"
        self.upstream_port = up.port or 8086
        self.stats = _Stats()
        self._lock = threading.Lock()
        self._injections: list[_Injection] = []
        handler = type("Handler", (_Handler,), {"adapter": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> InfluxAdapter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def inject(
        self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, times: int = 1
    ) -> None:
        with self._lock:
            self._injections.append(_Injection(status, body, headers or {}, times))

    def _take_injection(self) -> _Injection | None:
        with self._lock:
            if not self._injections:
                return None
            first = self._injections[0]
            first.times -= 1
            if first.times <= 0:
                self._injections.pop(0)
            self.stats.injected += 1
            return first


@pytest.fixture
def influx_adapter(influx_server: object) -> Iterator[InfluxAdapter]:
    """An adapter in front of the session's influxd (from tests/servers.py)."""
    adapter = InfluxAdapter(influx_server.url).start()  # type: ignore[attr-defined]
    try:
        yield adapter
    finally:
        adapter.stop()
