"""The outbox: batches of points taken from the store in order, acknowledged durably.

Four streams, each with its own cursor per target: raw events by ``events.id``, and
features, stress and sessions by their ``seq`` (which a replaced row takes anew, so a
session that closes is shipped again). A cursor only moves after the target accepted the
batch, in one store transaction with the batch's dead letters.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from stresstrack.errors import EventError
from stresstrack.sinks.points import RANKED_TYPES, event_lines, result_line
from stresstrack.store.codec import event_from_payload
from stresstrack.store.sqlite import RESULT_TABLES, Store

__all__ = ["STREAMS", "Batch", "Outbox", "point_counts", "store_points"]

log = logging.getLogger(__name__)

STREAMS: Final = ("events", *RESULT_TABLES)


@dataclass(slots=True)
class Batch:
    """Points of one stream from just after the cursor up to ``last`` (inclusive)."""

    stream: str
    last: int
    lines: list[str]
    positions: list[int] = field(default_factory=list)  # source position of each line


class Outbox:
    """Reads batches for ``target`` (a name such as ``influx http://host:8086 bucket``)."""

    def __init__(self, store: Store, target: str, *, batch_points: int = 5000) -> None:
        if batch_points < 1:
            raise ValueError("batch_points must be at least 1")
        self.store = store
        self.target = target
        self.batch_points = batch_points

    def positions(self) -> dict[str, int]:
        found = self.store.sink_positions(self.target)
        return {s: found.get(s, 0) for s in STREAMS}

    def next_batch(self, stream: str, after: int) -> Batch | None:
        """The next batch of ``stream`` after position ``after``, or ``None`` when caught up."""
        if stream == "events":
            return self._event_batch(after)
        rows = self.store.result_rows_after(stream, after, self.batch_points)
        if not rows:
            return None
        return Batch(
            stream,
            rows[-1][0],
            [result_line(r) for _, r in rows],
            [seq for seq, _ in rows],
        )

    def _event_batch(self, after: int) -> Batch | None:
        # Rows are read in small chunks until the batch holds enough points: an EDA or
        # waveform event makes many points, a beat one.
        batch = Batch("events", after, [])
        while len(batch.lines) < self.batch_points:
            rows = self.store.event_rows_after(batch.last, min(1000, self.batch_points))
            if not rows:
                break
            for row in rows:
                try:  # a stored event outside the limits (an older release): never shipped
                    event_from_payload(*row[1:])
                except EventError as exc:
                    log.error("event %d not shipped: %s", row[0], exc)
                    batch.last = row[0]
                    continue
                rank = self.store.same_instant_rank(row) if row[1] in RANKED_TYPES else 0
                points = event_lines(row, rank)
                batch.lines += points
                batch.positions += [row[0]] * len(points)
                batch.last = row[0]
                if len(batch.lines) >= self.batch_points:
                    break
        return None if batch.last == after else batch

    def ack(self, batch: Batch, dead: list[tuple[int, int, str, str]], rejected_ns: int) -> None:
        """The target took ``batch`` (but the ``dead`` lines): move the cursor past it."""
        self.store.advance_sink(
            self.target, batch.stream, batch.last, dead, rejected_ns=rejected_ns
        )

    def pending_points(self) -> int:
        """Points not yet delivered (EDA and waveform chunks count one per sample)."""
        counts = self.store.pending_counts(self.positions())
        return sum(points for _rows, points in counts.values())


def store_points(store: Store, *, batch_points: int = 20_000) -> Iterator[str]:
    """Every point the store makes, in outbox order (for checks against a replica)."""
    outbox = Outbox(store, "", batch_points=batch_points)
    for stream in STREAMS:
        after = 0
        while (batch := outbox.next_batch(stream, after)) is not None:
            yield from batch.lines
            after = batch.last


def point_counts(store: Store) -> Counter[str]:
    """Points per measurement that the store makes: what a caught-up replica holds."""
    return Counter(p[: _measurement_end(p)] for p in store_points(store))


def _measurement_end(point: str) -> int:
    # Measurement names are plain identifiers (MEASUREMENTS): they end at "," or " ".
    comma, space = point.find(","), point.find(" ")
    return space if comma < 0 else min(comma, space)
