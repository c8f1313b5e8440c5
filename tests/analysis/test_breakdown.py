""" "For whom": the per-mode breakdown of the controlled estimate and its interaction test.

Each simulated participant has three sessions in a rotated order (self-care solo, self-care
with a partner, rest); the generating table is fitted with statsmodels' formula interface
called directly and the breakdown must agree with it. With a known solo/partner difference
the interaction test detects it; without one it is flagged at about its nominal 5 % rate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from piecewise import piecewise_participant
from scipy import stats

from stresstrack.analysis import AnalysisSettings, analyze
from stresstrack.analysis.breakdowns import Breakdown
from stresstrack.session.protocol import Design

SETTINGS = AnalysisSettings(boot=0, design=Design(conditions=("self-care", "rest"), control="rest"))
# Three periods: pre (start - 5, start], during (start, start + 5], minutes from the start.
STARTS = (10, 25, 40)
SESSIONS = (("self-care", "solo"), ("self-care", "partner"), ("rest", ""))
LEVEL = {"solo": "self-care · solo", "partner": "self-care · partner"}


def _participant(pid: str, plan: list[tuple[str, str, float, float]]) -> tuple[Any, ...]:
    """One session per ``plan`` entry ``(kind, mode, pre, during)`` at ``STARTS``, the index
    constant at ``pre`` and ``during`` in its 5 min pre and during periods."""
    pieces: list[tuple[float, float, float]] = []
    for start, (_, _, pre, during) in zip(STARTS, plan, strict=True):
        pieces += [(start - 5, start, pre), (start, start + 5, during)]
    sessions = [(kind, mode, start) for start, (kind, mode, _, _) in zip(STARTS, plan, strict=True)]
    return piecewise_participant(pid, sessions, pieces, STARTS[-1] + 7)


def _study(n: int, seed: int, difference: float) -> tuple[list[Any], pd.DataFrame]:
    """``n`` participants; self-care lowers the index by 6 solo and by 6 + ``difference``
    with a partner (against rest); period, pre value and participant effects as in a real
    crossover. Returns the analysis input and the generating table."""
    rng = np.random.default_rng(seed)
    effect = {"solo": -6.0, "partner": -6.0 - difference, "": 0.0}
    data, table = [], []
    for i in range(n):
        pid = f"P{i:02d}"
        order = [SESSIONS[(i + j) % 3] for j in range(3)]  # each position equally often
        if i % 6 >= 3:
            order.reverse()
        u = rng.normal(0, 5)
        plan = []
        for period, (kind, mode) in enumerate(order, 1):
            pre = 60 + u + rng.normal(0, 8)
            during = 40 + 0.5 * (pre - 60) + effect[mode] + 2.0 * (period - 1) + u
            during += rng.normal(0, 3)
            plan.append((kind, mode, pre, during))
            table.append({"pid": pid, "level": mode or "rest", "period": period, "pre": pre,
                          "during": during})  # fmt: skip
        data.append(_participant(pid, plan))
    return data, pd.DataFrame(table)


def _how(data: list[Any]) -> Breakdown:
    (b,) = [b for b in analyze(data, SETTINGS).effects.breakdowns if b.moderator == "how"]
    return b


def test_breakdown_and_interaction_equal_statsmodels_formula_fit() -> None:
    """Per-mode estimates against rest, and the solo/partner interaction (their difference,
    F(1, 2n - 5) from the within-participant df), equal the same model written as a formula
    (levels coded against rest, period as a factor, pre as covariate, random intercept)."""
    n = 18
    data, table = _study(n, seed=3, difference=5.0)
    b = _how(data)
    fit = smf.mixedlm(
        "during ~ C(level, Treatment('rest')) + C(period) + pre", table, groups=table["pid"]
    ).fit(reml=True)
    name = {m: f"C(level, Treatment('rest'))[T.{m}]" for m in ("solo", "partner")}
    levels = {lv.name: lv for lv in b.levels}
    assert set(levels) == set(LEVEL.values())
    for mode, level in LEVEL.items():
        assert levels[level].estimate == pytest.approx(float(fit.params[name[mode]]), rel=1e-4)
        assert levels[level].n_participants == n
    cov = fit.cov_params()
    diff = float(fit.params[name["partner"]] - fit.params[name["solo"]])
    var = float(
        cov.loc[name["partner"], name["partner"]]
        + cov.loc[name["solo"], name["solo"]]
        - 2 * cov.loc[name["partner"], name["solo"]]
    )
    interaction = levels[LEVEL["partner"]].estimate - levels[LEVEL["solo"]].estimate
    assert interaction == pytest.approx(diff, rel=1e-3)
    assert b.p_interaction == pytest.approx(stats.f.sf(diff * diff / var, 1, 2 * n - 5), rel=1e-2)
    # The known difference (partner 5 points lower) lies within the interaction's 95 % CI.
    half = stats.t.ppf(0.975, 2 * n - 5) * np.sqrt(var)
    assert interaction - half < -5.0 < interaction + half


def test_interaction_detects_a_known_difference() -> None:
    """Partner 8 points lower than solo (residual SD 3) in 12 participants: p well below 0.01
    in every seed, and the partner level is the lower one."""
    for seed in range(5):
        b = _how(_study(12, seed=seed, difference=8.0)[0])
        levels = {lv.name: lv.estimate for lv in b.levels}
        assert b.p_interaction < 0.01, (seed, b.p_interaction)
        assert levels[LEVEL["partner"]] < levels[LEVEL["solo"]]


def test_interaction_is_not_flagged_without_a_difference() -> None:
    """No solo/partner difference: the interaction p is below 0.05 in at most 6 of 40 seeded
    studies (nominal 2; P(>= 7 | binomial(40, 0.05)) = 0.3 %; these seeds give 4, and 14 of
    200 seeds, 7 % [4.2, 11.4], were measured when this test was written), and the p values
    are spread over (0, 1) rather than piled up near 0 (median > 0.25)."""
    ps = [_how(_study(12, seed=100 + seed, difference=0.0)[0]).p_interaction for seed in range(40)]
    flagged = sum(p < 0.05 for p in ps)
    assert flagged <= 6, (flagged, ps)
    assert float(np.median(ps)) > 0.25, ps


def test_interaction_flags_an_effect_in_one_mode_only() -> None:
    """Self-care lowers the index by 6 solo and not at all with a partner (``difference``
    -6: partner effect -6 - (-6) = 0), 12 participants, residual SD 3: the interaction is
    flagged (p < 0.05) in every seed; the solo level's 95 % CI lies below 0 and the
    partner level's covers 0 in most seeds (a level's CI misses its truth 5 % of the time)."""
    partner_covers = 0
    for seed in range(5):
        b = _how(_study(12, seed=200 + seed, difference=-6.0)[0])
        levels = {lv.name: lv for lv in b.levels}
        assert b.p_interaction < 0.05, (seed, b.p_interaction)
        assert levels[LEVEL["solo"]].ci[1] < 0, (seed, levels)
        lo, hi = levels[LEVEL["partner"]].ci
        partner_covers += lo <= 0.0 <= hi
    assert partner_covers >= 4
