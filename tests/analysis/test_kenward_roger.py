"""Kenward–Roger inference (stresstrack/analysis/kenward_roger.py) against independent
references: where the design makes the Wald statistic exactly t or F, KR must reproduce the
classical test (Kenward & Roger 1997, *Biometrics* 53:983, section 4) computed here with scipy
and statsmodels' OLS; a published KR df (the paired design of PBtest's ``KRapprox``, built on
pbkrtest); and, where nothing is exact, the properties the adjustment guarantees."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from stresstrack.analysis.kenward_roger import kr_covariance, kr_test
from stresstrack.analysis.mixed_model import contrast_test, fit_mixed, wald_p


def _crossover(sizes: tuple[int, int], seed: int) -> pd.DataFrame:
    """AB/BA: ``sizes`` participants per order; random intercept SD 5, residual SD 2."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(sum(sizes)):
        first_a = i < sizes[0]
        u = rng.normal(0, 5)
        for period in (0, 1):
            a = float(first_a == (period == 0))
            y = 10 + 2 * a + 1.5 * period + u + rng.normal(0, 2)
            rows.append({"pid": f"p{i}", "order": "AB" if first_a else "BA", "period": period,
                         "a": a, "y": y})  # fmt: skip
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("sizes", "seed"), [((6, 6), 3), ((7, 5), 8), ((10, 10), 21)])
def test_ab_ba_crossover_is_the_two_sample_t_test_of_period_differences(
    sizes: tuple[int, int], seed: int
) -> None:
    """AB/BA without a covariate: the treatment effect lives in the within-participant
    stratum only, so KR's t and df are exactly the pooled two-sample t test (scipy
    ``ttest_ind``) of (period 2 − period 1) between the orders, df n − 2 (Hills & Armitage
    1979, *Br. J. Clin. Pharmacol.* 8:7; Jones & Kenward 2014, ch. 2)."""
    table = _crossover(sizes, seed)
    x = np.column_stack([np.ones(len(table)), table.a, table.period]).astype(float)
    fit = fit_mixed(table.y.to_numpy(float), x, list(table.pid))
    assert fit.kr is not None and fit.re_var > 0
    c = contrast_test(fit, np.array([0.0, 1.0, 0.0]), fallback_df=-1.0)
    wide = table.pivot(index="pid", columns="period", values="y")
    order = table.groupby("pid")["order"].first()
    diff = wide[1] - wide[0]
    # Period 2 − period 1 is −(A − B) + period in AB and +(A − B) + period in BA.
    ref = stats.ttest_ind(diff[order == "BA"], diff[order == "AB"], equal_var=True)
    assert c.kr
    assert c.t == pytest.approx(float(ref.statistic), rel=1e-8)
    assert c.df == pytest.approx(sum(sizes) - 2, rel=1e-8)
    assert c.p == pytest.approx(float(ref.pvalue), rel=1e-8)
    assert c.estimate == pytest.approx(
        (diff[order == "BA"].mean() - diff[order == "AB"].mean()) / 2
    )


def _split_plot(per_arm: int, seed: int) -> pd.DataFrame:
    """Participants in two arms (between), each under three conditions (within)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(2 * per_arm):
        arm, u = i % 2, rng.normal(0, 4)
        for cond in range(3):
            y = 20 + 3 * arm + (1.0, -2.0, 0.5)[cond] + arm * cond + u + rng.normal(0, 1.5)
            rows.append({"pid": f"p{i}", "arm": arm, "cond": cond, "y": y})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("seed", [1, 5])
def test_split_plot_within_tests_equal_the_anova_with_participant_fixed_effects(
    seed: int,
) -> None:
    """A balanced split-plot (arm between, condition within, arm × condition): the F tests
    of condition and of the interaction (q = 2) are within-stratum tests, so KR's F and df
    equal the classical ANOVA F test of the same hypothesis in statsmodels' OLS with a fixed
    effect per participant (``f_test``), df (n − 2)·2."""
    table = _split_plot(6, seed)
    d = {f"c{k}": (table.cond == k).astype(float) for k in (1, 2)}
    cols = [np.ones(len(table)), table.arm, d["c1"], d["c2"], table.arm * d["c1"],
            table.arm * d["c2"]]  # fmt: skip
    x = np.column_stack(cols).astype(float)
    fit = fit_mixed(table.y.to_numpy(float), x, list(table.pid))
    assert fit.kr is not None and fit.re_var > 0
    table = table.assign(c1=d["c1"], c2=d["c2"], ac1=table.arm * d["c1"], ac2=table.arm * d["c2"])
    ols = smf.ols("y ~ 0 + C(pid) + c1 + c2 + ac1 + ac2", table).fit()
    names = list(ols.params.index)
    hypotheses = {(2, 3): ["c1", "c2"], (4, 5): ["ac1", "ac2"]}
    for ours, theirs in hypotheses.items():
        ell = np.zeros((2, x.shape[1]))
        ell[0, ours[0]] = ell[1, ours[1]] = 1.0
        test = kr_test(fit.kr, fit.params, ell)
        r = np.zeros((2, len(names)))
        r[0, names.index(theirs[0])] = r[1, names.index(theirs[1])] = 1.0
        ref = ols.f_test(r)
        assert test is not None
        assert test.f == pytest.approx(float(ref.fvalue), rel=1e-6)
        assert test.df == pytest.approx(float(ref.df_denom), rel=1e-6) == 20
        assert test.p == pytest.approx(float(ref.pvalue), rel=1e-6)
        assert wald_p(fit, ell, fallback_df=-1.0) == test.p


def test_paired_design_df_is_the_published_n_minus_1() -> None:
    """PBtest 0.1's ``KRapprox`` documentation (built on pbkrtest; Zhang & Qiu): two
    conditions per participant, block-diagonal covariance with any correlation (0.5 there):
    the KR df of the condition difference is n − 1 (the paired t test)."""
    n = 20
    groups = [f"p{i}" for i in range(n) for _ in range(2)]
    x = np.column_stack([np.ones(2 * n), np.tile([0.0, 1.0], n)])
    kr = kr_covariance(x, groups, re_var=0.5, scale=0.5)
    assert kr is not None
    test = kr_test(kr, np.zeros(2), np.array([0.0, 1.0]))
    assert test is not None
    assert test.df == pytest.approx(n - 1, rel=1e-10)
    np.testing.assert_allclose(kr.phi_a, kr.phi, atol=1e-12)  # exact: no adjustment


def _unbalanced(seed: int, n: int, sd_u: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """AB/BA with the pre value as covariate; some participants lost their second period."""
    rng = np.random.default_rng(seed)
    ys, rows, groups = [], [], []
    for i in range(n):
        a_i, u = rng.normal(0, 6), rng.normal(0, sd_u)
        periods = (0,) if rng.random() < 0.25 else (0, 1)
        for period in periods:
            a = float((i % 2 == 0) == (period == 0))
            pre = 80 + a_i + rng.normal(0, 5)
            ys.append(50 + 0.4 * (pre - 80) - 2.0 * period + u + rng.normal(0, 6))
            rows.append([1.0, a, float(period), pre - 80])
            groups.append(f"p{i}")
    return np.array(ys), np.array(rows), groups


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(8, 24), st.sampled_from([0.0, 3.0, 8.0]))
def test_unbalanced_adjustment_only_widens_and_df_is_bounded(
    seed: int, n: int, sd_u: float
) -> None:
    """Unbalanced, with a covariate that varies within participants: Φ_A − Φ is positive
    semi-definite (the Kackar–Harville term is a variance), and the condition's df lies
    between the within-participant residual df and N − p."""
    y, x, groups = _unbalanced(seed, n, sd_u)
    try:
        fit = fit_mixed(y, x, groups)
    except ValueError:
        return  # a draw with no participant in both periods of one order
    kr = fit.kr
    assert kr is not None
    assert np.min(np.linalg.eigvalsh(kr.phi_a - kr.phi)) >= -1e-10 * np.max(np.abs(kr.phi))
    c = contrast_test(fit, np.array([0.0, 1.0, 0.0, 0.0]), fallback_df=-1.0)
    within = len(y) - len(set(groups)) - 3
    if within >= 1:
        assert within - 1e-6 <= c.df <= len(y) - x.shape[1] + 1e-6
    se_plugin = float(np.sqrt(kr.phi[1, 1]))
    assert c.se >= se_plugin * (1 - 1e-12)


def test_boundary_variance_keeps_the_participant_term() -> None:
    """No participant variation (σ²_u estimated at 0): the adjustment is still defined, it
    only widens, and the df stays below OLS's N − p (σ²_u remains a parameter)."""
    y, x, groups = _unbalanced(4, 16, 0.0)
    kr = kr_covariance(x, groups, re_var=0.0, scale=float(np.var(y)))
    assert kr is not None
    c = kr_test(kr, np.zeros(4), np.array([0.0, 1.0, 0.0, 0.0]))
    assert c is not None and 0 < c.df < len(y) - 4
    assert np.min(np.linalg.eigvalsh(kr.phi_a - kr.phi)) >= -1e-12


def test_one_row_per_participant_has_no_adjustment() -> None:
    """One row per participant: σ²_u and σ²_e cannot be told apart (singular information),
    so there is no KR adjustment and callers fall back to the plug-in SE on their df."""
    x = np.column_stack([np.ones(10), np.arange(10.0)])
    assert kr_covariance(x, [f"p{i}" for i in range(10)], re_var=1.0, scale=1.0) is None
