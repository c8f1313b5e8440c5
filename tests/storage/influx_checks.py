"""Helpers of the storage tests: compare a store with what the real InfluxDB holds."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from servers import InfluxServer

from stresstrack.pipeline import Pipeline
from stresstrack.session.protocol import Protocol
from stresstrack.session.recorder import Recorder
from stresstrack.simulators.study import StudyPlan, simulate_study
from stresstrack.sinks import MEASUREMENTS
from stresstrack.sinks.outbox import point_counts, store_points
from stresstrack.store import Store


def influx_counts(server: InfluxServer, db: str) -> dict[str, int]:
    """Points per measurement in the real server (InfluxQL COUNT), zeros left out."""
    counts = {m: server.count(m, db=db) for m in MEASUREMENTS}
    return {m: n for m, n in counts.items() if n}


def store_counts(path: Path, *, raw: bool = False) -> dict[str, int]:
    with Store(path, readonly=True) as store:
        return dict(point_counts(store, raw=raw))


def distinct_series_times(path: Path, *, raw: bool = False) -> tuple[int, int]:
    """``(points, distinct series+timestamp)`` the store makes: equal when none collide."""
    with Store(path, readonly=True) as store:
        keys = Counter()
        for p in store_points(store, raw=raw):
            head = p.split(" ", 1)[0]  # our tags hold no escaped space in these tests
            keys[(head, p.rsplit(" ", 1)[1])] += 1
    return sum(keys.values()), len(keys)


def simulate_into(path: Path, participants: int, protocol: Protocol, seed: int = 1) -> Store:
    """Run a simulated study through the recorder into ``path``; returns the open store."""
    store = Store(path)
    recorder = Recorder(store, Pipeline())
    simulate_study(StudyPlan(participants=participants, seed=seed, protocol=protocol), recorder)
    recorder.close()
    return store
