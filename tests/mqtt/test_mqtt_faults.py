"""Faults on the link: a worker killed with SIGKILL (real ``stresstrack pipeline`` processes
feeding InfluxDB) and a collector's network cut for 30 s. Afterwards nothing is missing,
nothing is duplicated, and the results are those of the single-process run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from influx_adapter import InfluxAdapter
from mqtt_link import (
    ProcessWorker,
    Study,
    TcpProxy,
    ThreadWorkers,
    all_delivered,
    assert_exactly_once_in_order,
    assert_same_results,
    broker_of,
    collectors_for,
    processes,
    running,
    wait_until,
)
from servers import InfluxServer, MosquittoServer

from stresstrack.events import DeviceStatus
from stresstrack.sinks import TOKEN_ENV
from stresstrack.store.sqlite import Store
from stresstrack.transport.publisher import PUBLISHER_DEVICE

pytestmark = pytest.mark.mqtt

CUT_S = 30.0


def _influx_stress(server: InfluxServer, db: str) -> set[tuple[str, int, float | None, float]]:
    rows = server.rows(
        'SELECT "stress_index", "stress_confidence" FROM "stress" GROUP BY "participant"', db=db
    )
    return {
        (r["participant"], int(r["time"]), r["stress_index"], r["stress_confidence"]) for r in rows
    }


def _store_events(path: Path) -> int:
    if not path.exists():
        return 0
    with Store(path, readonly=True) as store:
        return store.count("events")


@pytest.mark.slow
def test_worker_killed_with_sigkill_and_restarted(
    tmp_path: Path,
    broker: MosquittoServer,
    study: Study,
    influx_server: InfluxServer,
    influx_adapter: InfluxAdapter,
    influx_db: str,
) -> None:
    url = f"mqtt://{broker.host}:{broker.port}"
    influx = ["--influx-url", influx_adapter.url, "--influx-bucket", influx_db]
    env = {TOKEN_ENV: influx_server.token}
    workers = [ProcessWorker(tmp_path, url, i, 2, *influx) for i in (1, 2)]
    with processes(workers):
        for w in workers:
            w.start(env).wait_connected()
        collectors = collectors_for(study, tmp_path, broker, chunk=50, every_s=0.03)
        victim = workers[0]
        with running(collectors):
            wait_until(lambda: _store_events(victim.store) > 1000, 120, "worker 1 at work")
            victim.kill()
            killed_at = collectors[0].share_written()
            time.sleep(1.0)
            victim.start(env)
            victim.wait_connected(times=2)
            paths = [w.store for w in workers]
            wait_until(lambda: all_delivered(collectors, paths), 120, "delivery")
        codes = [w.terminate() for w in workers]
    assert codes == [0, 0], [w.output() for w in workers]
    assert killed_at < 0.9, "the kill must happen while data is still being collected"
    assert_exactly_once_in_order(collectors, paths)
    assert_same_results(study, paths)
    # InfluxDB holds the same stress index as the single-process run.
    assert _influx_stress(influx_server, influx_db) == study.stress_points
    out = victim.output()
    assert "rebuilding the pipeline from" in out
    assert "points sent, everything in the store is delivered" in out


@pytest.mark.slow
def test_collector_network_cut_for_30_s(
    tmp_path: Path, broker: MosquittoServer, study: Study
) -> None:
    proxy = TcpProxy(broker.port).start()
    collectors = collectors_for(
        study, tmp_path, broker, chunk=100, every_s=0.05, first=broker_of(broker, proxy.port)
    )
    cut = collectors[0]  # through the proxy
    workers = ThreadWorkers(tmp_path, broker_of(broker), 2).start()
    try:
        with running(collectors):
            wait_until(lambda: cut.share_written() > 0.2, 120, "a fifth of the data")
            proxy.cut()
            cut_at = cut.share_written()
            wait_until(lambda: not cut.publisher.stats().connected, 120, "the cut noticed")
            time.sleep(CUT_S)
            during = cut.publisher.stats()
            proxy.restore()
            wait_until(lambda: all_delivered(collectors, workers.paths), 120, "delivery")
    finally:
        workers.stop()
        proxy.stop()
    assert cut_at < 0.5 and cut.fed
    assert during.backlog_events > 0 and not during.connected
    assert during.error in ("connection refused", "connection lost")
    assert_exactly_once_in_order(collectors, workers.paths)
    assert_same_results(study, workers.paths)
    # Only the cut collector's participants saw their publisher go down.
    for c in collectors:
        for events in c.stored().values():
            states = [
                e.state.value
                for e in events
                if isinstance(e, DeviceStatus) and e.device == PUBLISHER_DEVICE
            ]
            assert states[0] == "connected" and states[-1] == "connected"
            assert ("disconnected" in states) == (c is cut)
