"""The 24-hour rhythm: single-component cosinor, and day-to-day stability (IS, IV).

**Cosinor** (Cornelissen 2014, *Theor. Biol. Med. Model.* 11:16; Nelson et al. 1979): the
model ``y(t) = M + A·cos(2πt/τ + φ) + e`` with τ = 24 h is linear in ``β = A·cos φ`` and
``γ = −A·sin φ``::

    y(t) = M + β·cos(2πt/τ) + γ·sin(2πt/τ) + e

fitted by ordinary least squares. MESOR ``M``; amplitude ``A = √(β² + γ²)``; the acrophase
is reported as the **clock time of the peak**, ``t_peak = atan2(γ, β)·τ/2π`` (mod 24 h).
Standard errors come from the linear model's covariance ``s²(XᵀX)⁻¹``; those of A and of
the acrophase by the delta method (the linearisation behind Bingham et al. 1982's confidence
region, *Chronobiologia* 9:397); 95 % intervals are ± t(n − 3)·SE. When the zero-amplitude
F test (Cornelissen 2014, eq. 8) gives p ≥ 0.05 the confidence region holds the origin and
the acrophase interval is left undefined (NaN), as Bingham's method does.

The series fitted are the means of ``bin_min``-minute bins (default 10): windows 5 s apart
share most of their data, and binning keeps the OLS standard errors from counting them as
independent (residuals of adjacent bins may still correlate: the intervals are approximate).

**Stability** (Witting et al. 1990; Van Someren et al. 1999, *Chronobiol. Int.* 16:505), of
hourly means x₁..x_N over the recording, x̄_h the mean of clock hour h over the days, p = 24::

    IS = N Σ_h (x̄_h − x̄)² / (p Σ_i (x_i − x̄)²)        0 (no pattern) .. 1 (same every day)
    IV = N Σ_i (x_i − x_{i−1})² / ((N − 1) Σ_i (x_i − x̄)²)   ≈ 0 smooth, ≈ 2 noise

Hours without a value are left out (IV sums only pairs of consecutive hours both present).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["Cosinor", "Stability", "bin_means", "clock", "cosinor", "stability"]

FloatArray = npt.NDArray[np.float64]
PERIOD_H: Final = 24.0
NAN: Final = math.nan


def clock(hours: float) -> str:
    """Clock time ``HH:MM`` of hours after midnight ("–" when undefined).

    >>> clock(15.5), clock(23.999), clock(float("nan"))
    ('15:30', '00:00', '–')
    """
    if not math.isfinite(hours):
        return "–"
    minutes = round(hours * 60) % 1440
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, slots=True)
class Cosinor:
    """A single-component cosinor fit; intervals are 95 % (NaN where undefined)."""

    n: int
    mesor: float
    amplitude: float
    acrophase_h: float  # clock time of the peak, 0-24 h
    mesor_ci: tuple[float, float]
    amplitude_ci: tuple[float, float]
    acrophase_ci: tuple[float, float]  # hours; may cross midnight (lo > hi)
    p: float  # zero-amplitude F test
    r2: float
    se: tuple[float, float, float]  # standard errors of mesor, amplitude, acrophase (h)


def bin_means(
    hours: FloatArray, values: FloatArray, bin_min: int = 10, min_share: float = 0.5
) -> tuple[FloatArray, FloatArray]:
    """Means of ``bin_min``-minute bins of a per-minute series (bin centre times in hours);
    bins with fewer than ``min_share`` of their minutes present are dropped.

    >>> h, v = bin_means(np.arange(20) / 60, np.arange(20, dtype=float))
    >>> h.round(3).tolist(), v.tolist()
    ([0.075, 0.242], [4.5, 14.5])
    """
    idx = np.floor(hours * 60 / bin_min).astype(np.int64)
    idx -= idx.min(initial=0)
    ok = np.isfinite(values)
    n = int(idx.max(initial=-1)) + 1
    count = np.bincount(idx[ok], minlength=n)
    total = np.bincount(idx[ok], weights=values[ok], minlength=n)
    t = np.bincount(idx, weights=hours, minlength=n) / np.maximum(np.bincount(idx, minlength=n), 1)
    keep = count >= min_share * bin_min
    return t[keep], total[keep] / count[keep]


def cosinor(hours: FloatArray, values: FloatArray, period_h: float = PERIOD_H) -> Cosinor | None:
    """The cosinor fit of ``values`` at ``hours`` (clock hours); None with < 4 points.

    >>> t = np.arange(0, 48, 0.5)
    >>> c = cosinor(t, 60 + 8 * np.cos(2 * np.pi * (t - 15) / 24))
    >>> round(c.mesor, 3), round(c.amplitude, 3), round(c.acrophase_h, 3)
    (60.0, 8.0, 15.0)
    """
    ok = np.isfinite(hours) & np.isfinite(values)
    t, y = hours[ok], values[ok]
    n = int(t.size)
    if n < 4:
        return None
    w = 2 * np.pi * t / period_h
    x = np.column_stack([np.ones(n), np.cos(w), np.sin(w)])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    m, beta, gamma = (float(c) for c in coef)
    resid = y - x @ coef
    df = n - 3
    s2 = float(resid @ resid) / df if df > 0 else NAN
    cov = s2 * np.linalg.inv(x.T @ x)
    amp = math.hypot(beta, gamma)
    phase = math.atan2(gamma, beta)  # radians of the peak after t = 0
    peak_h = (phase * period_h / (2 * math.pi)) % period_h
    # Delta method: gradients of A and of the phase with respect to (β, γ).
    g_amp = np.array([0.0, beta / amp, gamma / amp]) if amp > 0 else np.zeros(3)
    g_phi = np.array([0.0, -gamma, beta]) / amp**2 if amp > 0 else np.full(3, NAN)
    se_m = math.sqrt(cov[0, 0]) if df > 0 else NAN
    se_a = math.sqrt(float(g_amp @ cov @ g_amp)) if df > 0 else NAN
    se_phi_h = math.sqrt(float(g_phi @ cov @ g_phi)) * period_h / (2 * math.pi)
    tq = float(stats.t.ppf(0.975, df)) if df > 0 else NAN
    tss = float(((y - y.mean()) ** 2).sum())
    rss = float(resid @ resid)
    r2 = 1 - rss / tss if tss > 0 else NAN
    f = ((tss - rss) / 2) / (rss / df) if df > 0 and rss > 0 else math.inf
    p = float(stats.f.sf(f, 2, df)) if df > 0 else NAN
    phase_ci = (
        ((peak_h - tq * se_phi_h) % period_h, (peak_h + tq * se_phi_h) % period_h)
        if p < 0.05 and math.isfinite(se_phi_h)
        else (NAN, NAN)
    )
    return Cosinor(
        n=n,
        mesor=m,
        amplitude=amp,
        acrophase_h=peak_h,
        mesor_ci=(m - tq * se_m, m + tq * se_m),
        amplitude_ci=(max(0.0, amp - tq * se_a), amp + tq * se_a),
        acrophase_ci=phase_ci,
        p=p,
        r2=r2,
        se=(se_m, se_a, se_phi_h),
    )


@dataclass(frozen=True, slots=True)
class Stability:
    """Interdaily stability and intradaily variability of hourly means (NaN if undefined)."""

    is_: float
    iv: float
    hours: int  # hourly values used


def stability(hours: FloatArray, values: FloatArray, min_share: float = 0.5) -> Stability:
    """IS and IV of a per-minute series (see the module); NaN with under 2 days of hours.

    >>> t = np.arange(0, 72 * 60) / 60
    >>> s = stability(t, np.sin(2 * np.pi * t / 24))
    >>> round(s.is_, 3), round(s.iv, 3), s.hours
    (1.0, 0.067, 72)
    """
    h, x = bin_means(hours, values, bin_min=60, min_share=min_share)
    n = int(x.size)
    if n < 48:
        return Stability(NAN, NAN, n)
    mean = float(x.mean())
    total = float(((x - mean) ** 2).sum())
    if total == 0:
        return Stability(NAN, NAN, n)
    clock = np.floor(h % 24).astype(np.int64)
    p = len(set(clock.tolist()))
    hourly = np.array([x[clock == k].mean() for k in sorted(set(clock.tolist()))])
    is_ = n * float(((hourly - mean) ** 2).sum()) / (p * total)
    step = np.round(np.diff(h)).astype(np.int64) == 1  # consecutive hours only
    pairs = int(step.sum())
    iv = n * float((np.diff(x)[step] ** 2).sum()) / (pairs * total) if pairs else NAN
    return Stability(is_, iv, n)
