"""Sustained points per second from the store into a real InfluxDB.

Run: python benchmarks/influx_sink.py [--participants N] [--hours H]

Starts its own influxd 1.x on free loopback ports (tests/servers.py) behind the test-only
v2 write adapter (tests/influx_adapter.py), fills a store with simulated beats and 32 Hz EDA,
and times ``stresstrack sync``'s code path (InfluxSink, synchronous writes, cursor commits).
Also reports how fast the outbox alone turns stored rows into line protocol.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from stresstrack.events import Beat, EdaSamples, Event
from stresstrack.sinks import InfluxTarget, sync_store
from stresstrack.sinks.outbox import store_points
from stresstrack.store import Store

TESTS = Path(__file__).resolve().parent.parent / "tests"
NS = 1_000_000_000
T0 = 1_767_603_600 * NS


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


def fill(store: Store, participants: int, hours: float) -> None:
    """Beats at ~70 bpm and EDA at 32 Hz in chunks of 8, in time order, per participant."""
    for k in range(participants):
        pid = f"bench-{k + 1:03d}"
        seconds = int(hours * 3600)
        events: list[Event] = []
        t_beat = 0.0
        for s in range(seconds):
            for c in range(4):  # 4 chunks of 8 samples at 32 Hz per second
                t = T0 + s * NS + c * NS // 4
                vals = tuple(2.0 + 0.001 * ((s * 32 + c * 8 + i) % 97) for i in range(8))
                events.append(
                    EdaSamples(
                        time_ns=t, participant=pid, device="E0", sampling_rate=32.0, values_us=vals
                    )
                )
            while t_beat < s + 1:
                rr = 0.85 + 0.05 * ((int(t_beat * 10) % 7) / 7)
                t_beat += rr
                events.append(
                    Beat(
                        time_ns=T0 + int(t_beat * NS), participant=pid, device="F0", rr_ms=rr * 1000
                    )
                )
            if len(events) > 20_000:
                store.add_events(events)
                events = []
        store.add_events(events)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--participants", type=int, default=4)
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--batch-points", type=int, default=5000)
    args = ap.parse_args()
    servers = _load("servers")
    adapter_mod = _load("influx_adapter")
    binary = servers.find_binary("influxd", "/usr/bin/influxd")
    if binary is None:
        sys.exit("influxd is not installed (Debian: apt-get install influxdb)")
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        server = servers.InfluxServer(root / "influxd", binary)
        server.start()
        adapter = adapter_mod.InfluxAdapter(server.url).start()
        try:
            path = root / "bench.db"
            with Store(path) as store:
                fill(store, args.participants, args.hours)
                t0 = time.perf_counter()
                n_lines = sum(1 for _ in store_points(store))
                build_s = time.perf_counter() - t0
            target = InfluxTarget(url=adapter.url, bucket=server.database, token=server.token)
            t0 = time.perf_counter()
            report = sync_store(path, target, wait_s=30.0, batch_points=args.batch_points)
            ship_s = time.perf_counter() - t0
            assert report.delivered, report.summary()
            stored = sum(server.count(m) for m in ("beat", "eda"))
        finally:
            adapter.stop()
            server.stop()
    print(f"points in the store        {n_lines:>10}")
    print(f"points in InfluxDB         {stored:>10}")
    print(f"outbox -> line protocol    {n_lines / build_s:>10.0f} points/s (no network)")
    print(
        f"store -> InfluxDB          {report.shipped_points / ship_s:>10.0f} points/s "
        f"({ship_s:.1f} s, batches of {args.batch_points}, via the v2 adapter)"
    )


if __name__ == "__main__":
    main()
