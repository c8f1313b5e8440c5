"""The numpy Kubios passes (pipeline/fixpeaks.py) against NeuroKit2's
``signal_fixpeaks(method="kubios")`` on realistic beat series with artefacts."""

from __future__ import annotations

import warnings

import neurokit2 as nk
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from real_data import nsrdb_nn_ms

from stresstrack.pipeline.beats import _fixpeaks_kubios
from stresstrack.pipeline.fixpeaks import fixpeaks_pass, rolling_median, rolling_quantile

CLASSES = ("ectopic", "missed", "extra", "longshort")
US = 1_000_000


def _nk_pass(peaks: np.ndarray) -> tuple[dict[str, list[int]], np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info, out = nk.signal_fixpeaks(peaks, sampling_rate=US, method="kubios", iterative=False)
    return {k: [int(i) for i in info[k]] for k in CLASSES}, np.asarray(out, dtype=np.float64)


def _artefacts(rr: np.ndarray, rng: np.random.Generator, rate: float) -> np.ndarray:
    """Ectopic beats (premature, compensated), missed, extra and long/short intervals, each
    at ``rate`` per beat, plus ±5 ms detection jitter."""
    rr = rr.copy()
    n = rr.size
    k = max(1, int(rate * n))
    for i in rng.integers(1, n - 1, k):
        rr[i], rr[i + 1] = 0.7 * rr[i], rr[i + 1] + 0.3 * rr[i]
    rr[rng.integers(0, n, k)] *= 2.0  # missed beat
    for i in rng.integers(0, n, k):
        rr[i] *= rng.uniform(0.4, 0.6)  # an extra beat splits an interval...
    rr[rng.integers(0, n, k)] *= rng.uniform(1.3, 1.6)  # ...a long one
    return np.maximum(rr + rng.uniform(-5, 5, n), 200.0)


def _peaks(rr_ms: np.ndarray) -> np.ndarray:
    return np.round(np.cumsum(rr_ms) * 1000).astype(np.float64)


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(3, 500),
    rate=st.floats(0.0, 0.08),
    hr=st.floats(45, 150),
)
def test_one_pass_equals_neurokit_on_series_with_artefacts(
    seed: int, n: int, rate: float, hr: float
) -> None:
    """Same artefact indices by class and the same corrected peaks (exactly) as NeuroKit2's
    single pass, on RSA-modulated series with every artefact kind and detection jitter."""
    rng = np.random.default_rng(seed)
    mean = 60000 / hr
    rr = mean + 0.06 * mean * np.sin(np.arange(n) / rng.uniform(2, 6)) + rng.normal(0, 15, n)
    peaks = _peaks(_artefacts(np.maximum(rr, 250), rng, rate))
    found, ours = fixpeaks_pass(peaks, US)
    ref_found, ref = _nk_pass(peaks)
    assert found == ref_found
    assert np.array_equal(ours, ref)


def test_iterated_passes_equal_neurokit_on_real_nn_intervals_with_artefacts() -> None:
    """pyhrv 0.5.0 ``files/SampleNNISeriesLong.npy`` (60 min of MIT-BIH NSRDB NN intervals),
    as it is and with 2 % artefacts injected, in 160-beat runs as the online corrector
    sees them and whole: NeuroKit2's iterative correction gives the same peaks."""
    nn = nsrdb_nn_ms()
    rng = np.random.default_rng(12)
    for series in (nn, _artefacts(nn, rng, 0.02)):
        peaks = _peaks(series)
        for lo in [*range(0, peaks.size - 160, 700), 0]:
            part = peaks[lo : lo + 160] if lo else peaks
            part = part - part[0]
            ours, _ = _fixpeaks_kubios(part.astype(np.int64), "fast")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, ref = nk.signal_fixpeaks(part, sampling_rate=US, method="kubios")
            assert np.array_equal(ours, np.asarray(ref, dtype=np.float64)), lo
    found, _ = fixpeaks_pass(_peaks(_artefacts(nn, rng, 0.02)), US)
    assert all(found[k] for k in CLASSES)  # every class was there to compare


@settings(max_examples=100, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 250), elements=st.floats(0, 3, allow_subnormal=False)),
    st.sampled_from([3, 11, 91]),
    st.sampled_from([0.25, 0.5, 0.75]),
)
def test_rolling_statistics_equal_pandas(x: np.ndarray, width: int, q: float) -> None:
    """Bit-equal to pandas' centred rolling quantile and median with ``min_periods=1``."""
    s = pd.Series(x).rolling(width, center=True, min_periods=1)
    assert np.array_equal(rolling_quantile(x, width, q), s.quantile(q).to_numpy())
    assert np.array_equal(rolling_median(x, width), s.median().to_numpy())
