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
3. ``stressed``: a confident index at or above the **load threshold** of the minute's local
   date, whose **smoothed index** (below) reaches it too;
4. ``not stressed``: any other confident index;
5. ``no data``: no confident index (confidence ≥ ``min_confidence``, 0.5, as the session
   analysis).

**Smoothed index**: the centred mean over ``smooth_min`` (9) minutes of the confident index
of the awake, still minutes around a minute (sleep, active and no-data minutes neither count
nor are counted). A minute's index is noisy (SD ~6 points within a sustained stressor
through the real pipeline) and stress is a change that lasts minutes: a lone minute above
the threshold in a calm hour has a low mean and does not count; a calm minute next to a
stressor has a high mean but its own index is low, so it is not pulled into the episode; a
brief dip inside a stressor is bridged by the episode rule below. Smoothing the per-minute
stress series with moving averages before looking for episodes is what Sarker et al. 2016
(*CHI '16*, 4489) do; the 9 minutes, ``k`` and the both-must-reach rule were chosen on four
simulated people through the real pipeline and checked on four others (docs/days.md).

**Load threshold**, per participant and local date (``threshold=None``, the default): the
person's own reference, the smoothed index of that date's awake, still, confident minutes:
median + ``k`` (2) × 1.4826 × median absolute deviation (the robust SD, as the rolling
baseline's statistics), kept within [``floor``, ``cap``] = [60, 75]. The floor keeps it out
of the calm range (the index is 50 at the baseline; 60 is z̄ ≈ +0.5 baseline units), the cap
is the alarm level of the index's validation (75, z̄ ≈ +1.35): what reaches 75 counts for
everyone. A date with fewer than ``reference_min`` (120) reference minutes gets the cap.
Why personal: the index's rise under stress differs between people (a weak
responder's stressors read 60-74, a strong one's 80-90, both against calm minutes around 50)
and the first day's index can sit higher until the rolling baseline has seen a day of rest;
a fixed 75 then misses most of a weak responder's stress. Person-specific normalisation is
how ambulatory stress models cope with between-person differences (cStress: Hovsepian et al.
2015, *UbiComp '15*, 493, standardise every feature per participant); the robust centre and
spread of the day itself keep it from being pulled by the day's stressors (a few % of the
waking minutes). A number (``threshold=75.0``) gives one fixed threshold for everyone
(``threshold=75.0, smooth_min=1``: the rule before the personal threshold).
:func:`load_thresholds` gives the value used, reported in days.csv (``load_threshold``).

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
10 % or a minute (seed 1 at the fixed 75; tests/days/test_days_pipeline.py). Episodes as
the unit of ambulatory stress follow Sarker et al. 2016 (*CHI '16*, 4489, stress episodes
from a noisy minute series); the 2-min merge and 3-min minimum are this package's choice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
import numpy.typing as npt

from stresstrack.days.minutes import MINUTE_NS, Minutes
from stresstrack.errors import SettingError

__all__ = [
    "STATES",
    "Episode",
    "LoadSettings",
    "daily_load",
    "daily_states",
    "episodes",
    "load_thresholds",
    "minute_states",
    "smoothed_index",
]

STATES: Final = ("sleep", "active", "stressed", "not stressed", "no data")
_SLEEP, _ACTIVE, _STRESSED, _CALM, _NONE = range(5)


@dataclass(frozen=True, slots=True)
class LoadSettings:
    """The load's parameters (see the module). ``threshold``: None for the personal threshold
    (``k``, ``floor``, ``cap``, ``reference_min``), or one fixed index for everyone."""

    threshold: float | None = None
    min_confidence: float = 0.5
    moving_share: float = 0.5
    after_active_min: int = 5
    min_bout_min: int = 3
    merge_gap_min: int = 2
    min_episode_min: int = 3
    smooth_min: int = 9
    k: float = 2.0
    floor: float = 60.0
    cap: float = 75.0
    reference_min: int = 120

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0.0 < self.threshold <= 100.0:
            raise SettingError("load threshold", f"must be within 0-100, got {self.threshold:g}")
        if not 0.0 <= self.k <= 10.0:
            raise SettingError("personal threshold k", f"must be within 0-10, got {self.k:g}")
        if not 0.0 < self.floor <= self.cap <= 100.0:
            raise SettingError("load threshold", f"floor {self.floor:g} and cap {self.cap:g} "
                               "must satisfy 0 < floor <= cap <= 100")  # fmt: skip
        if self.smooth_min < 1 or self.smooth_min % 2 == 0:
            raise SettingError(
                "smoothing", f"must be an odd number of minutes, got {self.smooth_min}"
            )
        if self.reference_min < 1:
            raise SettingError(
                "load threshold", f"reference_min must be >= 1, got {self.reference_min}"
            )


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


def _context(m: Minutes, asleep: npt.NDArray[np.bool_], st: LoadSettings) -> npt.NDArray[np.int8]:
    """Every state but ``stressed``: confident awake still minutes are ``not stressed``."""
    moving = np.nan_to_num(m.moving, nan=0.0) >= st.moving_share
    active = moving.copy()
    for _, hi in _bouts(moving, st.min_bout_min):  # recovery after sustained activity only
        active[hi : hi + st.after_active_min] = True
    out = np.full(m.n, _NONE, dtype=np.int8)
    out[np.isfinite(m.stress)] = _CALM
    out[active] = _ACTIVE
    out[asleep] = _SLEEP
    return out


def smoothed_index(
    stress: npt.NDArray[np.float64], use: npt.NDArray[np.bool_], width: int
) -> npt.NDArray[np.float64]:
    """The centred mean over ``width`` minutes of ``stress`` where ``use``, at those minutes
    (NaN elsewhere): minutes outside ``use`` neither count nor are counted.

    >>> nan = float("nan")
    >>> smoothed_index(np.array([40., 70., 100., 10., nan]), np.array([True] * 3 + [False] * 2), 3)
    array([55., 70., 85., nan, nan])
    """
    ok = use & np.isfinite(stress)
    total = np.concatenate([[0.0], np.cumsum(np.where(ok, stress, 0.0))])
    count = np.concatenate([[0], np.cumsum(ok)])
    i = np.arange(stress.size)
    lo, hi = np.maximum(i - width // 2, 0), np.minimum(i + width // 2 + 1, stress.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (total[hi] - total[lo]) / (count[hi] - count[lo])
    return np.where(ok, mean, np.nan)


def _personal(reference: npt.NDArray[np.float64], st: LoadSettings) -> float:
    if reference.size < st.reference_min:
        return st.cap
    centre = float(np.median(reference))
    spread = 1.4826 * float(np.median(np.abs(reference - centre)))
    return min(max(centre + st.k * spread, st.floor), st.cap)


def load_thresholds(
    m: Minutes, asleep: npt.NDArray[np.bool_], settings: LoadSettings | None = None
) -> dict[date, float]:
    """The load threshold of every local date (see the module).

    >>> from stresstrack.days.minutes import Minutes
    >>> x = np.tile([40., 50., 60., 45., 55.], 40)  # 200 awake minutes: median 50, MAD 5
    >>> z = np.zeros(200)
    >>> m = Minutes(0, "UTC", z, z, x, z + 1, z, z)
    >>> {d: round(t, 3) for d, t in load_thresholds(m, z.astype(bool),
    ...                                             LoadSettings(smooth_min=1)).items()}
    {datetime.date(1970, 1, 1): 64.826}
    """
    st = settings or LoadSettings()
    dates = m.dates()
    if st.threshold is not None:
        return dict.fromkeys(dates, st.threshold)
    calm = _context(m, asleep, st) == _CALM
    x = smoothed_index(m.stress, calm, st.smooth_min)
    day = np.array([d.toordinal() for d in dates], dtype=np.int64)
    return {d: _personal(x[calm & (day == d.toordinal())], st) for d in dict.fromkeys(dates)}


def minute_states(
    m: Minutes,
    asleep: npt.NDArray[np.bool_],
    settings: LoadSettings | None = None,
    thresholds: Mapping[date, float] | None = None,
) -> npt.NDArray[np.int8]:
    """The state of every minute, as an index into :data:`STATES`; ``thresholds``: those of
    :func:`load_thresholds` when already computed.

    >>> from stresstrack.days.minutes import Minutes
    >>> nan = float("nan")
    >>> m = Minutes(0, "UTC", *(np.array(v) for v in ([0.] * 4, [0.] * 4, [80., 40., 90., nan],
    ...     [1.] * 4, [5.] * 4, [0., 0., 0.9, 0.])))
    >>> [STATES[s] for s in minute_states(m, np.array([False] * 4), LoadSettings(smooth_min=1))]
    ['stressed', 'not stressed', 'active', 'no data']
    """
    st = settings or LoadSettings()
    out = _context(m, asleep, st)
    calm = out == _CALM
    limits = thresholds if thresholds is not None else load_thresholds(m, asleep, st)
    per_minute = np.array([limits[d] for d in m.dates()], dtype=float)
    x = smoothed_index(m.stress, calm, st.smooth_min)
    out[calm & (m.stress >= per_minute) & (x >= per_minute)] = _STRESSED
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
