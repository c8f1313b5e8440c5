"""Synthetic multi-day participants with a known truth, at the level the days analysis reads:
feature rows (HR, RMSSD, accelerometer activity and moving share), stress rows and sessions.

Truth per participant: a 24-h cosinor in HR and in the stress index (MESOR, amplitude, clock
time of the peak), one sleep window a night (still wrist: 3-6 mG with a few brief turns),
awake activity around 45 mG (log-normal), a daily exercise bout (HR +35 bpm, 350 mG, moving,
and a stress index that reads high as a naive index would), two daily stressors (index ~85)
at known times, an hour of low-confidence data a day, and self-care sessions that lower the
index by a known amount over the following two hours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from stresstrack.pipeline.results import FeatureRow, Session, StressRow

NS = 1_000_000_000
MIN = 60 * NS


@dataclass
class Truth:
    start_ns: int
    hr_acrophase_h: float
    stress_acrophase_h: float
    sleep: list[tuple[int, int]] = field(default_factory=list)  # (start_ns, end_ns)
    stressors: list[tuple[int, int]] = field(default_factory=list)
    exercise: list[tuple[int, int]] = field(default_factory=list)
    selfcare: list[tuple[int, int]] = field(default_factory=list)
    selfcare_effect: float = 0.0


@dataclass
class Synthetic:
    features: list[FeatureRow]
    stress: list[StressRow]
    sessions: list[Session]
    truth: Truth


def _inside(t: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    out = np.zeros(t.size, dtype=bool)
    for lo, hi in spans:
        out |= (t >= lo) & (t < hi)
    return out


def _local_ns(day0: datetime, days: int, hours: float) -> int:
    return int((day0 + timedelta(days=days, hours=hours)).astimezone(UTC).timestamp() * NS)


def multi_day(
    *, days: int = 7, seed: int = 0, tz: str = "UTC", participant: str = "p1",
    hr_acrophase_h: float = 15.5, stress_acrophase_h: float = 14.0, hop_s: float = 30.0,
    selfcare_days: tuple[int, ...] = (1, 3, 5), selfcare_effect: float = -8.0,
    window_s: float = 60.0, still_awake: bool = False, hr_amplitude: float = 8.0,
) -> Synthetic:  # fmt: skip
    """A participant of ``days`` days from local midnight; rows every ``hop_s`` seconds.

    ``still_awake``: awake hours as still as sleep (3-6 mG, a posture change in 3 % of
    minutes), as a chest strap sees someone sitting: the accelerometer alone cannot tell."""
    rng = np.random.default_rng(seed)
    day0 = datetime(2026, 3, 2, tzinfo=ZoneInfo(tz))
    start = _local_ns(day0, 0, 0)
    truth = Truth(start, hr_acrophase_h, stress_acrophase_h, selfcare_effect=selfcare_effect)
    for d in range(days):
        onset = 23.0 + rng.uniform(-0.75, 0.75)
        truth.sleep.append(
            (_local_ns(day0, d, onset), _local_ns(day0, d, onset + 7.5 + rng.uniform(-0.5, 0.5)))
        )
        ex = rng.uniform(8.0, 9.0) if d % 2 else rng.uniform(17.5, 19.5)
        truth.exercise.append((_local_ns(day0, d, ex), _local_ns(day0, d, ex + 0.75)))
        for lo_h, length in ((rng.uniform(10.0, 11.0), 25), (rng.uniform(14.5, 16.0), 40)):
            truth.stressors.append(
                (_local_ns(day0, d, lo_h), _local_ns(day0, d, lo_h + length / 60))
            )
        if d in selfcare_days:
            truth.selfcare.append((_local_ns(day0, d, 20.5), _local_ns(day0, d, 20.5 + 1 / 3)))
    # The first night's sleep starts at the end of day 0; the recording starts awake.
    t = (
        start
        + round(window_s * NS)
        + np.arange(0, days * 86400 - window_s, hop_s).astype(np.int64) * NS
    )
    centre = t - round(window_s / 2 * NS)  # rows are dated at their window's end
    hours = (centre - start) / 3600e9
    # Minutes share a value (the generator's epoch), so a minute's rows agree.
    minute = (centre - start) // MIN
    n_min = int(minute.max()) + 1
    asleep_min = _inside(start + np.arange(n_min) * MIN, truth.sleep)
    awake = rng.lognormal(math.log(25), 0.5, n_min)
    # At the desk during a stressor and the 10 min before it (no walking to mask it).
    desk = _inside(start + np.arange(n_min) * MIN, [(a - 10 * MIN, b) for a, b in truth.stressors])
    awake[desk] = rng.uniform(12, 25, int(desk.sum()))
    if still_awake:
        awake = np.where(rng.random(n_min) < 0.03, 40.0, rng.uniform(3, 6, n_min))
    act_min = np.where(asleep_min, rng.uniform(3, 6, n_min), awake)
    turns = asleep_min & (rng.random(n_min) < 0.02)  # brief turns in bed
    act_min[turns] = 60.0
    exercising = _inside(centre, truth.exercise)
    activity = np.where(exercising, 350.0, act_min[minute])
    moving = np.clip((activity - 15) / 100, 0, 1)  # share of 1 s blocks above 30 mG
    hr = 62 + hr_amplitude * np.cos(2 * np.pi * (hours - hr_acrophase_h) / 24)
    hr = hr + rng.normal(0, 2, t.size)
    hr = hr - 4 * asleep_min[minute] + 35 * exercising
    rmssd = np.exp(math.log(40) - 0.02 * (hr - 62) + rng.normal(0, 0.1, t.size))
    ar = np.zeros(n_min)
    e = rng.normal(0, 4, n_min)
    for i in range(1, n_min):
        ar[i] = 0.6 * ar[i - 1] + e[i]
    index = 50 + 10 * np.cos(2 * np.pi * (hours - stress_acrophase_h) / 24) + ar[minute]
    stressed = _inside(centre, truth.stressors)
    index = np.where(stressed, 85 + rng.normal(0, 2, t.size), index)
    index = np.where(exercising, 82.0, index)  # a naive index reads exercise as stress
    after_care = _inside(centre, [(b, b + 2 * 3600 * NS) for _, b in truth.selfcare])
    index = index + selfcare_effect * after_care
    conf = np.where((hours % 24 >= 12) & (hours % 24 < 13), 0.3, 0.9)  # an hour of bad data
    features = [
        FeatureRow(time_ns=int(t[i]), participant=participant, study="s",
                   values={"mean_hr_bpm": float(hr[i]), "rmssd_ms": float(rmssd[i]),
                           "activity_mg": float(activity[i]), "moving_share": float(moving[i])})
        for i in range(t.size)
    ]  # fmt: skip
    stress = [
        StressRow(time_ns=int(t[i]), participant=participant, study="s",
                  index=float(np.clip(index[i], 0, 100)), confidence=float(conf[i]),
                  components={}, version="2.0")
        for i in range(t.size)
    ]  # fmt: skip
    sessions = [
        Session(participant=participant, study="s", kind="self-care", start_ns=a, end_ns=b)
        for a, b in truth.selfcare
    ]
    return Synthetic(features, stress, sessions, truth)
