"""Collectors -> Mosquitto -> pipeline workers: events per second and end-to-end latency.

Run: python benchmarks/mqtt.py [--participants 100] [--collectors 20] [--workers 2]
                               [--speed 5] [--minutes 5]

Starts its own Mosquitto on a free loopback port (tests/servers.py) and simulates a study
(short protocol, virtual time). Collectors are stores being filled plus a publisher each
(the store-driven publisher of ``collect --publish``), in this process; workers are
separate processes running the worker of ``stresstrack pipeline`` (its store, pipeline and
exactly-once bookkeeping). Two measurements:

* **throughput**: the collectors' stores are full when the publishers start; events per
  second acknowledged by the broker (publishers drained) and stored and processed by the
  workers (the last event in a worker store);
* **latency**: the stores are filled at ``--speed`` times real time (every 0.5 s, the
  events whose time has come), for ``--minutes`` of data; latency of a stress row = wall
  time from the publish of the message whose events made its window ready to the row
  being committed to the worker's store (the worker's first message of that participant
  in the round that wrote the row: an upper bound).
Everything shares this machine's cores: the figures are a floor for a deployment where
collectors and workers run on their own machines.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing as mp
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from types import ModuleType
from typing import Any

from stresstrack.events import Event
from stresstrack.session.protocol import Phase, Protocol
from stresstrack.simulators.study import StudyPlan, simulate_study
from stresstrack.store import Store
from stresstrack.transport.mqtt import Broker
from stresstrack.transport.publisher import Publisher
from stresstrack.transport.worker import Worker

TESTS = Path(__file__).resolve().parent.parent / "tests"
NS = 1_000_000_000
PROTOCOL = Protocol(
    name="short",
    phases=(
        Phase("baseline", 180.0),
        Phase("stressor", 150.0),
        Phase("self-care", 180.0, mode="solo", label="serum"),
        Phase("recovery", 120.0),
    ),
)


def _load(name: str) -> ModuleType:
    """A module of tests/ by path (the servers are kept there, once)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, TESTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class _Collect:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


def _worker_main(
    host: str,
    port: int,
    index: int,
    count: int,
    store: str,
    ready: MpEvent,
    stop: MpEvent,
    out: mp.Queue[Any],
) -> None:
    worker = Worker(store, Broker(host, port), index=index, count=count, status_every_s=3600.0)
    halt = threading.Event()

    def watch() -> None:
        worker.ready.wait()
        ready.set()
        stop.wait()
        halt.set()

    threading.Thread(target=watch, daemon=True).start()
    stats = worker.run(halt)
    out.put((index, stats.events, stats.duplicates, worker.latencies()))


class Workers:
    def __init__(self, root: Path, host: str, port: int, count: int) -> None:
        ctx = mp.get_context("spawn")
        self.stores = [root / f"w{i}.db" for i in range(1, count + 1)]
        self.stop = ctx.Event()
        self.out: mp.Queue[Any] = ctx.Queue()
        self.ready = [ctx.Event() for _ in self.stores]
        self.procs = [
            ctx.Process(
                target=_worker_main,
                args=(host, port, i, count, str(s), r, self.stop, self.out),
            )
            for i, (s, r) in enumerate(zip(self.stores, self.ready, strict=True), start=1)
        ]

    def start(self) -> Workers:
        for p in self.procs:
            p.start()
        for r in self.ready:
            if not r.wait(60):
                sys.exit("a worker did not connect")
        return self

    def stored(self) -> int:
        total = 0
        for s in self.stores:
            if s.exists():
                with Store(s, readonly=True) as store:
                    total += store.count("events")
        return total

    def finish(self) -> tuple[int, int, list[float]]:
        self.stop.set()
        results = [self.out.get(timeout=300) for _ in self.procs]
        for p in self.procs:
            p.join()
        events = sum(r[1] for r in results)
        duplicates = sum(r[2] for r in results)
        return events, duplicates, [x for r in results for x in r[3]]


def _split(events: list[Event], participants: list[str], collectors: int) -> list[list[Event]]:
    """Participant k goes to collector k mod C; each collector's events in emitted order."""
    home = {p: k % collectors for k, p in enumerate(participants)}
    out: list[list[Event]] = [[] for _ in range(collectors)]
    for e in events:
        out[home[e.participant]].append(e)
    return out


def _publishers(paths: list[Path], broker: Broker) -> list[Publisher]:
    pubs = [Publisher(p, broker, status_every_s=3600.0) for p in paths]
    for p in pubs:
        p.start()
    return pubs


def bench_throughput(
    root: Path, server: Any, groups: list[list[Event]], workers_n: int
) -> dict[str, float]:
    broker = Broker(server.host, server.port)
    paths = [root / f"c{k}.db" for k in range(len(groups))]
    for path, events in zip(paths, groups, strict=True):
        with Store(path) as store:
            store.add_events(events)
    total = sum(len(g) for g in groups)
    workers = Workers(root, server.host, server.port, workers_n).start()
    t0 = time.perf_counter()
    pubs = _publishers(paths, broker)
    drained = [False] * len(pubs)
    published_s = 0.0
    while True:
        for i, p in enumerate(pubs):
            drained[i] = drained[i] or p.stats().backlog_events == 0
        if all(drained) and not published_s:
            published_s = time.perf_counter() - t0
        if workers.stored() >= total:
            break
        time.sleep(0.05)
    stored_s = time.perf_counter() - t0
    for p in pubs:
        p.stop()
    received, duplicates, _ = workers.finish()
    assert received >= total, (received, total)
    return {
        "events": total,
        "publish_eps": total / published_s,
        "end_to_end_eps": total / stored_s,
        "stored_s": stored_s,
        "duplicates": duplicates,
    }


def bench_latency(
    root: Path,
    server: Any,
    groups: list[list[Event]],
    workers_n: int,
    speed: float,
    minutes: float,
) -> dict[str, float]:
    broker = Broker(server.host, server.port)
    t_start = min(g[0].time_ns for g in groups if g)
    horizon = t_start + int(minutes * 60 * NS)
    groups = [[e for e in g if e.time_ns < horizon] for g in groups]
    paths = [root / f"c{k}.db" for k in range(len(groups))]
    for path in paths:
        with Store(path):
            pass
    workers = Workers(root, server.host, server.port, workers_n).start()
    pubs = _publishers(paths, broker)
    stores = [Store(p) for p in paths]
    positions = [0] * len(groups)
    t0 = time.perf_counter()
    while any(pos < len(g) for pos, g in zip(positions, groups, strict=True)):
        now_ns = t_start + int((time.perf_counter() - t0) * speed * NS)
        for k, g in enumerate(groups):
            end = positions[k]
            while end < len(g) and g[end].time_ns <= now_ns:
                end += 1
            if end > positions[k]:
                stores[k].add_events(g[positions[k] : end])
                positions[k] = end
        time.sleep(0.5)
    for s in stores:
        s.close()
    total = sum(len(g) for g in groups)
    deadline = time.perf_counter() + 120
    while workers.stored() < total and time.perf_counter() < deadline:
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    for p in pubs:
        p.stop()
    _events, _dups, latencies = workers.finish()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "events": total,
        "rows": len(latencies),
        "eps": total / wall,
        "p50": q[49],
        "p95": q[94],
        "max": latencies[-1],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--participants", type=int, default=100)
    ap.add_argument("--collectors", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--speed", type=float, default=5.0, help="data seconds per wall second")
    ap.add_argument("--minutes", type=float, default=5.0, help="data minutes of the latency run")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    servers = _load("servers")
    binary = servers.find_binary("mosquitto", "/usr/sbin/mosquitto")
    if binary is None:
        sys.exit("mosquitto is not installed (Debian: apt-get install mosquitto)")
    t0 = time.perf_counter()
    sink = _Collect()
    plan = StudyPlan(participants=args.participants, seed=args.seed, protocol=PROTOCOL)
    simulate_study(plan, sink)
    groups = _split(sink.events, plan.participant_ids(), args.collectors)
    print(
        f"simulated {args.participants} participants x {PROTOCOL.duration_s / 60:.1f} min: "
        f"{len(sink.events)} events in {time.perf_counter() - t0:.0f} s; "
        f"{args.collectors} collectors, {args.workers} workers"
    )
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        results = {}
        for name in ("throughput", "latency"):
            server = servers.MosquittoServer(
                root / name / "mosquitto", binary, "max_queued_messages 0\n"
            )
            server.start()
            try:
                if name == "throughput":
                    results[name] = bench_throughput(root / name, server, groups, args.workers)
                else:
                    results[name] = bench_latency(
                        root / name, server, groups, args.workers, args.speed, args.minutes
                    )
            finally:
                server.stop()
    t, lat = results["throughput"], results["latency"]
    print(f"\nthroughput ({t['events']:.0f} events, stores full at start)")
    print(f"  collectors -> broker (PUBACK)            {t['publish_eps']:>9.0f} events/s")
    print(
        f"  collectors -> workers (stored, pipeline) {t['end_to_end_eps']:>9.0f} events/s "
        f"({t['stored_s']:.1f} s, {t['duplicates']:.0f} duplicates)"
    )
    print(
        f"\nlatency ({args.participants} participants at {args.speed:g}x real time, "
        f"{args.minutes:g} min of data, {lat['events']:.0f} events, {lat['eps']:.0f} events/s)"
    )
    print(
        f"  publish -> stress row stored             p50 {lat['p50'] * 1000:.0f} ms, "
        f"p95 {lat['p95'] * 1000:.0f} ms, max {lat['max'] * 1000:.0f} ms "
        f"({lat['rows']:.0f} rows)"
    )


if __name__ == "__main__":
    main()
