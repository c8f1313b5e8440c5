"""Time-domain HRV equals NeuroKit2's hrv_time on the same intervals."""

from __future__ import annotations

import warnings

import neurokit2 as nk
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from stresstrack.pipeline.hrv import clean_rr, hrv_time
from stresstrack.protocol import DEFAULT_PROTOCOL
from stresstrack.simulators.physiology import ParticipantModel, ParticipantParams, simulate_beats


def _nk_reference(rr_ms: np.ndarray) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = nk.hrv_time({"RRI": rr_ms, "RRI_Time": np.cumsum(rr_ms) / 1000.0})
    return {
        "mean_hr_bpm": 60000.0 / float(ref["HRV_MeanNN"].iloc[0]),
        "rmssd_ms": float(ref["HRV_RMSSD"].iloc[0]),
        "sdnn_ms": float(ref["HRV_SDNN"].iloc[0]),
        "pnn50_pct": float(ref["HRV_pNN50"].iloc[0]),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hrv_time_equals_neurokit_on_simulated_windows(seed: int) -> None:
    model = ParticipantModel(
        DEFAULT_PROTOCOL, ParticipantParams.draw(np.random.default_rng(seed)), seed
    )
    _, rr = simulate_beats(model)
    for start in range(0, rr.size - 80, 97):
        window = rr[start : start + 75]
        ours = hrv_time(window)
        ref = _nk_reference(window)
        assert ours == pytest.approx(ref, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.integers(5, 200), elements=st.floats(400, 1500)))
def test_hrv_time_equals_neurokit_on_any_intervals(rr: np.ndarray) -> None:
    assert hrv_time(rr) == pytest.approx(_nk_reference(rr), rel=1e-9, abs=1e-9)


def test_clean_rr_drops_implausible_and_ectopic_beats() -> None:
    rr = np.array([800, 810, 790, 200, 805, 400, 1210, 795, 2500, 800], dtype=float)
    kept, dropped = clean_rr(rr)
    # 200 and 2500 are outside 300-2000 ms; 400 and 1210 are > 25 % from the median (~800).
    assert kept.tolist() == [800, 810, 790, 805, 795, 800]
    assert dropped == 4


def test_hrv_time_needs_three_intervals() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        hrv_time(np.array([800.0, 810.0]))
