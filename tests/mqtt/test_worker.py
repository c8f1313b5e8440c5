"""The worker against crafted messages: duplicates, gaps, bad payloads, a round cut short by a
crash, and a TLS broker with a password (through the real ``stresstrack pipeline``)."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from mqtt_link import (
    FAST,
    Collector,
    ProcessWorker,
    Study,
    ThreadWorkers,
    all_delivered,
    assert_exactly_once_in_order,
    broker_of,
    processes,
    running,
    wait_until,
)
from servers import MosquittoServer, require_binary

from stresstrack.events import Beat, DeviceState, DeviceStatus, Event
from stresstrack.store.sqlite import EventRow, Store
from stresstrack.transport.connection import Connection
from stresstrack.transport.mqtt import PASSWORD_ENV, Broker, batch_to_payload, events_topic
from stresstrack.transport.worker import (
    CURSOR_TARGET,
    INTENT_META,
    REJECTED_TARGET,
    worker_device,
)

pytestmark = pytest.mark.mqtt

T0 = 1_767_603_600_000_000_000
PASSWORD = "canary-9d2e-do-not-print"


def beats(n: int) -> list[Event]:
    return [
        Beat(time_ns=T0 + i * 800_000_000, participant="p-01", device="AA", rr_ms=800.0)
        for i in range(n)
    ]


def rows_of(tmp_path: Path, events: list[Event]) -> list[EventRow]:
    """The events as a collector's store holds them (ids 1, 2, ...)."""
    with Store(tmp_path / "source.db") as store:
        store.add_events(events)
        return store.event_rows_after(0, len(events))


class Sender:
    """Publishes crafted messages and waits for the broker's PUBACK."""

    def __init__(self, broker: Broker) -> None:
        self.acked: set[int] = set()
        self.cond = threading.Condition()
        self.conn = Connection(broker, "test-sender", on_publish=self._acked)
        self.conn.start()
        wait_until(lambda: self.conn.connected, 120, "sender connected")

    def _acked(self, mid: int, reason: int, text: str) -> None:
        with self.cond:
            self.acked.add(mid)
            self.cond.notify_all()

    def send(self, topic: str, payload: bytes) -> None:
        mid = self.conn.publish(topic, payload)
        with self.cond:
            assert self.cond.wait_for(lambda: mid in self.acked, 10)

    def batch(self, prev: int, rows: list[EventRow]) -> None:
        self.send(*batch_to_payload("src", prev, 0, rows))


@pytest.fixture
def sender(broker: MosquittoServer) -> Iterator[Sender]:
    s = Sender(broker_of(broker))
    try:
        yield s
    finally:
        s.conn.stop()


def stored(path: Path) -> list[Event]:
    with Store(path, readonly=True) as store:
        return list(store.iter_events())


def test_duplicates_dropped_gaps_reported_bad_messages_kept(
    tmp_path: Path, broker: MosquittoServer, sender: Sender
) -> None:
    events = beats(12)
    rows = rows_of(tmp_path, events)
    workers = ThreadWorkers(tmp_path, broker_of(broker), 1).start()
    try:
        sender.batch(0, rows[0:3])
        sender.batch(0, rows[0:3])  # a redelivery
        sender.batch(2, rows[2:5])  # overlaps: event 3 again, 4 and 5 new
        sender.batch(10, rows[10:12])  # 6-10 never came
        sender.send(events_topic("default", "p-01"), b'{"v": 1, "source": "src"}')
        wait_until(lambda: workers.workers[0].stats().messages == 5, 120, "5 messages")
    finally:
        workers.stop()
    stats = workers.workers[0].stats()
    assert (stats.events, stats.duplicates, stats.gaps, stats.rejected) == (7, 4, 1, 1)
    kept = stored(workers.paths[0])
    gap = [e for e in kept if isinstance(e, DeviceStatus) and e.state is DeviceState.GAP]
    assert gap == [
        DeviceStatus(
            time_ns=events[4].time_ns,
            participant="p-01",
            study="default",
            device=worker_device(1),
            state=DeviceState.GAP,
            detail="events 6-10 of source src never arrived (lost by the broker?); they are in "
            "that collector's store",
            gap_start_ns=events[4].time_ns,
        )
    ]
    data = [e for e in kept if not e.device.startswith("mqtt-worker")]
    assert data == events[0:5] + events[10:12]
    with Store(workers.paths[0], readonly=True) as store:
        assert store.sink_positions(CURSOR_TARGET) == {"p-01@src": 12}
        (dead,) = store.dead_letters(REJECTED_TARGET)
    assert dead.line == '{"v": 1, "source": "src"}'
    assert "field 'study' missing or not a string" in dead.message


@pytest.mark.parametrize("events_stored", [True, False])
def test_a_round_cut_short_by_a_crash_is_completed_or_redone(
    tmp_path: Path, broker: MosquittoServer, sender: Sender, events_stored: bool
) -> None:
    """The crash fell between a round's events and its cursors (True) or before its events
    (False); the broker redelivers the round's message: it is stored exactly once."""
    events = beats(5)
    rows = rows_of(tmp_path, events)
    path = tmp_path / "w1.db"
    with Store(path) as store:
        intent = {"after": 0, "count": 3, "cursors": {"p-01@src": 3}}
        store.set_meta(INTENT_META, json.dumps(intent))
        if events_stored:
            store.add_events(events[:3])
    workers = ThreadWorkers(tmp_path, broker_of(broker), 1).start()
    try:
        sender.batch(0, rows[0:3])  # redelivered: no PUBACK was sent before the crash
        sender.batch(3, rows[3:5])
        wait_until(lambda: workers.workers[0].stats().messages == 2, 120, "2 messages")
    finally:
        workers.stop()
    assert [e for e in stored(path) if not e.device.startswith("mqtt-worker")] == events
    with Store(path, readonly=True) as store:
        assert store.meta(INTENT_META) == ""
        assert store.sink_positions(CURSOR_TARGET) == {"p-01@src": 5}
    assert workers.workers[0].stats().duplicates == (3 if events_stored else 0)


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[MosquittoServer, Path]]:
    """A broker with TLS only (a test CA's certificate for 127.0.0.1) and a password."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    root = tmp_path / "tls"
    root.mkdir()
    (root / "server.pem").write_bytes(b"".join(b.bytes() for b in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(root / "server.key"))
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    passwd = require_binary("mosquitto_passwd", "/usr/bin/mosquitto_passwd")
    for user in ("collector", "worker"):
        args = [passwd, "-b", *([] if user == "worker" else ["-c"]), str(root / "passwd")]
        subprocess.run([*args, user, PASSWORD], check=True, capture_output=True)
    server = MosquittoServer(
        root / "mosquitto",
        require_binary("mosquitto", "/usr/sbin/mosquitto"),
        f"certfile {root / 'server.pem'}\nkeyfile {root / 'server.key'}\n"
        f"password_file {root / 'passwd'}\nallow_anonymous false\nmax_queued_messages 0\n",
    )
    server.start()
    try:
        yield server, root / "ca.pem"
    finally:
        server.stop()


def test_tls_and_password_through_the_pipeline_command(
    tmp_path: Path, tls_broker: tuple[MosquittoServer, Path], study: Study
) -> None:
    server, ca = tls_broker
    url = f"mqtts://127.0.0.1:{server.port}"
    worker = ProcessWorker(tmp_path, url, 1, 1, "--mqtt-ca", str(ca), "--mqtt-user", "worker")
    secure = Broker(
        "127.0.0.1", server.port, tls=True, ca_file=ca, username="collector", password=PASSWORD
    )
    p = study.participants[0]
    collector = Collector(
        tmp_path / "c.db", [e for e in study.emitted if e.participant == p][:1500], secure
    )
    with processes([worker]):
        worker.start({PASSWORD_ENV: PASSWORD}).wait_connected()
        with running([collector]):
            wait_until(lambda: all_delivered([collector], [worker.store]), 120, "delivery")
        assert worker.terminate() == 0
    assert_exactly_once_in_order([collector], [worker.store])
    assert PASSWORD not in worker.output()


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"password": "wrong-password"}, "broker refused the connection: "),
        ({"ca_file": None}, "TLS: "),
        ({"tls": False}, "the broker closed the connection before accepting it"),
    ],
)
def test_refused_connections_say_why_and_never_show_the_password(
    tls_broker: tuple[MosquittoServer, Path], change: dict[str, object], error: str
) -> None:
    server, ca = tls_broker
    fields: dict[str, object] = {
        "host": "127.0.0.1",
        "port": server.port,
        "tls": True,
        "ca_file": ca,
        "username": "collector",
        "password": PASSWORD,
    }
    broker = Broker(**{**fields, **change})  # type: ignore[arg-type]
    states: list[tuple[bool, str]] = []
    conn = Connection(broker, "test-refused", backoff=FAST, on_state=lambda *s: states.append(s))
    conn.start()
    try:
        wait_until(lambda: bool(states), 120, "a failed attempt")
    finally:
        conn.stop()
    connected, why = states[0]
    assert not connected and why.startswith(error) and why
    assert PASSWORD not in why and "wrong-password" not in why
    if "password" in change:
        assert why in (
            "broker refused the connection: Bad user name or password",
            "broker refused the connection: Not authorized",
        )
