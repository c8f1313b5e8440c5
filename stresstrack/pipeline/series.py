"""A growing, trimmed numpy series of (time, value) samples: the pipeline's EDA buffer.

Samples arrive in chunks and leave from the front once no window can reach them. Held as two
numpy arrays (times int64, values float64) with spare room at the end, so a window is a view
(no conversion of Python lists every hop) and finding it is a binary search.

>>> s = TimeSeries()
>>> s.extend(np.array([10, 20, 30], dtype=np.int64), (1.0, 2.0, 3.0))
>>> s.extend(np.array([40, 50], dtype=np.int64), (4.0, 5.0))
>>> lo, hi = s.span(15, 40)  # samples in (15, 40]
>>> s.t[lo:hi].tolist(), s.v[lo:hi].tolist(), s.last
([20, 30, 40], [2.0, 3.0, 4.0], 50)
>>> s.trim(30)  # samples before 30 leave
>>> s.t.tolist(), len(s)
([30, 40, 50], 3)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["TimeSeries"]


class TimeSeries:
    """Times (ns, non-decreasing) and values; ``t`` and ``v`` are views of the held samples."""

    __slots__ = ("_hi", "_lo", "_t", "_v")

    def __init__(self) -> None:
        self._t = np.zeros(0, dtype=np.int64)
        self._v = np.zeros(0, dtype=np.float64)
        self._lo = 0
        self._hi = 0

    def __len__(self) -> int:
        return self._hi - self._lo

    @property
    def t(self) -> npt.NDArray[np.int64]:
        return self._t[self._lo : self._hi]

    @property
    def v(self) -> npt.NDArray[np.float64]:
        return self._v[self._lo : self._hi]

    @property
    def last(self) -> int:
        """Time of the newest sample (IndexError when empty)."""
        if self._hi == self._lo:
            raise IndexError("empty series")
        return int(self._t[self._hi - 1])

    def extend(self, times: npt.NDArray[np.int64], values: Sequence[float]) -> None:
        n = times.size
        if self._hi + n > self._t.size:
            self._compact(n)
        self._t[self._hi : self._hi + n] = times
        self._v[self._hi : self._hi + n] = values
        self._hi += n

    def _compact(self, room: int) -> None:
        """Move the held samples to the front, growing the arrays if ``room`` does not fit."""
        held = self._hi - self._lo
        size = max(self._t.size, 1024)
        while held + room > size // 2:  # keep half free: compaction stays rare
            size *= 2
        t, v = np.empty(size, dtype=np.int64), np.empty(size, dtype=np.float64)
        t[:held], v[:held] = self._t[self._lo : self._hi], self._v[self._lo : self._hi]
        self._t, self._v, self._lo, self._hi = t, v, 0, held

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Index range (into ``t`` and ``v``) of the samples in (start, end]."""
        lo, hi = np.searchsorted(self.t, (start, end), side="right")
        return int(lo), int(hi)

    def trim(self, before: int) -> None:
        """Drop the samples timed before ``before``."""
        self._lo += int(np.searchsorted(self.t, before, side="left"))
