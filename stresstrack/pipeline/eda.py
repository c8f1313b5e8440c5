"""Skin-conductance features of one window, computed with NeuroKit2.

Steps (NeuroKit2 0.2): ``eda_clean`` (4th-order Butterworth low-pass at 3 Hz; skipped below
7 Hz sampling, where NeuroKit2 itself cannot filter), ``eda_phasic(method="highpass")``
(NeuroKit2's default: phasic = zero-phase Butterworth high-pass at 0.05 Hz, tonic = the
rest; Biopac AcqKnowledge's method; over a 60 s window it keeps ~85 % of a response's
amplitude where a 4 s running median keeps ~25 %), and the peaks of the phasic component
as NeuroKit2's ``eda_peaks(method="neurokit", amplitude_min=0.1)`` finds them: every local
maximum whose prominence is at least 10 % of the window's largest prominence is an SCR; its
onset is the closest local minimum before it, its amplitude the rise from that onset. The
rule is relative: a calm window's largest ripple sets the bar, so resting rates are higher
than the 1-3/min of non-specific SCRs usually reported at rest (Dawson, Schell & Filion
2017); docs/features.md gives the rates measured on real recordings.

``ns_scr_per_min`` counts SCRs by an absolute amplitude instead, the rule of the
electrodermal literature: a trough-to-peak rise of the cleaned signal (3 Hz low-pass) of at
least ``NS_SCR_MIN_AMPLITUDE_US`` = 0.05 µS, measured as the peak's prominence with its bases
searched within ±10 s (SCRs rise in 1-3 s, so the slow tonic wander stays out). Publication
recommendations for electrodermal measurements (Boucsein et al. 2012, *Psychophysiology*
49:1017) call 0.01-0.05 µS customary; 0.05 µS is the conservative end, above the noise and
0.001 µS quantisation of wearable sensors. It is measured on the cleaned signal, not the
0.05 Hz high-passed phasic one, whose ringing after a large response is itself a peak (a
1 µS SCR of ``nk.eda_simulate`` leaves a 0.066 µS bump 16 s later). This rate is the stress
index's SCR component: at rest it lands in the 1-3/min of non-specific SCRs (Dawson, Schell
& Filion 2017; docs/features.md has the measured rates), and a flat, calm window counts none.

Each function has a ``method=`` argument: ``"fast"`` (numpy/scipy, filters designed once)
or ``"neurokit"`` (NeuroKit2 itself, the slow reference); they agree to 1e-9.
"""

# Size (issue 12): over 400 lines because the fast path's bit-identical stand-ins for scipy
# (sosfilt, filtfilt, zoom, peak search), each tested against scipy, sit beside the one
# feature family that uses them.

from __future__ import annotations

import functools
import math
import warnings
from typing import Final

import numpy as np
import numpy.typing as npt
import scipy.ndimage
import scipy.signal

from stresstrack.pipeline.hrv import Method, mean, welch_window

try:  # the compiled loop behind scipy.signal.sosfilt (scipy 1.x): see sosfilt below
    from scipy.signal._sosfilt import _sosfilt as _sosfilt_c
except ImportError:  # pragma: no cover
    _sosfilt_c = None
try:  # the compiled loops behind find_peaks / peak_prominences: see local_maxima below
    from scipy.signal._peak_finding_utils import _local_maxima_1d, _peak_prominences
except ImportError:  # pragma: no cover
    _local_maxima_1d = _peak_prominences = None

__all__ = [
    "EDA_FEATURES",
    "EDA_SYMP_FEATURES",
    "NS_SCR_MIN_AMPLITUDE_US",
    "SCR_RELATIVE_MIN",
    "eda_clean",
    "eda_decompose",
    "eda_features",
    "eda_quality",
    "eda_sympathetic",
    "local_maxima",
    "ns_scr_peaks",
    "prominences",
    "scr_peaks",
    "sosfiltfilt_cached",
]

EDA_FEATURES: Final = (
    "scl_us", "scr_count", "scr_per_min", "scr_amplitude_us", "ns_scr_per_min",
)  # fmt: skip
EDA_SYMP_FEATURES: Final = ("eda_symp", "eda_symp_n")
# eda_peaks(method="neurokit")'s amplitude_min: an SCR's prominence is at least this share of
# the window's largest prominence (NeuroKit2 0.2-0.3 default).
SCR_RELATIVE_MIN: Final = 0.1
# A phasic signal whose largest peak prominence is below this has no SCRs: it is the rounding
# ripple (~1e-14 µS) the filters leave on a constant signal, six orders of magnitude below any
# EDA sensor's resolution (~0.001 µS), where the relative rule alone would count that ripple.
# Applied the same way to both methods, so they stay equal (docs/features.md).
SCR_NUMERIC_FLOOR_US: Final = 1e-9
# Non-specific SCRs for the stress index: a rise >= 0.05 µS, the conservative end of the
# customary 0.01-0.05 µS (Boucsein et al. 2012, Psychophysiology 49:1017), its trough
# searched within +-NS_SCR_SEARCH_S / 2.
NS_SCR_MIN_AMPLITUDE_US: Final = 0.05
NS_SCR_SEARCH_S: Final = 20.0


def local_maxima(x: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """``scipy.signal.find_peaks(x)[0]`` for a 1-D float64 ``x`` (no conditions): scipy's
    compiled loop called directly, without the per-call argument handling that costs more
    than the search over a minute of EDA.

    >>> x = np.array([0, 2, 1, 3, 3, 0, 1, 0.5])
    >>> local_maxima(x).tolist(), scipy.signal.find_peaks(x)[0].tolist()
    ([1, 3, 6], [1, 3, 6])
    """
    if _local_maxima_1d is None:  # pragma: no cover - a scipy without the private loop
        found: npt.NDArray[np.intp] = scipy.signal.find_peaks(x)[0]
        return found
    peaks: npt.NDArray[np.intp] = _local_maxima_1d(np.ascontiguousarray(x, dtype=np.float64))[0]
    return peaks


def prominences(
    x: npt.NDArray[np.float64], peaks: npt.NDArray[np.intp], wlen: int | None = None
) -> npt.NDArray[np.float64]:
    """``scipy.signal.peak_prominences(x, peaks, wlen)[0]`` for a 1-D float64 ``x``, the
    peaks of ``local_maxima`` and an odd integer ``wlen`` (or None): the compiled loop
    called directly, bit-identical.

    >>> x = np.array([0, 2, 1, 3, 3, 0, 1, 0.5])
    >>> p = local_maxima(x)
    >>> prominences(x, p).tolist(), scipy.signal.peak_prominences(x, p)[0].tolist()
    ([1.0, 3.0, 0.5], [1.0, 3.0, 0.5])
    """
    if _peak_prominences is None or (wlen is not None and wlen <= 1):  # pragma: no cover
        found: npt.NDArray[np.float64] = scipy.signal.peak_prominences(x, peaks, wlen=wlen)[0]
        return found
    x = np.ascontiguousarray(x, dtype=np.float64)
    length = np.intp(-1 if wlen is None else wlen)
    out: npt.NDArray[np.float64] = _peak_prominences(x, peaks.astype(np.intp), length)[0]
    return out


def ns_scr_peaks(
    cleaned_us: npt.NDArray[np.float64],
    sampling_rate: float,
    min_amplitude_us: float = NS_SCR_MIN_AMPLITUDE_US,
) -> npt.NDArray[np.intp]:
    """Peaks of the cleaned skin conductance whose prominence, with bases searched within
    ±10 s, is at least ``min_amplitude_us``: an absolute amplitude criterion (Boucsein et al.
    2012), so a calm window's noise ripples, which a relative rule would count, are not
    responses. The prominence is the rise above the higher of the lowest points on either
    side before a higher peak: a ripple on an SCR's rising flank has a small one, a response
    riding on the decay of a larger one is measured from the trough between them.

    >>> x = np.array([0, 0.2, 0.19, 0.21, 0.1, 0.13, 0.12, 0.3, 0])
    >>> ns_scr_peaks(x, 1.0).tolist()
    [3, 7]
    """
    peaks = local_maxima(cleaned_us)
    if peaks.size == 0:
        return peaks
    wlen = 2 * int(NS_SCR_SEARCH_S * sampling_rate / 2) + 1
    prominence = prominences(cleaned_us, peaks, wlen)
    kept: npt.NDArray[np.intp] = peaks[prominence >= min_amplitude_us]
    return kept


def scr_peaks(
    phasic: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """SCR peaks of ``phasic`` and their amplitudes (NaN without an onset), as
    ``nk.eda_peaks(method="neurokit", amplitude_min=0.1)``.

    NeuroKit2 keeps every local maximum whose prominence is >= 10 % of the largest, and takes
    as onset the closest local minimum strictly before each peak (looked up with pandas, one
    peak at a time; a binary search gives the same indices).

    >>> x = np.array([0, 1, 0, 0.05, 0, 0.5, 0.2, 0.35, 0])
    >>> p, a = scr_peaks(x)
    >>> p.tolist(), np.round(a, 2).tolist()
    ([1, 5, 7], [nan, 0.5, 0.15])
    """
    peaks = local_maxima(phasic)
    if peaks.size == 0:
        return peaks, np.zeros(0)
    prominence = prominences(phasic, peaks)
    if np.max(prominence) < SCR_NUMERIC_FLOOR_US:  # rounding ripple of a constant signal
        return peaks[:0], np.zeros(0)
    peaks = peaks[~(prominence / np.max(prominence) < SCR_RELATIVE_MIN)]
    troughs = local_maxima(-phasic)
    before = np.searchsorted(troughs, peaks, side="left") - 1
    amplitude = np.full(peaks.size, np.nan)
    has = before >= 0
    amplitude[has] = phasic[peaks[has]] - phasic[troughs[before[has]]]
    return peaks, amplitude


@functools.lru_cache(maxsize=32)
def _butter(order: int, cutoff: float, btype: str, fs: float) -> npt.NDArray[np.float64]:
    """NeuroKit2's Butterworth design (``signal_filter(method="butterworth")``), cached: the
    design costs as much as filtering a minute of signal, and it never changes."""
    sos: npt.NDArray[np.float64] = scipy.signal.butter(
        order, cutoff, btype=btype, output="sos", fs=fs
    )
    return sos


FloatArray = npt.NDArray[np.float64]
Plan = tuple[FloatArray, FloatArray, int]


def _plan(sos: npt.NDArray[np.float64]) -> Plan:
    """Sections, initial conditions and pad length of ``sosfiltfilt`` for ``sos``."""
    n_sections = sos.shape[0]
    ntaps = 2 * n_sections + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return sos, scipy.signal.sosfilt_zi(sos), 3 * ntaps


@functools.lru_cache(maxsize=32)
def _butter_plan(order: int, cutoff: float, btype: str, fs: float) -> Plan:
    return _plan(_butter(order, cutoff, btype, fs))


@functools.lru_cache(maxsize=8)
def _decimate_plan(q: int) -> Plan:
    # scipy.signal.decimate's anti-aliasing filter for factor q (n = 8, ftype "iir")
    return _plan(np.asarray(scipy.signal.cheby1(8, 0.05, 0.8 / q, output="sos"), dtype=np.float64))


def sosfilt(
    sos: npt.NDArray[np.float64],
    x: npt.NDArray[np.float64],
    zi: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.float64]:
    """``scipy.signal.sosfilt(sos, x, zi=zi)``'s output for a 1-D float64 ``x``, bit-identical:
    scipy's compiled loop called directly, without the per-call argument handling that costs
    several times the filtering of a minute of EDA.

    >>> sos = scipy.signal.butter(2, 0.1, output="sos")
    >>> x = np.sin(np.arange(50.0))
    >>> bool(np.array_equal(sosfilt(sos, x), scipy.signal.sosfilt(sos, x)))
    True
    """
    if _sosfilt_c is None:  # pragma: no cover - a scipy without the private loop
        z = np.zeros((sos.shape[0], 2)) if zi is None else zi
        return np.asarray(scipy.signal.sosfilt(sos, x, zi=z)[0], dtype=np.float64)
    y = np.array(x, dtype=np.float64, order="C", ndmin=2)  # a copy: filtered in place
    state = np.zeros((1, sos.shape[0], 2)) if zi is None else np.array(zi, ndmin=3, order="C")
    _sosfilt_c(sos, y, state)
    out: FloatArray = y[0]
    return out


def private_loops_agree() -> bool:
    """Whether scipy's private compiled loops used above (not a public API: a scipy release
    may change them) still give what the public functions give, on small cases; at import,
    a scipy where they do not (or fail) makes ``sosfilt``, ``local_maxima`` and
    ``prominences`` use the public functions.

    >>> private_loops_agree()
    True
    """
    x = np.array([0, 2, 1, 3, 3, 0, 1, 0.5])
    sos = np.asarray(scipy.signal.butter(2, 0.1, output="sos"), dtype=np.float64)
    wave = np.sin(np.arange(50.0))
    try:
        peaks = local_maxima(x)
        return (
            np.array_equal(sosfilt(sos, wave), scipy.signal.sosfilt(sos, wave))
            and np.array_equal(peaks, scipy.signal.find_peaks(x)[0])
            and np.array_equal(prominences(x, peaks), scipy.signal.peak_prominences(x, peaks)[0])
        )
    except Exception:  # any failure of a private loop means: do not use them
        return False


if not private_loops_agree():  # pragma: no cover - a scipy whose private loops changed
    _sosfilt_c = _local_maxima_1d = _peak_prominences = None


def _filtfilt(x: npt.NDArray[np.float64], plan: Plan) -> npt.NDArray[np.float64]:
    """``scipy.signal.sosfiltfilt`` (odd padding, default pad length) with the design and the
    initial conditions computed once; bit-identical to scipy's."""
    sos, zi, edge = plan
    if x.size <= edge:
        return np.asarray(scipy.signal.sosfiltfilt(sos, x), dtype=np.float64)
    ext = np.concatenate((2 * x[0] - x[edge:0:-1], x, 2 * x[-1] - x[-2 : -(edge + 2) : -1]))
    y = sosfilt(sos, ext, zi * ext[0])
    y = sosfilt(sos, y[::-1], zi * y[-1])
    return np.asarray(y[::-1][edge:-edge], dtype=np.float64)


def sosfiltfilt_cached(
    x: npt.NDArray[np.float64], order: int, cutoff: float, btype: str, fs: float
) -> npt.NDArray[np.float64]:
    """``sosfiltfilt(butter(order, cutoff, btype, output="sos", fs=fs), x)``, cached design."""
    return _filtfilt(x, _butter_plan(order, cutoff, btype, fs))


def decimate_cached(x: npt.NDArray[np.float64], q: int) -> npt.NDArray[np.float64]:
    """``scipy.signal.decimate(x, q, n=8)`` (zero-phase IIR), cached design; bit-identical."""
    return _filtfilt(x, _decimate_plan(q))[::q]


def eda_clean(signal_us: npt.NDArray[np.float64], sampling_rate: float) -> npt.NDArray[np.float64]:
    """``nk.eda_clean(method="neurokit")``: low-pass 3 Hz (order 4, zero-phase) unless the
    rate is 6 Hz or less."""
    fs = round(sampling_rate)
    return signal_us if fs <= 6 else sosfiltfilt_cached(signal_us, 4, 3.0, "lowpass", fs)


def eda_decompose(
    signal_us: npt.NDArray[np.float64], sampling_rate: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Tonic and phasic components exactly as ``eda_clean`` + ``eda_phasic(method="highpass")``:
    low-pass 3 Hz (order 4) unless the rate is 6 Hz or less, then low-/high-pass 0.05 Hz
    (order 2), each a zero-phase ``sosfiltfilt``."""
    return _split(eda_clean(signal_us, sampling_rate), sampling_rate)


def _split(
    cleaned: npt.NDArray[np.float64], sampling_rate: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    fs = round(sampling_rate)
    tonic = sosfiltfilt_cached(cleaned, 2, 0.05, "lowpass", fs)
    phasic = sosfiltfilt_cached(cleaned, 2, 0.05, "highpass", fs)
    return tonic, phasic


def eda_features(
    signal_us: npt.NDArray[np.float64], sampling_rate: float, method: Method = "fast"
) -> dict[str, float]:
    """SCL (mean tonic µS), SCR count, SCRs per minute and mean SCR amplitude (0 without
    SCRs; NeuroKit2 gives NaN) by NeuroKit2's relative rule, and non-specific SCRs per
    minute by the absolute 0.05 µS rule (``ns_scr_peaks``) of one window."""
    n = signal_us.size
    if n < 4 * sampling_rate:
        raise ValueError(
            f"eda_features needs at least 4 s of signal, got {n / sampling_rate:.1f} s"
        )
    if method == "neurokit":
        tonic, cleaned, peaks, amplitude = _eda_neurokit(signal_us, sampling_rate)
    else:
        cleaned = eda_clean(signal_us, sampling_rate)
        tonic, phasic = _split(cleaned, sampling_rate)
        peaks, amplitude = scr_peaks(phasic)
    valid = amplitude[~np.isnan(amplitude)]
    minutes = n / sampling_rate / 60.0
    return {
        "scl_us": mean(tonic),
        "scr_count": float(peaks.size),
        "scr_per_min": peaks.size / minutes,
        "scr_amplitude_us": mean(valid) if valid.size else 0.0,
        "ns_scr_per_min": ns_scr_peaks(cleaned, sampling_rate).size / minutes,
    }


_NeuroKitEda = tuple[
    npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.intp], npt.NDArray[np.float64]
]


def _eda_neurokit(signal_us: npt.NDArray[np.float64], sampling_rate: float) -> _NeuroKitEda:
    """Tonic level, cleaned signal, SCR peaks and amplitudes from NeuroKit2's own
    functions."""
    fs = round(sampling_rate)
    import neurokit2 as nk  # on first use: the reference is slow to import

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cleaned = (
            nk.eda_clean(signal_us, sampling_rate=fs, method="neurokit") if fs >= 7 else signal_us
        )
        cleaned = np.asarray(cleaned, dtype=float)
        dec = nk.eda_phasic(np.asarray(cleaned, dtype=float), sampling_rate=fs, method="highpass")
        phasic = np.asarray(dec["EDA_Phasic"], dtype=float)
        tonic = np.asarray(dec["EDA_Tonic"], dtype=float)
        found = scipy.signal.find_peaks(phasic)[0]
        if found.size == 0 or (  # eda_peaks fails without peaks
            np.max(scipy.signal.peak_prominences(phasic, found)[0]) < SCR_NUMERIC_FLOOR_US
        ):
            return tonic, cleaned, np.zeros(0, dtype=np.intp), np.zeros(0)
        _, info = nk.eda_peaks(phasic, sampling_rate=fs, method="neurokit", amplitude_min=0.1)
    peaks = np.asarray(info["SCR_Peaks"], dtype=np.intp)
    return tonic, cleaned, peaks, np.asarray(info["SCR_Amplitude"], dtype=float)


# Quality limits of a skin-conductance window.
FLATLINE_RANGE_US: Final = 0.005  # less change than this over a whole window: sensor off skin
LOW_US: Final = 0.05  # below: no skin contact (open circuit)
SATURATION_US: Final = 60.0  # above: outside any physiological range; sensor saturated/shorted
JUMP_US_PER_S: Final = 5.0  # faster change than an SCR can rise: electrode motion or contact


def eda_quality(
    signal_us: npt.NDArray[np.float64], sampling_rate: float
) -> tuple[dict[str, float], str]:
    """Flatline, saturation and implausible jumps; returns (quality values, reason if unusable)."""
    # Shares as count / size: what np.mean of the booleans gives (a float64 sum of 0s and 1s
    # is the exact count), without its per-call overhead.
    n = signal_us.size
    jumps = int(np.count_nonzero(np.abs(np.diff(signal_us)) * sampling_rate > JUMP_US_PER_S))
    jump_share = jumps / (n - 1) if n > 1 else 0.0
    low = int(np.count_nonzero(signal_us < LOW_US)) / n if n else math.nan
    high = int(np.count_nonzero(signal_us > SATURATION_US)) / n if n else math.nan
    rng = float(signal_us.max() - signal_us.min()) if n else 0.0
    quality = {
        "eda_jump_share": round(jump_share, 4),
        "eda_low_share": round(low, 4),
        "eda_saturated_share": round(high, 4),
    }
    if high > 0.05:
        return quality, f"EDA saturated (> {SATURATION_US:g} µS) in {high:.0%} of the window"
    if low > 0.5:
        return quality, f"EDA below {LOW_US:g} µS in {low:.0%} of the window (no skin contact?)"
    if rng < FLATLINE_RANGE_US and low == 0.0:
        return quality, f"EDA flat (range {rng:.4f} µS): sensor off the skin or disconnected"
    if jump_share > 0.02:
        return (
            quality,
            f"EDA jumps faster than {JUMP_US_PER_S:g} µS/s in {jump_share:.1%} of samples",
        )
    return quality, ""


@functools.lru_cache(maxsize=4)
def _zoom_plan(n: int, length: int) -> tuple[npt.NDArray[np.intp], FloatArray, FloatArray,
                                              FloatArray, FloatArray] | None:  # fmt: skip
    """First tap (into the coefficients mirror-padded by 2) and the four cubic B-spline
    weights of each output point, as ndimage computes them; None where ndimage would reach
    outside the input (then it is called itself)."""
    pos = np.arange(length) * ((n - 1) / (length - 1))
    if n < 4 or pos[-1] > n - 1:
        return None
    whole = np.floor(pos)
    y = pos - whole
    z = 1.0 - y
    w1 = (y * y * (y - 2.0) * 3.0 + 4.0) / 6.0
    w2 = (z * z * (z - 2.0) * 3.0 + 4.0) / 6.0
    w0 = z * z * z / 6.0
    return whole.astype(np.intp) + 1, w0, w1, w2, 1.0 - w0 - w1 - w2


def zoom_cubic(x: FloatArray, length: int) -> FloatArray:
    """``scipy.ndimage.zoom(x, length / x.size)`` (cubic spline, mode "constant") of a 1-D
    signal, bit-identical: ndimage's spline prefilter, then the evaluation with the output
    positions and weights computed once per length (ndimage recomputes them per sample).

    >>> x = np.sin(np.arange(40.0) / 3)
    >>> bool(np.array_equal(zoom_cubic(x, 500), scipy.ndimage.zoom(x, 500 / 40)))
    True
    """
    plan = _zoom_plan(x.size, length)
    if plan is None:
        return np.asarray(scipy.ndimage.zoom(x, length / x.size), dtype=np.float64)
    first, w0, w1, w2, w3 = plan
    c = scipy.ndimage.spline_filter1d(x, 3, mode="constant", output=np.float64)
    c = np.concatenate((c[2:0:-1], c, c[-2:-4:-1]))  # ndimage mirrors taps beyond the ends
    out: FloatArray = ((w0 * c[first] + w1 * c[first + 1]) + w2 * c[first + 2]) + w3 * c[first + 3]
    return out


@functools.lru_cache(maxsize=1)
def _posada_cheby() -> npt.NDArray[np.float64]:
    cheby: npt.NDArray[np.float64] = scipy.signal.cheby1(8, 1, 0.8, "lowpass", fs=400, output="sos")
    return cheby


def eda_sympathetic(
    signal_us: npt.NDArray[np.float64], sampling_rate: float, method: Method = "fast"
) -> dict[str, float]:
    """EDASymp (Posada-Quintero et al. 2016, Ann Biomed Eng 44:3124), the steps of NeuroKit2's
    ``eda_sympathetic(method="posada")`` with the filters designed once: resample any device
    rate to 400 Hz (``ndimage.zoom``), Chebyshev I low-pass, decimate by 10 and 20 to 2 Hz,
    Butterworth high-pass 0.01 Hz, Welch PSD (Blackman, 128 samples, 50 % overlap), power in
    0.045-0.25 Hz, and the same on the max-normalised PSD. Needs more than 64 s of signal."""
    if signal_us.size <= 64 * sampling_rate:
        raise ValueError("eda_sympathetic needs more than 64 s of signal")
    if method == "neurokit":
        return _eda_sympathetic_neurokit(signal_us, sampling_rate)
    fs = round(sampling_rate)
    length = int(np.round(signal_us.size * 400 / fs))
    x = signal_us if length == signal_us.size else zoom_cubic(signal_us, length)
    x = sosfilt(_posada_cheby(), x)
    x = decimate_cached(x, 10)
    x = decimate_cached(x, 20)
    x = sosfiltfilt_cached(x, 8, 0.01, "highpass", 2)
    freq, power = scipy.signal.welch(
        x, fs=2, scaling="density", detrend=False, nfft=256, average="mean", nperseg=128,
        window=welch_window("blackman", 128), noverlap=64,
    )  # fmt: skip
    sel = (freq >= 0.045) & (freq < 0.25)
    symp = float(np.trapezoid(y=power[sel], x=freq[sel]))
    symp_n = float(np.trapezoid(y=power[sel] / np.max(power), x=freq[sel]))
    return {
        "eda_symp": math.nan if symp == 0.0 else symp,
        "eda_symp_n": math.nan if symp_n == 0.0 else symp_n,
    }


def _eda_sympathetic_neurokit(
    signal_us: npt.NDArray[np.float64], sampling_rate: float
) -> dict[str, float]:
    """EDASymp from NeuroKit2 itself (for tests and the benchmark)."""
    import neurokit2 as nk  # on first use: the reference is slow to import

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = nk.eda_sympathetic(signal_us, sampling_rate=round(sampling_rate), method="posada")
    return {
        "eda_symp": float(out["EDA_Sympathetic"]),
        "eda_symp_n": float(out["EDA_SympatheticN"]),
    }
