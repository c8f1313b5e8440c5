"""Do body and mind agree? Within- and between-person correlations of paired outcomes
(docs/endpoints.md, "Convergence").

**Within-person**: the repeated-measures correlation of Bakdash & Marusich (2017, *Front.
Psychol.* 8:456): an ANCOVA with the participant as a factor and one common slope,

    y_ij = a_i + b·x_ij + e_ij,    r_rm = sign(b)·√(SS_x / (SS_x + SS_e)),

SS_x the sum of squares the common slope explains after the participants' intercepts, SS_e
the residual; df = N − k − 1 (N observations, k participants); p from the slope's F test;
95 % CI by Fisher's z with SE 1/√(df − 1), as the rmcorr R package and pingouin compute it.
It says whether a participant who feels more stressed than usual is also physiologically
more stressed than usual, free of differences between people.

**Between-person**: Pearson's r of the participants' means (each participant once), CI by
Fisher's z with SE 1/√(k − 3). It says whether people who report more stress overall also
show more physiological stress overall; it can differ from the within-person one in sign
(Bakdash & Marusich 2017, Fig. 1).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy import stats

from stresstrack.analysis.stats import NAN

__all__ = ["Correlation", "between_corr", "rm_corr"]

Z975: Final = float(stats.norm.ppf(0.975))


@dataclass(frozen=True, slots=True)
class Correlation:
    r: float
    ci: tuple[float, float]
    p: float
    df: int
    n_obs: int
    n_participants: int
    note: str = ""


def _fisher_ci(r: float, se: float) -> tuple[float, float]:
    if not (math.isfinite(r) and math.isfinite(se)) or abs(r) >= 1:
        return (r, r) if abs(r) == 1 else (NAN, NAN)
    z = math.atanh(r)
    return math.tanh(z - Z975 * se), math.tanh(z + Z975 * se)


def _empty(n_obs: int, k: int, note: str) -> Correlation:
    return Correlation(NAN, (NAN, NAN), NAN, 0, n_obs, k, note)


def rm_corr(participants: Sequence[str], x: Sequence[float], y: Sequence[float]) -> Correlation:
    """The repeated-measures correlation of ``x`` and ``y`` (Bakdash & Marusich 2017).

    >>> c = rm_corr(["a"] * 3 + ["b"] * 3, [1, 2, 3, 1, 2, 3], [2, 4, 7, 12, 14, 15])
    >>> round(c.r, 3), c.df
    (0.961, 3)
    """
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, who in enumerate(participants):
        groups[who].append(i)
    k, n = len(groups), len(xs)
    df = n - k - 1
    if df < 2:
        return _empty(n, k, f"needs more repeated observations ({n} over {k} participants)")
    xc, yc = xs.copy(), ys.copy()
    for idx in groups.values():
        xc[idx] -= xs[idx].mean()
        yc[idx] -= ys[idx].mean()
    sxx, syy, sxy = float(xc @ xc), float(yc @ yc), float(xc @ yc)
    if sxx <= 0 or syy <= 0:
        return _empty(n, k, "no within-person variation")
    ss_x = sxy**2 / sxx  # explained by the common slope
    ss_e = max(syy - ss_x, 0.0)
    r = math.copysign(math.sqrt(ss_x / (ss_x + ss_e)), sxy)
    p = float(stats.f.sf(ss_x / (ss_e / df), 1, df)) if ss_e > 0 else 0.0
    return Correlation(r, _fisher_ci(r, 1 / math.sqrt(df - 1)), p, df, n, k)


def between_corr(
    participants: Sequence[str], x: Sequence[float], y: Sequence[float]
) -> Correlation:
    """Pearson's r of the participants' mean ``x`` and mean ``y``."""
    sums: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for p, a, b in zip(participants, x, y, strict=True):
        sums[p].append((a, b))
    mx = np.array([np.mean([a for a, _ in v]) for v in sums.values()])
    my = np.array([np.mean([b for _, b in v]) for v in sums.values()])
    k = len(mx)
    if k < 4 or np.std(mx) == 0 or np.std(my) == 0:
        return _empty(len(participants), k, f"needs 4 participants with varying means ({k})")
    res = stats.pearsonr(mx, my)
    r = float(res.statistic)
    return Correlation(
        r, _fisher_ci(r, 1 / math.sqrt(k - 3)), float(res.pvalue), k - 2, len(participants), k
    )
