"""Reproducible faults for simulated peripherals: radio, clock, heart and movement.

A :class:`Faults` plan belongs to one peripheral and is seeded, so a faulty run replays
exactly. What each fault does to the bytes a device sends:

* **link loss** (``disconnect_every_s``): the device becomes unreachable for
  ``disconnect_for_s``; the client sees a disconnect and must reconnect.
* **dropped notifications** (``drop_share``): a share of notifications never arrives.
* **transport jitter** (``latency_s``): each notification arrives late by an exponential
  delay of that mean (in order, as the BLE link layer delivers them).
* **clock drift** (``clock_drift_ppm``): the device's crystal runs fast (> 0) or slow; every
  interval it measures (HRS RR, PMD PPI) and every PMD timestamp carries the error.
* **ectopic beats** (``ectopic_per_min``): a premature beat, i.e. a short RR followed by a
  compensatory long one with the same sum; they are real beats, so the ECG shows them too.
* **missed beats** (``missed_per_min``): the device's beat detector misses a beat and reports
  two RRs merged into one; the ECG still shows both beats.
* **contact loss** (``contact_loss_every_s``): straps report no skin contact and no RR.
* **motion** (``motion_every_s``): bursts of movement: accelerometer bursts, EDA jumps and
  noise, optical PPI intervals flagged by the movement "blocker".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "Faults",
    "beats_with_ectopics",
    "beats_with_missed",
    "in_episodes",
    "motion_episodes",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Premature beats come 20-35 % early (coupling interval 65-80 % of the RR before them),
# a usual range for supraventricular and ventricular ectopics (Peltola 2012, Front Physiol
# 3:148, on ectopic beats in HRV data).
_ECTOPIC_EARLY: Final = (0.20, 0.35)


@dataclass(frozen=True, slots=True)
class Faults:
    """A reproducible fault plan for one peripheral."""

    disconnect_every_s: float | None = None  # mean time between link losses
    disconnect_for_s: float = 5.0  # how long the device stays unreachable
    drop_share: float = 0.0  # share of notifications lost in the air
    contact_loss_every_s: float | None = None
    contact_loss_for_s: float = 10.0
    seed: int = 0
    latency_s: float = 0.0  # mean transport delay (exponential); 0 = delivered at once
    clock_drift_ppm: float = 0.0  # device clock rate error (> 0: runs fast)
    ectopic_per_min: float = 0.0
    missed_per_min: float = 0.0
    motion_every_s: float | None = None  # mean time between bursts of movement
    motion_for_s: float = 8.0

    @property
    def drift(self) -> float:
        """Device seconds per true second, minus one."""
        return self.clock_drift_ppm * 1e-6


def _pick(times_s: FloatArray, per_min: float, rng: np.random.Generator) -> list[int]:
    """Indices of about ``per_min`` events per minute among beats 2..n-3, at least 3 apart."""
    n = times_s.size
    duration_s = float(times_s[-1]) if n else 0.0
    if per_min <= 0 or n < 6:
        return []
    count = min(n // 4, int(rng.poisson(per_min * duration_s / 60.0)))
    chosen: list[int] = []
    for k in sorted(rng.choice(np.arange(2, n - 3), size=count, replace=False).tolist()):
        if not chosen or k - chosen[-1] >= 3:
            chosen.append(int(k))
    return chosen


def beats_with_ectopics(
    times_s: FloatArray, rr_ms: FloatArray, per_min: float, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Make some beats premature: RR_k shortened, RR_k+1 lengthened by as much."""
    picks = _pick(times_s, per_min, rng)
    if not picks:
        return times_s, rr_ms
    times, rr = times_s.copy(), rr_ms.copy()
    for k in picks:
        early_ms = rr[k] * float(rng.uniform(*_ECTOPIC_EARLY))
        rr[k] -= early_ms
        rr[k + 1] += early_ms
        times[k] -= early_ms / 1000.0
    return times, rr


def beats_with_missed(
    times_s: FloatArray, rr_ms: FloatArray, per_min: float, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Drop some beats as a detector that misses them: RR_k and RR_k+1 become one interval."""
    picks = _pick(times_s, per_min, rng)
    if not picks:
        return times_s, rr_ms
    rr = rr_ms.copy()
    for k in picks:
        rr[k + 1] += rr[k]
    keep = np.ones(times_s.size, dtype=bool)
    keep[picks] = False
    return times_s[keep], rr[keep]


def motion_episodes(
    every_s: float | None, for_s: float, duration_s: float, seed: int
) -> list[tuple[float, float]]:
    """``(start_s, end_s)`` of movement bursts: exponential gaps of mean ``every_s``."""
    if every_s is None:
        return []
    rng = np.random.default_rng([seed, 7])
    out = []
    t = float(rng.exponential(every_s))
    while t < duration_s:
        length = for_s * float(rng.uniform(0.5, 1.5))
        out.append((t, t + length))
        t += length + float(rng.exponential(every_s))
    return out


def in_episodes(t_s: FloatArray, episodes: list[tuple[float, float]]) -> BoolArray:
    """Which of the times ``t_s`` fall inside one of ``episodes``."""
    mask = np.zeros(t_s.shape, dtype=bool)
    for start, end in episodes:
        mask |= (t_s >= start) & (t_s < end)
    return mask
