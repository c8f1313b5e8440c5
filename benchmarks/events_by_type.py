"""Reading the answers and lab values of a store (``iter_events(types=...)``, as the session
analysis does) against reading every event, on a store of realistic event rows.

The store: one simulated participant-hour's event mix (per hour: ~3,600 heart-rate readings,
~3,700 beats, ~14,400 EDA packets at 32 Hz; measured from a 10 min simulated recording,
repeated) for ``--hours`` participant-hours, and 8 answers and 4 lab values per hour. Printed:
the query plan, and the time of (a) every event, (b) the endpoint events only, (c) (b) again
on a copy with an index on (type, id) (not in the store's schema: a schema change), best of 3.

Run: python benchmarks/events_by_type.py [--hours 40]
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from stresstrack.events import LabSample, SelfReport
from stresstrack.pipeline import Pipeline
from stresstrack.session.protocol import Phase, Protocol
from stresstrack.session.recorder import Recorder
from stresstrack.simulators.study import StudyPlan, simulate_study
from stresstrack.store import Store

NS = 1_000_000_000
TYPES = ("selfreport", "lab")


def build(path: Path, hours: int) -> None:
    plan = StudyPlan(participants=1, seed=3, protocol=Protocol("x", (Phase("rest", 600.0),)))
    with Store(path) as store:
        recorder = Recorder(store, Pipeline())
        simulate_study(plan, recorder)
        recorder.close()
    cols = "time_ns, study, participant, device, type, payload"
    db = sqlite3.connect(path)
    with db:
        template = db.execute(f"SELECT {cols} FROM events").fetchall()
        db.execute("DELETE FROM events")
    db.close()
    with Store(path) as store:
        for h in range(hours):
            pid = f"p{h // 8:03d}"
            t0 = template[0][0] + h * 3600 * NS
            rows = [(t + k * 600 * NS + h * 3600 * NS, s, pid, d, ty, p)
                    for k in range(6) for t, s, _, d, ty, p in template]  # fmt: skip
            with store._db:  # bulk rows, for the benchmark only
                store._db.executemany(
                    f"INSERT INTO events ({cols}) VALUES (?, ?, ?, ?, ?, ?)", rows
                )
            store.add_events(
                [SelfReport(time_ns=t0 + i * 450 * NS, participant=pid, study="demo",
                            device="companion", item="stress", value=40.0) for i in range(8)]
                + [LabSample(time_ns=t0 + i * 900 * NS, participant=pid, study="demo",
                             device="lab", analyte="cortisol", value=8.0, unit="nmol/L")
                   for i in range(4)]
            )  # fmt: skip


def best_of(n: int, f: Callable[[], Iterable[object]]) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(n):
        t = time.perf_counter()
        count = sum(1 for _ in f())
        times.append(time.perf_counter() - t)
    return min(times), count


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=int, default=40)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        build(path, args.hours)
        indexed = Path(tmp) / "indexed.db"
        src, dst = sqlite3.connect(path), sqlite3.connect(indexed)
        src.backup(dst)  # a consistent copy (WAL included)
        with dst:
            dst.execute("CREATE INDEX events_type_id ON events (type, id)")
        src.close()
        dst.close()
        q = (
            "SELECT id FROM events WHERE id > 0 AND type IN ('selfreport', 'lab') "
            "ORDER BY id LIMIT 5000"
        )
        for p in (path, indexed):
            with contextlib.closing(sqlite3.connect(p)) as db:
                plan = db.execute("EXPLAIN QUERY PLAN " + q).fetchall()
            print(f"{p.name}: plan {[r[-1] for r in plan]}")
        with Store(path, readonly=True) as store:
            rows = store.count("events")
            every = best_of(3, lambda: store.iter_events())
            only = best_of(3, lambda: store.iter_events(types=TYPES))
        with Store(indexed, readonly=True) as store:
            ix = best_of(3, lambda: store.iter_events(types=TYPES))
        mb = path.stat().st_size / 1e6
        print(f"{rows:,} event rows ({args.hours} participant-hours, {mb:.0f} MB)")
        print(f"(a) every event:              {every[0]:7.3f} s  {every[1]:,} events")
        print(f"(b) answers and lab values:   {only[0]:7.3f} s  {only[1]:,} events")
        print(f"(c) (b) with a (type, id) index: {ix[0]:7.3f} s  {ix[1]:,} events")


if __name__ == "__main__":
    main()
