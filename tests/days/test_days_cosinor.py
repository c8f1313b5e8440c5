"""The cosinor against statsmodels OLS on the cos/sin design and against known truth; IS and
IV against a pandas implementation of Van Someren et al. 1999's formulas."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from stresstrack.days.cosinor import bin_means, cosinor, stability

RNG_SEEDS = range(5)


def _design(t: np.ndarray) -> np.ndarray:
    w = 2 * np.pi * t / 24
    return np.column_stack([np.ones(t.size), np.cos(w), np.sin(w)])


def _numeric_se(params: np.ndarray, cov: np.ndarray, f: object) -> float:
    """SE of f(params) by a finite-difference gradient (the reference's delta method)."""
    assert callable(f)
    grad = np.zeros(3)
    for i in range(3):
        step = np.zeros(3)
        step[i] = 1e-6
        grad[i] = (f(params + step) - f(params - step)) / 2e-6
    return float(math.sqrt(grad @ cov @ grad))


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_cosinor_matches_statsmodels_ols(seed: int) -> None:
    """MESOR, its SE, R², the zero-amplitude F test (the regression F of the two trigonometric
    terms) and the delta-method SEs of amplitude and acrophase agree with statsmodels."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 96, 300))
    y = 70 + 5 * np.cos(2 * np.pi * (t - 16) / 24) + rng.normal(0, 4, t.size)
    ref = sm.OLS(y, _design(t)).fit()
    c = cosinor(t, y)
    assert c is not None
    m, beta, gamma = ref.params
    assert c.mesor == pytest.approx(m, rel=1e-9)
    assert c.amplitude == pytest.approx(math.hypot(beta, gamma), rel=1e-9)
    assert c.se[0] == pytest.approx(ref.bse[0], rel=1e-9)
    assert c.r2 == pytest.approx(ref.rsquared, rel=1e-9)
    assert c.p == pytest.approx(ref.f_pvalue, rel=1e-6, abs=1e-300)
    cov = ref.cov_params()
    se_amp = _numeric_se(ref.params, cov, lambda p: math.hypot(p[1], p[2]))
    se_phase = _numeric_se(ref.params, cov, lambda p: math.atan2(p[2], p[1]))
    assert c.se[1] == pytest.approx(se_amp, rel=1e-5)
    assert c.se[2] == pytest.approx(se_phase * 24 / (2 * math.pi), rel=1e-5)
    lo, hi = ref.conf_int()[0]
    assert c.mesor_ci == pytest.approx((lo, hi), rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    mesor=st.floats(40, 120),
    amplitude=st.floats(1, 20),
    peak=st.floats(0, 23.99),
)
def test_cosinor_recovers_noise_free_truth(mesor: float, amplitude: float, peak: float) -> None:
    t = np.arange(0, 72, 1 / 6)
    c = cosinor(t, mesor + amplitude * np.cos(2 * np.pi * (t - peak) / 24))
    assert c is not None
    assert c.mesor == pytest.approx(mesor, abs=1e-6)
    assert c.amplitude == pytest.approx(amplitude, abs=1e-6)
    assert min(abs(c.acrophase_h - peak), 24 - abs(c.acrophase_h - peak)) < 1e-6


def test_cosinor_intervals_cover_the_truth_about_95_percent() -> None:
    """Over 400 noisy two-day series the 95 % intervals hold the true MESOR, amplitude and
    acrophase in 91-99 % of fits (delta method, Bingham et al. 1982)."""
    rng = np.random.default_rng(7)
    t = np.arange(0, 48, 0.5)
    hits = np.zeros(3)
    n = 400
    for _ in range(n):
        y = 50 + 6 * np.cos(2 * np.pi * (t - 9) / 24) + rng.normal(0, 6, t.size)
        c = cosinor(t, y)
        assert c is not None
        lo, hi = c.acrophase_ci
        inside = lo <= 9 <= hi if lo <= hi else (lo <= 9 or hi >= 9)
        hits += [
            c.mesor_ci[0] <= 50 <= c.mesor_ci[1],
            c.amplitude_ci[0] <= 6 <= c.amplitude_ci[1],
            inside,
        ]
    assert np.all((hits / n >= 0.91) & (hits / n <= 0.99)), hits / n


def test_no_rhythm_leaves_the_acrophase_interval_undefined() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(0, 48, 0.5)
    c = cosinor(t, 60 + rng.normal(0, 5, t.size))
    assert c is not None and c.p >= 0.05
    assert all(math.isnan(x) for x in c.acrophase_ci)
    assert cosinor(t[:3], t[:3]) is None


def _reference_is_iv(hours: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """IS and IV written from Van Someren et al. 1999 with pandas resampling."""
    index = pd.Timestamp("2026-01-05") + pd.to_timedelta(hours, unit="h")
    s = pd.Series(values, index=index)
    hourly = s.resample("1h").agg(["mean", "count"])
    x = hourly["mean"].where(hourly["count"] >= 30)
    valid = x.dropna()
    n, mean = len(valid), valid.mean()
    by_hour = valid.groupby(valid.index.hour).mean()
    is_ = n * ((by_hour - mean) ** 2).sum() / (len(by_hour) * ((valid - mean) ** 2).sum())
    diffs = x.diff().dropna()
    iv = n * (diffs**2).sum() / (len(diffs) * ((valid - mean) ** 2).sum())
    return float(is_), float(iv)


@pytest.mark.parametrize("seed", range(3))
def test_stability_matches_a_pandas_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    hours = np.arange(0, 5 * 24 * 60) / 60 + 1 / 120
    values = np.sin(2 * np.pi * hours / 24) + rng.normal(0, 0.7, hours.size)
    values[rng.random(hours.size) < 0.1] = np.nan
    values[3000:3200] = np.nan  # a gap of over two hours
    s = stability(hours, values)
    ref_is, ref_iv = _reference_is_iv(hours, values)
    assert s.is_ == pytest.approx(ref_is, rel=1e-9)
    assert s.iv == pytest.approx(ref_iv, rel=1e-9)


def test_stability_of_noise_and_of_identical_days() -> None:
    rng = np.random.default_rng(1)
    hours = np.arange(0, 10 * 24 * 60) / 60
    hourly_noise = np.repeat(rng.normal(0, 1, 240), 60)
    noise = stability(hours, hourly_noise)
    assert noise.iv == pytest.approx(2.0, abs=0.25)  # Van Someren 1999: ~2 for noise
    assert noise.is_ < 0.25
    pattern = np.tile(np.repeat(rng.normal(0, 1, 24), 60), 10)
    assert stability(hours, pattern).is_ == pytest.approx(1.0)
    assert math.isnan(stability(hours[:1440], pattern[:1440]).is_)  # one day: undefined


def test_bin_means_drop_sparse_bins() -> None:
    hours = np.arange(30) / 60
    values = np.where(np.arange(30) < 24, np.nan, 1.0)  # third bin only 6/10 present
    h, v = bin_means(hours, values)
    assert v.tolist() == [1.0] and h.tolist() == pytest.approx([24.5 / 60])
