"""Crash safety: after ``kill -9`` at any moment the store opens cleanly (integrity check ok)
and holds every transaction committed before the kill; at most the one in flight is lost."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from stresstrack.store import Store

BATCH = 200
# Writes batches for ever: events (one transaction), results with a replaced session (one
# transaction), a sink cursor (one transaction); prints the batch number once all three are
# committed.
WRITER = f"""
import sys
from stresstrack.events import Beat
from stresstrack.pipeline.results import FeatureRow, Session
from stresstrack.store import Store

T0 = 1_767_603_600_000_000_000
with Store(sys.argv[1]) as store:
    k = 0
    while True:
        k += 1
        run = sys.argv[2]
        p = f"r{{run}}-{{k}}"
        store.add_events(
            [Beat(time_ns=T0 + i, participant=p, rr_ms=800.0 + i) for i in range({BATCH})]
        )
        store.add_results(
            [FeatureRow(time_ns=T0, participant=p, study="s", values={{"rmssd_ms": 1.0 * k}})],
            sessions=[Session(participant="all", study="s", kind=run, start_ns=T0, end_ns=k)],
        )
        store.advance_sink("t", run, k)
        print(k, flush=True)
"""


def _batches(store: Store) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in store.iter_events():
        counts[e.participant] = counts.get(e.participant, 0) + 1
    return counts


def test_kill_9_at_random_moments_loses_at_most_the_transaction_in_flight(
    tmp_path: Path,
) -> None:
    rng = random.Random(5)
    path = tmp_path / "crash.db"
    last_printed = 0
    for round_no in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(round_no)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # wait until this writer has committed something
        assert first.strip(), f"writer died: {proc.wait()}"
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        out = first + proc.stdout.read()
        proc.stdout.close()
        proc.wait()
        printed = [int(x) for x in out.split()]
        assert printed, f"round {round_no}: nothing committed"
        last_printed = printed[-1]

        with Store(path, readonly=True) as store:
            assert store.integrity_check() == "ok"
            counts = _batches(store)
            prefix = f"r{round_no}-"
            done = sorted(int(p[len(prefix) :]) for p in counts if p.startswith(prefix))
            highest = max(done)
            # Every committed batch is there, whole; at most one more (committed, not printed).
            assert last_printed <= highest <= last_printed + 1
            assert set(done) == set(range(1, highest + 1))
            assert all(n == BATCH for n in counts.values())
            features = {f.participant for f in store.features() if f.participant.startswith(prefix)}
            assert {f"{prefix}{k}" for k in range(1, last_printed + 1)} <= features
            assert features <= set(counts)  # results never without their events
            (session,) = [s for s in store.sessions() if s.kind == str(round_no)]
            assert session.end_ns in (last_printed, last_printed + 1)
            assert store.sink_positions("t")[str(round_no)] >= last_printed
            rounds_seen = {p.split("-")[0] for p in counts}
            assert rounds_seen == {f"r{r}" for r in range(round_no + 1)}  # earlier rounds kept
        with Store(path) as store:  # opens for writing too (WAL recovered)
            assert store.integrity_check() == "ok"
