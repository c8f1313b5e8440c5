"""Kenward–Roger small-sample inference for the fixed effects of the study's mixed model
(:mod:`stresstrack.analysis.mixed_model`): ``y = X·b + Z·u + e`` with one random intercept
per participant, so ``V = σ²_u·ZZ' + σ²_e·I`` with variance parameters θ = (σ²_u, σ²_e).

Kenward & Roger (1997, *Biometrics* 53:983), as implemented in R's pbkrtest (Halekoh &
Højsgaard 2014, *J. Stat. Softw.* 59(9); ``R/KR-vcovAdj.R`` ``vcovAdj_internal`` and
``R/KR-modcomp.R`` ``.KR_adjust``), for a V linear in θ (its second derivatives, the R_ij
terms, are zero), with G_1 = ZZ', G_2 = I:

* Φ = (X'V⁻¹X)⁻¹, the plug-in covariance of b̂ at the REML estimates;
* P_i = −X'V⁻¹G_iV⁻¹X, Q_ij = X'V⁻¹G_iV⁻¹G_jV⁻¹X;
* W = the inverse expected REML information of θ: W = 2·[tr(ΠG_iΠG_j)]⁻¹ with
  Π = V⁻¹ − V⁻¹XΦX'V⁻¹;
* Φ_A = Φ + 2·Φ·[Σ_ij W_ij (Q_ij − P_iΦP_j)]·Φ: the bias of Φ̂ and the Kackar–Harville
  variance from estimating θ;
* for a contrast matrix L of rank q: F = (Lb̂)'(LΦ_AL')⁻¹(Lb̂)/q, scaled by λ and referred to
  F(q, m), with λ and m from A1, A2 (Θ = L'(LΦL')⁻¹L) as in pbkrtest's ``.KR_adjust``. For
  q = 1, λ = 1 and m = 2/A2 exactly (the Satterthwaite df of l'Φl), so the test is
  t = l'b̂ / √(l'Φ_A l) on m degrees of freedom.

**Boundary.** A random-intercept variance estimated at 0 stays a parameter of the adjustment,
as pbkrtest does with an lme4 fit on its boundary: W is the expected information evaluated at
σ²_u = 0, so Φ_A and m still carry the uncertainty of σ²_u (conservative: the constrained
estimate varies less than W says). SAS instead drops such a parameter, which gives the OLS
test on N − p df. When the information is singular (every participant has one row, so σ²_u
and σ²_e cannot be told apart) or the adjustment is not finite, :func:`kr_covariance` returns
None and the caller falls back to the plug-in covariance with its between-within df.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["KRCovariance", "KRTest", "gls_params", "kr_covariance", "kr_test", "reml_variances"]

FloatArray = npt.NDArray[np.float64]
# Reciprocal condition number below which the REML information is taken as singular.
MIN_INFO_RCOND: Final = 1e-10
# Fisher scoring of the REML variances: relative step at convergence, most steps.
SCORING_TOL: Final = 1e-13
SCORING_STEPS: Final = 100


class KRCovariance(NamedTuple):
    """Φ, Φ_A and what the F test needs (the P_i matrices and W)."""

    phi: FloatArray
    phi_a: FloatArray
    p_mats: tuple[FloatArray, ...]
    w: FloatArray


@dataclass(frozen=True, slots=True)
class KRTest:
    """The scaled F statistic λ·F on (q, m) df and its p; for q = 1 also the signed t."""

    f: float
    q: int
    df: float
    p: float
    scale: float  # λ
    t: float = math.nan


def _group_matrix(groups: Sequence[str]) -> FloatArray:
    """ZZ': 1 where two rows belong to the same participant."""
    labels = np.asarray(groups)
    return np.asarray(labels[:, None] == labels[None, :], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class _Reml:
    """V⁻¹, V⁻¹X, Φ, the REML projection Π and the derivatives G_i of V at θ."""

    v_inv: FloatArray
    vx: FloatArray
    phi: FloatArray
    proj: FloatArray
    g_mats: tuple[FloatArray, FloatArray]


def _reml(x: FloatArray, zz: FloatArray, re_var: float, scale: float) -> _Reml:
    """``LinAlgError`` when V or X'V⁻¹X is singular."""
    eye = np.eye(x.shape[0])
    v_inv = np.asarray(np.linalg.inv(max(re_var, 0.0) * zz + scale * eye), dtype=np.float64)
    vx = v_inv @ x
    phi = np.asarray(np.linalg.inv(x.T @ vx), dtype=np.float64)
    return _Reml(v_inv, vx, phi, v_inv - vx @ phi @ vx.T, (zz, eye))


def _information(r: _Reml) -> FloatArray:
    """tr(ΠG_iΠG_j): twice the expected REML information of θ."""
    pg = [r.proj @ g for g in r.g_mats]
    return np.array([[float(np.sum(a * b.T)) for b in pg] for a in pg])


def reml_variances(
    y: FloatArray, x: FloatArray, groups: Sequence[str], re_var: float, scale: float
) -> tuple[float, float] | None:
    """The REML estimates (σ²_u ≥ 0, σ²_e) to full precision by Fisher scoring from a
    nearby start (statsmodels' optimiser stops at about 1e-5 relative); None when scoring
    does not converge. A step that would make σ²_u negative puts it on its boundary, 0, and
    scores σ²_e alone."""
    zz = _group_matrix(groups)
    theta = np.array([max(re_var, 0.0), scale])
    for _ in range(SCORING_STEPS):
        try:
            r = _reml(x, zz, float(theta[0]), float(theta[1]))
            py = r.proj @ y
            # Score ×2: y'ΠG_iΠy − tr(ΠG_i); information ×2 likewise.
            score = np.array([float(py @ g @ py - np.sum(r.proj * g)) for g in r.g_mats])
            free = [0, 1] if theta[0] > 0 or score[0] > 0 else [1]
            step = np.zeros(2)
            step[free] = np.linalg.solve(_information(r)[np.ix_(free, free)], score[free])
        except np.linalg.LinAlgError:
            return None
        new = np.array([max(float(theta[0] + step[0]), 0.0), float(theta[1] + step[1])])
        if not (np.all(np.isfinite(new)) and new[1] > 0):
            return None
        done = bool(np.all(np.abs(new - theta) <= SCORING_TOL * float(np.sum(theta))))
        theta = new
        if done:
            return float(theta[0]), float(theta[1])
    return None


def gls_params(
    y: FloatArray, x: FloatArray, groups: Sequence[str], re_var: float, scale: float
) -> FloatArray:
    """b̂ = (X'V⁻¹X)⁻¹X'V⁻¹y at the given variances."""
    r = _reml(x, _group_matrix(groups), re_var, scale)
    return np.asarray(r.phi @ (r.vx.T @ y), dtype=np.float64)


def kr_covariance(
    x: FloatArray, groups: Sequence[str], re_var: float, scale: float
) -> KRCovariance | None:
    """Φ and Φ_A at the variance estimates (σ²_u = ``re_var``, σ²_e = ``scale``); None when the
    information of the variance parameters is singular or the result is not finite."""
    if not (scale > 0 and math.isfinite(re_var)):
        return None
    try:
        r = _reml(x, _group_matrix(groups), re_var, scale)
        info = _information(r)
        if 1.0 / np.linalg.cond(info) < MIN_INFO_RCOND:
            return None
        w = np.asarray(2.0 * np.linalg.inv(info), dtype=np.float64)
    except np.linalg.LinAlgError:
        return None
    gvx = [g @ r.vx for g in r.g_mats]
    p_mats = tuple(-(r.vx.T @ gx) for gx in gvx)
    u = np.zeros_like(r.phi)
    for i, gi in enumerate(gvx):
        for j, gj in enumerate(gvx):
            q_ij = gi.T @ r.v_inv @ gj
            u += w[i, j] * (q_ij - p_mats[i] @ r.phi @ p_mats[j])
    phi_a = r.phi + 2.0 * r.phi @ u @ r.phi
    phi_a = (phi_a + phi_a.T) / 2.0
    if not np.all(np.isfinite(phi_a)):
        return None
    return KRCovariance(r.phi, phi_a, p_mats, w)


def kr_test(kr: KRCovariance, params: FloatArray, contrasts: FloatArray) -> KRTest | None:
    """The Kenward–Roger F test of ``contrasts · b = 0`` (rows of a full-rank L); None when
    the approximation breaks down (λ or m not positive)."""
    ell = np.atleast_2d(contrasts)
    q = int(np.linalg.matrix_rank(ell))
    if q < ell.shape[0] or q == 0:
        return None
    est = ell @ params
    theta = ell.T @ np.linalg.solve(ell @ kr.phi @ ell.T, ell)
    us = [theta @ kr.phi @ p @ kr.phi for p in kr.p_mats]
    a1 = sum(kr.w[i, j] * np.trace(ui) * np.trace(uj) for i, ui in enumerate(us)
             for j, uj in enumerate(us))  # fmt: skip
    a2 = sum(kr.w[i, j] * float(np.sum(ui * uj.T)) for i, ui in enumerate(us)
             for j, uj in enumerate(us))  # fmt: skip
    var_a = ell @ kr.phi_a @ ell.T
    f = float(est @ np.linalg.solve(var_a, est)) / q
    df, lam = _df_and_scale(float(a1), float(a2), q)
    if not (df > 0 and lam > 0):
        return None
    t = math.nan
    if q == 1:
        t = float(est[0]) / math.sqrt(float(var_a[0, 0]))
    p = float(stats.f.sf(lam * f, q, df)) if math.isfinite(df) else float(stats.chi2.sf(q * f, q))
    return KRTest(lam * f, q, df, p, lam, t)


def _df_and_scale(a1: float, a2: float, q: int) -> tuple[float, float]:
    """(m, λ) of Kenward & Roger (1997, eqs. on p. 989; pbkrtest ``.KR_adjust``)."""
    if a2 <= 0:  # Φ does not depend on θ along L: the normal reference, no scaling
        return math.inf, 1.0
    if q == 1:  # λ = 1, m = 2/A2 (the general formulas reduce to these when A1 = A2)
        return 2.0 / a2, 1.0
    b = (a1 + 6.0 * a2) / (2.0 * q)
    g = ((q + 1) * a1 - (q + 4) * a2) / ((q + 2) * a2)
    denom = 3.0 * q + 2.0 * (1.0 - g)
    c1, c2, c3 = g / denom, (q - g) / denom, (q + 2.0 - g) / denom
    v0, v1, v2 = 1.0 + c1 * b, 1.0 - c2 * b, 1.0 - c3 * b
    e_inv = 1.0 - a2 / q  # 1 / E*
    if v1 == 0 or v2 == 0 or v0 <= 0:
        return math.nan, math.nan
    rho = (e_inv / v1) ** 2 * v0 / v2 / q
    if q * rho - 1.0 <= 0:
        return math.nan, math.nan
    m = 4.0 + (q + 2.0) / (q * rho - 1.0)
    lam = 1.0 if abs(m - 2.0) < 1e-2 else m * e_inv / (m - 2.0)
    return m, lam
