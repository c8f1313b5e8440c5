"""Issue 16, item 1: one MQTT message must not stop a pipeline worker.

Each poisoned event (an EDA chunk at 0 Hz or 0.5 Hz, a beat dated 2099, a NaN interval) used
to kill the worker or make it walk windows for ever; now it is quarantined with its reason,
the legitimate participant's data after it is stored and processed, and a restarted worker
(which replays its store) starts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mqtt_link import ThreadWorkers, broker_of, wait_until
from servers import MosquittoServer
from test_worker import Sender, sender

from stresstrack.store.sqlite import Store
from stresstrack.transport.mqtt import batch_from_payload, events_topic

__all__ = ["sender"]

pytestmark = pytest.mark.mqtt

T0 = 1_767_603_600_000_000_000
Y2099 = 4_070_908_800_000_000_000  # 2099-01-01T00:00:00Z
POISON = [
    ("eda", T0, {"sampling_rate": 0, "values_us": [1.0, 2.0]}, "sampling_rate 0"),
    ("eda", T0, {"sampling_rate": 0.5, "values_us": [1.0, 2.0]}, "sampling_rate 0.5"),
    ("beat", Y2099, {"rr_ms": 800.0, "rr_ticks": None, "source": "hrs"}, "in the future"),
    ("beat", T0, {"rr_ms": float("nan"), "rr_ticks": None, "source": "hrs"}, "rr_ms nan"),
    ("waveform", T0, {"kind": "ecg", "sampling_rate": 1e6, "values": [1.0]}, "sampling_rate"),
    ("waveform", T0, {"kind": "ecg", "sampling_rate": 130, "values": [1e12]}, "values[0]"),
]


def _message(seq0: int, events: list[tuple[str, int, dict[str, object]]]) -> bytes:
    head = {"v": 1, "source": "src", "study": "default", "participant": "p-01"}
    rows = [[seq0 + i, t, time_ns, "AA", body] for i, (t, time_ns, body) in enumerate(events)]
    return json.dumps({**head, "prev": seq0 - 1, "sent_ns": 0, "events": rows}).encode()


def test_poisoned_events_are_quarantined_not_stored() -> None:
    for i, (type_name, time_ns, body, reason) in enumerate(POISON):
        topic = events_topic("default", "p-01")
        batch = batch_from_payload(topic, _message(1, [(type_name, time_ns, body)]), now_ns=T0)
        assert batch.events == (), i
        (rejected,) = batch.rejected
        assert reason in rejected.reason


def test_one_bad_message_never_stops_the_worker(
    tmp_path: Path, broker: MosquittoServer, sender: Sender
) -> None:
    topic = events_topic("default", "p-01")
    workers = ThreadWorkers(tmp_path, broker_of(broker), 1).start()
    seq = 1
    try:
        for type_name, time_ns, body, _reason in POISON:
            sender.send(topic, _message(seq, [(type_name, time_ns, body)]))
            seq += 1
        # 150 beats after the poison: two minutes of data, windows every 5 s.
        good = [("beat", T0 + k * 800_000_000, {"rr_ms": 800.0}) for k in range(1, 151)]
        sender.send(topic, _message(seq, good))  # type: ignore[arg-type]
        n = len(POISON) + 1
        wait_until(lambda: workers.workers[0].stats().messages == n, 120, f"{n} messages")
    finally:
        workers.stop()
    with Store(workers.paths[0], readonly=True) as store:
        beats = [e for e in store.iter_events() if e.device == "AA"]
        quarantined = store.quarantined()
        features = store.features("p-01")
    assert len(beats) == 150
    assert [q.participant for q in quarantined] == ["p-01"] * len(POISON)
    assert all(q.source.startswith(f"mqtt {topic}") for q in quarantined)
    for q, (_t, _time, _body, reason) in zip(quarantined, POISON, strict=True):
        assert reason in q.reason
    assert features, "the legitimate data after the poison was processed"
    # A restarted worker replays its store (warm-up) and runs.
    again = ThreadWorkers(tmp_path, broker_of(broker), 1).start()
    again.stop()
    assert again.workers[0].stats().events == 0


def test_a_worker_whose_store_holds_poison_from_an_older_release_starts(
    tmp_path: Path, broker: MosquittoServer, sender: Sender
) -> None:
    """Item 1, "every restart dies during warm-up": a store an older release wrote with the
    poisoned EDA chunk (0 Hz) and a marker that is not valid Unicode. The worker skips both
    when it rebuilds its pipeline, then stores and processes new data."""
    path = tmp_path / "w1.db"
    with Store(path) as store:
        for type_name, body in (
            ("eda", '{"sampling_rate": 0, "values_us": [1.0, 2.0]}'),
            ("marker", '{"action": "start", "kind": "self-care \\udce9"}'),
        ):
            store._db.execute(  # as the older release stored them
                "INSERT INTO events (time_ns, study, participant, device, type, payload) "
                "VALUES (?, 'default', 'p-01', 'AA', ?, ?)",
                (T0, type_name, body),
            )
    topic = events_topic("default", "p-01")
    workers = ThreadWorkers(tmp_path, broker_of(broker), 1).start()
    try:
        good = [("beat", T0 + k * 800_000_000, {"rr_ms": 800.0}) for k in range(1, 151)]
        sender.send(topic, _message(1, good))  # type: ignore[arg-type]
        wait_until(lambda: workers.workers[0].stats().messages == 1, 30, "the message")
    finally:
        workers.stop()
    with Store(path, readonly=True) as store:
        assert sum(e.device == "AA" for e in store.iter_events()) == 150  # the new beats
        assert store.skipped_events == 2
        assert store.features("p-01"), "the new data was processed"
