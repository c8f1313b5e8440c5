"""Clocks: collectors take time from a clock object, never from ``time`` directly.

Live collection uses :class:`WallClock`. Demos and tests use :class:`VirtualClock` with
:func:`run_virtual`, an asyncio event loop whose time only advances when every task is
waiting: ``asyncio.sleep(60)`` returns at once, yet the code sees sixty seconds pass. The
very same collector and simulated peripherals therefore run much faster than real time.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

__all__ = ["Clock", "VirtualClock", "WallClock", "run_virtual"]

T = TypeVar("T")


class Clock(Protocol):
    """Where collectors read the current UTC time, in ns since the Unix epoch."""

    def now_ns(self) -> int: ...


class WallClock:
    """The system clock (live collection)."""

    def now_ns(self) -> int:
        return time.time_ns()


class VirtualClock:
    """UTC time of a virtual-time event loop: ``start_ns`` plus the loop's elapsed time."""

    def __init__(self, start_ns: int) -> None:
        self.start_ns = start_ns
        self.elapsed_s = 0.0

    def now_ns(self) -> int:
        return self.start_ns + round(self.elapsed_s * 1e9)

    def advance(self, seconds: float) -> None:
        self.elapsed_s += seconds


class _VirtualSelector(selectors.BaseSelector):
    """A selector that polls real file descriptors without blocking and advances virtual time
    by the timeout the loop would have slept."""

    def __init__(self, clock: VirtualClock) -> None:
        self._real = selectors.DefaultSelector()
        self._clock = clock

    def register(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            # Nothing scheduled: only real I/O (e.g. an executor thread) can wake the loop.
            return self._real.select(None)
        ready = self._real.select(0)
        if not ready and timeout > 0:
            self._clock.advance(timeout)
        return ready

    def close(self) -> None:
        self._real.close()

    def get_map(self) -> Mapping[FileDescriptorLike, selectors.SelectorKey]:
        return self._real.get_map()


class _VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self, clock: VirtualClock) -> None:
        self._vclock = clock
        super().__init__(selector=_VirtualSelector(clock))

    def time(self) -> float:
        return self._vclock.elapsed_s


def run_virtual(coro: Coroutine[Any, Any, T], clock: VirtualClock) -> T:
    """Run ``coro`` to completion on a virtual-time loop driven by ``clock``."""
    loop = _VirtualTimeLoop(clock)
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
