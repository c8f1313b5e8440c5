"""Movement per window from an accelerometer, and the "additional heart rate": the part of
heart rate that movement does not explain (Myrtek 2004, *Heart and Emotion*, Hogrefe;
Myrtek et al. 1988 on emotional/additional heart rate in ambulatory monitoring).

Activity is the RMS, over one-second blocks, of the acceleration magnitude minus its block
mean: gravity and the slow breathing sway drop out, body movement stays. At rest a chest strap
sees 3-5 mG (sensor noise); fidgeting a few tens; walking hundreds.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "MOVEMENT_FEATURES",
    "MOVING_MG",
    "AdditionalHeartRate",
    "acc_activity",
    "motion_activity",
    "parse_motion_detail",
]

FloatArray = npt.NDArray[np.float64]
MOVEMENT_FEATURES: Final = ("activity_mg", "moving_share")
# A one-second block counts as moving above 30 mG (about 10x a still chest's noise; Polar's
# own still/moving detector in sensors/pmd_session.py enters "moving" at 60 mG of SD).
MOVING_MG: Final = 30.0
_MOTION: Final = re.compile(r"motion=(moving|still) level_mg=(\d+(?:\.\d+)?)")


def acc_activity(magnitude_mg: FloatArray, sampling_rate: float) -> dict[str, float | None]:
    """Mean activity (mG) over one-second blocks and the share of blocks that move.

    >>> fs = 25.0
    >>> still = 1000 + np.zeros(250)
    >>> acc_activity(still, fs)
    {'activity_mg': 0.0, 'moving_share': 0.0}
    """
    per = max(1, round(sampling_rate))
    n = magnitude_mg.size // per
    if n == 0:
        return dict.fromkeys(MOVEMENT_FEATURES)
    blocks = magnitude_mg[: n * per].reshape(n, per)
    rms = np.sqrt(np.mean((blocks - blocks.mean(axis=1, keepdims=True)) ** 2, axis=1))
    return {
        "activity_mg": round(float(rms.mean()), 6),
        "moving_share": round(float(np.mean(rms > MOVING_MG)), 6),
    }


def parse_motion_detail(detail: str) -> tuple[bool, float] | None:
    """Moving and level (mG) from a Polar collector's motion status, else None.

    >>> parse_motion_detail("motion=moving level_mg=412")
    (True, 412.0)
    >>> parse_motion_detail("eda:stresstrack-eda-v1") is None
    True
    """
    m = _MOTION.fullmatch(detail)
    return None if m is None else (m.group(1) == "moving", float(m.group(2)))


def motion_activity(
    changes: Sequence[tuple[int, bool, float]], start_ns: int, end_ns: int
) -> dict[str, float | None]:
    """Activity and moving share over (start, end] from still/moving changes ``(time,
    moving, level_mg)`` (the live Polar collector stores only these, sensors/pmd_session.py):
    each state lasts until the next change and counts with its level.

    >>> motion_activity([(0, False, 4.0), (30, True, 200.0), (45, False, 5.0)], 0, 60)
    {'activity_mg': 53.25, 'moving_share': 0.25}
    """
    k = bisect.bisect_right([c[0] for c in changes], start_ns) - 1
    if k < 0:
        return dict.fromkeys(MOVEMENT_FEATURES)
    level = moving = 0.0
    for i in range(k, len(changes)):
        t, is_moving, mg = changes[i]
        lo = max(t, start_ns)
        hi = min(changes[i + 1][0] if i + 1 < len(changes) else end_ns, end_ns)
        if hi <= lo:
            continue
        level += mg * (hi - lo)
        moving += (hi - lo) if is_moving else 0
    span = end_ns - start_ns
    return {"activity_mg": round(level / span, 6), "moving_share": round(moving / span, 6)}


@dataclass
class AdditionalHeartRate:
    """HR above what movement predicts, from a per-participant regression of window HR on
    activity updated online, shrunk towards a prior slope while movement has been rare.

    Myrtek calibrates each person's HR-activity relation and counts the HR beyond it as
    "additional" (emotional) heart rate. We fit the slope on the participant's own windows
    (least squares, with ``prior_weight`` pseudo-observations at ``prior_slope``), and
    subtract ``slope · (activity - reference)`` from HR, the reference being the baseline's
    activity.

    >>> a = AdditionalHeartRate()
    >>> for act, hr in [(5, 65), (100, 72), (5, 66), (200, 80)]:
    ...     a.update(act, hr)
    >>> round(a.slope, 3)
    0.079
    """

    prior_slope: float = 0.08  # bpm per mG: ~25 bpm for walking at ~300 mG
    prior_weight: float = 1.0e5  # mG² of pseudo-variance behind the prior
    n: int = 0
    mean_a: float = 0.0
    mean_h: float = 0.0
    sxx: float = 0.0
    sxy: float = 0.0

    def update(self, activity_mg: float, hr_bpm: float) -> None:
        """Welford's co-moment update with one window."""
        if not (math.isfinite(activity_mg) and math.isfinite(hr_bpm)):
            return
        self.n += 1
        da = activity_mg - self.mean_a
        self.mean_a += da / self.n
        self.mean_h += (hr_bpm - self.mean_h) / self.n
        self.sxx += da * (activity_mg - self.mean_a)
        self.sxy += da * (hr_bpm - self.mean_h)

    @property
    def slope(self) -> float:
        slope = (self.sxy + self.prior_weight * self.prior_slope) / (self.sxx + self.prior_weight)
        return max(0.0, slope)

    def additional(self, hr_bpm: float, activity_mg: float, reference_mg: float) -> float:
        return hr_bpm - self.slope * max(0.0, activity_mg - reference_mg)
