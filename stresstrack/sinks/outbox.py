"""The outbox: batches of points taken from the store in order, acknowledged durably.

Five streams, each with its own cursor per target: events by ``events.id`` (``events``:
beats, readings, markers, status; ``raw``: the raw signal samples of EDA and waveform
chunks), and features, stress and sessions by their ``seq`` (which a replaced row takes
anew, so a session that closes is shipped again). A cursor only moves after the target
accepted the batch, in one store transaction with the batch's dead letters.

The ``raw`` stream is shipped only when asked (``raw=True``, ``--influx-raw``): without it
its cursor stays where it is and its events are not pending, so turning it on later sends
every raw sample stored since the cursor, from the start of the store (docs/schema.md).
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

__all__ = ["RAW_STREAM", "STREAMS", "Batch", "Outbox", "point_counts", "store_points"]

log = logging.getLogger(__name__)

RAW_STREAM: Final = "raw"
STREAMS: Final = ("events", RAW_STREAM, *RESULT_TABLES)


@dataclass(slots=True)
class Batch:
    """Points of one stream from just after the cursor up to ``last`` (inclusive)."""

    stream: str
    last: int
    lines: list[str]
    positions: list[int] = field(default_factory=list)  # source position of each line


class Outbox:
    """Reads batches for ``target`` (a name such as ``influx http://host:8086 bucket``);
    the raw signal samples only with ``raw``."""

    def __init__(
        self, store: Store, target: str, *, batch_points: int = 5000, raw: bool = False
    ) -> None:
        if batch_points < 1:
            raise ValueError("batch_points must be at least 1")
        self.store = store
        self.target = target
        self.batch_points = batch_points
        self.streams: tuple[str, ...] = tuple(s for s in STREAMS if raw or s != RAW_STREAM)

    def positions(self) -> dict[str, int]:
        """The cursors of the streams this outbox ships."""
        found = self.store.sink_positions(self.target)
        return {s: found.get(s, 0) for s in self.streams}

    def next_batch(self, stream: str, after: int) -> Batch | None:
        """The next batch of ``stream`` after position ``after``, or ``None`` when caught up."""
        if stream in ("events", RAW_STREAM):
            return self._event_batch(stream, after)
        rows = self.store.result_rows_after(stream, after, self.batch_points)
        if not rows:
            return None
        return Batch(
            stream,
            rows[-1][0],
            [result_line(r) for _, r in rows],
            [seq for seq, _ in rows],
        )

    def _event_batch(self, stream: str, after: int) -> Batch | None:
        # Rows are read in small chunks until the batch holds enough points: an EDA or
        # waveform event makes many points, a beat one.
        batch = Batch(stream, after, [])
        raw = stream == RAW_STREAM
        while len(batch.lines) < self.batch_points:
            rows = self.store.event_rows_after(batch.last, min(1000, self.batch_points), raw=raw)
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
        """Points not yet delivered (EDA and waveform chunks count one per sample); raw
        samples only when this outbox ships them."""
        counts = self.store.pending_counts(self.positions())
        return sum(counts[s][1] for s in self.streams)


def store_points(store: Store, *, batch_points: int = 20_000, raw: bool = False) -> Iterator[str]:
    """Every point the store makes, in outbox order (for checks against a replica); the raw
    signal samples only with ``raw``."""
    outbox = Outbox(store, "", batch_points=batch_points, raw=raw)
    for stream in outbox.streams:
        after = 0
        while (batch := outbox.next_batch(stream, after)) is not None:
            yield from batch.lines
            after = batch.last


def point_counts(store: Store, *, raw: bool = False) -> Counter[str]:
    """Points per measurement that the store makes: what a caught-up replica holds (one
    that ships the raw signal samples with ``raw``)."""
    return Counter(p[: _measurement_end(p)] for p in store_points(store, raw=raw))


def _measurement_end(point: str) -> int:
    # Measurement names are plain identifiers (MEASUREMENTS): they end at "," or " ".
    comma, space = point.find(","), point.find(" ")
    return space if comma < 0 else min(comma, space)
