"""The controlled estimate: our mixed model against statsmodels' formula interface called
directly on an independently built table, Holm against statsmodels' multipletests, and what
is (and is not) reported without a control or without counterbalancing."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from piecewise import piecewise_participant
from scipy import stats
from statsmodels.stats.multitest import multipletests

from stresstrack.analysis import AnalysisSettings, analyze
from stresstrack.analysis.effects import NOT_CAUSAL
from stresstrack.analysis.stats import holm
from stresstrack.session.protocol import Design

DESIGN = Design(conditions=("self-care", "rest"), control="rest", secondary=("hr",))
# Minutes: pre 1 (5, 10], session 1 (10, 15], gap, pre 2 (20, 25], session 2 (25, 30].
PIECES = ((5, 10, "pre1"), (10, 15, "during1"), (20, 25, "pre2"), (25, 30, "during2"))


def _participant(pid: str, order: tuple[str, str], values: dict[str, float]) -> tuple:
    """Rows every 5 s whose index is constant within each 5 min piece (so each period's mean
    is exactly the piece's value); 50 elsewhere."""
    pieces = [(lo, hi, values[name]) for lo, hi, name in PIECES]
    sessions = [
        (kind, "solo" if kind == "self-care" else "", start)
        for kind, start in zip(order, (10, 25), strict=True)
    ]
    return piecewise_participant(pid, sessions, pieces, 32)


def _study(
    n: int, seed: int, effect: float, *, crossover: bool = True, pre_carry: float = 0.0
) -> tuple[list, pd.DataFrame]:
    """``n`` participants, AB/BA (or all AB); the known table the model should see;
    ``pre_carry`` is added to the period-2 pre value after self-care."""
    rng = np.random.default_rng(seed)
    data, table = [], []
    for i in range(n):
        order = ("self-care", "rest") if (i % 2 == 0 or not crossover) else ("rest", "self-care")
        u = rng.normal(0, 5)
        values = {}
        for period, kind in enumerate(order, 1):
            pre = 60 + u + rng.normal(0, 8) + pre_carry * (period == 2 and order[0] == "self-care")
            during = (
                40
                + 0.5 * (pre - 60)
                + (effect if kind == "self-care" else 0.0)
                + 2.0 * (period == 2)
                + u
                + rng.normal(0, 3)
            )
            values[f"pre{period}"], values[f"during{period}"] = pre, during
            table.append({"pid": f"P{i:02d}", "cond": kind, "period": period, "pre": pre,
                          "during": during})  # fmt: skip
        data.append(_participant(f"P{i:02d}", order, values))
    return data, pd.DataFrame(table)


SETTINGS = AnalysisSettings(boot=0, design=DESIGN)


def test_mixed_model_estimate_equals_statsmodels_formula_fit() -> None:
    """The same model written as a formula (treatment coding against rest, period as a
    factor, pre as covariate, random intercept per participant), fitted by REML on the table
    built from the generating values: same estimate; the SE is the Kenward-Roger one, at
    least statsmodels' plug-in SE, and the CI and p use a t on the Kenward-Roger df, which
    lies between the within-participant df n - 3 and N - p = 2n - 4 (the pre value carries
    some between-participant information). KR itself is checked against exact references in
    test_kenward_roger.py."""
    n = 14
    data, table = _study(n, seed=2, effect=-6.0)
    a = analyze(data, SETTINGS)
    primary = a.effects.primary
    assert primary is not None and primary.outcome == "stress_index"
    assert primary.contrast == "self-care vs rest" and primary.controlled

    fit = smf.mixedlm(
        "during ~ C(cond, Treatment('rest')) + C(period) + pre", table, groups=table["pid"]
    ).fit(reml=True)
    name = "C(cond, Treatment('rest'))[T.self-care]"
    est, se = float(fit.params[name]), float(fit.bse[name])
    assert primary.estimate == pytest.approx(est, rel=1e-4)
    assert primary.se >= se * (1 - 1e-3)
    assert primary.se == pytest.approx(se, rel=0.05)
    df = primary.df
    assert n - 3 <= df <= 2 * n - 4
    half = stats.t.ppf(0.975, df) * primary.se
    assert primary.ci == (pytest.approx(est - half, rel=1e-3), pytest.approx(est + half, rel=1e-3))
    t = est / primary.se
    assert primary.p == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-3)
    assert primary.n_participants == n
    # dz = t / sqrt(n) with its noncentral-t interval.
    assert primary.dz == pytest.approx(t / math.sqrt(n), rel=1e-3)
    assert primary.dz_ci[0] < primary.dz < primary.dz_ci[1] < 0
    # The known effect is recovered within its interval.
    assert primary.ci[0] < -6.0 < primary.ci[1]


def test_carryover_term_is_the_ancova_of_participant_totals() -> None:
    """With the pre value constant within each participant, the condition × period term of
    AB/BA is the order (sequence) effect, a between-participant comparison: its
    Kenward-Roger F test is exactly the squared t of the order in an OLS of each participant's
    total on order and pre (statsmodels), n - 3 df (Grizzle 1965; Jones & Kenward 2014)."""
    from stresstrack.analysis.effects import row_effects
    from stresstrack.analysis.mixed_model import Row

    rng = np.random.default_rng(12)
    rows, totals = [], []
    for i in range(16):
        order = ("self-care", "rest") if i % 2 == 0 else ("rest", "self-care")
        pre, u, total = 60 + rng.normal(0, 8), rng.normal(0, 6), 0.0
        for period, cond in enumerate(order, 1):
            y = 40 + 0.5 * (pre - 60) + 3.0 * (period == 2 and i % 2 == 0) + u + rng.normal(0, 3)
            rows.append(
                Row(f"P{i:02d}", cond, cond, "", period, pre, y, order[0] if period == 2 else "")
            )
            total += y
        totals.append({"total": total, "ab": float(i % 2 == 0), "pre": pre})
    (carry,) = row_effects(rows, DESIGN)[1]
    ref = smf.ols("total ~ ab + pre", pd.DataFrame(totals)).fit()
    assert carry.p == pytest.approx(float(ref.pvalues["ab"]), rel=1e-6)
    assert carry.flagged == (carry.p < 0.10)


def test_pre_value_check_is_the_two_sample_t_test_of_pre_differences() -> None:
    """In AB/BA the pre-value carry-over check is the pooled two-sample t test of (pre in
    period 2 - pre in period 1) between the orders (Kenward & Jones 1987), computed here with
    scipy from the generating table; a residual carry-over of -25 points into the period-2
    pre value after self-care is estimated and flagged at p < 0.05."""
    data, table = _study(16, seed=6, effect=-6.0, pre_carry=-25.0)
    analysis = analyze(data, SETTINGS)
    (carry,) = analysis.effects.carryover
    wide = table.pivot(index="pid", columns="period", values="pre")
    first = table[table.period == 1].set_index("pid")["cond"]
    diff = wide[2] - wide[1]
    ab, ba = diff[first == "self-care"], diff[first == "rest"]
    ref = stats.ttest_ind(ab, ba, equal_var=True)
    assert carry.pre.estimate == pytest.approx(ab.mean() - ba.mean(), rel=1e-6)
    assert carry.pre.p == pytest.approx(ref.pvalue, rel=1e-6)
    assert carry.pre.n_participants == 16
    assert carry.pre.flagged and carry.pre.p < 0.05
    # The console names both checks and what each can see.
    from stresstrack.cli.analyze import format_effects

    printed = "\n".join(format_effects(analysis))
    assert "pre-value check (self-care)" in printed and "FLAGGED at 0.05" in printed
    assert "self-care × period term" in printed and "little power" in printed
    # So does the report, in words, with what the pre-value check cannot see.
    from stresstrack.report.answer import _carryover_note

    note = _carryover_note(carry)
    assert "<b>flagged</b>" in note and "cannot see carry-over that shows only" in note


def test_pre_value_check_in_a_williams_design_equals_statsmodels_ols() -> None:
    """Three conditions in the six orders of a Williams design (rows built directly): the
    check of "after self-care" against "after rest" is the coefficient of the previous
    condition in an OLS of pre on participant, period and previous condition (statsmodels'
    formula interface, rest and period 1 as references)."""
    from stresstrack.analysis.carryover import pre_value_check
    from stresstrack.analysis.mixed_model import Row

    orders = [("a", "b", "c"), ("b", "c", "a"), ("c", "a", "b"),
              ("a", "c", "b"), ("b", "a", "c"), ("c", "b", "a")]  # fmt: skip
    names = {"a": "self-care", "b": "rest", "c": "sham"}
    rng = np.random.default_rng(8)
    rows, table = [], []
    for i in range(18):
        order = [names[x] for x in orders[i % 6]]
        u = rng.normal(0, 6)
        for k, cond in enumerate(order, 1):
            follows = order[k - 2] if k > 1 else ""
            pre = 70 + u + 2 * k - 5 * (follows == "self-care") + rng.normal(0, 4)
            rows.append(Row(f"P{i}", cond, cond, "", k, pre, 0.0, follows))
            table.append({"pid": f"P{i}", "period": k, "pre": pre,
                          "follows": follows or "rest"})  # fmt: skip
    check = pre_value_check(rows, "self-care", "rest")
    fit = smf.ols(
        "pre ~ C(pid) + C(period) + C(follows, Treatment('rest'))", pd.DataFrame(table)
    ).fit()
    name = "C(follows, Treatment('rest'))[T.self-care]"
    assert check.estimate == pytest.approx(float(fit.params[name]), rel=1e-6)
    assert check.p == pytest.approx(float(fit.pvalues[name]), rel=1e-6)


def test_secondary_outcomes_are_holm_adjusted_and_primary_is_not() -> None:
    data, _ = _study(10, seed=3, effect=-6.0)
    fx = analyze(data, SETTINGS).effects
    primary = fx.primary
    assert primary is not None and primary.p_adjusted == primary.p
    assert sum(e.primary for e in fx.effects) == 1
    # No feature values: the hr row says why it has no numbers.
    (hr,) = [e for e in fx.effects if e.outcome == "hr" and e.controlled]
    assert math.isnan(hr.estimate) and hr.note


def test_holm_equals_statsmodels_multipletests() -> None:
    p = [0.01, 0.04, 0.03, 0.2, 0.005, 0.049]
    assert holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))


def test_fixed_order_is_refused_with_the_reason() -> None:
    """Everyone self-care first: condition and period cannot be separated."""
    data, _ = _study(8, seed=5, effect=-6.0, crossover=False)
    primary = analyze(data, SETTINGS).effects.primary
    assert primary is not None and math.isnan(primary.estimate)
    assert "confounded" in primary.note


def test_without_a_control_only_uncontrolled_rows_labelled_not_causal() -> None:
    data, _ = _study(8, seed=6, effect=-6.0)
    fx = analyze(data, AnalysisSettings(boot=0)).effects
    assert fx.primary is None and "no control" in fx.note
    assert fx.effects and all(
        not e.controlled and e.note.startswith(NOT_CAUSAL) for e in fx.effects
    )


def test_responders_use_the_reliable_change_index() -> None:
    """A large effect (-25; residual SD 3, so a difference SD of 4.2 and a reliable-change
    threshold of 8.3 points, 3.9 SD below the effect): every participant is reliably calmer."""
    data, _ = _study(10, seed=7, effect=-25.0)
    fx = analyze(data, SETTINGS).effects
    assert len(fx.responders) == 10
    assert {r.category for r in fx.responders} == {"reliably calmer"}
    assert all(r.rci < -1.96 for r in fx.responders)


def test_tost_with_a_smallest_effect_of_interest() -> None:
    """No effect, margin 10 points: equivalence shown (TOST p < 0.05); margin 0.5: not."""
    from dataclasses import replace

    data, _ = _study(16, seed=8, effect=0.0)
    wide = analyze(data, replace(SETTINGS, design=replace(DESIGN, smallest_effect=10.0)))
    narrow = analyze(data, replace(SETTINGS, design=replace(DESIGN, smallest_effect=0.5)))
    assert wide.effects.primary is not None and wide.effects.primary.tost_p < 0.05
    assert narrow.effects.primary is not None and narrow.effects.primary.tost_p > 0.05
