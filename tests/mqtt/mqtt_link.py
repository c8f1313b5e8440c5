"""Helpers of the MQTT tests: simulated collectors, workers (threads or real processes), a
TCP proxy whose link can be cut, and the exactly-once / same-results checks.

A simulated collector is what the publisher sees of a real one: a store being filled (here
from events simulated beforehand, in chunks, at a pace) and a :class:`Publisher` on it.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from servers import MosquittoServer, free_port

from stresstrack.backoff import Backoff
from stresstrack.events import Event
from stresstrack.export.tables import table_rows
from stresstrack.store.sqlite import Store
from stresstrack.transport.mqtt import Broker, worker_of
from stresstrack.transport.publisher import Publisher
from stresstrack.transport.worker import Worker

FAST = Backoff(first_s=1, max_s=2)  # reconnect quickly in tests


@dataclass(frozen=True)
class Study:
    """Simulated events per participant and the single-process results."""

    emitted: list[Event]  # every event, in the order the simulation emitted them
    features: list[list[str]]  # table_rows(store, "features") without the header
    stress: list[list[str]]
    sessions: list[list[str]]
    stress_points: set[tuple[str, int, float | None, float]]  # participant, time, index, conf.

    @property
    def participants(self) -> list[str]:
        return sorted({e.participant for e in self.emitted})


def broker_of(server: MosquittoServer, port: int | None = None) -> Broker:
    return Broker(server.host, port or server.port)


class Collector:
    """A store filled with ``events`` in chunks (``chunk`` events every ``every_s``) and a
    publisher on it."""

    def __init__(
        self,
        path: Path,
        events: Sequence[Event],
        broker: Broker,
        *,
        chunk: int = 200,
        every_s: float = 0.01,
    ) -> None:
        self.path = path
        self.events = list(events)
        self.chunk = chunk
        self.every_s = every_s
        with Store(path):
            pass
        self.publisher = Publisher(
            path, broker, poll_s=0.02, status_every_s=3600.0, backoff=FAST, retry_s=0.5
        )
        self.written = 0
        self._feeder = threading.Thread(target=self._feed, name=f"feed {path.name}")

    def start(self) -> Collector:
        self.publisher.start()
        self._feeder.start()
        return self

    def _feed(self) -> None:
        with Store(self.path) as store:
            for i in range(0, len(self.events), self.chunk):
                store.add_events(self.events[i : i + self.chunk])
                self.written = i + self.chunk
                time.sleep(self.every_s)
        self.written = len(self.events)

    @property
    def fed(self) -> bool:
        return not self._feeder.is_alive() and self.written == len(self.events)

    def share_written(self) -> float:
        return min(1.0, self.written / max(1, len(self.events)))

    def join_feeder(self) -> None:
        self._feeder.join()

    def stored(self) -> dict[str, list[Event]]:
        """Everything in the collector's store (publisher statuses too), per participant."""
        out: dict[str, list[Event]] = {}
        with Store(self.path, readonly=True) as store:
            for e in store.iter_events():
                out.setdefault(e.participant, []).append(e)
        return out


class ThreadWorkers:
    """``count`` workers in threads of this process, each with its store ``w<I>.db``."""

    def __init__(self, root: Path, broker: Broker, count: int) -> None:
        self.paths = [root / f"w{i}.db" for i in range(1, count + 1)]
        self.workers = [
            Worker(p, broker, index=i, count=count, backoff=FAST, status_every_s=3600.0)
            for i, p in enumerate(self.paths, start=1)
        ]
        self.stops = [threading.Event() for _ in self.workers]
        self.threads = [
            threading.Thread(target=w.run, args=(s,), name=f"worker {w.index}")
            for w, s in zip(self.workers, self.stops, strict=True)
        ]

    def start(self) -> ThreadWorkers:
        for t in self.threads:
            t.start()
        for w in self.workers:
            assert w.ready.wait(120), f"worker {w.index} did not connect"
        return self

    def stop(self) -> None:
        for s in self.stops:
            s.set()
        for t in self.threads:
            t.join(60)
            assert not t.is_alive()


class ProcessWorker:
    """``stresstrack pipeline`` as a real process (it can be killed with SIGKILL)."""

    def __init__(self, root: Path, url: str, index: int, count: int, *extra: str) -> None:
        self.store = root / f"w{index}.db"
        self.log = root / f"w{index}.log"
        self.args = [
            sys.executable, "-m", "stresstrack", "pipeline", "--subscribe", url,
            "--store", str(self.store), "--worker", f"{index}/{count}", "--status-every", "1",
            *extra,
        ]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str] | None = None) -> ProcessWorker:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # A hung worker dumps every thread's stack on SIGABRT (see terminate()).
                env={**os.environ, "PYTHONFAULTHANDLER": "1", **(env or {})},
            )
        return self

    def wait_connected(self, timeout: float = 120.0, times: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while self.output().count(": connected") < times:
            assert self.proc is not None and self.proc.poll() is None, self.output()
            assert time.monotonic() < deadline, f"worker did not connect:\n{self.output()}"
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def terminate(self, timeout: float = 120.0) -> int:
        """SIGTERM, then wait for the clean stop; a worker that does not stop in ``timeout``
        is aborted, so its threads' stacks (faulthandler) end up in the failure message."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)
            self.proc.wait(timeout=30)
            raise AssertionError(
                f"the worker did not stop within {timeout:g} s of SIGTERM:\n{self.output()}"
            ) from None

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def cleanup(self) -> None:
        """Kill the process if a failed test left it running."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()


@contextlib.contextmanager
def processes(workers: Sequence[ProcessWorker]) -> Iterator[Sequence[ProcessWorker]]:
    try:
        yield workers
    finally:
        for w in workers:
            w.cleanup()


class TcpProxy:
    """Forwards a loopback port to the broker; :meth:`cut` drops every connection and
    refuses new ones (a collector's network gone), :meth:`restore` brings it back."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._up = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name="tcp proxy", daemon=True)

    def start(self) -> TcpProxy:
        self.restore()
        self._thread.start()
        return self

    def restore(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        listener.setblocking(False)
        with self._lock:
            self._listener = listener
        self._up.set()

    def cut(self) -> None:
        self._up.clear()
        with self._lock:
            socks, self._socks = self._socks, []
            listener, self._listener = self._listener, None
        for s in [*socks, *([listener] if listener else [])]:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def stop(self) -> None:
        self._stop.set()
        self.cut()
        self._thread.join(5)

    def _run(self) -> None:
        pairs: dict[socket.socket, socket.socket] = {}
        while not self._stop.is_set():
            with self._lock:
                listener = self._listener
                live = [s for s in pairs if s in self._socks]
            for s in list(pairs):
                if s not in live:
                    pairs.pop(s, None)
            sel = selectors.DefaultSelector()
            if listener is not None:
                sel.register(listener, selectors.EVENT_READ)
            for s in pairs:
                sel.register(s, selectors.EVENT_READ)
            try:
                ready = sel.select(0.05)
            except (OSError, ValueError):
                ready = []
            for key, _ in ready:
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    if sock is listener:
                        client, _addr = listener.accept()
                        upstream = socket.create_connection(("127.0.0.1", self.target_port))
                        with self._lock:
                            self._socks += [client, upstream]
                        pairs[client], pairs[upstream] = upstream, client
                        continue
                    data = sock.recv(65536)
                    if not data:
                        raise OSError("closed")
                    pairs[sock].sendall(data)
                except OSError:
                    other = pairs.pop(sock, None)
                    for end in (sock, other):
                        if end is not None:
                            pairs.pop(end, None)
                            with contextlib.suppress(OSError):
                                end.close()
            sel.close()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def worker_events(paths: Sequence[Path]) -> list[dict[str, list[Event]]]:
    """Per worker store, its events per participant, without the workers' own statuses."""
    out = []
    for path in paths:
        found: dict[str, list[Event]] = {}
        with Store(path, readonly=True) as store:
            for e in store.iter_events():
                if not e.device.startswith("mqtt-worker-"):
                    found.setdefault(e.participant, []).append(e)
        out.append(found)
    return out


def all_delivered(collectors: Sequence[Collector], paths: Sequence[Path]) -> bool:
    """Every collector's stored events are in the worker stores (counts only, cheap)."""
    if not all(c.fed for c in collectors):
        return False
    want = sum(_count(c.path) for c in collectors)
    have = sum(_count(p, exclude_workers=True) for p in paths if p.exists())
    return have >= want


def _count(path: Path, *, exclude_workers: bool = False) -> int:
    with Store(path, readonly=True) as store:
        return sum(
            1
            for e in store.iter_events()
            if not (exclude_workers and e.device.startswith("mqtt-worker-"))
        )


def assert_exactly_once_in_order(collectors: Sequence[Collector], paths: Sequence[Path]) -> None:
    """Each participant's events are in its owner's store exactly once, in collector order,
    and nowhere else."""
    sent: dict[str, list[Event]] = {}
    for c in collectors:
        for participant, events in c.stored().items():
            assert participant not in sent, "one collector per participant in these tests"
            sent[participant] = events
    got = worker_events(paths)
    for participant, events in sent.items():
        owner = worker_of(participant, len(paths))
        assert got[owner - 1].get(participant) == events, participant
        for i, other in enumerate(got, start=1):
            if i != owner:
                assert participant not in other
    assert {p for g in got for p in g} == set(sent)


def worker_tables(paths: Sequence[Path]) -> dict[str, list[list[str]]]:
    """Features, stress and sessions of all worker stores, as ``stresstrack export`` rows."""
    out: dict[str, list[list[str]]] = {"features": [], "stress": [], "sessions": []}
    for path in paths:
        with Store(path, readonly=True) as store:
            for table in out:
                out[table] += list(table_rows(store, table))[1:]
    return {t: sorted(rows) for t, rows in out.items()}


@contextlib.contextmanager
def running(collectors: Sequence[Collector]) -> Iterator[None]:
    for c in collectors:
        c.start()
    try:
        yield
    finally:
        for c in collectors:
            c.join_feeder()
            c.publisher.stop()


def collectors_for(
    study: Study,
    root: Path,
    server: MosquittoServer,
    *,
    chunk: int = 200,
    every_s: float = 0.01,
    first: Broker | None = None,
) -> list[Collector]:
    """Collector 1: the first and last participant (one per worker); 2 and 3: one each.
    ``first``: collector 1's way to the broker (a proxy), if not the direct one."""
    p = study.participants
    groups = [[p[0], p[3]], [p[1]], [p[2]]]
    out = []
    for k, group in enumerate(groups, start=1):
        events = [e for e in study.emitted if e.participant in group]  # as collected
        via = first if first is not None and k == 1 else broker_of(server)
        out.append(Collector(root / f"c{k}.db", events, via, chunk=chunk, every_s=every_s))
    return out


def assert_same_results(study: Study, paths: list[Path]) -> None:
    tables = worker_tables(paths)
    assert tables["stress"] == sorted(study.stress)
    assert tables["features"] == sorted(study.features)
    assert tables["sessions"] == sorted(study.sessions)
