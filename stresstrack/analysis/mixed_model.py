"""The linear mixed model behind the study's controlled estimates
(:mod:`stresstrack.analysis.effects`): condition rows, their design matrix, the REML fit, and
contrasts and joint Wald tests with the between-within degrees of freedom (see the effects
module's documentation for the model and its references).
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from stresstrack.analysis.stats import NAN
from stresstrack.session.protocol import Design

__all__ = [
    "Matrix",
    "ModelFit",
    "Row",
    "bw_df",
    "contrast_test",
    "design_matrix",
    "fit_mixed",
    "fit_or_none",
    "participants_with_both",
    "unit_vector",
    "wald_p",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Row:
    """One condition session: what the mixed model sees."""

    participant: str
    condition: str
    level: str  # kind · mode · label
    arm: str
    period: int
    pre: float
    during: float
    follows: str = ""  # the condition of the participant's previous condition session


@dataclass(frozen=True, slots=True)
class ModelFit:
    params: FloatArray
    cov: FloatArray
    scale: float  # residual variance
    n_obs: int
    n_groups: int
    re_var: float = NAN  # random-intercept variance


def fit_mixed(y: FloatArray, x: FloatArray, groups: Sequence[str]) -> ModelFit:
    """REML fit of ``y = x·b + u_group + e``; ``ValueError`` when it cannot be fitted."""
    from statsmodels.regression.mixed_linear_model import MixedLM

    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise ValueError("the design matrix is singular (a condition or period is missing)")
    with warnings.catch_warnings():
        # A random-intercept variance on its boundary (0: ConvergenceWarning, "covariance is
        # singular") is a valid fit, not an error; non-finite results are checked below.
        warnings.simplefilter("ignore")
        try:
            fit = MixedLM(y, x, groups=np.asarray(groups)).fit(reml=True)
        except (np.linalg.LinAlgError, ValueError) as exc:
            raise ValueError(f"the mixed model could not be fitted ({exc})") from None
    k = x.shape[1]
    params = np.asarray(fit.fe_params, dtype=np.float64)
    cov = np.asarray(fit.cov_params(), dtype=np.float64)[:k, :k]
    if not (np.all(np.isfinite(params)) and np.all(np.isfinite(cov))):
        raise ValueError("the mixed model did not converge")
    re_var = float(np.asarray(fit.cov_re, dtype=np.float64).ravel()[0])
    return ModelFit(params, cov, float(fit.scale), len(y), len(set(groups)), re_var)


@dataclass(frozen=True, slots=True)
class Matrix:
    y: FloatArray
    x: FloatArray
    groups: list[str]
    columns: list[str]
    within: int  # within-participant fixed effects (for the BW df)


def design_matrix(
    rows: Sequence[Row],
    design: Design,
    *,
    levels: bool = False,
    carryover: bool = False,
    arms: bool = False,
) -> Matrix:
    """Intercept, condition (or level) dummies, period dummies, centred pre; optional
    condition × period or condition × arm terms."""
    treat_of = [r.level if levels else r.condition for r in rows]
    control_rows = {i for i, r in enumerate(rows) if r.condition == design.control}
    treatments = list(dict.fromkeys(t for i, t in enumerate(treat_of) if i not in control_rows))
    periods = sorted({r.period for r in rows})[1:]
    arm_levels = sorted({r.arm for r in rows})[1:] if arms else []
    pre = np.array([r.pre for r in rows])
    cols: dict[str, FloatArray] = {"intercept": np.ones(len(rows))}
    for t in treatments:
        cols[f"c:{t}"] = np.array(
            [1.0 if i not in control_rows and treat_of[i] == t else 0.0 for i in range(len(rows))]
        )
    for k in periods:
        cols[f"period:{k}"] = np.array([1.0 if r.period == k else 0.0 for r in rows])
    cols["pre"] = pre - pre.mean()
    within = len(treatments) + len(periods) + 1
    if carryover:
        for t in treatments:
            for k in periods:
                cols[f"c:{t}×period:{k}"] = cols[f"c:{t}"] * cols[f"period:{k}"]
    for a in arm_levels:
        cols[f"arm:{a}"] = np.array([1.0 if r.arm == a else 0.0 for r in rows])
    for a in arm_levels:
        for t in treatments:
            cols[f"c:{t}×arm:{a}"] = cols[f"c:{t}"] * cols[f"arm:{a}"]
            within += 1
    return Matrix(
        np.array([r.during for r in rows]),
        np.column_stack(list(cols.values())),
        [r.participant for r in rows],
        list(cols),
        within,
    )


def bw_df(m: Matrix) -> float:
    return float(len(m.y) - len(set(m.groups)) - m.within)


def contrast_test(fit: ModelFit, vec: FloatArray, df: float) -> tuple[float, float, float, float]:
    """Estimate, SE, t and two-sided p of ``vec·b``."""
    est = float(vec @ fit.params)
    se = math.sqrt(max(float(vec @ fit.cov @ vec), 0.0))
    if not (se > 0 and df > 0):
        return est, se, NAN, NAN
    t = est / se
    return est, se, t, float(2 * stats.t.sf(abs(t), df))


def wald_p(fit: ModelFit, rows: FloatArray, df2: float) -> float:
    """p of the joint F test ``rows·b = 0``."""
    q = rows.shape[0]
    if q == 0 or df2 <= 0:
        return NAN
    b = rows @ fit.params
    v = rows @ fit.cov @ rows.T
    try:
        f = float(b @ np.linalg.solve(v, b)) / q
    except np.linalg.LinAlgError:
        return NAN
    return float(stats.f.sf(f, q, df2))


def unit_vector(columns: Sequence[str], name: str) -> FloatArray:
    v = np.zeros(len(columns))
    v[columns.index(name)] = 1.0
    return v


def participants_with_both(
    rows: Sequence[Row], treatment: str, control: str, attr: str = "condition"
) -> int:
    has: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        has[r.participant].add(getattr(r, attr) if r.condition != control else control)
    return sum(treatment in s and control in s for s in has.values())


def fit_or_none(m: Matrix, df: float) -> ModelFit | None:
    """The fit, or None when there are too few degrees of freedom or it fails."""
    if df < 1:
        return None
    try:
        return fit_mixed(m.y, m.x, m.groups)
    except ValueError:
        return None
