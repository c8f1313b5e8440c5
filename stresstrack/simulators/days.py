"""Seeded multi-day participants: days and nights with a circadian rhythm, sleep, activity
bouts, daily stressors and self-care sessions, with their ground truth.

Each participant's week is planned up front (a few spans a day, :class:`DaysTruth`); the
signals are generated lazily, one chunk (default 1 h) at a time, by the single-session model
of :mod:`stresstrack.simulators.physiology` (:func:`simulate_beats`, :func:`simulate_eda`,
:func:`simulate_acc`) given the chunk's phases, activity and a :class:`Modulation` carrying
the circadian rhythm and sleep. A week therefore never sits in memory. Values and their
sources are in docs/simulators.md ("Multi-day participants"):

* **circadian rhythm**: resting HR + ``hr_amplitude_bpm``·cos(2π(h - acrophase)/24), trough
  12 h after the acrophase (resting HR lowest 03:00-07:00, Speed et al. 2023); the RSA
  amplitude ±``vagal_amplitude`` in antiphase; tonic skin conductance rising through the
  day (Hot et al. 1999), peak at ``scl_acrophase_h``;
* **sleep** (bedtime and wake time drawn each night): HR ``sleep_hr_bpm`` lower, RSA
  ``sleep_vagal`` times larger (Trinder et al. 2001), skin conductance lower with fewer
  SCRs (Doberenz et al. 2011), movement only at posture changes (about every 40 min);
* **activity bouts** (commutes, exercise) move the accelerometer and raise HR and skin
  conductance through the physiology model's activity path; they are not stress;
* **stressors** (1-4 a day, 5-30 min, at the ``stressor`` level) and **self-care** sessions
  (20 min in the evening on most days), the latter marked with start/stop markers as the
  protocols' phases are (:func:`~stresstrack.session.protocol.phase_marker`); a 5-min ``baseline``
  is marked at the start.

Sources: RR intervals from a chest strap (``BeatSource.HRS``), EDA at ``eda_hz`` (4-32 Hz)
in 1 s chunks, and the chest accelerometer's magnitude (mG, a Polar H10 at ``acc_hz``) in
1 s chunks. Clock times are UTC. Deterministic for a seed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final

import numpy as np
import numpy.typing as npt

from stresstrack.events import Event
from stresstrack.session.protocol import Phase
from stresstrack.simulators.physiology import (
    PHASE_STRESS,
    REST_LEVEL,
    STRESSOR_DELTA,
    Episode,
    ParticipantParams,
)

__all__ = [
    "AFTER_BOUT_S",
    "BASELINE_PHASE",
    "DAYS_START",
    "SELF_CARE_PHASE",
    "DaysPlan",
    "DaysTruth",
    "Rhythm",
    "Span",
    "cosinor",
    "plan_participant",
    "simulate_days",
]

NS: Final = 1_000_000_000
DAY_S: Final = 86_400.0
# The recording starts at 07:00 UTC, when the participant gets up on the first day.
DAYS_START: Final = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
BASELINE_PHASE: Final = Phase("baseline", 300.0)
SELF_CARE_PHASE: Final = Phase("self-care", 1200.0, mode="solo", label="evening routine")
#: Heart rate's recovery after an activity bout, left out of the masked HR rhythm as the days
#: analysis leaves it out (``LoadSettings.after_active_min``, 5 min; Cole et al. 1999).
AFTER_BOUT_S: Final = 300.0
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of the recording (ns since the epoch); ``value``: activity intensity."""

    start_ns: int
    end_ns: int
    value: float = 1.0

    @property
    def minutes(self) -> float:
        return (self.end_ns - self.start_ns) / NS / 60.0


@dataclass(frozen=True, slots=True)
class Rhythm:
    """A person's circadian rhythm and sleep (docs/simulators.md gives the sources)."""

    hr_amplitude_bpm: float = 2.5  # cosinor amplitude of resting HR
    acrophase_h: float = 16.0  # clock hour of the resting-HR peak (trough 04:00)
    vagal_amplitude: float = 0.1  # RSA ±10 %, peak 12 h after the HR peak
    scl_amplitude_us: float = 0.3
    scl_acrophase_h: float = 19.0  # SCL rises through the day (Hot et al. 1999)
    bedtime_h: float = 23.0
    wake_h: float = 7.0
    sleep_hr_bpm: float = -3.0
    sleep_vagal: float = 1.25
    sleep_scl_us: float = -0.6
    sleep_scr_rate: float = 0.3

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Rhythm:
        """Between-person differences: acrophase ±1 h, amplitude 1.5-3.5 bpm, chronotype."""
        shift = float(rng.normal(0.0, 0.5))  # later people go to bed and get up later
        return cls(
            hr_amplitude_bpm=float(rng.uniform(1.5, 3.5)),
            acrophase_h=float(16.0 + shift + rng.normal(0.0, 0.7)),
            scl_amplitude_us=float(rng.uniform(0.15, 0.45)),
            bedtime_h=23.0 + shift,
            wake_h=7.0 + shift,
        )


@dataclass(frozen=True, slots=True)
class DaysPlan:
    """What to simulate: ``participants`` people over ``days`` days from ``start``."""

    days: int = 7
    participants: int = 1
    seed: int = 0
    start: datetime = DAYS_START
    eda_hz: float = 32.0
    acc_hz: float = 25.0
    chunk_s: float = 3600.0
    study: str = "days"
    prefix: str = "day"

    def __post_init__(self) -> None:
        if self.days < 1 or self.participants < 1:
            raise ValueError("days and participants must be at least 1")
        if not 4.0 <= self.eda_hz <= 32.0 or self.eda_hz % 1:
            raise ValueError(f"eda_hz must be a whole number of Hz in 4-32, got {self.eda_hz}")
        if not 1.0 <= self.acc_hz <= 200.0 or self.acc_hz % 1:
            raise ValueError(f"acc_hz must be a whole number of Hz in 1-200, got {self.acc_hz}")
        if self.chunk_s < 600 or (DAY_S / self.chunk_s) % 1:
            raise ValueError(f"chunk_s must divide a day and be >= 600 s, got {self.chunk_s}")

    @property
    def start_ns(self) -> int:
        return int(self.start.timestamp()) * NS

    @property
    def duration_s(self) -> float:
        return self.days * DAY_S

    def participant_ids(self) -> list[str]:
        return [f"{self.prefix}-{i + 1:03d}" for i in range(self.participants)]


@dataclass(frozen=True, slots=True)
class DaysTruth:
    """What was simulated, for tests to compare with what the analysis finds.

    ``hr_acrophase_h``, ``hr_mesor_bpm`` and ``hr_amplitude_bpm`` are the cosinor fit
    (:func:`cosinor`) of the noise-free expected HR at 1-min resolution over the whole
    recording (rhythm, sleep, activity and stress together), what a cosinor of measured HR
    should recover; ``rhythm.acrophase_h`` is the endogenous component alone. The
    ``hr_masked_*`` fields are the same fit with the activity bouts and the
    :data:`AFTER_BOUT_S` after each left out: what the days analysis estimates, since it
    masks exercise before fitting (docs/days.md, Minors & Waterhouse 1989). The daily stress
    load is the minutes of stressors started on each calendar day (UTC).
    """

    participant: str
    start_ns: int
    end_ns: int
    params: ParticipantParams
    rhythm: Rhythm
    sleep: tuple[Span, ...]
    activity: tuple[Span, ...]
    stressors: tuple[Span, ...]
    self_care: tuple[Span, ...]
    baseline: Span
    hr_acrophase_h: float
    hr_mesor_bpm: float
    hr_amplitude_bpm: float
    hr_masked_acrophase_h: float
    hr_masked_mesor_bpm: float
    hr_masked_amplitude_bpm: float

    @property
    def stress_load_min(self) -> dict[date, float]:
        out = {self._date(self.start_ns + k * int(DAY_S) * NS): 0.0 for k in range(self._days())}
        for s in self.stressors:
            out[self._date(s.start_ns)] = out.get(self._date(s.start_ns), 0.0) + s.minutes
        return out

    @property
    def sleep_min(self) -> dict[date, float]:
        """Minutes asleep per night, by the date the night ends (the morning)."""
        return {self._date(s.end_ns): s.minutes for s in self.sleep}

    def asleep(self, time_ns: int) -> bool:
        return any(s.start_ns <= time_ns < s.end_ns for s in self.sleep)

    def _days(self) -> int:
        return math.ceil((self.end_ns - self.start_ns) / NS / DAY_S)

    @staticmethod
    def _date(time_ns: int) -> date:
        return datetime.fromtimestamp(time_ns / NS, UTC).date()


def cosinor(t_h: FloatArray, y: FloatArray, period_h: float = 24.0) -> tuple[float, float, float]:
    """MESOR, amplitude and acrophase (clock hour of the peak) of the least-squares fit
    ``y = M + A·cos(2π(t - φ)/period)`` (Cornelissen 2014, Theor Biol Med Model 11:16).

    >>> t = np.arange(0.0, 48.0, 0.5)
    >>> m, a, phi = cosinor(t, 60 + 3 * np.cos(2 * np.pi * (t - 15) / 24))
    >>> round(m, 6), round(a, 6), round(phi, 6)
    (60.0, 3.0, 15.0)
    """
    w = 2 * np.pi * t_h / period_h
    design = np.column_stack([np.ones_like(w), np.cos(w), np.sin(w)])
    (m, beta, gamma), *_ = np.linalg.lstsq(design, y, rcond=None)
    phase = math.atan2(float(gamma), float(beta)) * period_h / (2 * np.pi)
    return float(m), float(math.hypot(beta, gamma)), phase % period_h


def _clock_h(plan_start_ns: int, t_s: FloatArray) -> FloatArray:
    day_s = (plan_start_ns / NS) % DAY_S
    return np.asarray(((day_s + t_s) % DAY_S) / 3600.0, dtype=np.float64)


def _place(
    rng: np.random.Generator, taken: list[tuple[float, float]], lo: float, hi: float, length: float
) -> tuple[float, float] | None:
    """A free span of ``length`` s starting in [lo, hi - length], 5 min from others."""
    for _ in range(30):
        if hi - length <= lo:
            return None
        a = float(rng.uniform(lo, hi - length))
        if all(a + length + 300 <= s or a >= e + 300 for s, e in taken):
            taken.append((a, a + length))
            return a, a + length
    return None


@dataclass(frozen=True, slots=True)
class _Schedule:
    """Spans in s from the recording's start: sleep, activity bouts, stressors, self-care."""

    sleep: list[tuple[float, float]]
    bouts: list[Episode]
    stressors: list[tuple[float, float]]
    self_care: list[tuple[float, float]]


def _schedule(rng: np.random.Generator, plan: DaysPlan, rhythm: Rhythm) -> _Schedule:
    """Each day: commutes, maybe exercise, 1-4 stressors, maybe self-care, then a night."""
    first_midnight = -((plan.start_ns / NS) % DAY_S)
    out = _Schedule([], [], [], [])
    end = plan.duration_s
    for d in range(plan.days + 1):
        midnight = first_midnight + d * DAY_S
        wake = midnight + (rhythm.wake_h + float(rng.normal(0, 0.4))) * 3600
        bed = midnight + (rhythm.bedtime_h + float(rng.normal(0, 0.4))) * 3600
        if d == 0:
            wake = 0.0
        taken: list[tuple[float, float]] = [(wake, wake + BASELINE_PHASE.duration_s + 600)]
        for lo_h, hi_h in ((8.0, 9.5), (17.0, 18.5)):  # commutes on foot
            span = _place(rng, taken, midnight + lo_h * 3600, midnight + hi_h * 3600,
                          float(rng.uniform(12, 25)) * 60)  # fmt: skip
            if span:
                out.bouts.append(Episode(*span, float(rng.uniform(0.7, 0.9))))
        if rng.random() < 0.5:  # exercise
            span = _place(rng, taken, midnight + 17.5 * 3600, midnight + 21 * 3600,
                          float(rng.uniform(30, 60)) * 60)  # fmt: skip
            if span:
                out.bouts.append(Episode(*span, float(rng.uniform(1.0, 1.3))))
        if rng.random() < 0.7:
            span = _place(rng, taken, midnight + 19 * 3600, bed - 600, SELF_CARE_PHASE.duration_s)
            if span:
                out.self_care.append(span)
        for _ in range(int(rng.integers(1, 5))):
            span = _place(rng, taken, max(wake, midnight + 9 * 3600), midnight + 21 * 3600,
                          float(rng.uniform(5, 30)) * 60)  # fmt: skip
            if span:
                out.stressors.append(span)
        next_wake = midnight + DAY_S + (rhythm.wake_h + float(rng.normal(0, 0.4))) * 3600
        out.sleep.append((bed, next_wake))
    clip = _Schedule(
        sleep=[(max(0.0, a), min(end, b)) for a, b in out.sleep if a < end and b > 0],
        bouts=[e for e in out.bouts if e.start_s >= 0 and e.end_s <= end],
        stressors=sorted(s for s in out.stressors if s[0] >= 0 and s[1] <= end),
        self_care=sorted(s for s in out.self_care if s[0] >= 0 and s[1] <= end),
    )
    clip.bouts.sort(key=lambda e: e.start_s)
    return clip


def _sleep_share(t_s: FloatArray, sleep: list[tuple[float, float]]) -> FloatArray:
    """0 awake, 1 asleep; 15 min to settle after sleep onset, 10 min to wake up."""
    out = np.zeros_like(t_s)
    for a, b in sleep:
        out += np.clip((t_s - a) / 900.0, 0, 1) * np.clip((b - t_s) / 600.0, 0, 1)
    return np.asarray(np.clip(out, 0, 1), dtype=np.float64)


def _expected_hr(
    t_s: FloatArray, start_ns: int, p: ParticipantParams, r: Rhythm, s: _Schedule
) -> FloatArray:
    """Noise-free HR (bpm): resting level, rhythm, sleep, activity (+25 bpm per unit, as
    simulate_beats) and stress (+hr_gain per stressor)."""
    h = _clock_h(start_ns, t_s)
    hr = p.hr_rest + r.hr_amplitude_bpm * np.cos(2 * np.pi * (h - r.acrophase_h) / 24)
    hr += r.sleep_hr_bpm * _sleep_share(t_s, s.sleep)
    for e in s.bouts:
        hr += 25.0 * e.value * ((t_s >= e.start_s) & (t_s < e.end_s))
    level = np.full_like(t_s, REST_LEVEL)
    for kind, spans in (("stressor", s.stressors), ("self-care", s.self_care)):
        for a, b in spans:
            level[(t_s >= a) & (t_s < b)] = PHASE_STRESS[kind]
    return np.asarray(hr + p.hr_gain * (level - REST_LEVEL) / STRESSOR_DELTA, dtype=np.float64)


def plan_participant(plan: DaysPlan, index: int) -> tuple[DaysTruth, _Schedule]:
    """The ``index``-th participant's person, rhythm and week, and the truth about them."""
    rng = np.random.default_rng([plan.seed, index, 20])
    params = dataclasses.replace(
        ParticipantParams.draw(rng, non_responder_share=0.0),
        movement_every_s=None,  # the week's own movements (days_chunks)
        eda_drift_us_per_min=0.0,  # electrode settling is a first-minutes effect
    )
    rhythm = Rhythm.draw(rng)
    s = _schedule(rng, plan, rhythm)
    t = np.arange(0.0, plan.duration_s, 60.0)
    hours, hr = _clock_h(plan.start_ns, t), _expected_hr(t, plan.start_ns, params, rhythm, s)
    mesor, amplitude, acrophase = cosinor(hours, hr)
    rest = np.ones(t.size, dtype=bool)
    for e in s.bouts:
        rest &= (t < e.start_s) | (t >= e.end_s + AFTER_BOUT_S)
    masked = cosinor(hours[rest], hr[rest])
    start = plan.start_ns

    def span(a: float, b: float, v: float = 1.0) -> Span:
        return Span(start + round(a * NS), start + round(b * NS), v)

    truth = DaysTruth(
        participant=plan.participant_ids()[index],
        start_ns=start,
        end_ns=start + round(plan.duration_s * NS),
        params=params,
        rhythm=rhythm,
        sleep=tuple(span(a, b) for a, b in s.sleep),
        activity=tuple(span(e.start_s, e.end_s, e.value) for e in s.bouts),
        stressors=tuple(span(a, b) for a, b in s.stressors),
        self_care=tuple(span(a, b) for a, b in s.self_care),
        baseline=span(0.0, BASELINE_PHASE.duration_s),
        hr_acrophase_h=acrophase,
        hr_mesor_bpm=mesor,
        hr_amplitude_bpm=amplitude,
        hr_masked_mesor_bpm=masked[0],
        hr_masked_amplitude_bpm=masked[1],
        hr_masked_acrophase_h=masked[2],
    )
    return truth, s


def simulate_days(plan: DaysPlan) -> tuple[list[DaysTruth], Iterator[list[Event]]]:
    """The truth about every participant, and their events chunk by chunk (each chunk's
    events of all participants, sorted by time), generated as they are consumed."""
    from stresstrack.simulators.days_chunks import days_events

    people = [plan_participant(plan, i) for i in range(plan.participants)]
    return [t for t, _ in people], days_events(plan, people)
