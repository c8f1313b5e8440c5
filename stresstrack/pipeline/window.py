"""One window of beats: the single definition every HRV feature family reads.

A :class:`BeatWindow` is built once per window by :func:`beat_window` from one source's
corrected beats, and is frozen: the time domain, the spectrum and DFA all see the same
intervals, the same corrected flags and the same successive pairs, whichever method
(``fast`` or ``neurokit``) computes them.

Beat times in the window follow the chain of intervals: within a run of successive beats,
each beat lies exactly its interval after the previous one, anchored on the run's last
recorded beat. Artefact correction changes intervals (a moved ectopic beat, an inserted or
merged beat) and a strap's reconstructed beat times may be re-anchored by a few hundred ms;
recorded times would then disagree with the intervals, and NeuroKit2 drops every successive
difference whose time step differs from the interval by more than 10 ms
(``intervals_successive``), so the two methods would compute different things. With chain
times, times and intervals are consistent by construction and only real breaks (a gap, a new
segment) make a pair non-successive. Below, the third beat was re-anchored 50 ms late: it
keeps its interval and the earlier beats move with it.

>>> import numpy as np
>>> w = beat_window("hrs", np.array([1_000, 1_800, 2_700]) * 1_000_000,
...                 np.array([800.0, 800.0, 850.0]), np.zeros(3, dtype=bool),
...                 np.zeros(3, dtype=bool), {}, start_ns=0, end_ns=3_000_000_000)
>>> np.round(w.times_s, 3).tolist(), w.successive.tolist(), round(w.coverage, 3)
([1.05, 1.85, 2.7], [True, True], 0.817)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["ARTEFACT_TYPES", "MAX_BEAT_GAP_S", "BeatWindow", "beat_window"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
NS: Final = 1_000_000_000
# A beat whose interval misses the previous beat's recorded time by more than this does not
# follow it (a gap); smaller mismatches are re-anchored strap beat times (sensors/timing.py).
MAX_BEAT_GAP_S: Final = 3.0
# Lipponen & Tarvainen 2019's classes, as NeuroKit2's signal_fixpeaks(method="kubios") names them.
ARTEFACT_TYPES: Final = ("ectopic", "missed", "extra", "longshort")


@dataclass(frozen=True, slots=True)
class BeatWindow:
    """Beats of one window: ``times_s`` (from the window start, consistent with the
    intervals), ``rr_ms``, ``corrected`` flags, ``successive`` (pair i, i+1 are consecutive
    beats), ``coverage`` (share of the window the intervals cover) and artefact counts."""

    source: str
    times_s: FloatArray
    rr_ms: FloatArray
    corrected: BoolArray
    successive: BoolArray
    coverage: float
    artefacts: Mapping[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.rr_ms.size)

    @property
    def gaps(self) -> int:
        """Breaks in the chain of beats inside the window."""
        return int(self.successive.size - np.count_nonzero(self.successive))

    @property
    def corrected_share(self) -> float:
        return float(self.corrected.mean()) if self.rr_ms.size else 0.0


def _empty() -> BeatWindow:
    z = np.zeros(0)
    return BeatWindow("", z, z, np.zeros(0, dtype=bool), np.zeros(0, dtype=bool), 0.0)


EMPTY: Final = _empty()


def beat_window(
    source: str,
    time_ns: npt.NDArray[np.int64],
    rr_ms: FloatArray,
    corrected: BoolArray,
    segment_start: BoolArray,
    artefacts: Mapping[str, int],
    *,
    start_ns: int,
    end_ns: int,
) -> BeatWindow:
    """The window (start, end] of one source's beats (recorded times ``time_ns``)."""
    n = rr_ms.size
    if n == 0:
        return EMPTY
    rec_s = (np.asarray(time_ns, dtype=np.int64) - start_ns) / 1e9
    rr = np.asarray(rr_ms, dtype=float)
    # Pair (i, i+1) is successive unless beat i+1 starts a segment or its interval does not
    # reach beat i's recorded time (MAX_BEAT_GAP_S).
    reach = rec_s[1:] - rr[1:] / 1000.0
    successive = ~np.asarray(segment_start[1:], dtype=bool) & (
        np.abs(reach - rec_s[:-1]) <= MAX_BEAT_GAP_S
    )
    # Chain times: each run of successive beats anchored on its last recorded beat.
    cs = np.cumsum(rr) / 1000.0
    if successive.all():  # one run (the usual window): the same arithmetic, one anchor
        times = cs - cs[n - 1] + rec_s[n - 1]
    else:
        run = np.concatenate(([0], np.cumsum(~successive)))
        last = np.flatnonzero(np.append(run[1:] != run[:-1], True))  # last beat of each run
        times = cs - cs[last][run] + rec_s[last][run]
    coverage = min(1.0, float(rr.sum()) * 1e6 / (end_ns - start_ns))
    return BeatWindow(
        source, times, rr, np.asarray(corrected, dtype=bool), successive, coverage,
        dict(artefacts),
    )  # fmt: skip
