"""A participant's days: rhythm, nights, load and self-care, from the store or from rows.

:func:`profile` is the one entry point: ``profile(store, "p1")`` or
``profile(ParticipantRows(...), "p1")`` gives a :class:`DaysResult`; :func:`profile_store`
runs it for every participant and pools the self-care effects across participants.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Final, TypedDict

import numpy as np
import numpy.typing as npt
import pandas as pd

from stresstrack.days.cosinor import Cosinor, Stability, bin_means, cosinor, stability
from stresstrack.days.load import (
    STATES,
    Episode,
    LoadSettings,
    daily_load,
    daily_states,
    episodes,
    load_thresholds,
    minute_states,
)
from stresstrack.days.minutes import (
    FEATURE_KEYS,
    Minutes,
    minutes_from_columns,
    minutes_from_rows,
    time_zone,
)
from stresstrack.days.selfcare import (
    MeanCI,
    SessionEffect,
    mean_ci,
    participant_effect,
    session_effects,
)
from stresstrack.days.sleep import Night, SleepSettings, nights
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.store.sqlite import Store

__all__ = [
    "DayRow",
    "DaysResult",
    "DaysSettings",
    "ParticipantRows",
    "StudyDays",
    "profile",
    "profile_store",
]


class GridSettings(TypedDict):
    tz: str
    window_s: float
    min_confidence: float
    label: str


# A cosinor (of a day or of the recording) needs 12 h of bins with data.
MIN_DAY_SHARE: Final = 0.5


@dataclass(frozen=True, slots=True)
class DaysSettings:
    """Every parameter of the multi-day analysis (docs/days.md)."""

    tz: str = "UTC"
    window_s: float = 60.0  # the pipeline's window: rows are dated at its end
    bin_min: int = 10  # cosinor bins
    selfcare_hours: float = 2.0
    sleep: SleepSettings = field(default_factory=SleepSettings)
    load: LoadSettings = field(default_factory=LoadSettings)

    def __post_init__(self) -> None:
        time_zone(self.tz)
        if not 0 < self.bin_min <= 60:
            raise ValueError(f"the cosinor bin must be 1-60 min, got {self.bin_min}")
        if not self.selfcare_hours > 0:
            raise ValueError(f"self-care hours must be > 0, got {self.selfcare_hours:g}")


@dataclass(frozen=True, slots=True)
class ParticipantRows:
    """What the analysis reads of one participant (the store's rows)."""

    features: Sequence[FeatureRow]
    stress: Sequence[StressRow]
    sessions: Sequence[Session] = ()


@dataclass(frozen=True, slots=True)
class DayRow:
    """One local date of one participant (a row of days.csv)."""

    date: date
    hr: Cosinor | None
    stress: Cosinor | None
    night: Night | None  # the night ending on this date's morning
    load_min: int  # minutes inside stress episodes (days/load.py)
    load_threshold: float  # the load threshold of this date (days/load.py)
    states: Counter[str]
    episodes: int
    sessions: int  # sessions starting this date (every kind)


@dataclass(frozen=True, slots=True, eq=False)
class DaysResult:
    participant: str
    minutes: Minutes
    asleep: npt.NDArray[np.bool_]
    states: npt.NDArray[np.int8]
    days: Sequence[DayRow]
    nights: Sequence[Night]
    hr: Cosinor | None  # over the recording
    stress: Cosinor | None
    stability: dict[str, Stability]  # "activity", "hr", "stress"
    episodes: Sequence[Episode]
    selfcare: Sequence[SessionEffect]
    sessions: Sequence[Session]

    @property
    def span_days(self) -> float:
        return self.minutes.n / 1440

    @property
    def selfcare_mean(self) -> MeanCI:
        """The participant's mean self-care effect over sessions, with its 95 % CI."""
        return participant_effect(self.selfcare)


@dataclass(frozen=True, slots=True)
class StudyDays:
    participants: Sequence[DaysResult]
    selfcare: MeanCI  # across participants (each participant's mean counts once)


def _fit(m: Minutes, values: npt.NDArray[np.float64], bin_min: int, need: float) -> Cosinor | None:
    h, v = bin_means(m.clock_hours(), values, bin_min)
    if v.size < need:
        return None
    return cosinor(h, v)


def _unmasked(m: Minutes, states: npt.NDArray[np.int8]) -> Minutes:
    """HR and stress with active minutes removed: exercise masks the rhythm (Minors &
    Waterhouse 1989), and the load never counts it either."""
    active = states == STATES.index("active")
    return replace(m, hr=np.where(active, np.nan, m.hr), stress=np.where(active, np.nan, m.stress))


def _days(
    m: Minutes, states: npt.NDArray[np.int8], found: Sequence[Night], eps: Sequence[Episode],
    sessions: Sequence[Session], settings: DaysSettings, thresholds: dict[date, float],
) -> list[DayRow]:  # fmt: skip
    dates = m.dates()
    rest = _unmasked(m, states)
    per_state = daily_states(states, dates)
    load = daily_load(states, dates, settings.load)
    by_night = {n.date: n for n in found}
    out = []
    need = MIN_DAY_SHARE * 24 * 60 / settings.bin_min
    ep_dates = Counter(_local_date(e.start_ns, m.tz) for e in eps)
    session_dates = Counter(_local_date(s.start_ns, m.tz) for s in sessions)
    first = {d: dates.index(d) for d in per_state}
    for d in sorted(per_state):
        lo = first[d]
        day = rest.slice(lo, lo + sum(per_state[d].values()))
        out.append(
            DayRow(
                date=d,
                hr=_fit(day, day.hr, settings.bin_min, need),
                stress=_fit(day, day.stress, settings.bin_min, need),
                night=by_night.get(d),
                load_min=load[d],
                load_threshold=thresholds[d],
                states=per_state[d],
                episodes=ep_dates[d],
                sessions=session_dates[d],
            )
        )
    return out


def _local_date(time_ns: int, tz: str) -> date:
    return pd.Timestamp(time_ns, unit="ns", tz="UTC").tz_convert(tz).date()


def profile(
    source: Store | ParticipantRows, participant: str, settings: DaysSettings | None = None
) -> DaysResult:
    """One participant's multi-day profile (docs/days.md)."""
    st = settings or DaysSettings()
    grid = GridSettings(tz=st.tz, window_s=st.window_s, min_confidence=st.load.min_confidence,
                        label=f"participant {participant}")  # fmt: skip
    if isinstance(source, Store):
        # Only the columns used, without decoding whole rows: a week of 5 s windows.
        ft, fcols = source.feature_columns(participant, FEATURE_KEYS)
        m = minutes_from_columns(ft, dict(zip(FEATURE_KEYS, fcols, strict=True)),
                                 *source.stress_columns(participant), **grid)  # fmt: skip
        sessions: Sequence[Session] = source.sessions(participant)
    else:
        m = minutes_from_rows(source.features, source.stress, **grid)
        sessions = source.sessions
    found, asleep = nights(m, sessions, st.sleep)
    thresholds = load_thresholds(m, asleep, st.load)
    states = minute_states(m, asleep, st.load, thresholds)
    eps = episodes(m, states, participant, st.load)
    hours = m.clock_hours()
    rest = _unmasked(m, states)
    return DaysResult(
        participant=participant,
        minutes=m,
        asleep=asleep,
        states=states,
        days=_days(m, states, found, eps, sessions, st, thresholds),
        nights=found,
        hr=_fit(rest, rest.hr, st.bin_min, MIN_DAY_SHARE * 24 * 60 / st.bin_min),
        stress=_fit(rest, rest.stress, st.bin_min, MIN_DAY_SHARE * 24 * 60 / st.bin_min),
        stability={k: stability(hours, getattr(rest, k)) for k in ("activity", "hr", "stress")},
        episodes=eps,
        selfcare=session_effects(m, sessions, participant, hours=st.selfcare_hours),
        sessions=list(sessions),
    )


def profile_store(store: Store, settings: DaysSettings | None = None) -> StudyDays:
    """:func:`profile` of every participant, and the self-care effect across them."""
    results = [profile(store, p, settings) for p in store.participants()]
    means = [r.selfcare_mean.mean for r in results]
    return StudyDays(results, mean_ci([x for x in means if math.isfinite(x)]))
