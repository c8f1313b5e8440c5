"""Sleep and wake from the accelerometer (Cole–Kripke 1992) or from ``sleep`` sessions, and
each night's resting heart rate and RMSSD.

**Scoring** (Cole, Kripke, Gruen, Mullaney & Gillin 1992, *Sleep* 15:461, one-minute epochs,
in the form ActiGraph's ActiLife uses for wrist counts: counts / 100, capped at 300)::

    D = 0.001 × (106·A₋₄ + 54·A₋₃ + 58·A₋₂ + 76·A₋₁ + 230·A₀ + 74·A₊₁ + 67·A₊₂)
    sleep when D < 1

then **Webster's rescoring rules** from the same paper: after ≥ 4 min of wake the next 1 min
of sleep is wake; after ≥ 10 min the next 3; after ≥ 15 min the next 4; a sleep bout of
≤ 6 min between ≥ 10 min of wake on both sides, and of ≤ 10 min between ≥ 20 min, is wake.

**Activity A**: the store holds the acceleration *magnitude*, not the device counts, so ``A``
is the pipeline's movement measure (``activity_mg``: RMS of the magnitude minus its 1 s mean,
:mod:`stresstrack.pipeline.movement`) divided by ``mg_per_count`` (10 mG per scaled count,
**our assumption**, not a published calibration): a still limb (sensor noise 3–5 mG) scores
sleep, fidgeting (≥ 30 mG) wake; a weighted mean activity below 15 mG is sleep. A minute
without activity counts as 0 in its neighbours' sums and is itself never sleep.

**Heart rate** (when worn): a chest strap's accelerometer barely moves while its wearer sits
still, so the accelerometer alone scores quiet wake as sleep. A minute counts as sleep only
when Cole–Kripke says so **and** the heart rate is low: its 61-min centred rolling median is
in the lowest ``hr_quantile`` (a third) of that smoothed HR over the recording. Heart rate
falls in sleep (Trinder et al. 2001, *J. Sleep Res.* 10:253) and a night of up to 8 h fills
a third of a day; when the accelerometer cannot tell, quiet wake next to the night has the
next-lowest HR, so a larger share lengthens the nights (40 %: 87 % epoch agreement on still
synthetic days, a third: 93 %), and a longer sleeper loses the night's highest-HR minutes.
A minute without HR is judged by the accelerometer alone. This gate is **our design**,
documented and tested here, not a published algorithm.

**Sleep period**: sleep bouts separated by ≤ 60 min of wake are joined (the gap rule of van
Hees et al. 2018, *Sci. Rep.* 8:12975, for the sleep period time window); each night's
period is the longest joined block of at least ``min_period_min`` minutes in the noon-to-noon
span ending on the morning of that night's date. Inside it, sleep minutes are the epochs
scored sleep. **Markers win**: a closed session of kind ``sleep`` is that night's period,
with every minute of it asleep.

**Nightly references**: the median of the minute HR and RMSSD over the night's sleep
minutes: the person's own resting reference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from stresstrack.days.minutes import MINUTE_NS, Minutes
from stresstrack.pipeline.results import Session

__all__ = [
    "CK_WEIGHTS",
    "SLEEP_KIND",
    "Night",
    "SleepSettings",
    "cole_kripke",
    "low_heart_rate",
    "nights",
    "webster_rescore",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
SLEEP_KIND: Final = "sleep"
# Cole et al. 1992, one-minute epochs: weights of A-4 ... A+2 and the scale P.
CK_WEIGHTS: Final = (106.0, 54.0, 58.0, 76.0, 230.0, 74.0, 67.0)
CK_SCALE: Final = 0.001
CK_CAP: Final = 300.0  # ActiLife caps the scaled counts
# Webster's rules: (minutes of wake before, sleep minutes after it rescored to wake).
_AFTER_WAKE: Final = ((15, 4), (10, 3), (4, 1))
# (longest sleep bout, wake needed on both sides) for isolated bouts rescored to wake.
_ISOLATED: Final = ((6, 10), (10, 20))


@dataclass(frozen=True, slots=True)
class SleepSettings:
    mg_per_count: float = 10.0  # activity_mg per scaled count (assumption, see the module)
    join_gap_min: int = 60  # van Hees et al. 2018: gaps under 60 min join sleep blocks
    min_period_min: int = 180  # a night's sleep period lasts at least 3 h
    hr_quantile: float = 1 / 3  # sleep needs a smoothed HR in the recording's lowest third
    hr_smooth_min: int = 61  # centred rolling median of minute HR


@dataclass(frozen=True, slots=True)
class Night:
    """One night's sleep period, dated by the morning it ends on."""

    date: date
    start_ns: int
    end_ns: int
    sleep_min: int
    source: str  # "acc" or "marker"
    hr_bpm: float  # median HR over the sleep minutes (NaN without HR)
    rmssd_ms: float


def cole_kripke(activity: FloatArray, *, mg_per_count: float = 10.0) -> BoolArray:
    """Cole–Kripke sleep (True) per minute of ``activity`` (mG), before rescoring.

    >>> cole_kripke(np.array([3.0] * 8 + [200.0] + [3.0] * 8)).astype(int).tolist()
    [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
    """
    if activity.size == 0:
        return np.zeros(0, dtype=bool)
    a = np.minimum(np.nan_to_num(activity, nan=0.0) / mg_per_count, CK_CAP)
    # D[t] = Σ_k w[k] · a[t + k - 4]: a correlation, i.e. a convolution with the reversed
    # weights; the 4 + 2 epochs past the ends count as 0.
    padded = np.concatenate([np.zeros(4), a, np.zeros(2)])
    d = CK_SCALE * np.correlate(padded, np.asarray(CK_WEIGHTS), mode="valid")
    return np.asarray((d < 1.0) & np.isfinite(activity), dtype=bool)


def _runs(x: BoolArray) -> list[tuple[bool, int, int]]:
    """``(value, start, end)`` of every run of equal values (end exclusive)."""
    if x.size == 0:
        return []
    edges = np.flatnonzero(np.diff(x.astype(np.int8))) + 1
    starts = [0, *edges.tolist()]
    ends = [*edges.tolist(), int(x.size)]
    return [(bool(x[s]), s, e) for s, e in zip(starts, ends, strict=True)]


def webster_rescore(sleep: BoolArray) -> BoolArray:
    """Webster's rescoring rules (Cole et al. 1992) on a sleep (True) / wake series.

    >>> s = np.array([0] * 10 + [1] * 5 + [0] * 10 + [1] * 30, dtype=bool)
    >>> webster_rescore(s).astype(int).tolist()[10:15], int(webster_rescore(s)[25:].sum())
    ([0, 0, 0, 0, 0], 27)
    """
    out = sleep.copy()
    for value, s, e in _runs(sleep):  # rules a-c: the first minutes after long wake
        if value:
            continue
        for wake, rescored in _AFTER_WAKE:
            if e - s >= wake:
                out[e : min(e + rescored, out.size)] = False
                break
    runs = _runs(out)
    for i, (value, s, e) in enumerate(runs):  # rules d-e: short isolated sleep bouts
        if not value or i == 0 or i == len(runs) - 1:
            continue
        before, after = runs[i - 1], runs[i + 1]
        for longest, wake in _ISOLATED:
            if e - s <= longest and before[2] - before[1] >= wake and after[2] - after[1] >= wake:
                out[s:e] = False
                break
    return out


def low_heart_rate(hr: FloatArray, quantile: float = 1 / 3, smooth_min: int = 61) -> BoolArray:
    """Minutes whose smoothed HR (centred rolling median) is in the recording's lowest
    ``quantile``; True where there is no HR (the accelerometer decides alone).

    >>> hr = np.r_[np.full(300, 70.0), np.full(200, 55.0), np.full(400, 70.0)]
    >>> low = low_heart_rate(hr)
    >>> int(low.sum()), bool(low[400]), bool(low[100])
    (200, True, False)
    >>> low_heart_rate(np.full(10, 60.0)).all()  # too short to smooth: not gated
    np.True_
    """
    smooth = pd.Series(hr).rolling(smooth_min, center=True, min_periods=smooth_min // 4).median()
    values = smooth.to_numpy(dtype=float)
    if not np.isfinite(values).any():  # no HR, or too little to smooth
        return np.ones(hr.size, dtype=bool)
    limit = float(np.nanquantile(values, quantile))
    return np.asarray(~(values >= limit), dtype=bool)  # NaN (no HR near): not gated


def _blocks(sleep: BoolArray, join_gap: int) -> list[tuple[int, int]]:
    """Sleep bouts joined across wake gaps of at most ``join_gap`` minutes."""
    blocks: list[tuple[int, int]] = []
    for value, s, e in _runs(sleep):
        if not value:
            continue
        if blocks and s - blocks[-1][1] <= join_gap:
            blocks[-1] = (blocks[-1][0], e)
        else:
            blocks.append((s, e))
    return blocks


def _median(x: FloatArray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else math.nan


def _night(m: Minutes, day: date, lo: int, hi: int, asleep: BoolArray, source: str) -> Night:
    mask = asleep[lo:hi]
    return Night(
        date=day,
        start_ns=m.start_ns + lo * MINUTE_NS,
        end_ns=m.start_ns + hi * MINUTE_NS,
        sleep_min=int(mask.sum()),
        source=source,
        hr_bpm=_median(m.hr[lo:hi][mask]),
        rmssd_ms=_median(m.rmssd[lo:hi][mask]),
    )


def _marked(m: Minutes, sessions: Sequence[Session]) -> list[tuple[int, int]]:
    out = []
    for s in sessions:
        if s.kind != SLEEP_KIND or s.end_ns is None:
            continue
        lo = max(0, -(-(s.start_ns - m.start_ns) // MINUTE_NS))
        hi = min(m.n, (s.end_ns - m.start_ns) // MINUTE_NS)
        if hi > lo:
            out.append((int(lo), int(hi)))
    return out


def _noon_day(dates: Sequence[date], local_hours: FloatArray, i: int) -> date:
    """The night a minute belongs to: its date if before noon, else the next day."""
    return dates[i] + timedelta(days=1) if local_hours[i] % 24 >= 12 else dates[i]


def nights(
    m: Minutes, sessions: Sequence[Session] = (), settings: SleepSettings | None = None
) -> tuple[list[Night], BoolArray]:
    """Each night's sleep period and the asleep mask of every minute (see the module)."""
    st = settings or SleepSettings()
    ck = cole_kripke(m.activity, mg_per_count=st.mg_per_count)
    scored = webster_rescore(ck & low_heart_rate(m.hr, st.hr_quantile, st.hr_smooth_min))
    asleep = np.zeros(m.n, dtype=bool)
    if m.n == 0:
        return [], asleep
    dates, hours = m.dates(), m.clock_hours()
    found: dict[date, tuple[int, int, str]] = {}
    for lo, hi in _blocks(scored, st.join_gap_min):
        if hi - lo < st.min_period_min:
            continue
        day = _noon_day(dates, hours, (lo + hi) // 2)
        if day not in found or hi - lo > found[day][1] - found[day][0]:
            found[day] = (lo, hi, "acc")
    for lo, hi in _marked(m, sessions):
        found[_noon_day(dates, hours, (lo + hi) // 2)] = (lo, hi, "marker")
    out = []
    for day in sorted(found):
        lo, hi, source = found[day]
        asleep[lo:hi] = True if source == "marker" else scored[lo:hi]
        out.append(_night(m, day, lo, hi, asleep, source))
    return out, asleep
