"""A seeded, smaller version of ``validation/crossover.py``: the controlled crossover
estimate holds its false-positive rate, reaches the power ``stresstrack power`` predicts, and
the pre-value check flags residual carry-over while holding its false-flag rate.

Tolerances are binomial: with S studies a rate scatters around its true value with SD
√(p(1-p)/S), so each check is an exact binomial test at the 1 % level (a seed that fails it
would be a 1-in-100 accident for a correct analysis, and the seeds are fixed).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "validation"))

from crossover import SummaryModel, null_rate, pipeline_crossovers, summary_studies
from session_effect import REST_LEVEL, above_alpha_p

from stresstrack.analysis.power import power

# The session-summary model estimated from the full-pipeline null studies of the validation
# script (10 studies of 10 participants, seed 1; docs/sessions.md), index points.
MODEL = SummaryModel(
    m_pre=90.3, sd_a=5.03, sd_d=6.39, m_y=56.4, g=0.239, period=1.13, sd_u=3.56, sd_e=5.93
)


def test_no_effect_is_significant_at_most_at_the_nominal_rate() -> None:
    """100 studies of 12 participants without a specific effect: the count of significant
    primary estimates is not above 5 % (one-sided exact binomial p >= 0.01: at most 10)."""
    results = summary_studies(MODEL, 12, 0.0, (0.0, 0.0), 100, seed=11, checks=True)
    k, n = null_rate([r.p for r in results])
    assert n == 100
    assert above_alpha_p(k, n) >= 0.01, k
    assert abs(sum(r.estimate for r in results) / n) < 1.0  # estimates centred on 0
    # Nor does the pre-value carry-over check flag more than 5 % of them.
    k, n = null_rate([r.pre_p for r in results])
    assert n == 100
    assert above_alpha_p(k, n) >= 0.01, k


def test_empirical_power_matches_stresstrack_power() -> None:
    """dz 0.5, n = 20, 100 studies: the share of significant estimates agrees with the
    noncentral-t power (55.9 %) by an exact two-sided binomial test at 1 % (about ±13 points
    at 100 studies; the full validation's 1000 studies check ±5 points)."""
    predicted = power(0.5, 20, "crossover")
    results = summary_studies(MODEL, 20, 0.5, (0.0, 0.0), 100, seed=12)
    k, n = null_rate([r.p for r in results])
    assert stats.binomtest(k, n, predicted).pvalue >= 0.01, (k, predicted)


def test_residual_carryover_is_flagged_in_most_studies() -> None:
    """Residual carry-over of -12.4 index points into the period-2 pre value after self-care
    and +10.5 in its response (what the full pipeline estimated when every phase after
    self-care is 0.25 calmer; docs/sessions.md), n = 20, 40 studies: the pre-value check
    flags more than half (one-sided binomial test against 50 % at 1 %: at least 28 of 40;
    the validation measured 86 % at this size)."""
    results = summary_studies(MODEL, 20, 0.0, (-12.4, 10.5), 40, seed=13, checks=True)
    k, n = null_rate([r.pre_p for r in results])
    assert n == 40
    assert stats.binomtest(k, 40, 0.5, alternative="greater").pvalue < 0.01, k


def test_full_pipeline_null_studies() -> None:
    """Simulated participants through the pipeline (beat and EDA artefacts), AB/BA, no
    specific effect: the studies give estimates (a participant counts with both conditions
    included; sessions with too little confident data are excluded, so not every study
    keeps enough participants), and at most 1 of 3 is significant (P(X >= 2) = 0.7 % for a
    calibrated test); the estimates scatter around 0."""
    results = pipeline_crossovers(10, 3, seed=21, level=REST_LEVEL, carry=0.0, workers=2)
    estimated = [r for r in results if math.isfinite(r.p)]
    assert len(estimated) >= 2, [(r.n, r.p) for r in results]
    assert sum(r.p < 0.05 for r in estimated) <= 1
    assert all(abs(r.estimate) < 15 for r in estimated), [r.estimate for r in estimated]
