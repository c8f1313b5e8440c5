"""Collectors to workers through a real Mosquitto: exactly once, in order, same results.

Every test runs 3 simulated collectors (a store being filled + a publisher; collector 1
carries two participants) and 2 workers, and checks that each participant's events are in
its worker's store exactly once and in collector order, and that the workers' features,
stress index and sessions equal the single-process run of the same simulation.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from mqtt_link import (
    Study,
    ThreadWorkers,
    all_delivered,
    assert_exactly_once_in_order,
    assert_same_results,
    broker_of,
    collectors_for,
    running,
    wait_until,
)
from servers import MosquittoServer

from stresstrack.events import DeviceStatus
from stresstrack.store.sqlite import Store
from stresstrack.transport.mqtt import worker_of
from stresstrack.transport.publisher import PUBLISHER_DEVICE, publisher_target
from stresstrack.transport.worker import CURSOR_TARGET

pytestmark = pytest.mark.mqtt


def test_the_study_splits_over_both_workers(study: Study) -> None:
    owners = {p: worker_of(p, 2) for p in study.participants}
    assert set(owners.values()) == {1, 2}
    assert owners[study.participants[0]] != owners[study.participants[3]]


def test_three_collectors_two_workers_exactly_once_in_order(
    tmp_path: Path, broker: MosquittoServer, study: Study
) -> None:
    collectors = collectors_for(study, tmp_path, broker)
    workers = ThreadWorkers(tmp_path, broker_of(broker), 2).start()
    try:
        with running(collectors):
            wait_until(lambda: all_delivered(collectors, workers.paths), 120, "delivery")
    finally:
        workers.stop()
    assert_exactly_once_in_order(collectors, workers.paths)
    assert_same_results(study, workers.paths)
    stats = [w.stats() for w in workers.workers]
    assert all(s.gaps == 0 and s.rejected == 0 for s in stats)
    # The publishers' cursors are at the end of their stores: nothing left to send.
    for c in collectors:
        with Store(c.path, readonly=True) as store:
            assert store.sink_positions(publisher_target(broker_of(broker))) == {
                "events": store.last_positions()["events"]
            }
    # Each worker kept the last sequence number per participant and source.
    with Store(workers.paths[0], readonly=True) as store:
        cursors = store.sink_positions(CURSOR_TARGET)
    assert {k.split("@")[0] for k in cursors} == {
        p for p in study.participants if worker_of(p, 2) == 1
    }


def test_broker_stopped_and_restarted_mid_run(
    tmp_path: Path, broker: MosquittoServer, study: Study
) -> None:
    collectors = collectors_for(study, tmp_path, broker, chunk=100, every_s=0.05)
    workers = ThreadWorkers(tmp_path, broker_of(broker), 2).start()
    try:
        with running(collectors):
            wait_until(lambda: collectors[0].share_written() > 0.3, 120, "a third of the data")
            broker.stop()
            stopped_at = collectors[0].share_written()
            time.sleep(3.0)
            broker.start()
            wait_until(lambda: all_delivered(collectors, workers.paths), 120, "delivery")
    finally:
        workers.stop()
    assert stopped_at < 0.9, "the outage must happen while data is still being collected"
    assert_exactly_once_in_order(collectors, workers.paths)
    assert_same_results(study, workers.paths)
    # The outage is in the data: every participant's publisher went down and came back.
    for c in collectors:
        for participant, events in c.stored().items():
            states = [
                e.state.value
                for e in events
                if isinstance(e, DeviceStatus) and e.device == PUBLISHER_DEVICE
            ]
            assert "disconnected" in states and states[-1] == "connected", participant
    assert all(w.stats().connected is False for w in workers.workers)


def test_events_wait_in_the_store_until_a_worker_subscribes(
    tmp_path: Path, broker: MosquittoServer, study: Study
) -> None:
    """No worker session yet: the broker answers "no matching subscribers" and the events
    stay in the collector's store until the workers are there."""
    collectors = collectors_for(study, tmp_path, broker)
    for c in collectors:
        c.start()
    for c in collectors:
        c.join_feeder()
    wait_until(lambda: all(c.publisher.stats().retries > 0 for c in collectors), 120, "refusals")
    for c in collectors:
        s = c.publisher.stats()
        assert s.backlog_events > 0 and "no worker subscribed" in s.waiting_for
    workers = ThreadWorkers(tmp_path, broker_of(broker), 2).start()
    try:
        wait_until(lambda: all_delivered(collectors, workers.paths), 120, "delivery")
    finally:
        for c in collectors:
            c.publisher.stop()
        workers.stop()
    assert_exactly_once_in_order(collectors, workers.paths)
    assert_same_results(study, workers.paths)


def test_worker_restarted_in_process_gets_what_it_missed(
    tmp_path: Path, broker: MosquittoServer, study: Study
) -> None:
    """A worker stopped cleanly mid-run: its session keeps its messages; restarted, it
    rebuilds the pipeline from its store and the results are those of one run."""
    collectors = collectors_for(study, tmp_path, broker, chunk=100, every_s=0.03)
    workers = ThreadWorkers(tmp_path, broker_of(broker), 2).start()
    with running(collectors):
        wait_until(lambda: collectors[0].share_written() > 0.3, 120, "a third of the data")
        workers.stops[0].set()
        workers.threads[0].join(60)
        first = workers.workers[0].stats()
        time.sleep(1.0)
        again = ThreadWorkers(tmp_path, broker_of(broker), 2)
        workers.workers[0], workers.stops[0] = again.workers[0], again.stops[0]
        workers.threads[0] = threading.Thread(target=again.workers[0].run, args=(again.stops[0],))
        workers.threads[0].start()
        wait_until(lambda: all_delivered(collectors, workers.paths), 120, "delivery")
    workers.stop()
    assert first.events > 0
    assert_exactly_once_in_order(collectors, workers.paths)
    assert_same_results(study, workers.paths)
