"""Paired statistics: against scipy's own computations and hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from stresstrack.analysis.stats import PairedStats, bootstrap_bca, cohens_dz, paired_stats

NAN = float("nan")


def _same(a: PairedStats, b: PairedStats) -> bool:
    """Equal, NaN equal to NaN."""

    def eq(x: object, y: object) -> bool:
        if isinstance(x, tuple) and isinstance(y, tuple):
            return all(eq(u, v) for u, v in zip(x, y, strict=True))
        if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
            return True
        return x == y

    return all(eq(getattr(a, f), getattr(b, f)) for f in PairedStats.__dataclass_fields__)


def test_hand_worked_example() -> None:
    """Six participants, changes -9, -7, -6, -11, -6, -11: mean -8.333, SD 2.338 (ddof 1),
    dz = -3.564; t = mean / (SD/sqrt 6) = -8.73 on 5 df; every change negative, so the exact
    two-sided Wilcoxon p is 2/2^6 = 0.03125."""
    before = [50, 52, 49, 51, 50, 53]
    after = [41, 45, 43, 40, 44, 42]
    s = paired_stats(before, after, seed=1)
    d = np.array(after, dtype=float) - np.array(before, dtype=float)
    half = stats.t.ppf(0.975, 5) * d.std(ddof=1) / math.sqrt(6)
    # The dz interval from its definition (Steiger & Fouladi 1997): the noncentralities at
    # which the observed t sits at the noncentral t's 97.5th and 2.5th percentiles, / sqrt(n),
    # found here by root bracketing.
    t_obs = d.mean() / (d.std(ddof=1) / math.sqrt(6))
    ends = [
        optimize.brentq(lambda nc, q=q: stats.nct.cdf(t_obs, 5, nc) - q, -40.0, 0.0) / math.sqrt(6)
        for q in (0.975, 0.025)
    ]
    assert s == PairedStats(
        n=6,
        mean_before=pytest.approx(50.8333333333),
        mean_after=42.5,
        mean_delta=pytest.approx(-8.3333333333),
        sd_delta=pytest.approx(2.3380903889),
        mean_ci=(pytest.approx(d.mean() - half), pytest.approx(d.mean() + half)),
        dz=pytest.approx(-3.5641621782),
        dz_ci=(pytest.approx(ends[0], abs=1e-6), pytest.approx(ends[1], abs=1e-6)),
        ttest_p=pytest.approx(stats.ttest_rel(after, before).pvalue),
        wilcoxon_p=0.03125,
    )
    lo, hi = s.dz_ci
    assert lo < s.dz < hi < 0


def test_bca_interval_equals_scipy_bootstrap() -> None:
    """Our BCa interval is scipy.stats.bootstrap's (method BCa), resample for resample."""
    x = np.random.default_rng(3).normal(0.4, 1.0, 17)
    ours = bootstrap_bca(x, cohens_dz, n_resamples=3000, seed=11)
    theirs = stats.bootstrap(
        (x,),
        lambda v, axis=-1: v.mean(axis=axis) / v.std(axis=axis, ddof=1),
        n_resamples=3000,
        method="BCa",
        rng=np.random.default_rng(11),
    ).confidence_interval
    assert ours == (pytest.approx(theirs.low, rel=1e-12), pytest.approx(theirs.high, rel=1e-12))


def test_dz_interval_puts_the_observed_t_at_the_noncentral_t_quantiles() -> None:
    """The dz interval's ends, times √n, are the noncentrality parameters at which
    scipy.stats.nct puts the observed t at its 97.5th and 2.5th percentiles."""
    before = np.random.default_rng(1).normal(50, 5, 12)
    after = before - 4 + np.random.default_rng(2).normal(0, 4, 12)
    s = paired_stats(before, after)
    t = stats.ttest_rel(after, before).statistic
    lo, hi = s.dz_ci
    assert stats.nct.cdf(t, 11, lo * math.sqrt(12)) == pytest.approx(0.975, abs=1e-7)
    assert stats.nct.cdf(t, 11, hi * math.sqrt(12)) == pytest.approx(0.025, abs=1e-7)
    assert lo < s.dz < hi


def test_dz_interval_covers_the_true_dz_about_95_percent() -> None:
    """400 samples of 6 from N(0.5, 1): the noncentral-t interval is exact, so it covers
    dz = 0.5 in 95 % ± 2.2 % (2 binomial SD) of them; the BCa bootstrap did not at n = 6."""
    rng = np.random.default_rng(8)
    hits = sum(
        lo <= 0.5 <= hi
        for lo, hi in (paired_stats(np.zeros(6), rng.normal(0.5, 1.0, 6)).dz_ci for _ in range(400))
    )
    assert 0.928 <= hits / 400 <= 0.972


def test_pairs_with_a_missing_value_are_dropped() -> None:
    s = paired_stats([1.0, NAN, 3.0, 4.0, 2.0], [2.0, 5.0, NAN, 6.0, 2.5])
    assert _same(s, paired_stats([1.0, 4.0, 2.0], [2.0, 6.0, 2.5]))
    assert s.n == 3


def test_undefined_values_are_nan() -> None:
    empty = paired_stats([], [])
    assert empty.n == 0 and math.isnan(empty.mean_delta) and math.isnan(empty.ttest_p)
    one = paired_stats([50.0], [40.0])
    assert _same(one, PairedStats(1, 50.0, 40.0, -10.0, NAN, (NAN, NAN), NAN, (NAN, NAN), NAN, NAN))
    four = paired_stats([1.0, 2.0, 3.0, 4.0], [2.0, 2.5, 3.0, 6.0])
    assert math.isfinite(four.dz) and math.isfinite(four.dz_ci[0])  # from 2 pairs


def test_no_change_at_all_gives_p_one_and_constant_change_no_dz() -> None:
    zero = paired_stats([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert _same(zero, PairedStats(3, 2.0, 2.0, 0.0, 0.0, (0.0, 0.0), NAN, (NAN, NAN), 1.0, 1.0))
    same = paired_stats([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])
    assert same.mean_delta == 1.0 and same.sd_delta == 0.0
    assert math.isnan(same.dz) and math.isnan(same.ttest_p)


def test_mismatched_lengths_are_an_error() -> None:
    with pytest.raises(ValueError, match="same length"):
        paired_stats([1.0, 2.0], [1.0])


def test_cohens_dz_is_vectorised_over_rows() -> None:
    rows = np.array([[1.0, 2.0, 3.0], [2.0, 2.0, 2.0], [-1.0, -3.0, -2.0]])
    assert np.allclose(cohens_dz(rows)[[0, 2]], [2.0, -2.0])
    assert math.isnan(cohens_dz(rows)[1])


def test_mean_interval_covers_the_true_mean_about_95_percent() -> None:
    """Coverage of the t interval over 400 samples of 10 from N(-3, 4²)."""
    rng = np.random.default_rng(5)
    hits = 0
    for _ in range(400):
        d = rng.normal(-3.0, 4.0, 10)
        lo, hi = paired_stats(np.zeros(10), d, n_resamples=0).mean_ci
        hits += lo <= -3.0 <= hi
    assert 0.92 <= hits / 400 <= 0.98
