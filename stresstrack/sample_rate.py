"""Sample times of regularly sampled signals from their timestamps, on real device clocks.

A device's crystal is not its nominal rate: a Polar H10's "130 Hz" ECG arrives at about
130.24 samples per second of the receiver's clock, and each notification's time is its
receive time, late by a variable BLE delay. Timing samples as ``t0 + n / nominal`` therefore
drifts by ~2 ms per second, and comparing each chunk's time to that prediction sees jitter
and drift as gaps. Two tools here time samples from an *effective* rate fitted to the
timestamps instead:

* :class:`SampleClock` — streaming: fed ``(chunk time, number of samples)``, it fits time on
  sample index by weighted least squares with forgetting (time constant ``FORGET_S``),
  leaving out chunks whose residual is far beyond the typical jitter, with the nominal rate
  as a weak prior. A chunk that misses the fitted line by more than ``gap_s`` (default
  :func:`gap_threshold_s`) starts a new segment: a real gap (lost packets, a reconnection).
* :func:`estimate_rate` — a whole recording's timestamps at once (the importers): the pooled
  least-squares slope of time on sample index within the segments between gaps, after
  trimming outliers. Robust to millisecond-rounded, batched or jittered times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "MIN_FIT_SAMPLES",
    "RateEstimate",
    "RateFit",
    "SampleClock",
    "estimate_rate",
    "gap_threshold_s",
]

NS: Final = 1_000_000_000
FloatArray = npt.NDArray[np.float64]
FORGET_S: Final = 20.0  # the fit follows a wandering clock (loggers: +-0.2 s over minutes)
PRIOR_S: Final = 5.0  # the nominal rate weighs like a few points spread over 5 s of data
# BLE delivery jitter stays well below MIN_GAP_S; one lost 73-sample H10 packet is 0.56 s.
MIN_GAP_S: Final = 0.3
GAP_PERIODS: Final = 3.0  # at low rates, a gap is at least three sample periods
OUTLIER_SCALES: Final = 6.0  # residuals beyond this many typical residuals stay out of the fit
MIN_SCALE_S: Final = 0.0005
MIN_RATE_HZ: Final = 0.001
FIT_POINTS: Final = 200_000
BLOCK: Final = 256  # samples per block of the first period
# Readers fit a file's rate from at least this many timestamps; a shorter stream keeps the
# rate its format states (too few points to tell jitter from rate).
MIN_FIT_SAMPLES: Final = 100


def gap_threshold_s(rate_hz: float) -> float:
    """Departure of a timestamp from the fitted clock, in s, that counts as a gap."""
    return max(MIN_GAP_S, GAP_PERIODS / rate_hz)


@dataclass
class SampleClock:
    """Sample times of one stream: ``add`` each chunk, then ``time_ns(i)`` of sample ``i``.

    Indices count samples since the start of the current segment; :meth:`add` returns True
    when a chunk starts a new segment (and its first sample is then index 0).

    >>> clock = SampleClock(130.0)
    >>> for k in range(200):  # a device whose 73-sample chunks come at 130.24 Hz
    ...     _ = clock.add(round(k * 73 / 130.24 * 1e9) + (k % 3) * 4_000_000, 73)
    >>> round(clock.rate_hz, 2)
    130.24
    """

    nominal_rate: float
    gap_s: float | None = None
    n: int = 0  # samples in the current segment
    segments: int = 0
    _t0: int = 0
    _sums: list[float] = field(default_factory=lambda: [0.0] * 5)  # w, wx, wy, wxx, wxy
    _scale: float = 0.005  # typical |residual| (s), an exponential average
    _a: float = 0.0  # fitted: time (s, relative to _t0) = _a + index * (1/nominal + _c)
    _c: float = 0.0

    def __post_init__(self) -> None:
        if not self.nominal_rate > 0:
            raise ValueError(f"sampling rate must be > 0, got {self.nominal_rate}")
        if self.gap_s is None:
            self.gap_s = gap_threshold_s(self.nominal_rate)

    @property
    def period_s(self) -> float:
        return 1.0 / self.nominal_rate + self._c

    @property
    def rate_hz(self) -> float:
        return 1.0 / self.period_s

    def residual_s(self, time_ns: int) -> float:
        """How far a chunk starting now misses the fitted clock (s); 0 before any data."""
        if self.segments == 0:
            return 0.0
        return (time_ns - self._t0) / NS - self.n / self.nominal_rate - self._a - self._c * self.n

    def add(self, time_ns: int, samples: int) -> bool:
        """A chunk of ``samples`` whose first sample was stamped ``time_ns``; True at a gap."""
        assert self.gap_s is not None
        res = self.residual_s(time_ns)
        new = self.segments == 0 or abs(res) > self.gap_s
        if new:
            self.segments += 1
            self.n, self._t0, self._a, self._c = 0, time_ns, 0.0, 0.0
            self._sums = [0.0] * 5
            res = 0.0
        if new or abs(res) <= max(OUTLIER_SCALES * self._scale, 2 * MIN_SCALE_S):
            self._update(self.n, (time_ns - self._t0) / NS - self.n / self.nominal_rate, samples)
            self._scale = 0.95 * self._scale + 0.05 * max(abs(res), MIN_SCALE_S)
        else:
            self._scale = 0.95 * self._scale + 0.05 * OUTLIER_SCALES * self._scale
        self.n += samples
        return new

    def _update(self, x: float, y: float, samples: int) -> None:
        keep = math.exp(-samples / self.nominal_rate / FORGET_S)
        s = self._sums
        for k in range(5):
            s[k] *= keep
        s[0] += 1.0
        s[1] += x
        s[2] += y
        s[3] += x * x
        s[4] += x * y
        w, mx, my = s[0], s[1] / s[0], s[2] / s[0]
        sxx = s[3] - w * mx * mx
        sxy = s[4] - w * mx * my
        prior = 4.0 * (PRIOR_S * self.nominal_rate) ** 2 / 12.0
        self._c = sxy / (sxx + prior)
        self._a = my - self._c * mx

    def time_ns(self, i: int) -> int:
        """Fitted time of sample ``i`` of the current segment."""
        return self._t0 + round((self._a + i * self.period_s) * NS)

    def times_ns(self, first: int, count: int) -> npt.NDArray[np.int64]:
        """Fitted times of samples ``first .. first + count - 1``."""
        idx = np.arange(first, first + count, dtype=np.float64)
        return self._t0 + np.round((self._a + idx * self.period_s) * NS).astype(np.int64)


@dataclass(frozen=True, slots=True)
class RateEstimate:
    rate_hz: float
    gap_s: float
    segment_starts: tuple[int, ...]  # sample indices where a gap starts a new segment


def _first_period(t: FloatArray) -> float:
    """A first period from the median slope over blocks of samples: batching and rounding
    average out within a block, and the few blocks holding a gap are outvoted."""
    n = t.size
    m = max(1, min(BLOCK, (n - 1) // 8))
    starts = np.arange(0, n - m, m)
    slopes = (t[starts + m] - t[starts]) / m
    return float(np.median(slopes[slopes > 0])) if np.any(slopes > 0) else t[-1] / (n - 1)


def estimate_rate(times_ns: npt.ArrayLike) -> RateEstimate:
    """The effective sampling rate of a whole recording from its samples' timestamps.

    Raises ValueError when the timestamps cannot give a rate (fewer than 2 distinct).

    >>> t = np.round(np.arange(60_000) / 100.42 * 1e3) * 1e6  # ms-rounded times at 100.42 Hz
    >>> round(estimate_rate(t).rate_hz, 3)
    100.42
    """
    t = np.asarray(times_ns, dtype=np.float64)
    t = (t - t[0]) / NS if t.size else t
    if t.size < 2 or not t[-1] > 0:
        raise ValueError("fewer than two increasing sample times: cannot tell the rate")
    n = t.size
    p0 = _first_period(t)
    gap = gap_threshold_s(1.0 / p0)
    breaks = np.flatnonzero(np.diff(t) > p0 + gap) + 1
    seg = np.zeros(n, dtype=np.int64)
    seg[breaks] = 1
    seg = np.cumsum(seg)
    # The fit needs no more than ~200 000 points: long recordings are thinned evenly.
    pick = np.arange(0, n, max(1, n // FIT_POINTS))
    return _pooled_fit(pick.astype(np.float64), t[pick], seg[pick], p0, breaks)


def _pooled_fit(
    idx: FloatArray, t: FloatArray, seg: npt.NDArray[np.int64], p0: float, breaks: npt.NDArray[Any]
) -> RateEstimate:
    """Pooled within-segment least squares of time (s) on sample index, trimming outliers."""
    keep = np.ones(idx.size, dtype=bool)
    period = p0
    for _ in range(3):
        w = keep.astype(np.float64)
        cnt = np.bincount(seg, w)
        ok = cnt > 0
        mx = np.where(ok, np.bincount(seg, w * idx) / np.where(ok, cnt, 1), 0.0)
        my = np.where(ok, np.bincount(seg, w * t) / np.where(ok, cnt, 1), 0.0)
        dx, dy = idx - mx[seg], t - my[seg]
        sxx = float(np.sum(w * dx * dx))
        if sxx <= 0:
            break
        period = float(np.sum(w * dx * dy)) / sxx
        res = dy - period * dx
        mad = float(np.median(np.abs(res[keep])))
        keep = np.abs(res) <= max(6.0 * 1.4826 * mad, 1e-6, 0.5 * period)
    if not period > 0:
        raise ValueError("sample times do not increase: cannot tell the rate")
    rate = 1.0 / period
    # Digits beyond the float noise of Unix-second timestamps (~1e-7 relative) are dropped.
    rate = round(rate, 6) if rate >= 1 else float(f"{rate:.6g}")
    if rate < MIN_RATE_HZ:
        raise ValueError(f"samples {period:g} s apart: not a sampled signal")
    return RateEstimate(rate, gap_threshold_s(rate), tuple(int(b) for b in breaks))


def _halve(kept: list[FloatArray], stride: int) -> tuple[list[FloatArray], int]:
    """Every other kept point (those on the doubled stride): ``kept[0]`` holds the indices."""
    on = np.remainder(kept[0], 2 * stride) == 0
    return [a[on] for a in kept], 2 * stride


class RateFit:
    """:func:`estimate_rate` of a recording read in blocks, in bounded memory.

    ``add`` the timestamps (ns) block by block, then :meth:`result`. Up to ``buffer``
    timestamps are kept and give exactly :func:`estimate_rate`'s answer. Past that the fit
    streams: the first period is the median slope over 256-sample blocks (one value a block,
    evenly thinned past ``FIT_POINTS`` blocks), the gaps are the spacings beyond it
    (candidates kept on the first ``buffer`` samples' period, decided on the final one), and
    the pooled fit uses every ``2**k``-th sample (between ``FIT_POINTS`` and
    ``2 * FIT_POINTS`` points: ``estimate_rate`` thins to ~``FIT_POINTS`` too). Memory: at
    most ``6 * FIT_POINTS`` floats (after the ``buffer``) plus two per gap, whatever the
    length.

    >>> t = np.round(np.arange(1_000_000) / 100.42 * 1e3) * 1e6  # 2.8 h, ms-rounded
    >>> fit = RateFit(buffer=100_000)
    >>> for block in np.array_split(t, 37):
    ...     fit.add(block)
    >>> round(fit.result().rate_hz, 3), fit.held <= 3 * FIT_POINTS
    (100.42, True)
    """

    def __init__(self, *, buffer: int = 2 * FIT_POINTS) -> None:
        self.buffer = max(buffer, 8 * BLOCK + 1)
        self._head: list[FloatArray] = []  # the first timestamps (ns), until streaming
        self._streaming = False
        self._n = 0  # timestamps seen
        self._t0 = 0.0  # ns, the first timestamp
        self._last = 0.0  # s after _t0: the last timestamp
        self._p0 = 0.0  # the first `buffer` samples' first period, s
        self._next_block = 0.0  # s: the time of the sample at the next block boundary
        self._slopes: list[FloatArray] = [np.zeros(0), np.zeros(0)]  # block index, slope
        self._slope_stride = 1
        self._points: list[FloatArray] = [np.zeros(0), np.zeros(0)]  # sample index, time s
        self._stride = 1
        self._gaps: list[tuple[int, float]] = []  # (sample index, spacing s) of candidates

    @property
    def held(self) -> int:
        """Floats held (the memory bound's measure)."""
        head = sum(a.size for a in self._head)
        return head + sum(a.size for a in (*self._slopes, *self._points)) + 2 * len(self._gaps)

    def add(self, times_ns: npt.ArrayLike) -> None:
        """The next timestamps (ns), in order."""
        t = np.asarray(times_ns, dtype=np.float64).ravel()
        if not t.size:
            return
        if not self._streaming:
            if self._n + t.size <= self.buffer:
                self._head.append(t)
                self._n += t.size
                return
            t = np.concatenate([*self._head, t])
            self._start(t)
        self._stream(t)

    def result(self) -> RateEstimate:
        """The fit over everything added; ValueError as :func:`estimate_rate`."""
        if not self._streaming:
            return estimate_rate(np.concatenate(self._head) if self._head else np.zeros(0))
        slopes = self._slopes[1]
        p0 = float(np.median(slopes[slopes > 0])) if np.any(slopes > 0) else self._p0
        gap = gap_threshold_s(1.0 / p0)
        breaks = np.array([i for i, d in self._gaps if d > p0 + gap], dtype=np.int64)
        idx, t = self._points
        seg = np.searchsorted(breaks, idx, side="right").astype(np.int64)
        return _pooled_fit(idx, t, seg, p0, breaks)

    def _start(self, t: FloatArray) -> None:
        self._head, self._n, self._streaming = [], 0, True
        self._t0 = float(t[0])
        rel = (t - self._t0) / NS
        self._p0 = _first_period(rel) if rel[-1] > 0 else 0.0

    def _stream(self, t_ns: FloatArray) -> None:
        t = (t_ns - self._t0) / NS
        first, n = self._n, t.size
        idx = first + np.arange(n, dtype=np.float64)
        prev = np.concatenate(([self._last], t[:-1])) if first else np.concatenate(([t[0]], t[:-1]))
        spacing = t - prev
        if self._p0 > 0:
            loose = 0.5 * (self._p0 + gap_threshold_s(1.0 / self._p0))
            self._gaps.extend(
                (first + int(i), float(spacing[i])) for i in np.flatnonzero(spacing > loose)
            )
        # Block slopes: samples on multiples of BLOCK, the previous boundary carried over.
        on = np.flatnonzero(np.remainder(idx, BLOCK) == 0)
        bounds = np.concatenate(([self._next_block], t[on])) if first else t[on]
        ends = idx[on] // BLOCK if first else idx[on][1:] // BLOCK
        self._keep(self._slopes, ends, np.diff(bounds) / BLOCK, slopes=True)
        if on.size:
            self._next_block = float(t[on[-1]])
        self._keep(self._points, idx, t, slopes=False)
        self._last = float(t[-1])
        self._n += n

    def _keep(
        self, kept: list[FloatArray], index: FloatArray, v: FloatArray, *, slopes: bool
    ) -> None:
        stride = self._slope_stride if slopes else self._stride
        cap = FIT_POINTS if slopes else 2 * FIT_POINTS
        on = np.remainder(index, stride) == 0
        kept[:] = [np.concatenate([kept[0], index[on]]), np.concatenate([kept[1], v[on]])]
        while kept[0].size > cap:
            kept[:], stride = _halve(kept, stride)
        if slopes:
            self._slope_stride = stride
        else:
            self._stride = stride
