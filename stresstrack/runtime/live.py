"""Live sources run against a runtime: BLE collectors, other feeds (LSL inlets) and a
protocol's marks.

The store and pipeline stay at most :data:`FLUSH_EVERY_S` behind the devices, so a crash loses
at most the last second.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from stresstrack.runtime.core import Runtime
from stresstrack.runtime.marks import ProtocolMarks
from stresstrack.runtime.status import LiveStatus

if TYPE_CHECKING:
    from stresstrack.clock import Clock
    from stresstrack.sensors.collector import DeviceCollector

__all__ = ["FLUSH_EVERY_S", "SHUTDOWN_S", "Feed", "flush_until_done", "run_live"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Feed:
    """A source other than a BLE collector (e.g. an LSL inlet's pump) feeding the runtime
    until ``stop``; ``finite``: it may end by itself (a recorded LSL stream closing)."""

    work: Coroutine[Any, Any, object]
    finite: bool = False


FLUSH_EVERY_S: Final = 0.5  # store and pipeline at most this far behind the devices
SHUTDOWN_S: Final = 15.0  # how long stopping streams and disconnecting may take


async def run_live(
    runtime: Runtime,
    collectors: Sequence[DeviceCollector],
    marks: ProtocolMarks | None,
    status: LiveStatus,
    clock: Clock,
    stop: asyncio.Event,
    reason: list[str],
    feeds: Sequence[Feed] = (),
    duration_s: float | None = None,
) -> bool:
    """Run the sources until ``stop`` (or ``duration_s``, the protocol's end, the end of
    every finite feed when there is no collector): flush the runtime and refresh ``status``
    every FLUSH_EVERY_S; then give the collectors :data:`SHUTDOWN_S` to disconnect. True if a
    second signal cut the shutdown short."""
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[object]] = [asyncio.create_task(c.run(stop)) for c in collectors]
    sources = [asyncio.create_task(f.work) for f in feeds]
    tasks += sources
    finite = [t for t, f in zip(sources, feeds, strict=True) if f.finite]
    marking = asyncio.create_task(marks.run()) if marks is not None else None
    deadline = None if duration_s is None else loop.time() + duration_s
    interrupted = False
    try:
        while not stop.is_set():
            wait = FLUSH_EVERY_S if deadline is None else min(FLUSH_EVERY_S, deadline - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, wait))
            runtime.flush()
            status.refresh(clock.now_ns())
            if deadline is not None and loop.time() >= deadline:
                reason[0] = f"{duration_s:g} s elapsed"
                stop.set()
            elif marking is not None and marking.done() and duration_s is None:
                reason[0] = "protocol finished"
                stop.set()
            elif not collectors and finite and all(t.done() for t in finite):
                reason[0] = "LSL sources closed"
                stop.set()
        _done, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_S)
        if pending:
            status.message(f"{len(pending)} device(s) did not disconnect in {SHUTDOWN_S:g} s")
    except asyncio.CancelledError:
        interrupted = True
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
    finally:
        for task in [*tasks, *([marking] if marking is not None else [])]:
            task.cancel()
        await asyncio.gather(*tasks, *([marking] if marking else []), return_exceptions=True)
    return interrupted


async def flush_until_done(runtime: Runtime, work: Awaitable[T]) -> T:
    """Await ``work`` (a source feeding ``runtime``), flushing the runtime every
    :data:`FLUSH_EVERY_S` meanwhile: the store is at most that far behind."""
    task = asyncio.ensure_future(work)
    while not task.done():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), timeout=FLUSH_EVERY_S)
        runtime.flush()
    return await task
