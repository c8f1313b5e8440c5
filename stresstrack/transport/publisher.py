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
events accumulate into the next, larger message (:mod:`stresstrack.transport.queues`). The
broker answering "No matching subscribers" counts as *not delivered*: events wait in the store
until a worker's session exists (docs/mqtt.md).

The publisher reports its state (connected, backlog, oldest unsent event) as ``DeviceStatus``
events of device ``mqtt-publisher``, written to the collector's store like any event (so they
reach the workers and the dashboards), stamped with the participant's newest data time so
that they never move the pipeline's clock.

Size (issue 17): over 400 lines because :class:`Publisher` is one background thread's loop
(read the store, publish, take acknowledgements, advance the durable cursor, report) whose
methods share its state and its lock; the per-participant flow control was moved out
(:mod:`stresstrack.transport.queues`).
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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import quote

from stresstrack.backoff import Backoff
from stresstrack.events import DeviceState, DeviceStatus
from stresstrack.store.sqlite import Store, StoreError
from stresstrack.transport.auth import sign_payload
from stresstrack.transport.connection import DEFAULT_BACKOFF, Connection, drain_states, link_text
from stresstrack.transport.mqtt import Broker, batch_to_payload
from stresstrack.transport.queues import ParticipantQueue

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
READ_AHEAD: Final = 20_000  # events read from the store but not yet acknowledged, at most


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
        self._streams: dict[tuple[str, str], ParticipantQueue] = {}
        self._by_mid: dict[int, ParticipantQueue] = {}
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
            acknowledged = stream.answered(reason, text, now, self.retry_s)
            if acknowledged:
                self._published += acknowledged
                self._messages += 1
                self._buffered -= acknowledged
                continue
            self._retries += 1
            if stream.failures == 1:
                self._say(f"mqtt: {stream.waiting}; kept in the store, retrying")

    def _read(self, store: Store, prevs: dict[tuple[str, str], int]) -> None:
        if self._buffered >= READ_AHEAD:
            return
        rows = store.event_rows_after(self._read_upto, min(2000, READ_AHEAD - self._buffered))
        new: list[ParticipantQueue] = []
        for row in rows:
            key = (row[4], row[3])
            stream = self._streams.get(key)
            if stream is None:
                stream = self._streams[key] = ParticipantQueue(
                    row[4], row[3], prev=prevs.get(key, 0)
                )
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
            mid = stream.mid
            if mid is not None and stream.timed_out(now):  # no answer for too long: again
                self._retries += 1
                self._by_mid.pop(mid, None)
                stream.mid = None
            events = stream.next_message(now)
            if not events:
                continue
            topic, payload = batch_to_payload(source, stream.prev, sent_ns, events)
            key = self.keys.get(stream.participant)
            if key is not None:
                payload = sign_payload(key, payload)
            mid = conn.publish(topic, payload)
            stream.sent(mid, now)
            self._by_mid[mid] = stream

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

    def _status(self, store: Store, streams: Iterable[ParticipantQueue]) -> None:
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
