"""Real servers for tests and benchmarks: InfluxDB 1.x (Debian's influxd) and Mosquitto.

Each server runs from a temporary folder with a generated config, on free loopback ports,
and is stopped after. Fixtures (session-scoped): ``influx_server``, ``mosquitto_server``.
Use them from a test folder's conftest.py::

    from servers import influx_server, mosquitto_server  # noqa: F401  (tests/ is on sys.path)

A missing binary skips the tests that need it, except on CI (``CI=true``), where it fails.
Benchmarks import this file by path (see benchmarks/influx_sink.py).
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "InfluxServer",
    "MosquittoServer",
    "free_port",
    "influx_server",
    "mosquitto_server",
    "require_binary",
]

STARTUP_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_binary(name: str, *extra: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for path in extra:
        if os.access(path, os.X_OK):
            return path
    return None


def require_binary(name: str, *extra: str) -> str:
    """The binary's path; skip the test when missing, fail on CI."""
    found = find_binary(name, *extra)
    if found is None:
        why = f"{name} is not installed (Debian: apt-get install {_PACKAGES.get(name, name)})"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{why}; CI must have it (scripts/test installs it)")
        pytest.skip(why)
    return found


_PACKAGES = {"influxd": "influxdb", "mosquitto": "mosquitto"}


class InfluxServer:
    """An influxd 1.x with authentication on, an admin user and one database."""

    user = "stresstrack"
    password = "not-a-real-secret"
    database = "stresstrack"

    def __init__(self, root: Path, binary: str) -> None:
        self.root = root
        self.binary = binary
        self.port = free_port()
        self.rpc_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = root / "influxdb.conf"
        self.log = root / "influxd.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._initialised = False
        for d in ("meta", "data", "wal"):
            (root / d).mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            f"""
reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"

[meta]
  dir = "{root / "meta"}"

[data]
  dir = "{root / "data"}"
  wal-dir = "{root / "wal"}"
  wal-fsync-delay = "0s"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{self.port}"
  auth-enabled = true
  log-enabled = false
  max-body-size = 0

[ifql]
  enabled = false

[continuous_queries]
  enabled = false

[subscriber]
  enabled = false

[logging]
  level = "warn"

[[graphite]]
  enabled = false

[[collectd]]
  enabled = false

[[opentsdb]]
  enabled = false

[[udp]]
  enabled = false
""",
            encoding="utf-8",
        )

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self.running:
            return
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [self.binary, "-config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self.ping():
            if self._proc.poll() is not None:
                raise RuntimeError(f"influxd exited with {self._proc.returncode}: {self.tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"influxd did not answer /ping in time: {self.tail()}")
            time.sleep(0.05)
        if not self._initialised:
            # With no user yet, 1.x accepts this one statement without credentials.
            self.query(
                f"CREATE USER {self.user} WITH PASSWORD '{self.password}' WITH ALL PRIVILEGES",
                auth=False,
            )
            self.query(f'CREATE DATABASE "{self.database}"')
            self._initialised = True

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def tail(self, n: int = 2000) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-n:]
        except OSError:
            return ""

    # -- HTTP --------------------------------------------------------------------------------
    @property
    def token(self) -> str:
        """The InfluxDB 1.8 style token (``user:password``) for this server."""
        return f"{self.user}:{self.password}"

    def ping(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1.0) as r:
                return int(r.status) == 204
        except (OSError, urllib.error.URLError):
            return False

    def query(self, q: str, *, db: str | None = None, auth: bool = True) -> dict[str, Any]:
        """Run InfluxQL on the server (POST /query); raises on an error in the answer."""
        params = {"epoch": "ns"}
        if db is not None:
            params["db"] = db
        if auth:  # 1.x reads credentials from the URL, not from the form body
            params.update(u=self.user, p=self.password)
        data = urllib.parse.urlencode({"q": q}).encode()
        url = f"{self.url}/query?{urllib.parse.urlencode(params)}"
        req = urllib.request.Request(url, data=data, method="POST")
        with urllib.request.urlopen(req, timeout=60) as r:
            answer: dict[str, Any] = json.loads(r.read())
        for result in answer.get("results", []):
            if "error" in result:
                raise RuntimeError(f"InfluxQL {q!r}: {result['error']}")
        return answer

    def rows(self, q: str, *, db: str | None = None) -> list[dict[str, Any]]:
        """The rows of every series the query returns, as dicts (tags merged in)."""
        out = []
        for result in self.query(q, db=db or self.database).get("results", []):
            for series in result.get("series", []):
                tags = series.get("tags", {})
                for values in series["values"]:
                    out.append({**tags, **dict(zip(series["columns"], values, strict=True))})
        return out

    def count(self, measurement: str, *, db: str | None = None) -> int:
        """Points of ``measurement``: the largest ``COUNT(*)`` over its fields."""
        rows = self.rows(f'SELECT COUNT(*) FROM "{measurement}"', db=db)
        if not rows:
            return 0
        return max(int(v) for k, v in rows[0].items() if k.startswith("count_"))

    def reset_database(self, name: str | None = None) -> str:
        name = name or self.database
        self.query(f'DROP DATABASE "{name}"')
        self.query(f'CREATE DATABASE "{name}"')
        return name


class MosquittoServer:
    """A Mosquitto broker on a free loopback port, anonymous, persistence in a temp dir."""

    def __init__(self, root: Path, binary: str, extra: str = "") -> None:
        """``extra``: configuration lines appended (they apply to the listener: TLS files,
        ``password_file``, ``allow_anonymous false``, queue limits)."""
        self.root = root
        self.binary = binary
        self.port = free_port()
        self.host = "127.0.0.1"
        self.config = root / "mosquitto.conf"
        self.log = root / "mosquitto.log"
        (root / "data").mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {root / 'data'}/\n"
            f"log_dest file {self.log}\n"
            # When run as root, mosquitto switches to this user (ignored otherwise).
            f"user {getpass.getuser()}\n" + extra,
            encoding="utf-8",
        )
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        self._proc = subprocess.Popen(
            [self.binary, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                pass
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                raise RuntimeError(f"mosquitto exited with {self._proc.returncode}: {err}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("mosquitto did not accept connections in time")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stderr is not None:
            self._proc.stderr.close()
        self._proc = None


@pytest.fixture(scope="session")
def influx_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """A real influxd 1.x for the whole session (do not stop it: use your own for outages)."""
    binary = require_binary("influxd", "/usr/bin/influxd")
    server = InfluxServer(tmp_path_factory.mktemp("influxd"), binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mosquitto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoServer]:
    """A real Mosquitto broker for the whole session."""
    binary = require_binary("mosquitto", "/usr/sbin/mosquitto")
    server = MosquittoServer(tmp_path_factory.mktemp("mosquitto"), binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()
