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
    assert f["ns_scr_per_min"] == 3  # 0.5 µS each: above the absolute 0.05 µS
    # A constant signal: the filters leave a ~1e-14 µS ripple on it (SciPy 1.15-1.17), which the
    # relative rule alone would count as ~11 SCRs; below the numeric floor there are none.
    for method in ("fast", "neurokit"):
        flat = eda_features(np.full(t.size, 3.0), fs, method)  # type: ignore[arg-type]
        assert flat["scr_count"] == 0 and flat["scr_amplitude_us"] == 0.0, method
        assert flat["ns_scr_per_min"] == 0


def _bateman(t: np.ndarray, onsets: dict[float, float]) -> np.ndarray:
    """3 µS plus responses of the given peak amplitudes (µS) at the given onsets (s)."""
    signal = np.full(t.size, 3.0)
    for onset, amplitude in onsets.items():
        k = t >= onset
        shape = np.exp(-(t[k] - onset) / 2.0) - np.exp(-(t[k] - onset) / 0.75)
        signal[k] += amplitude * shape / 0.4
    return signal


def test_ns_scrs_are_counted_by_absolute_amplitude() -> None:
    """Responses of 0.02 and 0.04 µS are below the 0.05 µS criterion (Boucsein et al. 2012),
    0.06, 0.1 and 0.3 µS above it; a response riding on the decay of a larger one counts."""
    fs = 32.0
    t = np.arange(60 * int(fs)) / fs
    small = _bateman(t, {5.0: 0.02, 15.0: 0.04, 25.0: 0.06, 35.0: 0.1, 45.0: 0.3})
    assert eda_features(small, fs)["ns_scr_per_min"] == 3
    riding = _bateman(t, {10.0: 0.8, 14.0: 0.2})  # the second starts while the first decays
    assert eda_features(riding, fs)["ns_scr_per_min"] == 2


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
def test_ns_scrs_equal_the_responses_nk_eda_simulate_draws(k: int) -> None:
    """``nk.eda_simulate(scr_number=k)`` (NeuroKit2's own simulator, independent of ours):
    60 s at 32 Hz with k responses give k non-specific SCRs. The relative-rule count is
    not compared: the 0.05 Hz high-pass rings after a large response, a peak of its own."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = np.asarray(nk.eda_simulate(duration=60, sampling_rate=32, scr_number=k, drift=0))
    assert eda_features(x, 32.0)["ns_scr_per_min"] == k


def test_ns_scrs_ignore_the_noise_the_relative_rule_counts() -> None:
    """A flat 0.4 µS with 0.003 µS sensor noise (a simulated EDA non-responder): NeuroKit2's
    relative rule counts dozens of ripples per minute, the absolute rule none."""
    rng = np.random.default_rng(3)
    x = 0.4 + rng.normal(0.0, 0.003, 60 * 32)
    f = eda_features(x, 32.0)
    assert f["scr_per_min"] > 30
    assert f["ns_scr_per_min"] == 0


def test_ns_scr_rates_at_rest_match_the_simulated_rate_and_the_literature() -> None:
    """40 simulated responders, the 4 non-overlapping 60 s windows of their 5 min baseline
    after the first minute: the counted rate follows each person's simulated resting rate
    (drawn 1.2-2.8/min, docs/simulators.md) and its median lies in the 1-3/min of
    non-specific SCRs at rest (Dawson, Schell & Filion 2017). Measured: median 2.0/min,
    mean 2.1 against a simulated 1.9."""
    counted, true = [], []
    for seed in range(40):
        params = ParticipantParams.draw(np.random.default_rng(100 + seed), non_responder_share=0)
        _, eda = simulate_eda(ParticipantModel(DEFAULT_PROTOCOL, params, seed), 8.0)
        for start in (60, 120, 180, 240):
            window = eda[start * 8 : (start + 60) * 8]
            counted.append(eda_features(window, 8.0)["ns_scr_per_min"])
            true.append(params.scr_rest_per_min)
    assert 1.0 <= float(np.median(counted)) <= 3.0
    assert float(np.mean(counted)) == pytest.approx(float(np.mean(true)), rel=0.25)


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


@settings(max_examples=200, deadline=None)
@given(
    signal=arrays(
        np.float64, st.integers(2, 400),
        elements=st.one_of(st.floats(-1.0, 80.0), st.sampled_from([0.05, 60.0, 0.0])),
    )
)  # fmt: skip
def test_eda_quality_shares_equal_numpy_means(signal: np.ndarray) -> None:  # type: ignore[type-arg]
    """The quality shares (counted) are exactly np.mean of the booleans and the range np.ptp,
    the formulas they replaced."""
    from stresstrack.pipeline.eda import JUMP_US_PER_S, LOW_US, SATURATION_US, eda_quality

    quality, _ = eda_quality(signal, 32.0)
    assert all(type(v) is float for v in quality.values())  # plain floats, as stored
    jump = float(np.mean(np.abs(np.diff(signal)) * 32.0 > JUMP_US_PER_S))
    assert quality["eda_jump_share"] == round(jump, 4)
    assert quality["eda_low_share"] == round(float(np.mean(signal < LOW_US)), 4)
    assert quality["eda_saturated_share"] == round(float(np.mean(signal > SATURATION_US)), 4)
    flat = float(np.ptp(signal)) < 0.005 and not np.any(signal < LOW_US)
    high = float(np.mean(signal > SATURATION_US))
    low = float(np.mean(signal < LOW_US))
    assert ("flat" in _) == (flat and high <= 0.05 and low <= 0.5)


@settings(max_examples=150, deadline=None)
@given(
    x=arrays(
        np.float64, st.integers(0, 400),
        elements=st.one_of(st.floats(-5, 5), st.sampled_from([0.0, 1.0, 1e-300])),
    ),
    wlen=st.one_of(st.none(), st.integers(1, 200).map(lambda k: 2 * k + 1)),
)  # fmt: skip
def test_peak_search_is_scipy_find_peaks_and_peak_prominences(
    x: np.ndarray,  # type: ignore[type-arg]
    wlen: int | None,
) -> None:
    """``local_maxima`` and ``prominences`` (scipy's compiled loops called directly) give
    what ``scipy.signal.find_peaks`` and ``peak_prominences`` give, bit for bit, plateaus and
    flat stretches included (the peak search of ``scr_peaks`` and ``ns_scr_peaks``)."""
    import scipy.signal

    from stresstrack.pipeline.eda import local_maxima, prominences

    peaks = local_maxima(x)
    assert peaks.tolist() == scipy.signal.find_peaks(x)[0].tolist()
    assert local_maxima(-x).tolist() == scipy.signal.find_peaks(-x)[0].tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns about prominence-0 peaks: both do
        ref = scipy.signal.peak_prominences(x, peaks, wlen=wlen)[0]
        assert np.array_equal(prominences(x, peaks, wlen), ref)


@pytest.mark.parametrize(("name", "n"), [("hann", 1200), ("hann", 37), ("blackman", 128)])
def test_welch_with_the_remembered_window_equals_welch_with_its_name(name: str, n: int) -> None:
    """scipy's ``welch`` given ``welch_window(name, n)`` returns what it returns given the
    window's name, bit for bit (the HRV spectrum's and EDASymp's Welch estimates)."""
    import scipy.signal

    from stresstrack.pipeline.hrv import welch_window

    x = np.random.default_rng(n).normal(0, 1, 3 * n)
    options = {"fs": 4.0, "nperseg": n, "noverlap": n // 2, "nfft": 2 * n, "detrend": False}
    f_ref, p_ref = scipy.signal.welch(x, window=name, **options)  # type: ignore[arg-type]
    f, p = scipy.signal.welch(x, window=welch_window(name, n), **options)  # type: ignore[arg-type]
    assert np.array_equal(f, f_ref) and np.array_equal(p, p_ref)
    assert not welch_window(name, n).flags.writeable  # shared between calls: read-only


def test_a_changed_private_scipy_loop_is_noticed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path calls scipy's private compiled loops; a scipy release that changes one
    (here: a different signature, a wrong answer) is noticed by the import-time check, which
    then makes the fast path use the public functions."""
    import stresstrack.pipeline.eda as eda

    assert eda.private_loops_agree()

    def changed(*args: object) -> None:
        raise TypeError("_sosfilt() takes 2 positional arguments but 3 were given")

    monkeypatch.setattr(eda, "_sosfilt_c", changed)
    assert not eda.private_loops_agree()
    monkeypatch.undo()
    monkeypatch.setattr(eda, "_local_maxima_1d", lambda x: (np.array([0], dtype=np.intp),))
    assert not eda.private_loops_agree()
