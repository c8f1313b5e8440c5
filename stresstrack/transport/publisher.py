"""The publisher: a collector's store, shipped to the MQTT broker in order, nothing lost.

Like the InfluxDB sink (:mod:`stresstrack.sinks.influx`) it is **store-driven**: the
collector only ever writes to its SQLite store; a background thread tails the store's
``events`` table by ``id`` and publishes at QoS 1. Its cursor (the store's ``sink_cursors``
table, target ``mqtt <broker>``, stream ``events``) moves only over events whose messages the
broker acknowledged (PUBACK), so after a crash, a network cut or a broker outage the backlog
is sent from the store, in order. Redeliveries are dropped by the workers, which keep the last
sequence number per source (:mod:`stresstrack.transport.worker`).

Per participant at most one message is unacknowledged at a time, so a message the broker
refuses (no worker subscribed yet, not authorised) is sent again before anything newer of that
participant: a participant's events reach the workers in order whatever fails. Meanwhile new
events accumulate into the next, larger message. The broker answering "No matching
subscribers" counts as *not delivered*: events wait in the store until a worker's session
exists (docs/mqtt.md).

The publisher reports its state (connected, backlog, oldest unsent event) as ``DeviceStatus``
events of device ``mqtt-publisher``, written to the collector's store like any event (so they
reach the workers and the dashboards), stamped with the participant's newest data time so
that they never move the pipeline's clock.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import secrets
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import quote

from stresstrack.backoff import Backoff
from stresstrack.events import DeviceState, DeviceStatus
from stresstrack.store.sqlite import EventRow, Store, StoreError
from stresstrack.transport.auth import sign_payload
from stresstrack.transport.connection import DEFAULT_BACKOFF, Connection, drain_states, link_text
from stresstrack.transport.mqtt import Broker, batch_to_payload

__all__ = [
    "PUBLISHER_DEVICE",
    "SOURCE_META",
    "Publisher",
    "PublisherReport",
    "PublisherStats",
    "publisher_target",
    "store_source_id",
]

log = logging.getLogger(__name__)

PUBLISHER_DEVICE: Final = "mqtt-publisher"
SOURCE_META: Final = "mqtt_source_id"  # meta key: this store's source ID (random, kept)
# MQTT 5 reason codes (OASIS MQTT 5.0, 3.4.2.1): success, and "no matching subscribers",
# which mosquitto answers when nobody subscribed: the message went nowhere.
_SUCCESS: Final = 0x00
_NO_SUBSCRIBERS: Final = 0x10
_PACKET_TOO_LARGE: Final = 0x95
MAX_EVENTS: Final = 500  # per message; an EDA chunk of 8 samples is ~150 bytes
READ_AHEAD: Final = 20_000  # events read from the store but not yet acknowledged, at most
ACK_TIMEOUT_S: Final = 60.0  # connected but no PUBACK for this long: publish again


def store_source_id(store: Store) -> str:
    """This store's source ID for MQTT (created once, kept in the store's meta table)."""
    found = store.meta(SOURCE_META)
    if found:
        return found
    source = secrets.token_hex(8)
    store.set_meta(SOURCE_META, source)
    return source


def publisher_target(broker: Broker) -> str:
    """The key of the publisher's cursor in the store: one per broker."""
    return f"mqtt {broker.describe()}"


@dataclass(frozen=True, slots=True)
class PublisherStats:
    """A snapshot of where the publisher stands."""

    broker: str
    connected: bool
    error: str
    backlog_events: int  # in the store, not yet acknowledged by the broker
    published_events: int  # acknowledged since start
    messages: int  # acknowledged since start
    retries: int  # messages published again (refused, timed out)
    oldest_unsent_ns: int | None  # time of the oldest event not yet acknowledged
    waiting_for: str  # why the oldest message waits, if it does ("no worker subscribed...")

    def line(self, now_ns: int | None = None) -> str:
        """One line for the live view."""
        link = "connected" if self.connected else f"down ({self.error or 'connecting'})"
        text = f"mqtt {self.broker}: {link}, backlog {self.backlog_events} events"
        if self.oldest_unsent_ns is not None and now_ns is not None and self.backlog_events:
            text += f", oldest {max(0, now_ns - self.oldest_unsent_ns) / 1e9:.1f} s"
        if self.waiting_for:
            text += f"; {self.waiting_for}"
        return text


@dataclass(frozen=True, slots=True)
class PublisherReport:
    stats: PublisherStats
    store: Path
    failure: str = ""

    @property
    def delivered(self) -> bool:
        return self.stats.backlog_events == 0 and not self.failure

    def summary(self) -> str:
        s = self.stats
        if self.failure:
            return f"MQTT publisher stopped: {self.failure}; the events stay in {self.store}"
        if self.delivered:
            return (
                f"MQTT {s.broker}: {s.published_events} events published, everything in the "
                "store is delivered"
            )
        why = f" ({s.waiting_for or s.error})" if (s.waiting_for or s.error) else ""
        return (
            f"MQTT {s.broker}: {s.backlog_events} events not yet published{why}; they stay in "
            f"{self.store} and are sent the next time a publisher runs on it"
        )


@dataclass(slots=True)
class _Stream:
    """One participant's queue: rows read, the message in flight, its retry time."""

    study: str
    participant: str
    prev: int = 0  # sequence number of the last event acknowledged before ``inflight``
    rows: deque[EventRow] = field(default_factory=deque)
    inflight: list[EventRow] = field(default_factory=list)
    mid: int | None = None
    sent_at: float = 0.0
    retry_at: float = 0.0
    failures: int = 0
    waiting: str = ""  # why the message in flight was refused, until it goes through
    max_events: int = MAX_EVENTS
    newest_ns: int = 0  # newest event time seen (status events are stamped with it)
    active: bool = False  # new data since the last periodic status

    def oldest(self) -> EventRow | None:
        """The oldest event not acknowledged yet."""
        if self.inflight:
            return self.inflight[0]
        return self.rows[0] if self.rows else None


class Publisher:
    """Publishes a store's events to ``broker`` from a background thread.

    ``on_status(text)`` receives a line whenever the connection changes or a participant's
    events are refused, and every ``status_every_s`` (called from the publisher's thread).
    """

    def __init__(
        self,
        store_path: str | os.PathLike[str],
        broker: Broker,
        *,
        client_id: str | None = None,
        poll_s: float = 0.05,
        status_every_s: float = 60.0,
        backoff: Backoff = DEFAULT_BACKOFF,
        retry_s: float = 2.0,
        on_status: Callable[[str], object] | None = None,
        keys: Mapping[str, str] | None = None,
    ) -> None:
        self.store_path = Path(store_path)
        self.keys = dict(keys or {})  # participant -> message key (signs their messages)
        self.broker = broker
        self.client_id = client_id
        self.poll_s = poll_s
        self.status_every_s = status_every_s
        self.backoff = backoff
        self.retry_s = retry_s
        self.on_status = on_status
        self.target = publisher_target(broker)
        self._acks: queue.SimpleQueue[tuple[int, int, str]] = queue.SimpleQueue()
        self._states: queue.SimpleQueue[tuple[bool, str]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        # Guarded by _cond:
        self._stats = PublisherStats(broker.describe(), False, "", 0, 0, 0, 0, None, "")
        self._cursor = -1  # -1 until the thread has read it
        self._failure = ""
        self._last_progress = time.monotonic()
        # Owned by the thread:
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._by_mid: dict[int, _Stream] = {}
        self._connected = False
        self._error = ""
        self._buffered = 0
        self._read_upto = 0
        self._published = self._messages = self._retries = 0

    # -- control (any thread) ----------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the publisher is already started")
        self._thread = threading.Thread(target=self._run, name="mqtt-publisher", daemon=True)
        self._thread.start()

    def stats(self) -> PublisherStats:
        with self._cond:
            return self._stats

    def drain(self, wait_s: float) -> bool:
        """Wait until everything stored so far is acknowledged; give up after ``wait_s``
        seconds without progress. The publisher keeps running."""
        target = _newest_id(self.store_path)
        start = time.monotonic()
        self._wake.set()
        with self._cond:
            while True:
                if self._cursor >= target:
                    return True
                if self._failure or self._thread is None or not self._thread.is_alive():
                    return False
                remaining = wait_s - (time.monotonic() - max(start, self._last_progress))
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.1))

    def stop(self) -> None:
        """Stop the thread; messages not acknowledged yet are sent again next time."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()

    def close(self, wait_s: float) -> PublisherReport:
        """Publish what is stored (at most ``wait_s`` s without progress), stop, report."""
        if self._thread is not None:
            self.drain(wait_s)
        self.stop()
        with self._cond:
            return PublisherReport(self._stats, self.store_path, self._failure)

    # -- callbacks from paho's thread --------------------------------------------------------
    def _on_publish(self, mid: int, reason: int, text: str) -> None:
        self._acks.put((mid, reason, text))
        self._wake.set()

    def _on_state(self, connected: bool, error: str) -> None:
        self._states.put((connected, error))
        self._wake.set()

    # -- the thread --------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            with Store(self.store_path) as store:
                self._loop(store)
        except Exception as exc:
            text = self.broker.hide(f"{type(exc).__name__}: {exc}")
            log.error("MQTT publisher stopped: %s; the events stay in the store", text)
            with self._cond:
                self._failure = text
                self._cond.notify_all()

    def _loop(self, store: Store) -> None:
        source = store_source_id(store)
        cursor = store.sink_positions(self.target).get("events", 0)
        self._read_upto = cursor
        prevs = _previous_ids(self.store_path, cursor)
        conn = Connection(
            self.broker,
            self.client_id or f"st-pub-{source}",
            clean_start=True,
            backoff=self.backoff,
            on_state=self._on_state,
            on_publish=self._on_publish,
        )
        next_status = time.monotonic() + self.status_every_s
        conn.start()
        try:
            while True:
                stopping = self._stop.is_set()
                self._wake.clear()
                self._take_states(store)
                self._take_acks()
                if self._connected and not stopping:
                    self._read(store, prevs)
                    self._publish(conn, source)
                cursor = self._advance(store, cursor)
                if stopping:
                    return
                if time.monotonic() >= next_status:
                    next_status = time.monotonic() + self.status_every_s
                    self._say(self.stats().line(time.time_ns()))
                    self._status(store, [s for s in self._streams.values() if s.active])
                self._wake.wait(self.poll_s)
        finally:
            conn.stop()

    def _take_states(self, store: Store) -> None:
        self._connected, self._error, changed = drain_states(
            self._states, self._connected, self._error
        )
        if changed:
            link = link_text(self._connected, self._error)
            self._say(f"mqtt {self.broker.describe()}: {link}")
            self._status(store, self._streams.values())

    def _take_acks(self) -> None:
        now = time.monotonic()
        while not self._acks.empty():
            mid, reason, text = self._acks.get()
            stream = self._by_mid.pop(mid, None)
            if stream is None or stream.mid != mid:
                continue  # a message published again after a timeout: the newer one counts
            stream.mid = None
            if reason == _SUCCESS:
                self._published += len(stream.inflight)
                self._messages += 1
                self._buffered -= len(stream.inflight)
                stream.prev = stream.inflight[-1][0]
                stream.inflight = []
                stream.failures = 0
                stream.waiting = ""
                continue
            # Refused: the same events go again, before anything newer of the participant.
            stream.failures += 1
            self._retries += 1
            if reason == _PACKET_TOO_LARGE and len(stream.inflight) > 1:
                half = len(stream.inflight) // 2
                stream.rows.extendleft(reversed(stream.inflight[half:]))
                stream.inflight = stream.inflight[:half]
                stream.max_events = half
            stream.retry_at = now + min(30.0, self.retry_s * 2 ** (stream.failures - 1))
            stream.waiting = (
                f"no worker subscribed to {stream.participant}'s topic yet"
                if reason == _NO_SUBSCRIBERS
                else f"the broker refused {stream.participant}'s events: {text}"
            )
            if stream.failures == 1:
                self._say(f"mqtt: {stream.waiting}; kept in the store, retrying")

    def _read(self, store: Store, prevs: dict[tuple[str, str], int]) -> None:
        if self._buffered >= READ_AHEAD:
            return
        rows = store.event_rows_after(self._read_upto, min(2000, READ_AHEAD - self._buffered))
        new: list[_Stream] = []
        for row in rows:
            key = (row[4], row[3])
            stream = self._streams.get(key)
            if stream is None:
                stream = self._streams[key] = _Stream(row[4], row[3], prev=prevs.get(key, 0))
                new.append(stream)
            stream.rows.append(row)
            stream.newest_ns = max(stream.newest_ns, row[2])
            if row[5] != PUBLISHER_DEVICE:
                stream.active = True
        self._buffered += len(rows)
        if rows:
            self._read_upto = rows[-1][0]
        if new:  # a participant's first data since start: say how its link is
            self._status(store, new)

    def _publish(self, conn: Connection, source: str) -> None:
        """One message in flight per participant: send the next where none is."""
        now = time.monotonic()
        sent_ns = time.time_ns()
        for stream in self._streams.values():
            if stream.mid is not None:
                if now - stream.sent_at < ACK_TIMEOUT_S:
                    continue
                self._retries += 1  # no answer for too long: send it again
                self._by_mid.pop(stream.mid, None)
                stream.mid = None
            if now < stream.retry_at:
                continue
            while stream.rows and len(stream.inflight) < stream.max_events:
                stream.inflight.append(stream.rows.popleft())
            if not stream.inflight:
                continue
            topic, payload = batch_to_payload(source, stream.prev, sent_ns, stream.inflight)
            key = self.keys.get(stream.participant)
            if key is not None:
                payload = sign_payload(key, payload)
            stream.mid = conn.publish(topic, payload)
            stream.sent_at = now
            self._by_mid[stream.mid] = stream

    def _advance(self, store: Store, cursor: int) -> int:
        """Move the durable cursor below the oldest unacknowledged event; update the stats."""
        oldest = [row for s in self._streams.values() if (row := s.oldest()) is not None]
        acked = min(r[0] for r in oldest) - 1 if oldest else self._read_upto
        if acked > cursor:
            store.advance_sink(self.target, "events", acked)
            cursor = acked
        backlog = max(0, store.last_positions()["events"] - cursor)
        waiting = next((s.waiting for s in self._streams.values() if s.waiting), "")
        stats = PublisherStats(
            broker=self.broker.describe(),
            connected=self._connected,
            error=self._error,
            backlog_events=backlog,
            published_events=self._published,
            messages=self._messages,
            retries=self._retries,
            oldest_unsent_ns=min(r[2] for r in oldest) if oldest else None,
            waiting_for=waiting,
        )
        with self._cond:
            if cursor > self._cursor:
                self._last_progress = time.monotonic()
            self._cursor = cursor
            self._stats = stats
            self._cond.notify_all()
        return cursor

    def _say(self, text: str) -> None:
        log.info("%s", text)
        if self.on_status is not None:
            self.on_status(text)

    def _status(self, store: Store, streams: Iterable[_Stream]) -> None:
        """A status event (link, backlog) for each of these participants."""
        backlog = max(0, store.last_positions()["events"] - max(self._cursor, 0))
        link = "connected" if self._connected else f"down ({self._error or 'connecting'})"
        detail = f"{self.broker.describe()}: {link}, backlog {backlog} events"
        state = DeviceState.CONNECTED if self._connected else DeviceState.DISCONNECTED
        events = []
        for s in streams:
            s.active = False
            events.append(
                DeviceStatus(
                    time_ns=s.newest_ns,
                    participant=s.participant,
                    study=s.study,
                    device=PUBLISHER_DEVICE,
                    state=state,
                    detail=detail,
                )
            )
        store.add_events(events)


def _newest_id(path: Path) -> int:
    try:
        with Store(path, readonly=True) as store:
            return store.last_positions()["events"]
    except (StoreError, sqlite3.Error):
        return 0  # the publisher's thread reports an unreadable store itself


def _previous_ids(path: Path, cursor: int) -> dict[tuple[str, str], int]:
    """Per (study, participant), the last event id up to ``cursor``: the ``prev`` of its
    first message after a restart (read from the store's events table)."""
    if cursor == 0:
        return {}
    uri = f"file:{quote(str(path))}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=30.0)) as db:
        rows = db.execute(
            "SELECT study, participant, MAX(id) FROM events WHERE id <= ? "
            "GROUP BY study, participant",
            (cursor,),
        ).fetchall()
    return {(str(s), str(p)): int(i) for s, p, i in rows}
