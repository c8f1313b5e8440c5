"""The rolling baseline: a reference that follows the person over days (docs/days.md,
"Rolling baseline").

A fixed baseline (the first minutes, or a marked baseline; :mod:`stresstrack.pipeline.stress`)
is right for a session and wrong for a week: resting HR, RMSSD and skin conductance drift
from day to day. With ``PipelineConfig(baseline_mode="rolling")`` the index starts from the
fixed baseline as usual, then at every UTC midnight the baseline's statistics are recomputed
from the *resting windows* of the last ``baseline_days`` days:

* one window a minute (windows ending on a whole minute: with 60 s windows, they do not
  overlap, so the spread is that of independent windows), plausible, and outside marked
  sessions other than ``baseline`` and ``rest`` (stressors, self-care, ...);
* still: moving in at most ``BASELINE_MAX_MOVING`` of its seconds, as a fixed baseline;
* awake: with an accelerometer, not inside a stretch of sustained inactivity, i.e. the mean
  moving share of the 31 minute-windows centred on it is at least ``SLEEP_MOVING`` (1 %). Awake
  people shift, gesture and fidget several times an hour; asleep, a chest or wrist sensor
  sees only a few posture changes an hour. This is a simplified actigraphy rule in the spirit
  of Cole et al. 1992 (Sleep 15:461, a weighted moving window of activity) and van Hees et al.
  2015 (PLoS One 10:e0142533, sustained inactivity); without an accelerometer sleep cannot be
  told apart and every still window counts.

**The first day warms up**: until the first midnight, the reference is also recomputed on the
first window of every UTC hour once it holds ``MIN_ROLLING_WINDOWS`` resting windows. The
fixed baseline is a few minutes right after the sensor goes on: unusable for some people
(a movement, a missing component: no index at all until midnight), unrepresentative for
others (a simulated participant's calm minutes read 62-63 all day against ~50 later). After
the first midnight the baseline changes once a day, so days stay comparable.

The statistics are robust, because an ordinary day holds stressors nobody marked: the median
of each component and 1.4826 x its median absolute deviation (the SD for normal data), never
below the component's floor. A component with fewer than ``MIN_ROLLING_WINDOWS`` windows in
the reference keeps its previous statistics.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from stresstrack.pipeline.stress import BASELINE_MAX_MOVING, COMPONENTS, Baseline, Derived

__all__ = ["MIN_ROLLING_WINDOWS", "REST_KINDS", "SLEEP_MOVING", "RollingReference"]

NS: Final = 1_000_000_000
MINUTE_NS: Final = 60 * NS
HOUR_NS: Final = 3_600 * NS
DAY_NS: Final = 86_400 * NS
SLEEP_MOVING: Final = 0.01
CONTEXT_MIN: Final = 15  # minutes each side of a window for the sustained-inactivity test
MIN_ROLLING_WINDOWS: Final = 60  # an hour of resting minutes
MAD_TO_SD: Final = 1.4826
REST_KINDS: Final = frozenset({"baseline", "rest"})  # sessions whose windows may be reference


@dataclass
class RollingReference:
    """One participant's resting minute-windows of the last ``days`` days.

    Feed every window with :meth:`offer` (in time order); :meth:`refresh` returns a new
    baseline on the first window of each UTC day.

    >>> r = RollingReference(days=3.0)
    >>> r.refresh(5 * DAY_NS, Baseline()) is None  # nothing kept yet
    True
    """

    days: float
    pending: deque[tuple[Derived, bool]] = field(default_factory=deque)
    context: deque[tuple[int, float | None]] = field(default_factory=deque)
    kept: deque[tuple[int, tuple[float | None, ...], float | None]] = field(default_factory=deque)
    day: int | None = None
    hour: int | None = None
    settled: bool = False  # a midnight has passed: no more hourly warm-up refreshes

    def offer(self, d: Derived, usable: bool) -> None:
        """A window; only those ending on a whole minute are looked at."""
        if d.time_ns % MINUTE_NS:
            return
        self.context.append((d.time_ns, d.moving_share))
        self.pending.append((d, usable))
        while self.pending and self.pending[0][0].time_ns <= d.time_ns - CONTEXT_MIN * MINUTE_NS:
            self._decide(*self.pending.popleft())

    def _decide(self, d: Derived, usable: bool) -> None:
        lo = d.time_ns - CONTEXT_MIN * MINUTE_NS
        while self.context and self.context[0][0] < lo:
            self.context.popleft()
        hi = d.time_ns + CONTEXT_MIN * MINUTE_NS
        around = [m for t, m in self.context if t <= hi and m is not None]
        asleep = bool(around) and float(np.mean(around)) < SLEEP_MOVING
        moving = d.moving_share is not None and d.moving_share > BASELINE_MAX_MOVING
        if usable and not moving and not asleep:
            values = tuple(d.inputs.get(c.name) for c in COMPONENTS)
            self.kept.append((d.time_ns, values, d.activity_mg))

    def refresh(self, time_ns: int, baseline: Baseline) -> Baseline | None:
        """The baseline from the last ``days`` days, on the first call of a new UTC day (and,
        before the first midnight, of a new UTC hour)."""
        day, hour = time_ns // DAY_NS, time_ns // HOUR_NS
        if self.day is None or self.hour is None:
            self.day, self.hour = day, hour
            return None
        if day > self.day:
            self.settled = True
        elif self.settled or hour <= self.hour:
            return None
        self.day, self.hour = day, hour
        return self._recompute(time_ns, baseline)

    def _recompute(self, time_ns: int, baseline: Baseline) -> Baseline | None:
        while self.kept and self.kept[0][0] < time_ns - int(self.days * DAY_NS):
            self.kept.popleft()
        mean, sd, independent = dict(baseline.mean), dict(baseline.sd), dict(baseline.independent)
        for k, c in enumerate(COMPONENTS):
            xs = np.array([v[k] for _, v, _ in self.kept if v[k] is not None], dtype=float)
            if xs.size < MIN_ROLLING_WINDOWS:
                continue
            centre = float(np.median(xs))
            mean[c.name] = centre
            sd[c.name] = max(MAD_TO_SD * float(np.median(np.abs(xs - centre))), c.floor)
            independent[c.name] = int(xs.size)
        if mean == baseline.mean and sd == baseline.sd:
            return None
        activity = [a for _, _, a in self.kept if a is not None]
        return dataclasses.replace(
            baseline,
            mean=mean,
            sd=sd,
            independent=independent,
            activity_ref=float(np.median(activity)) if activity else baseline.activity_ref,
        )
