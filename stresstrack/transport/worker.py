"""A pipeline worker: events from the broker into its store and the pipeline, exactly once.

Worker *I* of *N* subscribes to the partitions it owns (:func:`~stresstrack.transport.mqtt.
worker_filters`), so every participant has one worker and its events one order. The session
is persistent (fixed client ID, clean start off, session expiry): while the worker is down
the broker queues its messages, and a restarted worker gets what it missed.

Exactly once. Messages are acknowledged (PUBACK, manual) only after their events are in the
store; QoS 1 redeliveries are recognised by their sequence numbers: the worker keeps, per
participant and source, the last sequence number it stored (the store's ``sink_cursors``
table, target ``mqtt-in``, stream ``<participant>@<source>``) and drops what is not newer.
The cursors and the events are written in separate transactions, so each round first writes
its intent (meta key ``mqtt_in_pending``: the cursors it will set and how many events it
adds); on start-up an intent whose events are all in the store is completed, any other is
dropped (its messages were not acknowledged and come again).

Results. Events go through a :class:`~stresstrack.runtime.Runtime` (store first, then the
pipeline). Pipeline state is not saved: on start-up the worker replays its store through a
fresh pipeline, writing only the results the store lacks (those of a round cut short by a
crash), and carries on where it stopped; results therefore equal a replay of the store.
Stopping (SIGTERM) finishes the windows the data covers, like the end of a replay.
"""

# Size (issue 17): over 400 lines because Worker is one class of ~370 lines (receive, verify,
# store, warm up, recover, report) sharing its store, runtime and counters; splitting it would
# cut the class rather than move whole functions.

from __future__ import annotations

import json
import logging
import os
import queue
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from stresstrack.backoff import Backoff
from stresstrack.events import DeviceState, DeviceStatus, Event
from stresstrack.pipeline.engine import Output, Pipeline, PipelineConfig
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.runtime import Runtime
from stresstrack.session.recorder import process_isolated, split_outputs
from stresstrack.store.sqlite import Quarantined, Store
from stresstrack.transport.auth import SignatureError, check_signature
from stresstrack.transport.connection import (
    DEFAULT_BACKOFF,
    NEVER_EXPIRES,
    Connection,
    Received,
    drain_states,
    link_text,
)
from stresstrack.transport.mqtt import (
    Broker,
    EventBatch,
    PayloadError,
    RejectedEvent,
    batch_from_payload,
    topic_partition,
    worker_filters,
    worker_of,
)

__all__ = [
    "CURSOR_TARGET",
    "INTENT_META",
    "REJECTED_TARGET",
    "Worker",
    "WorkerStats",
    "worker_client_id",
    "worker_device",
]

log = logging.getLogger(__name__)

CURSOR_TARGET: Final = "mqtt-in"
REJECTED_TARGET: Final = "mqtt-in rejected"  # dead letters: messages that are not event batches
INTENT_META: Final = "mqtt_in_pending"
ROUND_MESSAGES: Final = 200  # messages stored per round at most (one set of transactions)
LATENCIES_KEPT: Final = 100_000


def worker_client_id(index: int, count: int) -> str:
    """The fixed MQTT client ID of worker ``index`` of ``count`` (its session's name)."""
    return f"stresstrack-worker-{index}-of-{count}"


def worker_device(index: int) -> str:
    """The device name of the worker's status events."""
    return f"mqtt-worker-{index}"


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """A snapshot of where the worker stands."""

    index: int
    count: int
    broker: str
    connected: bool
    error: str
    participants: int
    messages: int  # messages taken (stored, duplicate or rejected) since start
    events: int  # events from the broker stored since start
    duplicates: int  # redelivered events dropped
    rejected: int  # messages that were not event batches (kept as dead letters)
    gaps: int  # messages after which events of the same source were missing
    queued: int  # messages received, not yet stored
    lag_p50_s: float | None  # publish -> taken by the worker, recent messages
    latency_p50_s: float | None  # publish -> stress row written, recent rows
    latency_p95_s: float | None

    def line(self) -> str:
        """One line for the live view."""
        link = "connected" if self.connected else f"down ({self.error or 'connecting'})"

        def s(v: float | None) -> str:
            return "-" if v is None else f"{v:.2f} s"

        return (
            f"worker {self.index}/{self.count} {self.broker}: {link}, {self.participants} "
            f"participants, {self.events} events ({self.duplicates} duplicates dropped, "
            f"{self.gaps} gaps, {self.rejected} rejected), queue {self.queued}, "
            f"lag {s(self.lag_p50_s)}, stress latency p50 {s(self.latency_p50_s)} "
            f"p95 {s(self.latency_p95_s)}"
        )


class _WorkerStore(Store):
    """The worker's store, noting when each stress row is written (for the latency)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path)
        self.sent_ns: dict[str, int] = {}  # participant -> publish time of its messages
        self.latencies: deque[float] = deque(maxlen=LATENCIES_KEPT)

    def add_results(
        self,
        features: Sequence[FeatureRow] = (),
        stress: Sequence[StressRow] = (),
        sessions: Sequence[Session] = (),
    ) -> None:
        super().add_results(features, stress, sessions)
        if self.sent_ns and stress:
            now = time.time_ns()
            for row in stress:
                sent = self.sent_ns.get(row.participant)
                if sent is not None:
                    self.latencies.append((now - sent) / 1e9)


class Worker:
    """Worker ``index`` (1-based) of ``count``: see the module docstring. :meth:`run` blocks
    until ``stop`` is set; ``on_status(text)`` gets connection changes and, every
    ``status_every_s``, a summary line (from the worker's thread)."""

    def __init__(
        self,
        store_path: str | os.PathLike[str],
        broker: Broker,
        *,
        index: int = 1,
        count: int = 1,
        config: PipelineConfig | None = None,
        client_id: str | None = None,
        session_expiry_s: int = NEVER_EXPIRES,
        backoff: Backoff = DEFAULT_BACKOFF,
        status_every_s: float = 60.0,
        on_status: Callable[[str], object] | None = None,
        pipeline_factory: Callable[[PipelineConfig], Pipeline] = Pipeline,
        keys: Mapping[str, str] | None = None,
    ) -> None:
        if not 1 <= index <= count:
            raise ValueError(f"worker {index} of {count}: the index must be 1 to {count}")
        self.store_path = store_path
        self.broker = broker
        self.index = index
        self.count = count
        self.config = config or PipelineConfig()
        self.client_id = client_id or worker_client_id(index, count)
        self.session_expiry_s = session_expiry_s
        self.backoff = backoff
        self.status_every_s = status_every_s
        self.on_status = on_status
        self.pipeline_factory = pipeline_factory  # e.g. one that also publishes to LSL
        self.device = worker_device(index)
        # participant -> message key: their messages must be signed with it (docs/mqtt.md)
        self.keys = dict(keys or {})
        self._inbox: queue.SimpleQueue[Received] = queue.SimpleQueue()
        self._states: queue.SimpleQueue[tuple[bool, str]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._stats = WorkerStats(
            index, count, broker.describe(), False, "", 0, 0, 0, 0, 0, 0, 0, None, None, None
        )
        # Owned by the thread running run():
        self._cursors: dict[str, int] = {}
        self._newest: dict[tuple[str, str], int] = {}  # (study, participant) -> newest time
        self._active: set[tuple[str, str]] = set()
        self._lags: deque[float] = deque(maxlen=2000)
        self._connected = False
        self._error = ""
        self._messages = self._events = self._duplicates = self._rejected = self._gaps = 0
        self._latencies: deque[float] = deque()
        self.ready = threading.Event()  # set once connected and subscribed

    # -- any thread --------------------------------------------------------------------------
    def stats(self) -> WorkerStats:
        with self._lock:
            return self._stats

    def _on_message(self, message: Received) -> None:
        self._inbox.put(message)

    def _on_state(self, connected: bool, error: str) -> None:
        self._states.put((connected, error))

    # -- the worker --------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> WorkerStats:
        """Take messages until ``stop`` is set, then finish the pipeline's windows."""
        with _WorkerStore(self.store_path) as store:
            self._recover(store)
            pipeline = self.pipeline_factory(self.config)
            self._warm_up(store, pipeline)
            runtime = Runtime(store, pipeline, batch=1 << 30)
            conn = Connection(
                self.broker,
                self.client_id,
                clean_start=False,
                session_expiry_s=self.session_expiry_s,
                manual_ack=True,
                subscriptions=worker_filters(self.index, self.count),
                backoff=self.backoff,
                on_state=self._on_state,
                on_message=self._on_message,
            )
            conn.start()
            try:
                self._loop(store, runtime, conn, stop)
            finally:
                conn.stop()
                store.sent_ns = {}
                self._take_states(store, runtime)
                runtime.close()
                self._publish_stats(store)
                self._latencies = store.latencies
        return self.stats()

    def _loop(
        self, store: _WorkerStore, runtime: Runtime, conn: Connection, stop: threading.Event
    ) -> None:
        next_status = time.monotonic() + self.status_every_s
        while not stop.is_set():
            self._take_states(store, runtime)
            if self._connected:
                self.ready.set()
            try:
                first = self._inbox.get(timeout=0.05)
            except queue.Empty:
                first = None
            if first is not None:
                messages = [first]
                while len(messages) < ROUND_MESSAGES:
                    try:
                        messages.append(self._inbox.get_nowait())
                    except queue.Empty:
                        break
                self._round(store, runtime, conn, messages)
            if time.monotonic() >= next_status:
                next_status = time.monotonic() + self.status_every_s
                self._status(store, runtime, self._active)
                self._active = set()
                self._say(self.stats().line())
            self._publish_stats(store)

    def _round(
        self,
        store: _WorkerStore,
        runtime: Runtime,
        conn: Connection,
        messages: Sequence[Received],
    ) -> None:
        """Store the new events of ``messages`` with their cursors, then acknowledge them."""
        events: list[Event] = []
        updates: dict[str, int] = {}
        sent: dict[str, int] = {}
        refused: list[Quarantined] = []
        now = time.time_ns()
        for message in messages:
            self._messages += 1
            try:
                payload = self._verified(message)
                batch = batch_from_payload(message.topic, payload, now_ns=now)
            except _Unsigned as exc:
                self._reject(store, message, str(exc), exc.participant)
                continue
            except PayloadError as exc:
                self._reject(store, message, str(exc))
                continue
            if worker_of(batch.participant, self.count) != self.index:
                log.warning("%s: not this worker's participant; ignored", message.topic)
                continue
            key = f"{batch.participant}@{batch.source}"
            last = updates.get(key, self._cursors.get(key, 0))
            new = [e.event for e in batch.events if e.seq > last]
            bad = [r for r in batch.rejected if r.seq > last]
            self._duplicates += len(batch.events) + len(batch.rejected) - len(new) - len(bad)
            if not (new or bad):
                continue
            if bad:
                self._refuse(batch.participant, message.topic, batch.source, bad, now, refused)
            if batch.prev > last and batch.events:
                events.append(self._gap(batch, last))
            events.extend(new)
            self._events += len(new)
            updates[key] = batch.last_seq
            if not new:
                continue
            who = (batch.study, batch.participant)
            self._newest[who] = max(self._newest.get(who, 0), max(e.time_ns for e in new))
            self._active.add(who)
            sent[batch.participant] = min(sent.get(batch.participant, now), batch.sent_ns)
            self._lags.append((now - batch.sent_ns) / 1e9)
        store.quarantine(refused)
        if events or updates:
            store.sent_ns = sent
            self._store(store, runtime, events, updates)
            store.sent_ns = {}
        for message in messages:
            conn.ack(message.mid, message.generation)

    def _store(
        self,
        store: Store,
        runtime: Runtime,
        events: Sequence[Event],
        updates: dict[str, int],
    ) -> None:
        """Events, results and cursors, with the intent that makes them atomic (see top)."""
        after = store.last_positions()["events"]
        if updates:
            intent = {"after": after, "count": len(events), "cursors": updates}
            store.set_meta(INTENT_META, json.dumps(intent))
        runtime.emit(events)
        runtime.flush()
        if updates:
            for key, seq in updates.items():
                store.advance_sink(CURSOR_TARGET, key, seq)
            self._cursors.update(updates)
            store.set_meta(INTENT_META, "")

    def _gap(self, batch: EventBatch, last: int) -> DeviceStatus:
        self._gaps += 1
        text = (
            f"events {last + 1}-{batch.prev} of source {batch.source} never arrived "
            "(lost by the broker?); they are in that collector's store"
            if last
            else f"events up to {batch.prev} of source {batch.source} never arrived "
            "(was this worker's session new?); they are in that collector's store"
        )
        log.warning("%s/%s: %s", batch.study, batch.participant, text)
        self._say(f"worker {self.index}: {batch.participant}: {text}")
        newest = self._newest.get((batch.study, batch.participant))
        return DeviceStatus(
            # Never later than data already seen, so the pipeline's clock does not move.
            time_ns=batch.events[0].event.time_ns if newest is None else newest,
            participant=batch.participant,
            study=batch.study,
            device=self.device,
            state=DeviceState.GAP,
            detail=text,
            gap_start_ns=newest,
        )

    def _refuse(
        self,
        participant: str,
        topic: str,
        source: str,
        bad: Sequence[RejectedEvent],
        now: int,
        out: list[Quarantined],
    ) -> None:
        """Events of a valid message that are outside the limits: quarantined, not stored."""
        self._rejected += len(bad)
        for r in bad:
            log.error("%s: %s; kept in the store's quarantine", topic, r.reason)
            out.append(
                Quarantined(now, f"mqtt {topic} from {source}", participant, r.reason, r.content)
            )
        self._say(
            f"worker {self.index}: {participant}: {len(bad)} event(s) quarantined: {bad[0].reason}"
        )

    def _verified(self, message: Received) -> bytes:
        """The payload as signed, for a participant whose key this worker has; else as is.
        :class:`_Unsigned` when the signature is missing or wrong."""
        if not self.keys:
            return message.payload
        _study, participant, _partition = topic_partition(message.topic)
        key = self.keys.get(participant)
        if key is None:
            return message.payload
        try:
            return check_signature(key, message.payload)
        except SignatureError as exc:
            raise _Unsigned(message.topic, str(exc), participant) from None

    def _reject(self, store: Store, message: Received, problem: str, participant: str = "") -> None:
        self._rejected += 1
        log.error("%s; kept in the store's dead_letters and quarantine", problem)
        self._say(f"worker {self.index}: rejected a message: {problem}")
        text = message.payload[:65_536].decode("utf-8", "replace")
        now = time.time_ns()
        store.advance_sink(REJECTED_TARGET, "messages", 0, [(0, 0, problem, text)], rejected_ns=now)
        store.quarantine([Quarantined(now, f"mqtt {message.topic}", participant, problem, text)])

    # -- start-up ----------------------------------------------------------------------------
    def _recover(self, store: Store) -> None:
        """Complete the last round's cursors if its events are all stored; load cursors."""
        pending = store.meta(INTENT_META)
        if pending:
            intent = json.loads(pending)
            if store.last_positions()["events"] >= intent["after"] + intent["count"]:
                for key, seq in intent["cursors"].items():
                    store.advance_sink(CURSOR_TARGET, key, int(seq))
                log.info("completed the cursors of the round cut short")
            store.set_meta(INTENT_META, "")
        self._cursors = store.sink_positions(CURSOR_TARGET)

    def _warm_up(self, store: Store, pipeline: Pipeline) -> None:
        """Replay the store through ``pipeline``; write the results the store lacks."""
        n = store.count("events")
        if not n:
            return
        self._say(f"worker {self.index}: rebuilding the pipeline from {n} stored events")
        outputs: list[Output] = []
        for event in store.iter_events():
            outputs.extend(process_isolated(pipeline, [event]))
            who = (event.study, event.participant)
            self._newest[who] = max(self._newest.get(who, 0), event.time_ns)
        features, stress, sessions = split_outputs(_latest(outputs))
        have_f = {(r.participant, r.time_ns): r for r in store.features()}
        have_s = {(r.participant, r.time_ns): r for r in store.stress()}
        have_x = {(r.participant, r.kind, r.start_ns): r for r in store.sessions()}
        missing = (
            [r for r in features if have_f.get((r.participant, r.time_ns)) != r],
            [r for r in stress if have_s.get((r.participant, r.time_ns)) != r],
            [r for r in sessions if have_x.get((r.participant, r.kind, r.start_ns)) != r],
        )
        if any(missing):
            store.add_results(*missing)
            log.info("wrote %d results the store lacked", sum(len(m) for m in missing))

    # -- status ------------------------------------------------------------------------------
    def _take_states(self, store: Store, runtime: Runtime) -> None:
        self._connected, self._error, changed = drain_states(
            self._states, self._connected, self._error
        )
        if changed:
            link = link_text(self._connected, self._error)
            self._say(f"worker {self.index}/{self.count} {self.broker.describe()}: {link}")
            self._status(store, runtime, self._newest)

    def _status(self, store: Store, runtime: Runtime, who: Iterable[tuple[str, str]]) -> None:
        """A status event (connection, lag, queue) for each of these participants."""
        stats = self.stats()
        link = "connected" if self._connected else f"down ({self._error or 'connecting'})"
        lag = "-" if stats.lag_p50_s is None else f"{stats.lag_p50_s:.2f} s"
        detail = f"worker {self.index}/{self.count}: {link}, lag {lag}, queue {stats.queued}"
        state = DeviceState.CONNECTED if self._connected else DeviceState.DISCONNECTED
        events: list[Event] = [
            DeviceStatus(
                time_ns=self._newest[(study, participant)],  # never moves the pipeline's clock
                participant=participant,
                study=study,
                device=self.device,
                state=state,
                detail=detail,
            )
            for study, participant in sorted(who)
            if (study, participant) in self._newest
        ]
        if events:
            self._store(store, runtime, events, {})

    def _publish_stats(self, store: _WorkerStore) -> None:
        lags = list(self._lags)
        latencies = list(store.latencies)[-2000:]
        stats = WorkerStats(
            index=self.index,
            count=self.count,
            broker=self.broker.describe(),
            connected=self._connected,
            error=self._error,
            participants=len({p for _s, p in self._newest}),
            messages=self._messages,
            events=self._events,
            duplicates=self._duplicates,
            rejected=self._rejected,
            gaps=self._gaps,
            queued=self._inbox.qsize(),
            lag_p50_s=_percentile(lags, 50),
            latency_p50_s=_percentile(latencies, 50),
            latency_p95_s=_percentile(latencies, 95),
        )
        with self._lock:
            self._stats = stats

    def latencies(self) -> list[float]:
        """Publish-to-stored latencies (s) of the stress rows written live (at most the
        last 100 000); complete once :meth:`run` returned."""
        return list(self._latencies)

    def _say(self, text: str) -> None:
        log.info("%s", text)
        if self.on_status is not None:
            self.on_status(text)


class _Unsigned(PayloadError):
    """A message for a participant whose key the worker has, without the right signature."""

    def __init__(self, topic: str, problem: str, participant: str) -> None:
        super().__init__(topic, problem)
        self.participant = participant


def _latest(outputs: Iterable[Output]) -> list[Output]:
    """The last output per stored key, as the store keeps them (a closed session replaces
    the open one)."""
    out: dict[tuple[object, ...], Output] = {}
    for o in outputs:
        if isinstance(o, Session):
            out[("x", o.participant, o.kind, o.start_ns)] = o
        else:
            out[(type(o).__name__, o.participant, o.time_ns)] = o
    return list(out.values())
