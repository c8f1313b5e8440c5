"""Power and sample size of a study's primary test (``stresstrack power``).

The effect is a standardised within-participant difference dz (Cohen 1988; Lakens 2013): the
effect divided by the SD of the participants' differences. The test is a two-sided t test
whose statistic has a noncentral t distribution with noncentrality dz·√n:

* ``prepost``: the paired t test of during − pre, n − 1 degrees of freedom;
* ``crossover``: the mixed model's condition term in an AB/BA crossover with period and the
  pre value as covariates (stresstrack.analysis.effects), n − 3 degrees of freedom (the
  within-participant df; the fitted model's Kenward–Roger df is about this, a little more
  when the pre value carries between-participant information); dz is then the effect over
  the SD of the covariate-adjusted differences (√2 × the residual SD of the model).

Power = P(|T| > t_crit) under the noncentral t (exact, not a normal approximation).
"""

from __future__ import annotations

import math
from typing import Final, Literal

from scipy import optimize, stats

__all__ = ["DESIGNS", "Design", "min_detectable_dz", "power", "sample_size"]

Design = Literal["crossover", "prepost"]
DESIGNS: Final = ("crossover", "prepost")
_LOST_DF: Final = {"crossover": 3, "prepost": 1}  # df = n - this
MAX_N: Final = 100_000


def _df(n: int, design: Design) -> int:
    return n - _LOST_DF[design]


def power(dz: float, n: int, design: Design = "crossover", alpha: float = 0.05) -> float:
    """Power of the two-sided test of an effect ``dz`` with ``n`` participants.

    >>> round(power(0.5, 20, "prepost"), 4)
    0.5645
    """
    df = _df(n, design)
    if df < 1:
        return math.nan
    crit = float(stats.t.ppf(1 - alpha / 2, df))
    ncp = abs(dz) * math.sqrt(n)
    p = float(stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp))
    return 1.0 if math.isnan(p) and ncp > crit else p  # scipy's nct is NaN far in the tail


def sample_size(
    dz: float, target: float = 0.8, design: Design = "crossover", alpha: float = 0.05
) -> int:
    """Fewest participants giving at least ``target`` power (``ValueError`` if none up to
    :data:`MAX_N`).

    >>> sample_size(0.5, 0.8, "prepost")
    34
    """
    if not 0 < target < 1:
        raise ValueError(f"power must be within 0-1, got {target:g}")
    if dz == 0 or not math.isfinite(dz):
        raise ValueError("the effect must be a finite number other than 0")
    lo = _LOST_DF[design] + 1
    hi = lo
    while power(dz, hi, design, alpha) < target:
        hi *= 2
        if hi > MAX_N:
            raise ValueError(f"more than {MAX_N} participants needed for dz {dz:g}")
    while lo < hi:  # power rises with n: bisect for the first n reaching the target
        mid = (lo + hi) // 2
        if power(dz, mid, design, alpha) >= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


def min_detectable_dz(
    n: int, target: float = 0.8, design: Design = "crossover", alpha: float = 0.05
) -> float:
    """The smallest dz detected with ``target`` power by ``n`` participants.

    >>> round(min_detectable_dz(34, 0.8, "prepost"), 3)
    0.495
    """
    if _df(n, design) < 1:
        raise ValueError(
            f"a {design} analysis needs at least {_LOST_DF[design] + 1} participants, got {n}"
        )
    hi = 0.1
    while power(hi, n, design, alpha) < target:
        hi *= 2
    return float(optimize.brentq(lambda d: power(d, n, design, alpha) - target, 1e-6, hi))
