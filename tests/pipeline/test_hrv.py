"""Every HRV feature equals NeuroKit2's value on the same intervals."""

from __future__ import annotations

import math
import warnings

import neurokit2 as nk
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from stresstrack.pipeline.hrv import (
    baevsky_si,
    hrv_frequency,
    hrv_nonlinear,
    hrv_time,
    pns_sns,
)
from stresstrack.pipeline.window import BeatWindow, beat_window
from stresstrack.session.protocol import DEFAULT_PROTOCOL
from stresstrack.simulators.physiology import ParticipantModel, ParticipantParams, simulate_beats


def _window(rr: np.ndarray) -> BeatWindow:
    t_ns = (np.cumsum(rr) * 1e6).astype(np.int64)
    z = np.zeros(rr.size, dtype=bool)
    return beat_window("file", t_ns, rr, z, z, {}, start_ns=0, end_ns=int(t_ns[-1]) + 1)


def _windows(seed: int, length: int, step: int) -> list[BeatWindow]:
    params = ParticipantParams.draw(np.random.default_rng(seed))
    _, rr = simulate_beats(ParticipantModel(DEFAULT_PROTOCOL, params, seed))
    return [_window(rr[start : start + length]) for start in range(0, rr.size - length, step)]


@pytest.mark.parametrize("seed", [0, 1])
def test_time_domain_and_poincare_equal_neurokit(seed: int) -> None:
    for w in _windows(seed, 75, 211):
        assert hrv_time(w) == pytest.approx(hrv_time(w, "neurokit"), rel=1e-9)


@pytest.mark.parametrize("seed", [2, 3])
def test_neurokit_spectrum_equals_nk_hrv_frequency(seed: int) -> None:
    """VLF, LF, HF (ms², 4 Hz, unnormalised), total power and LF/HF: exactly what
    ``nk.hrv_frequency(interpolation_rate=4, normalize=False)`` returns."""
    for w in _windows(seed, 350, 400):
        ours = hrv_frequency(w, spectrum="neurokit")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = nk.hrv_frequency(
                {"RRI": w.rr_ms, "RRI_Time": w.times_s}, interpolation_rate=4, normalize=False
            ).iloc[0]
        assert [ours[k] for k in ("vlf_ms2", "lf_ms2", "hf_ms2", "lf_hf")] == pytest.approx(
            [ref["HRV_VLF"], ref["HRV_LF"], ref["HRV_HF"], ref["HRV_LFHF"]], rel=1e-9
        )
        assert ours["lf_ms2"] > 0 and ours["hf_ms2"] > 0
        assert ours == pytest.approx(hrv_frequency(w, "neurokit", "neurokit"), rel=1e-9)


def test_kubios_spectrum_bands_add_up_and_peaks_lie_in_bands() -> None:
    for w in _windows(5, 350, 400):
        f = hrv_frequency(w)
        assert f["vlf_pct"] + f["lf_pct"] + f["hf_pct"] == pytest.approx(100)
        assert f["lf_nu"] + f["hf_nu"] == pytest.approx(100)
        assert 0.04 <= f["lf_peak_hz"] < 0.15 and 0.15 <= f["hf_peak_hz"] < 0.4
        # VLF, the band the ill-conditioned detrending nearly empties, to 1e-4 relative (1e-3
        # absolute when nearly empty); measured <= 4.6e-5 on the realistic simulator, whose
        # wandering HR leaves 5-40 ms² of VLF (docs/features.md, test_methods.py)
        ref = hrv_frequency(w, "neurokit")
        vlf = ("vlf_ms2", "vlf_pct")
        assert {k: f[k] for k in vlf} == pytest.approx({k: ref[k] for k in vlf}, rel=1e-4, abs=1e-3)
        rest = {k: v for k, v in f.items() if k not in vlf}
        assert rest == pytest.approx({k: ref[k] for k in rest}, rel=1e-6, abs=1e-3)


def test_dfa_alpha1_equals_neurokit() -> None:
    for w in _windows(4, 140, 300):
        ref = hrv_nonlinear(w, "neurokit")["dfa_alpha1"]
        assert hrv_nonlinear(w)["dfa_alpha1"] == pytest.approx(ref, rel=1e-6)


@settings(max_examples=25, deadline=None)
@given(arrays(np.float64, st.integers(20, 120), elements=st.floats(400, 1500)))
def test_time_domain_equals_neurokit_on_any_intervals(rr: np.ndarray) -> None:
    w = _window(rr)
    try:
        ref = hrv_time(w, "neurokit")
    except (ValueError, ZeroDivisionError):
        # NeuroKit2's hrv_nonlinear fails on (nearly) constant intervals; nothing to compare.
        assume(False)
    assert hrv_time(w) == pytest.approx(ref, rel=1e-9, abs=1e-9)


def test_mean_hr_both_ways() -> None:
    """600 and 1200 ms: 60000 / mean RR = 66.67 bpm; mean of 100 and 50 bpm = 75 bpm."""
    f = hrv_time(_window(np.array([600.0, 1200.0] * 10)))
    assert f["mean_hr_bpm"] == pytest.approx(60000 / 900)
    assert f["mean_hr_inst_bpm"] == pytest.approx(75.0)


def test_baevsky_si_by_hand() -> None:
    """Intervals 800 ms ×6, 850 ×3, 700 ×1: histogram bins of 50 ms.

    Mo = centre of the 800-849 bin = 0.825 s; AMo = 6/10 = 60 %; MxDMn = 0.850 - 0.700 =
    0.150 s; SI = 60 / (2 · 0.825 · 0.150) = 242.42...
    """
    rr = np.array([800.0] * 6 + [850.0] * 3 + [700.0])
    assert baevsky_si(rr) == pytest.approx(60 / (2 * 0.825 * 0.150))
    f = hrv_time(_window(rr))
    assert f["baevsky_si_sqrt"] == pytest.approx(math.sqrt(f["baevsky_si"]))


def test_baevsky_si_bins_do_not_flip_on_nanoseconds() -> None:
    """Beats on a 250 Hz sample grid give intervals on 50 ms bin edges (225 samples = 900 ms);
    the same beats with times a few tens of nanoseconds off (a CSV's float seconds, LSL's clock
    offset) are the same histogram: 900 ms ×4 and 850 ms ×2 give Mo = 0.925 s, AMo = 4/6,
    MxDMn = 0.050 s, SI = 66.67 / (2 · 0.925 · 0.050) = 720.7... either way."""
    exact = np.array([900.0, 900.0, 850.0, 900.0, 850.0, 900.0])
    noisy = exact + np.array([-3.4e-5, 2.1e-5, -1.0e-5, -2.0e-6, 3.0e-5, -3.3e-5])
    expected = (4 / 6 * 100) / (2 * 0.925 * 0.050)
    assert baevsky_si(exact) == pytest.approx(expected)
    assert baevsky_si(noisy) == pytest.approx(expected, rel=1e-5)


def test_pns_sns_at_population_norms_are_zero_and_move_the_right_way() -> None:
    norm = {"mean_rr_ms": 926.0, "rmssd_ms": 42.0, "sd1_ms": 29.7, "mean_hr_bpm": 65.0,
            "baevsky_si_sqrt": 10.0, "sd2_ms": 63.9}  # fmt: skip
    assert pns_sns(norm) == pytest.approx({"pns_index": 0.0, "sns_index": 0.0})
    stressed = {**norm, "mean_rr_ms": 700.0, "rmssd_ms": 15.0, "sd1_ms": 10.0, "mean_hr_bpm": 86.0,
                "baevsky_si_sqrt": 20.0, "sd2_ms": 40.0}  # fmt: skip
    out = pns_sns(stressed)
    assert out["pns_index"] < -1.5 and out["sns_index"] > 1.5


def test_hrv_time_needs_three_intervals() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        hrv_time(_window(np.array([800.0, 810.0])))


@settings(max_examples=300, deadline=None)
@given(
    x=arrays(np.float64, st.integers(0, 600), elements=st.floats(-1e5, 1e5, width=64)),
    scale=st.sampled_from([1.0, 1e-3, 1e3]),
)
def test_mean_and_std_are_numpys_bit_for_bit(x: np.ndarray, scale: float) -> None:  # type: ignore[type-arg]
    """The overhead-free mean and sample SD of the fast time domain give exactly np.mean and
    np.std(ddof=1) (NaN where numpy gives NaN)."""
    from stresstrack.pipeline.hrv import mean, std1

    x = x * scale
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_mean, ref_std = float(np.mean(x)), float(np.std(x, ddof=1))
    assert mean(x) == ref_mean or (math.isnan(mean(x)) and math.isnan(ref_mean))
    assert std1(x) == ref_std or (math.isnan(std1(x)) and math.isnan(ref_std))


@settings(max_examples=150, deadline=None)
@given(
    rr=arrays(np.float64, st.integers(1, 120), elements=st.floats(300, 2000)),
    jitter_ms=st.floats(0, 3000),
    breaks=st.lists(st.integers(1, 119), max_size=3),
)
def test_beat_window_times_follow_each_run_s_last_recorded_beat(
    rr: np.ndarray,  # type: ignore[type-arg]
    jitter_ms: float,
    breaks: list[int],
) -> None:
    """Each run of successive beats is timed by cumulating its intervals back from the run's
    last recorded beat, bit for bit as the rule computes it with every run's anchor (the
    one-run shortcut of the usual window included)."""
    t_ns = (np.cumsum(rr) * 1e6).astype(np.int64) + 10**18
    seg = np.zeros(rr.size, dtype=bool)
    for k in breaks:
        if k < rr.size:
            seg[k] = True
            t_ns[k:] += int(jitter_ms * 1e6)  # a gap, or a restart inside the chain
    start = int(t_ns[0]) - 2 * 10**9
    w = beat_window("rr", t_ns, rr, np.zeros(rr.size, bool), seg, {}, start_ns=start,
                    end_ns=int(t_ns[-1]) + 1)  # fmt: skip
    rec_s = (t_ns - start) / 1e9
    run = np.concatenate(([0], np.cumsum(~w.successive)))
    last = np.flatnonzero(np.append(run[1:] != run[:-1], True))
    cs = np.cumsum(rr) / 1000.0
    assert np.array_equal(w.times_s, cs - cs[last][run] + rec_s[last][run])
