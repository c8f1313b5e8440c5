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
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Final

__all__ = ["BeatTimer", "ChunkTimer"]

NS: Final = 1_000_000_000


class BeatTimer:
    """Assigns a time to each beat of successive HRS notifications."""

    def __init__(self, *, gap_s: float = 2.5, window: int = 30) -> None:
        self.gap_ns = int(gap_s * NS)
        self._offsets: deque[int] = deque(maxlen=window)
        self._last_ns: int | None = None
        self.resyncs = 0

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
        if self._last_ns is None:
            first = anchor_first
        else:
            chained = self._last_ns + rr_ns[0]
            offset = anchor_first - chained
            if abs(offset) > self.gap_ns:
                first = anchor_first  # beats are missing: restart the chain
                self._offsets.clear()
                self.resyncs += 1
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
        if continuous:
            assert self._next_ns is not None
            # Never later than physically possible: pull back to the anchor if needed.
            first = min(self._next_ns, anchor)
        else:
            if self._next_ns is not None:
                self.resyncs += 1
            first = anchor
        self._next_ns = first + round(n * NS / self.sampling_rate)
        if counter is not None:
            self._next_counter = (
                counter + 1 if self.counter_modulo is None else (counter + 1) % self.counter_modulo
            )
        return first
