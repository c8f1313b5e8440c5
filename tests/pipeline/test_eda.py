"""EDA window features: SCR detection equals NeuroKit2's, and features follow the signal."""

from __future__ import annotations

import warnings

import neurokit2 as nk
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from stresstrack.pipeline.eda import eda_features, scr_peaks
from stresstrack.session.protocol import DEFAULT_PROTOCOL
from stresstrack.simulators.physiology import ParticipantModel, ParticipantParams, simulate_eda


def _nk_eda_peaks(x: np.ndarray) -> tuple[list[int], list[float]]:
    """Peaks and amplitudes of ``nk.eda_peaks(method="neurokit")`` (NaN: no onset)."""
    with warnings.catch_warnings():
        # scipy warns about zero-width peaks (e.g. subnormal values) while NeuroKit2 measures
        # peak widths we do not use; the peaks and amplitudes are what is compared.
        warnings.simplefilter("ignore")
        _, info = nk.eda_peaks(x, sampling_rate=32, method="neurokit", amplitude_min=0.1)
    return [int(p) for p in info["SCR_Peaks"]], [float(a) for a in info["SCR_Amplitude"]]


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(8, 300), elements=st.floats(-5, 5)))
def test_scr_peaks_equal_neurokit_eda_peaks(x: np.ndarray) -> None:
    """Same peaks and amplitudes as nk.eda_peaks on any signal with at least two peaks (with
    a single peak NeuroKit2's own amplitude step fails)."""
    peaks, amplitude = scr_peaks(x)
    assume(peaks.size >= 2 and not np.isnan(amplitude).all())
    try:
        ref_peaks, ref_amplitude = _nk_eda_peaks(x)
    except (ValueError, IndexError):
        assume(False)
    assert peaks.tolist() == ref_peaks
    np.testing.assert_allclose(amplitude, ref_amplitude, rtol=1e-12)


def test_eda_features_equal_neurokit_pipeline_on_simulated_windows() -> None:
    params = ParticipantParams.draw(np.random.default_rng(7), non_responder_share=0.0)
    model = ParticipantModel(DEFAULT_PROTOCOL, params, 7)
    _, eda = simulate_eda(model, 32.0)
    for start in range(0, eda.size - 1920, 32 * 97):
        window = eda[start : start + 1920]
        assert eda_features(window, 32.0) == pytest.approx(
            eda_features(window, 32.0, "neurokit"), rel=1e-9
        )


def test_eda_features_see_responses_and_level() -> None:
    """Hand-made signal: 3 µS tonic level, three 0.5 µS responses in 60 s at 32 Hz."""
    fs = 32
    t = np.arange(60 * fs) / fs
    signal = np.full(t.size, 3.0)
    for onset in (10.0, 30.0, 45.0):
        k = t >= onset
        tt = t[k] - onset
        signal[k] += 0.5 * (np.exp(-tt / 2.0) - np.exp(-tt / 0.75)) / 0.4
    f = eda_features(signal, fs)
    assert f["scr_count"] == 3
    assert f["scr_per_min"] == 3
    assert 2.9 < f["scl_us"] < 3.4
    assert 0.35 < f["scr_amplitude_us"] < 0.55
    flat = eda_features(np.full(t.size, 3.0), fs)
    assert flat["scr_count"] == 0 and flat["scr_amplitude_us"] == 0.0


@pytest.mark.parametrize("rate", [4.0, 32.0])
def test_eda_sympathetic_equals_neurokit_at_any_rate(rate: float) -> None:
    from stresstrack.pipeline.eda import eda_sympathetic

    params = ParticipantParams.draw(np.random.default_rng(9), non_responder_share=0.0)
    _, eda = simulate_eda(ParticipantModel(DEFAULT_PROTOCOL, params, 9), rate)
    n = int(120 * rate)
    for start in (0, int(400 * rate), int(800 * rate)):
        window = eda[start : start + n]
        assert eda_sympathetic(window, rate) == pytest.approx(
            eda_sympathetic(window, rate, "neurokit"), rel=1e-9
        )


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda t: np.full(t.size, 4.0), "flat"),
        (lambda t: np.full(t.size, 0.01), "no skin contact"),
        (lambda t: np.full(t.size, 80.0) + 0.1 * np.sin(t), "saturated"),
        (lambda t: 4.0 + 3.0 * (np.floor(t * 2) % 2), "jumps"),
        (lambda t: 4.0 + 0.3 * np.sin(t / 3), ""),
    ],
)
def test_eda_quality_flags_unusable_windows(make, reason: str) -> None:  # type: ignore[no-untyped-def]
    from stresstrack.pipeline.eda import eda_quality

    t = np.arange(60 * 32) / 32
    quality, why = eda_quality(make(t), 32.0)
    assert (reason in why) if reason else why == ""
    assert set(quality) == {"eda_jump_share", "eda_low_share", "eda_saturated_share"}


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(4, 3000),
    rate=st.sampled_from([1.0, 4.0, 15.0, 25.0, 32.0, 64.0, 128.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_fast_zoom_and_sosfilt_are_bit_identical_to_scipy(n: int, rate: float, seed: int) -> None:
    """``zoom_cubic`` (EDASymp's resampling to 400 Hz) equals ``scipy.ndimage.zoom`` and the
    direct ``sosfilt`` equals ``scipy.signal.sosfilt`` bit for bit, on random-walk skin
    conductance at device rates (the steps NeuroKit2's ``eda_sympathetic`` runs)."""
    import scipy.ndimage
    import scipy.signal

    from stresstrack.pipeline.eda import sosfilt, zoom_cubic

    x = 5 + np.cumsum(np.random.default_rng(seed).normal(0, 0.01, n))
    length = int(np.round(n * 400 / rate))
    assume(length > 1)
    assert np.array_equal(zoom_cubic(x, length), scipy.ndimage.zoom(x, length / n))
    sos = scipy.signal.cheby1(8, 1, 0.8, "lowpass", fs=400, output="sos")
    zi = scipy.signal.sosfilt_zi(sos) * x[0]
    assert np.array_equal(sosfilt(sos, x), scipy.signal.sosfilt(sos, x))
    assert np.array_equal(sosfilt(sos, x, zi), scipy.signal.sosfilt(sos, x, zi=zi)[0])
