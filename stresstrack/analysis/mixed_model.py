"""The linear mixed model behind the study's controlled estimates
(:mod:`stresstrack.analysis.effects`): condition rows, their design matrix, the REML fit, and
contrasts and joint Wald tests with Kenward–Roger small-sample inference
(:mod:`stresstrack.analysis.kenward_roger`; see the effects module's documentation for the
model and its references).

The fit is statsmodels' ``MixedLM`` (REML), its two variances then scored to full precision
(:func:`~stresstrack.analysis.kenward_roger.reml_variances`) and the fixed effects taken as
the GLS estimate at them. Tests use the Kenward–Roger adjusted covariance Φ_A and
denominator df. Only when that adjustment is unavailable (the REML information of the
variances is singular, e.g. one row per participant, or the approximation breaks down) do
they fall back to the plug-in covariance with the caller's fallback df: the between-within
df (:func:`bw_df`; SAS's DDFM=BW) or, for the carry-over term, participants − orders.
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

from stresstrack.analysis.kenward_roger import (
    KRCovariance,
    gls_params,
    kr_covariance,
    kr_test,
    reml_variances,
)
from stresstrack.analysis.stats import NAN
from stresstrack.session.protocol import Design

__all__ = [
    "Contrast",
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
    kr: KRCovariance | None = None  # Kenward–Roger adjustment; None: plug-in ``cov`` only


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
    re_var, scale = float(np.asarray(fit.cov_re, dtype=np.float64).ravel()[0]), float(fit.scale)
    variances = reml_variances(y, x, groups, re_var, scale)
    if variances is not None:
        re_var, scale = variances
        params = gls_params(y, x, groups, re_var, scale)
    kr = kr_covariance(x, groups, re_var, scale)
    if kr is not None:
        cov = kr.phi
    return ModelFit(params, cov, scale, len(y), len(set(groups)), max(re_var, 0.0), kr)


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
    """Between-within df: observations − participants − within-participant fixed effects
    (the fallback df when the Kenward–Roger adjustment is unavailable)."""
    return float(len(m.y) - len(set(m.groups)) - m.within)


@dataclass(frozen=True, slots=True)
class Contrast:
    """``vec·b`` with its SE, t, df and two-sided p; ``kr`` False on the plug-in fallback."""

    estimate: float
    se: float
    t: float
    df: float
    p: float
    kr: bool

    def half_width(self, confidence: float = 0.95) -> float:
        """Half the t interval's width (NaN without a df)."""
        if not (self.df > 0 and math.isfinite(self.se)):
            return NAN
        return float(stats.t.ppf(0.5 + confidence / 2, self.df)) * self.se


def contrast_test(fit: ModelFit, vec: FloatArray, fallback_df: float) -> Contrast:
    """Estimate, SE, t, df and two-sided p of ``vec·b``: Kenward–Roger (SE from Φ_A, df m),
    else the plug-in SE on ``fallback_df``."""
    est = float(vec @ fit.params)
    kr = fit.kr
    test = kr_test(kr, fit.params, vec) if kr is not None else None
    if kr is not None and test is not None:
        se = math.sqrt(max(float(vec @ kr.phi_a @ vec), 0.0))
        return Contrast(est, se, test.t, test.df, test.p, True)
    se = math.sqrt(max(float(vec @ fit.cov @ vec), 0.0))
    if not (se > 0 and fallback_df > 0):
        return Contrast(est, se, NAN, fallback_df, NAN, False)
    t = est / se
    return Contrast(est, se, t, fallback_df, float(2 * stats.t.sf(abs(t), fallback_df)), False)


def wald_p(fit: ModelFit, rows: FloatArray, fallback_df: float) -> float:
    """p of the joint F test ``rows·b = 0``: Kenward–Roger, else the Wald F on the plug-in
    covariance referred to F(q, ``fallback_df``)."""
    q = rows.shape[0]
    if q == 0:
        return NAN
    test = kr_test(fit.kr, fit.params, rows) if fit.kr is not None else None
    if test is not None:
        return test.p
    if fallback_df <= 0:
        return NAN
    b = rows @ fit.params
    v = rows @ fit.cov @ rows.T
    try:
        f = float(b @ np.linalg.solve(v, b)) / q
    except np.linalg.LinAlgError:
        return NAN
    return float(stats.f.sf(f, q, fallback_df))


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
