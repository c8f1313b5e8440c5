"""Group differences with the participant as the unit: against scipy, and calibrated."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from stresstrack.analysis.group_stats import mean_difference, ratio_difference

values = st.lists(
    st.floats(min_value=-100, max_value=100, allow_nan=False), min_size=2, max_size=12
).filter(lambda xs: len(set(xs)) > 1)


@settings(max_examples=60, deadline=None)
@given(values, values)
def test_mean_difference_is_welchs_interval(a: list[float], b: list[float]) -> None:
    """The reference: scipy's Welch t test (``ttest_ind(equal_var=False)``) and its CI."""
    ref = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    d = mean_difference(a, b)
    assert d.estimate == pytest.approx(np.mean(a) - np.mean(b), abs=1e-9)
    assert d.ci == pytest.approx((ref.low, ref.high), rel=1e-7, abs=1e-7)


def test_equal_sized_ratios_are_welch_on_participant_shares() -> None:
    """With the same number of windows per participant the pooled share is the mean of the
    participants' shares and its variance s²/k: Welch's interval on the shares (scipy)."""
    rng = np.random.default_rng(4)
    a = [(float(x), 120.0) for x in rng.binomial(120, 0.2, size=7)]
    b = [(float(x), 120.0) for x in rng.binomial(120, 0.1, size=5)]
    ref = stats.ttest_ind([x / n for x, n in a], [x / n for x, n in b], equal_var=False)
    d = ratio_difference(a, b)
    assert d.ci == pytest.approx(tuple(ref.confidence_interval(0.95)), rel=1e-9)
    assert (d.n_a, d.n_b) == (7, 5)


def _clustered(rng: np.random.Generator, k: int, p: float, icc: float) -> list[tuple[float, float]]:
    """``k`` participants' (excluded, windows): each has their own share, drawn from a beta
    distribution of mean ``p`` and intra-class correlation ``icc`` (beta-binomial)."""
    shares = rng.beta(p * (1 / icc - 1), (1 - p) * (1 / icc - 1), size=k)
    n = rng.integers(60, 140, size=k)
    return [(float(rng.binomial(m, s)), float(m)) for m, s in zip(n, shares, strict=True)]


@pytest.mark.parametrize(("k", "p", "icc"), [(4, 0.1, 0.1), (6, 0.15, 0.2), (12, 0.05, 0.05)])
def test_equal_groups_are_flagged_at_most_at_the_nominal_rate(k: int, p: float, icc: float) -> None:
    """1000 pairs of equal groups of clustered participants: the 95 % CI excludes 0 in at
    most 5 % of them, up to the binomial 99.9 % quantile of 1000 draws at 5 % (~7 %)."""
    rng = np.random.default_rng([k, 7])
    reps = 1000
    flags = sum(
        ratio_difference(_clustered(rng, k, p, icc), _clustered(rng, k, p, icc)).excludes_zero()
        for _ in range(reps)
    )
    assert flags <= stats.binom.ppf(0.999, reps, 0.05)


def test_the_interval_covers_a_real_difference() -> None:
    """Groups whose shares differ by 0.10: the CI covers the true pooled difference in at
    least 95 % of 1000 simulated studies, down to the binomial 0.1 % quantile."""
    rng = np.random.default_rng(11)
    reps, covered = 1000, 0
    for _ in range(reps):
        a, b = _clustered(rng, 8, 0.2, 0.1), _clustered(rng, 8, 0.1, 0.1)
        lo, hi = ratio_difference(a, b).ci
        covered += lo <= 0.1 <= hi
    assert covered >= stats.binom.ppf(0.001, reps, 0.95)


def test_too_few_participants_give_no_interval() -> None:
    d = ratio_difference([(1.0, 10.0)], [(0.0, 10.0), (1.0, 10.0)])
    assert not d.excludes_zero() and (d.n_a, d.n_b) == (1, 2)
    assert ratio_difference([(1.0, 0.0), (1.0, 10.0)], [(0.0, 5.0), (1.0, 5.0)]).n_a == 1
