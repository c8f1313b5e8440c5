"""The runtime: one store, the pipeline over it, the sinks that follow it, and live counts.

Every entry point is a *source* that hands events to :meth:`Runtime.emit`: BLE collectors and
LSL inlets (``collect``), the simulated study (``demo``), recorded files (``replay``), an MQTT
subscription (``pipeline``), the companion's WebSocket (``serve``). The runtime stores them
first and runs them through its pipeline in store order
(:class:`~stresstrack.session.recorder.Recorder`); pipeline observers
(:meth:`~stresstrack.pipeline.engine.Pipeline.observe`) see what goes in and comes out (live
values, the LSL outlet); sinks that follow the store file from their own thread (the InfluxDB
replica, the MQTT publisher) run beside it while it writes (:func:`following`).

>>> import tempfile
>>> from pathlib import Path
>>> from stresstrack.events import Marker, MarkerAction
>>> from stresstrack.pipeline.engine import Pipeline
>>> from stresstrack.store.sqlite import Store
>>> with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "s.db") as store:
...     runtime = Runtime(store, Pipeline())
...     runtime.emit([Marker(time_ns=1_767_603_600 * 10**9, participant="p-01",
...                          action=MarkerAction.START, kind="baseline")])
...     runtime.close()
...     (runtime.events, dict(runtime.counts), store.count("events"))
(1, {'marker': 1}, 1)
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from stresstrack.events import EVENT_TYPE_NAMES, Event
from stresstrack.session.recorder import Recorder

__all__ = ["Follower", "FollowerReport", "Runtime", "StoreFollower", "following"]


class FollowerReport(Protocol):
    """What a store follower says when it stops: delivered everything, or what waits."""

    @property
    def delivered(self) -> bool: ...

    def summary(self) -> str: ...


class StoreFollower(Protocol):
    """A sink that follows the store file from its own thread (InfluxDB replica, MQTT
    publisher): whatever it cannot deliver now waits in the store for it."""

    def start(self) -> None: ...

    def close(self, wait_s: float) -> FollowerReport: ...


@dataclass(frozen=True, slots=True)
class Follower:
    """A store follower and how long, at the end, it may go without progress.

    ``advice``, when given, adds a front end's own line to the summary of a report that left
    data behind (the CLI: the ``stresstrack sync`` command that sends it later).
    """

    sink: StoreFollower
    wait_s: float
    advice: Callable[[Any], str] | None = None


@contextlib.contextmanager
def following(followers: Iterable[Follower | None]) -> Iterator[None]:
    """Run ``followers`` beside the block (create the store first); on exit close them in
    reverse order, each given its wait, and print what each delivered or left queued."""
    started: list[Follower] = []
    try:
        for f in followers:
            if f is not None:
                f.sink.start()
                started.append(f)
        yield
    finally:
        for f in reversed(started):
            report = f.sink.close(f.wait_s)
            text = report.summary()
            if f.advice is not None and not report.delivered:
                text += "\n" + f.advice(report)
            print(text, file=sys.stdout if report.delivered else sys.stderr, flush=True)


class Runtime(Recorder):
    """Events in, stored, through the pipeline, counted by type.

    Built like its :class:`~stresstrack.session.recorder.Recorder` (store, pipeline, batch
    size, ``live`` clock check, ``source`` name, ``idempotent`` replays, ...); adds the counts
    a live view and a summary show.
    """

    @functools.cached_property
    def counts(self) -> Counter[str]:
        """Events taken, by type name."""
        return Counter()

    def emit(self, events: Sequence[Event]) -> None:
        """Take events from a source (the :class:`~stresstrack.session.recorder.EventSink`)."""
        self.counts.update(EVENT_TYPE_NAMES[type(e)] for e in events)
        super().emit(events)
