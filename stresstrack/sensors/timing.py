"""Timestamps for data that arrives without them.

The Heart Rate Service sends RR intervals but no times. A notification received at ``t_recv``
holding intervals ``r_1..r_n`` says the last beat happened at or before ``t_recv`` (radio and
OS delays only ever make data late), and each earlier beat ``r_k`` before the next.

:class:`BeatTimer` chains beats: beat time = previous beat + RR. Each notification also gives
an *anchor* (``t_recv`` minus the RR values after a beat), an upper bound on that beat's true
time. Let ``d`` = anchor - chained time over the last ``window`` notifications:

* ``min(d) < 0``: the chain runs ahead of what is possible → pull it back to the anchor;
* ``min(d) > 0``: the chain runs behind (the strap's clock is slow, or beats were lost
  without a gap big enough to notice) → move it forward by ``min(d)``, the part of the offset
  that transport delay cannot explain;
* ``d > gap_s``: beats are missing (dropped notifications, lost contact) → restart the chain
  at the anchor.

The error of a beat time is therefore bounded by the smallest transport delay seen in the last
``window`` notifications plus the RR quantisation (1/1024 s per beat, which does not
accumulate because the chain is re-anchored). With a strap that notifies once a second that
bound is the notification period itself (the last beat can be up to one period old when
sent), and typically a fraction of it. Times never run backwards.

:class:`ChunkTimer` does the same for sample streams (EDA) with a packet counter: a chunk
follows the previous one exactly when the counter is consecutive, and is re-anchored to the
receive time otherwise.

:class:`DeviceClock` is for devices that stamp their data with their own clock (Polar PMD
frames): it maps device time to UTC with an offset and a skew estimated from receive times,
so the times keep the device's precision instead of the radio's jitter.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from typing import Final

__all__ = ["BeatTimer", "ChunkTimer", "DeviceClock"]

NS: Final = 1_000_000_000


class BeatTimer:
    """Assigns a time to each beat of successive HRS notifications."""

    def __init__(self, *, gap_s: float = 2.5, window: int = 30) -> None:
        self.gap_ns = int(gap_s * NS)
        self._offsets: deque[int] = deque(maxlen=window)
        self._last_ns: int | None = None
        self.resyncs = 0
        self.gap_from_ns: int | None = None  # after a restart: the last beat before the hole

    @property
    def last_ns(self) -> int | None:
        """Time of the last beat placed, or None after a reset."""
        return self._last_ns

    def reset(self) -> None:
        """Forget the chain (after a disconnect)."""
        self._last_ns = None
        self._offsets.clear()

    def times(self, recv_ns: int, rr_ms: Sequence[float]) -> list[int]:
        """Beat times (ns) for the intervals of one notification received at ``recv_ns``."""
        if not rr_ms:
            return []
        rr_ns = [round(r * 1e6) for r in rr_ms]
        # Anchor of the first beat: the receive time minus the intervals that follow it.
        anchor_first = recv_ns - sum(rr_ns[1:])
        self.gap_from_ns = None
        if self._last_ns is None:
            first = anchor_first
        else:
            chained = self._last_ns + rr_ns[0]
            offset = anchor_first - chained
            if abs(offset) > self.gap_ns:
                first = anchor_first  # beats are missing: restart the chain
                self._offsets.clear()
                self.resyncs += 1
                self.gap_from_ns = self._last_ns
            elif offset < 0:
                first = anchor_first  # chain ahead of the possible: pull back
                self._offsets = deque([0], maxlen=self._offsets.maxlen)
            else:
                self._offsets.append(offset)
                lag = min(self._offsets)
                if len(self._offsets) == self._offsets.maxlen and lag > 0:
                    first = chained + lag  # chain lags by more than delay explains
                    self._offsets = deque(
                        (o - lag for o in self._offsets), maxlen=self._offsets.maxlen
                    )
                else:
                    first = chained
        if self._last_ns is not None:
            first = max(first, self._last_ns + 1)  # times never run backwards
        out = [first]
        for r in rr_ns[1:]:
            out.append(out[-1] + r)
        self._last_ns = out[-1]
        return out


class ChunkTimer:
    """Assigns the first-sample time of successive sample chunks (e.g. EDA notifications)."""

    def __init__(self, sampling_rate: float, *, counter_modulo: int | None = 1 << 16) -> None:
        self.sampling_rate = sampling_rate
        self.counter_modulo = counter_modulo
        self._next_ns: int | None = None
        self._next_counter: int | None = None
        self.resyncs = 0
        self.gap_from_ns: int | None = None  # after a resync: when the missing data began

    def reset(self) -> None:
        self._next_ns = None
        self._next_counter = None

    def first_time(self, recv_ns: int, counter: int | None, n: int) -> int:
        span = round((n - 1) * NS / self.sampling_rate)
        anchor = recv_ns - span  # the last sample was taken at or before receipt
        continuous = (
            self._next_ns is not None
            and (counter is None or counter == self._next_counter)
            and abs(anchor - self._next_ns) < 2 * NS
        )
        self.gap_from_ns = None
        if continuous:
            assert self._next_ns is not None
            # Never later than physically possible: pull back to the anchor if needed.
            first = min(self._next_ns, anchor)
        else:
            if self._next_ns is not None:
                self.resyncs += 1
                self.gap_from_ns = self._next_ns
            first = anchor
        self._next_ns = first + round(n * NS / self.sampling_rate)
        if counter is not None:
            self._next_counter = (
                counter + 1 if self.counter_modulo is None else (counter + 1) % self.counter_modulo
            )
        return first


class DeviceClock:
    """Maps a device's own clock (ns, any epoch) to UTC ns from (device time, receive time).

    Every timestamped frame gives a point: device time ``d`` and offset ``o = t_recv - d``.
    Transport delay only ever makes ``o`` larger than the true offset, and the true offset is
    a straight line over minutes (the device crystal runs fast or slow by a constant number
    of ppm). The estimate is therefore the line that lies under every point of the last
    ``window_s`` and is as high as possible at their mean device time: the edge of their
    lower convex hull that spans the mean, the linear-programming skew estimator of Moon,
    Skelly and Towsley ("Estimation and removal of clock skew from network delay
    measurements", IEEE INFOCOM 1999). Points are thinned to the lowest per ``block_s`` of
    device time, so the fit is cheap; it is redone when a block closes or a point falls
    under the line.

    * Until the points span ``min_span_s`` the skew is taken as 0 (the line is the smallest
      offset seen, as in :class:`BeatTimer`).
    * A skew beyond ``max_skew_ppm`` is not a crystal: it is clamped.
    * A point more than ``jump_s`` under the line, or ``jump_count`` points in a row more than
      ``jump_s`` above it, mean the device clock was set or reset: the estimate restarts.

    A mapped time is never later than the receive time of any frame in the window (the line
    lies under every point), so data is never placed after it arrived. Its error is the
    smallest transport delay near the ends of the window, spread by the skew estimate; see
    docs/devices.md for measured figures.
    """

    def __init__(
        self,
        *,
        window_s: float = 300.0,
        block_s: float = 1.0,
        min_span_s: float = 30.0,
        max_skew_ppm: float = 500.0,
        jump_s: float = 2.0,
        jump_count: int = 5,
    ) -> None:
        self.window_ns = int(window_s * NS)
        self.block_ns = int(block_s * NS)
        self.min_span_ns = int(min_span_s * NS)
        self.max_skew = max_skew_ppm * 1e-6
        self.jump_ns = int(jump_s * NS)
        self.jump_count = jump_count
        self._points: deque[tuple[int, int]] = deque()  # closed blocks' lowest (d, o)
        self._block: tuple[int, int] | None = None  # the open block's lowest (d, o)
        self._block_start = 0
        self._line: tuple[int, int, float] | None = None  # (device ns, offset ns there, skew)
        self._last_device_ns = 0
        self._above = 0
        self.resets = 0

    @property
    def ready(self) -> bool:
        return self._line is not None

    @property
    def skew_ppm(self) -> float:
        """The estimated rate error of the device clock (> 0: it runs fast)."""
        return 0.0 if self._line is None else -self._line[2] * 1e6

    def reset(self) -> None:
        self._points.clear()
        self._block = None
        self._line = None
        self._above = 0

    def offset_ns(self, device_ns: int) -> int:
        """The estimated UTC - device offset at ``device_ns``."""
        if self._line is None:
            raise RuntimeError("DeviceClock: no frame seen yet")
        d0, o0, skew = self._line
        return o0 + round(skew * (device_ns - d0))

    def to_utc(self, device_ns: int) -> int:
        """UTC ns of device time ``device_ns``."""
        return device_ns + self.offset_ns(device_ns)

    def update(self, device_ns: int, recv_ns: int) -> None:
        """Add the frame stamped ``device_ns`` by the device and received at ``recv_ns``."""
        offset = recv_ns - device_ns
        if self._line is not None:
            residual = offset - self.offset_ns(device_ns)
            if residual < -self.jump_ns or device_ns < self._last_device_ns - self.jump_ns:
                self._restart()
            elif residual > self.jump_ns:
                self._above += 1
                if self._above >= self.jump_count:
                    self._restart()
            else:
                self._above = 0
        if self._block is None:
            self._block, self._block_start = (device_ns, offset), device_ns
            self._line = (device_ns, offset, 0.0)
            self._last_device_ns = device_ns
            return
        self._last_device_ns = max(self._last_device_ns, device_ns)
        refit = offset < self.offset_ns(device_ns)  # under the line: it must come down
        if device_ns >= self._block_start + self.block_ns:
            self._points.append(self._block)
            while self._points and device_ns - self._points[0][0] > self.window_ns:
                self._points.popleft()
            self._block, self._block_start = (device_ns, offset), device_ns
            refit = True
        elif offset < self._block[1]:
            self._block = (device_ns, offset)
        if refit:
            self._fit()

    def _restart(self) -> None:
        self.reset()
        self.resets += 1

    def _fit(self) -> None:
        assert self._block is not None
        points = sorted([*self._points, self._block])
        d_first, d_last = points[0][0], points[-1][0]
        if len(points) < 2 or d_last - d_first < self.min_span_ns:
            low = min(points, key=lambda p: p[1])
            self._line = (low[0], low[1], 0.0)
            return
        hull = _lower_hull(points)
        mean = sum(p[0] - d_first for p in points) / len(points) + d_first
        # The hull edge over the mean device time (the hull spans all points, so one does).
        (d1, o1), (d2, o2) = next(
            (a, b) for a, b in itertools.pairwise(hull) if a[0] <= mean <= b[0]
        )
        skew = (o2 - o1) / (d2 - d1)
        if abs(skew) > self.max_skew:
            skew = self.max_skew if skew > 0 else -self.max_skew
            # Clamped: the highest line of that skew still under every point.
            o1 = min(o - round(skew * (d - d1)) for d, o in points)
        self._line = (d1, o1, skew)


def _lower_hull(points: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Lower convex hull of points sorted by x (Andrew's monotone chain), in exact integers."""
    hull: list[tuple[int, int]] = []
    for p in points:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) <= 0:
                hull.pop()  # hull[-1] is on or above the segment hull[-2] -> p
            else:
                break
        if not hull or hull[-1][0] != p[0]:
            hull.append(p)
    return hull
