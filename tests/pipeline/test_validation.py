"""A small version of validation/stress_index.py: the index follows the true stress level of
realistic simulated people (docs/simulators.md), and confounds that are not stress do not move
it beyond the bounds of docs/stress-index.md, while stress in one system only still does."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "validation"))

from stress_index import CLEAN, REALISTIC, SCENARIOS, ScenarioResult, agreement, run_scenario

N_SCENARIO = 4
# Spearman's ρ between the index and the true level is bounded by the simulated people
# themselves: self-care effects of dz 0.3-0.6 and a resting HR that wanders by 2-4 bpm
# (docs/simulators.md) leave most windows' true levels within 0.08 of each other, and their
# ranking to noise. Version 1.1 reached ρ 0.97 on a simulator with 3-6x larger effects;
# on these people 20 participants give median ρ 0.64 (clean) and 0.61 (artefacts). The AUC of
# stressor windows against the rest is the check that does not depend on tiny effects.
RHO_CLEAN = 0.45
RHO_ARTEFACTS = 0.5
AUC_MIN = 0.9


def test_index_follows_true_stress_on_clean_signals() -> None:
    res = np.array(agreement(2, seed=11, art=CLEAN))
    assert res[:, 0].min() >= RHO_CLEAN, res
    assert res[:, 1].min() >= AUC_MIN, res


def test_index_follows_true_stress_with_artefacts_and_dropouts() -> None:
    res = np.array(agreement(2, seed=12, art=REALISTIC))
    assert float(np.median(res[:, 0])) >= RHO_ARTEFACTS, res
    assert res[:, 1].min() >= AUC_MIN, res


def _scenario(name: str, n: int = N_SCENARIO) -> ScenarioResult:
    (sc,) = [s for s in SCENARIOS if s.name.startswith(name)]
    return run_scenario(sc, n, seed=7)


@pytest.mark.parametrize(
    "name",
    [
        "paced breathing 6/min, strap only",
        "paced breathing 6/min, with ACC",
        "movement without stress, with ACC",
    ],
)
def test_breathing_and_movement_do_not_read_as_stress(name: str) -> None:
    r = _scenario(name)
    assert abs(r.shift) <= 8.0, r
    assert r.alarms <= 0.10, r


def test_paced_breathing_and_movement_lower_the_confidence_with_an_accelerometer() -> None:
    for name in ("paced breathing 6/min, with ACC", "movement without stress, with ACC"):
        r = _scenario(name)
        assert r.confidence <= 0.8 * r.control_confidence, r


def test_orienting_responses_do_not_read_as_stress_and_lower_the_confidence() -> None:
    """HR falls while skin conductance responds: the components disagree in the windows
    where both are clear. Index 2.1 (non-specific SCRs >= 0.05 µS, docs/stress-index.md):
    these 4 (seed 7) give 0.862 against 0.954 (x 0.904; index 2.0's relative SCR rule gave
    x 0.945 and needed a 0.96 bound); a manipulation without conflict (EDA drift) keeps
    x 1.00."""
    r = _scenario("orienting")
    assert abs(r.shift) <= 8.0, r
    assert r.alarms <= 0.10, r
    assert r.confidence <= 0.93 * r.control_confidence, r


def test_eda_drift_does_not_read_as_stress() -> None:
    r = _scenario("EDA drift")
    assert abs(r.shift) <= 5.0, r
    assert r.alarms <= 0.05, r


@pytest.mark.parametrize(
    "name", ["stressor, EDA non-responder", "stressor in the heart only", "stressor in the skin"]
)
def test_stress_in_one_system_still_moves_the_index(name: str) -> None:
    """One system carries 1-2 of the 3.5 component weights: the index moves by 10-30 points,
    and reaches the alarm level (75) in some windows only. Skin only, 4 participants (seed 7):
    shift +13.7, alarms 11 % with non-specific SCRs >= 0.05 µS (index 2.1; index 2.0's
    relative rule gave 2 % on 4 people and needed 12)."""
    r = _scenario(name)
    assert r.shift >= 8.0, r
    assert r.alarms >= 0.05, r
