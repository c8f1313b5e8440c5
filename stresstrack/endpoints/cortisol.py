"""Cortisol reactivity of a session: the area under the curve of the samples that surround
it, with respect to ground (AUCg) and to increase (AUCi), Pruessner et al. (2003),
*Psychoneuroendocrinology* 28:916, formulas (2) and (3):

    AUCg = Σ_{i=1}^{n-1} (m_{i+1} + m_i) · t_i / 2
    AUCi = AUCg − m_1 · Σ_{i=1}^{n-1} t_i

with m_i the i-th of n measurements and t_i the time between measurements i and i + 1
(minutes here: AUC in value·min, e.g. nmol/L·min).

Salivary cortisol answers a stressor with a delay: it peaks 15-20 min after the stressor
ends (Kirschbaum & Hellhammer 1994; Dickerson & Kemeny 2004). A session from ``start`` to
``end`` is therefore judged on the samples from the last one at or before ``start + lag`` to
the first one at or after ``end + lag`` (``[lab] lag_minutes`` of the study file, default 20
for cortisol). Without a sample on each side, the session has no AUC.

>>> auc([0.0, 10.0, 20.0], [10.0, 14.0, 12.0])
(250.0, 50.0)
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["Reactivity", "auc", "level_at", "session_reactivity"]

NS_PER_MIN: Final = 60_000_000_000


@dataclass(frozen=True, slots=True)
class Reactivity:
    aucg: float
    auci: float
    samples: int
    first_ns: int  # the first and last sample used
    last_ns: int


def auc(minutes: Sequence[float], values: Sequence[float]) -> tuple[float, float]:
    """(AUCg, AUCi) of measurements ``values`` at ``minutes`` (Pruessner et al. 2003)."""
    if len(minutes) != len(values) or len(values) < 2:
        raise ValueError("AUC needs at least two measurements, each with a time")
    if any(b <= a for a, b in itertools.pairwise(minutes)):
        raise ValueError("measurement times must increase")
    gaps = [b - a for a, b in itertools.pairwise(minutes)]
    aucg = sum((values[i + 1] + values[i]) * gaps[i] / 2 for i in range(len(gaps)))
    return aucg, aucg - values[0] * sum(gaps)


def session_reactivity(
    times_ns: Sequence[int], values: Sequence[float], start_ns: int, end_ns: int, lag_ns: int
) -> Reactivity | None:
    """AUCg and AUCi of the samples surrounding ``[start + lag, end + lag]`` (sorted times);
    ``None`` without a sample at or before the start and one at or after the end."""
    lo, hi = start_ns + lag_ns, end_ns + lag_ns
    a = bisect.bisect_right(times_ns, lo) - 1
    b = bisect.bisect_left(times_ns, hi)
    if a < 0 or b >= len(times_ns) or b <= a:
        return None
    t = times_ns[a : b + 1]
    minutes = [(x - t[0]) / NS_PER_MIN for x in t]
    g, i = auc(minutes, values[a : b + 1])
    return Reactivity(g, i, len(t), t[0], t[-1])


def level_at(times_ns: Sequence[int], values: Sequence[float], t_ns: int) -> float | None:
    """The level at ``t_ns``, interpolated linearly between the samples around it; ``None``
    outside the samples."""
    if not times_ns or not times_ns[0] <= t_ns <= times_ns[-1]:
        return None
    j = bisect.bisect_left(times_ns, t_ns)
    if times_ns[j] == t_ns:
        return float(values[j])
    t0, t1 = times_ns[j - 1], times_ns[j]
    w = (t_ns - t0) / (t1 - t0)
    return float(values[j - 1] + w * (values[j] - values[j - 1]))
