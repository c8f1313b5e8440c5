"""The sink every source writes to: raw events to the store, then through the pipeline.

Events are stored first, in batches (one transaction each), in the order they arrived; the
pipeline sees them in that same order, so replaying a store reproduces its results exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from stresstrack.events import Event
from stresstrack.pipeline.engine import Output, Pipeline
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.store.sqlite import Store

__all__ = ["EventSink", "Recorder", "split_outputs"]


class EventSink(Protocol):
    def emit(self, events: Sequence[Event]) -> None: ...


def split_outputs(
    outputs: Sequence[Output],
) -> tuple[list[FeatureRow], list[StressRow], list[Session]]:
    features = [o for o in outputs if isinstance(o, FeatureRow)]
    stress = [o for o in outputs if isinstance(o, StressRow)]
    sessions = [o for o in outputs if isinstance(o, Session)]
    return features, stress, sessions


class Recorder:
    """Stores raw events (unless ``store_raw`` is false, as in replay) and runs the pipeline."""

    def __init__(
        self,
        store: Store,
        pipeline: Pipeline | None,
        *,
        batch: int = 256,
        store_raw: bool = True,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.batch = batch
        self.store_raw = store_raw
        self._pending: list[Event] = []
        self.events = 0
        self.results = 0

    def emit(self, events: Sequence[Event]) -> None:
        self._pending.extend(events)
        if len(self._pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        if self.store_raw:
            self.store.add_events(pending)
        self.events += len(pending)
        if self.pipeline is not None:
            self._write(self.pipeline.process_many(pending))

    def close(self) -> None:
        """Flush what is pending and let the pipeline finish its last windows."""
        self.flush()
        if self.pipeline is not None:
            self._write(self.pipeline.finish())

    def _write(self, outputs: Sequence[Output]) -> None:
        if outputs:
            self.results += len(outputs)
            self.store.add_results(*split_outputs(outputs))
