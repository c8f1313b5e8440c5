"""Confidence intervals for the difference between two groups of participants.

Windows, beats and prompts come in clusters (a participant's windows are alike), so every
interval here takes the participant as the unit; counting windows as independent gives
intervals far too narrow and flags equal groups.

* **Shares and rates** (excluded windows of all windows, lost beats of expected beats,
  prompts per hour of high stress): each group's pooled ratio ``Σy / Σn`` over its
  participants' ``(y, n)``, with the ratio estimator's between-participant (linearisation)
  variance ``k/(k−1) · Σ(y_i − r·n_i)² / (Σn)²`` (Cochran 1977, *Sampling Techniques*,
  3rd ed., §6.3; the cluster-level analysis of Donner & Klar 2000, *Design and Analysis
  of Cluster Randomization Trials*, ch. 6), and a t interval of the difference with
  Welch–Satterthwaite degrees of freedom (each group: participants − 1).
* **Means** of per-participant values (baseline spread, confidence): Welch's interval
  (Welch 1947, *Biometrika* 34:28).

Why not Newcombe's score interval (1998, *Stat. Med.* 17:873, method 10) for the shares: on
Rao & Scott's (1992, *Biometrics* 48:577) effective counts (``x/deff``, ``n/deff``) it
flagged 5.4-7.5 % of equal groups of 4-20 clustered (beta-binomial) participants at a
nominal 5 % with t quantiles, and up to 10 % with z, when measured during development; the
ratio interval flagged 2.3-4.9 % in the same simulation. tests/analysis/test_group_stats.py
checks the ratio interval's rate and coverage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from scipy import stats

__all__ = ["LEVEL", "Difference", "mean_difference", "ratio_difference"]

NAN: Final = math.nan
LEVEL: Final = 0.95


@dataclass(frozen=True, slots=True)
class Difference:
    """Group a minus group b: the estimate, its CI, and the two groups' values."""

    estimate: float
    ci: tuple[float, float]
    a: float
    b: float
    n_a: int  # participants
    n_b: int

    def excludes_zero(self) -> bool:
        lo, hi = self.ci
        return math.isfinite(lo) and math.isfinite(hi) and (lo > 0 or hi < 0)


def _welch(
    ma: float, va: float, dfa: float, mb: float, vb: float, dfb: float
) -> tuple[float, float]:
    """CI of ``ma − mb`` from the two estimates' variances and degrees of freedom."""
    d = ma - mb
    if not va + vb > 0:
        return d, d
    df = (va + vb) ** 2 / (va**2 / dfa + vb**2 / dfb)
    half = float(stats.t.ppf(0.5 + LEVEL / 2, df)) * math.sqrt(va + vb)
    return d - half, d + half


def mean_difference(a: Sequence[float], b: Sequence[float]) -> Difference:
    """Mean of ``a`` minus mean of ``b`` (one value per participant), Welch's interval.

    >>> d = mean_difference([1.0, 2.0, 3.0], [0.0, 1.0, 2.0])
    >>> d.estimate, [round(x, 3) for x in d.ci]
    (1.0, [-1.267, 3.267])
    """
    a = [x for x in a if math.isfinite(x)]
    b = [x for x in b if math.isfinite(x)]
    if len(a) < 2 or len(b) < 2:
        return Difference(NAN, (NAN, NAN), NAN, NAN, len(a), len(b))
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    va = sum((x - ma) ** 2 for x in a) / (len(a) - 1) / len(a)
    vb = sum((x - mb) ** 2 for x in b) / (len(b) - 1) / len(b)
    return Difference(
        ma - mb, _welch(ma, va, len(a) - 1, mb, vb, len(b) - 1), ma, mb, len(a), len(b)
    )


def _ratio(counts: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Ratio estimator ``Σy / Σn`` and its between-participant variance."""
    total = sum(n for _, n in counts)
    r = sum(y for y, _ in counts) / total
    k = len(counts)
    return r, k / (k - 1) * sum((y - r * n) ** 2 for y, n in counts) / total**2


def ratio_difference(
    a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]]
) -> Difference:
    """Pooled ratio ``Σy/Σn`` in ``a`` minus in ``b`` from per-participant ``(y, n)`` (a
    share: excluded of all windows; a rate: prompts per hour); ``n = 0`` is left out.

    >>> d = ratio_difference([(1, 10), (3, 10)], [(0, 10), (0, 10)])
    >>> round(d.estimate, 3), [round(x, 3) for x in d.ci]
    (0.2, [-1.071, 1.471])
    """
    a = [c for c in a if c[1] > 0]
    b = [c for c in b if c[1] > 0]
    if len(a) < 2 or len(b) < 2:
        return Difference(NAN, (NAN, NAN), NAN, NAN, len(a), len(b))
    ra, va = _ratio(a)
    rb, vb = _ratio(b)
    ci = _welch(ra, va, len(a) - 1, rb, vb, len(b) - 1)
    return Difference(ra - rb, ci, ra, rb, len(a), len(b))
