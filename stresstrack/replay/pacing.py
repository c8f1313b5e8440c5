"""Replay at a chosen speed: events are let through when their time comes.

``speed`` 0 lets everything through at once (as fast as the CPU allows); 1 replays in real
time, for demonstrations to live dashboards; N replays N times faster than real time. Time is
event time: an event is due ``(its time - the first event's time) / speed`` after the start.
Stores hold events in arrival order, which may step back a little; the pace follows the
latest event time seen, so it never waits for an event that is late.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Final

from stresstrack.events import Event

__all__ = ["pace"]

NS: Final = 1_000_000_000


def pace(
    events: Iterable[Event],
    speed: float,
    *,
    on_wait: Callable[[], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Event]:
    """Yield ``events`` no earlier than their time allows at ``speed``.

    ``on_wait`` runs before each pause (the replay flushes what it holds, so dashboards see
    the data as it becomes due).
    """
    if speed < 0:
        raise ValueError(f"speed must be 0 (as fast as possible) or more, got {speed:g}")
    if speed == 0:
        yield from events
        return
    start_wall: float | None = None
    first_ns = 0
    latest_ns = 0
    for event in events:
        if start_wall is None:
            start_wall = clock()
            first_ns = latest_ns = event.time_ns
        latest_ns = max(latest_ns, event.time_ns)
        wait = start_wall + (latest_ns - first_ns) / NS / speed - clock()
        if wait > 0:
            if on_wait is not None:
                on_wait()
            sleep(wait)
        yield event
