"""Daily stress load, stress episodes and time in states, with exercise kept apart.

Every minute of the grid (:mod:`stresstrack.days.minutes`) gets one state, first match wins:

1. ``sleep``: asleep (:mod:`stresstrack.days.sleep`);
2. ``active``: the accelerometer says the body moves: a moving share ≥ ``moving_share``
   (0.5, the share above which the stress index itself treats a window as movement-dominated,
   docs/stress-index.md); and the ``after_active_min`` (5) minutes after an activity bout of
   at least ``min_bout_min`` (3) minutes (moving minutes, one still minute inside allowed):
   heart rate takes minutes to come back down after exercise (heart-rate recovery is read at
   1–5 min, Cole et al. 1999, *N. Engl. J. Med.* 341:1351), and that is not stress; a single
   moving minute (standing up, a posture change) gets no such margin. The
   index's HR component is already the **activity-adjusted** (additional) heart rate when an
   accelerometer is worn (:mod:`stresstrack.pipeline.movement`, Myrtek 2004);
3. ``stressed``: a stress index ≥ ``threshold`` (75: z̄ ≈ +1.35 baseline units, the alarm
   level of the index's validation) from windows of confidence ≥ ``min_confidence`` (0.5,
   as the session analysis);
4. ``not stressed``: a confident index below the threshold;
5. ``no data``: no confident index.

**Episodes** are runs of stressed minutes; runs separated by at most ``merge_gap_min`` (2)
minutes of any other state are merged (a brief dip is one episode), and merged episodes
holding fewer than ``min_episode_min`` (3) stressed minutes are dropped. An episode reports
its start, end, duration, peak (highest minute index and when) and the mean index over its
stressed minutes.

**Daily load** = minutes inside stress episodes per local date (an episode crossing midnight
counts on both dates). Not the raw count of stressed minutes: the minute index of a
sustained stressor wanders around the threshold (a minute at 71 inside a 20-min stressor,
a minute moving), and a calm afternoon crosses it for a minute now and then; counted
minute by minute, the first is lost and the second counted. On simulated people through
the real pipeline the raw count was off by -11 % to +67 % per day, the episode time within
10 % or a minute (tests/days/test_days_pipeline.py). Episodes as the unit of ambulatory
stress follow Sarker et al. 2016 (*CHI '16*, 4489, stress episodes from a noisy minute
series); the 2-min merge and 3-min minimum are this package's choice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
import numpy.typing as npt

from stresstrack.days.minutes import MINUTE_NS, Minutes

__all__ = [
    "STATES",
    "Episode",
    "LoadSettings",
    "daily_load",
    "daily_states",
    "episodes",
    "minute_states",
]

STATES: Final = ("sleep", "active", "stressed", "not stressed", "no data")
_SLEEP, _ACTIVE, _STRESSED, _CALM, _NONE = range(5)


@dataclass(frozen=True, slots=True)
class LoadSettings:
    threshold: float = 75.0
    min_confidence: float = 0.5
    moving_share: float = 0.5
    after_active_min: int = 5
    min_bout_min: int = 3
    merge_gap_min: int = 2
    min_episode_min: int = 3


@dataclass(frozen=True, slots=True)
class Episode:
    """A stress episode of one participant."""

    participant: str
    start_ns: int
    end_ns: int
    peak_ns: int
    peak_index: float
    mean_index: float
    stressed_min: int

    @property
    def duration_min(self) -> float:
        return (self.end_ns - self.start_ns) / MINUTE_NS


def minute_states(
    m: Minutes, asleep: npt.NDArray[np.bool_], settings: LoadSettings | None = None
) -> npt.NDArray[np.int8]:
    """The state of every minute, as an index into :data:`STATES`.

    >>> from stresstrack.days.minutes import Minutes
    >>> nan = float("nan")
    >>> m = Minutes(0, "UTC", *(np.array(v) for v in ([0.] * 4, [0.] * 4, [80., 40., 90., nan],
    ...     [1.] * 4, [5.] * 4, [0., 0., 0.9, 0.])))
    >>> [STATES[s] for s in minute_states(m, np.array([False] * 4))]
    ['stressed', 'not stressed', 'active', 'no data']
    """
    st = settings or LoadSettings()
    moving = np.nan_to_num(m.moving, nan=0.0) >= st.moving_share
    active = moving.copy()
    for _, hi in _bouts(moving, st.min_bout_min):  # recovery after sustained activity only
        active[hi : hi + st.after_active_min] = True
    out = np.full(m.n, _NONE, dtype=np.int8)
    has = np.isfinite(m.stress)
    out[has] = _CALM
    out[has & (m.stress >= st.threshold)] = _STRESSED
    out[active] = _ACTIVE
    out[asleep] = _SLEEP
    return out


def _bouts(moving: npt.NDArray[np.bool_], min_len: int) -> list[tuple[int, int]]:
    """Runs of moving minutes (a single still minute inside does not break a run) lasting
    ``min_len`` minutes or more: ``(start, end)``, end exclusive."""
    idx = np.flatnonzero(moving).tolist()
    runs: list[list[int]] = []
    for i in idx:
        if runs and i - runs[-1][1] <= 1:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    return [(a, b) for a, b in runs if b - a >= min_len]


def daily_states(states: npt.NDArray[np.int8], dates: Sequence[date]) -> dict[date, Counter[str]]:
    """Minutes per state per local date."""
    out: dict[date, Counter[str]] = {}
    for d, s in zip(dates, states.tolist(), strict=True):
        out.setdefault(d, Counter())[STATES[s]] += 1
    return out


def _episode_runs(states: npt.NDArray[np.int8], st: LoadSettings) -> list[list[int]]:
    """The stressed minutes of each kept episode (see the module)."""
    groups: list[list[int]] = []
    for i in np.flatnonzero(states == _STRESSED).tolist():
        if groups and i - groups[-1][-1] - 1 <= st.merge_gap_min:
            groups[-1].append(i)
        else:
            groups.append([i])
    return [g for g in groups if len(g) >= st.min_episode_min]


def daily_load(
    states: npt.NDArray[np.int8], dates: Sequence[date], settings: LoadSettings | None = None
) -> Counter[date]:
    """Minutes inside stress episodes per local date (the daily load, see the module).

    >>> from datetime import date
    >>> s = np.array([2, 3, 2, 2, 3, 3, 3, 3, 2, 3, 3, 3, 3, 2, 3], dtype=np.int8)
    >>> daily_load(s, [date(2026, 1, 5)] * 10 + [date(2026, 1, 6)] * 5)
    Counter({datetime.date(2026, 1, 5): 4, datetime.date(2026, 1, 6): 0})
    """
    inside = np.zeros(states.size, dtype=bool)
    for g in _episode_runs(states, settings or LoadSettings()):
        inside[g[0] : g[-1] + 1] = True
    out: Counter[date] = Counter({d: 0 for d in dates})
    out.update(d for d, i in zip(dates, inside.tolist(), strict=True) if i)
    return out


def episodes(
    m: Minutes, states: npt.NDArray[np.int8], participant: str, settings: LoadSettings | None = None
) -> list[Episode]:
    """Stress episodes (see the module), in time order."""
    out = []
    for g in _episode_runs(states, settings or LoadSettings()):
        lo, hi = g[0], g[-1] + 1
        values = m.stress[g]
        peak = g[int(np.argmax(values))]
        out.append(
            Episode(
                participant=participant,
                start_ns=m.start_ns + lo * MINUTE_NS,
                end_ns=m.start_ns + hi * MINUTE_NS,
                peak_ns=m.start_ns + peak * MINUTE_NS,
                peak_index=float(m.stress[peak]),
                mean_index=float(values.mean()),
                stressed_min=len(g),
            )
        )
    return out
