"""HRV features of one window of beats (:class:`~stresstrack.pipeline.window.BeatWindow`).

Each family is a function with a ``method=`` argument, as NeuroKit2's ``hrv_*`` functions:
``"fast"`` computes with plain numpy/scipy, ``"neurokit"`` calls NeuroKit2 itself (slow: the
reference for tests and the benchmark's naive baseline). Where the algorithm is the same the
two agree to 1e-9 relative (``tests/pipeline/test_hrv.py``; 1e-6 for DFA, whose
least-squares fits are done in closed form here). docs/features.md lists every feature, its
definition and the reference it equals.

* time domain (``hrv_time``): NeuroKit2's ``hrv_time`` (MeanNN, SDNN ddof 1, RMSSD and
  pNN50 over successive pairs only; pNN50 = NN50 / (differences + 1) · 100, i.e. over the
  number of intervals, as NeuroKit2 0.2.10-0.3), Poincaré SD1/SD2 as ``hrv_nonlinear``
  (Brennan et al. 2001); mean HR both ways: ``mean_hr_bpm`` = 60000 / mean RR,
  ``mean_hr_inst_bpm`` = mean of 60000 / RR (Kubios's "Mean HR");
* frequency domain (``hrv_frequency``), ``spectrum="kubios"`` (default): RR interpolated at
  4 Hz (cubic spline), smoothness-priors detrending (Tarvainen et al. 2002, λ = 500), Welch
  PSD with a fixed 150 s Hann segment and 50 % overlap; ``spectrum="neurokit"``: exactly
  NeuroKit2's ``hrv_frequency(interpolation_rate=4, normalize=False)`` (quadratic
  interpolation, mean removed, NeuroKit2's segment choice);
* DFA α1 (``hrv_nonlinear``) as NeuroKit2's ``hrv_nonlinear`` (scales 4-11 beats);
* Baevsky's stress index SI = AMo / (2 Mo MxDMn) with a 50 ms histogram (Baevsky & Chernikova
  2017, Cardiometry 10:66), and √SI as Kubios reports it;
* PNS and SNS indices in the manner of Kubios (Tarvainen et al. 2014): z-scores against
  short-term population norms (Nunan et al. 2010, PACE 33:1407), equal weights.
"""

# Size (issue 17): over 400 lines because each of the three families (time, frequency,
# nonlinear) keeps its fast path beside the NeuroKit2/Kubios reference it must equal, so the
# equalities tests/pipeline/test_hrv.py checks read in one place. The frequency family
# (spectra, detrending, Welch) is the part to move out first if the module grows.

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import scipy.interpolate
import scipy.linalg
import scipy.signal

from stresstrack.pipeline.window import BeatWindow

__all__ = [
    "HRV_FREQ_FEATURES",
    "HRV_NONLINEAR_FEATURES",
    "HRV_TIME_FEATURES",
    "KUBIOS_LAMBDA",
    "WELCH_OVERLAP",
    "WELCH_SEGMENT_S",
    "Method",
    "Spectrum",
    "baevsky_si",
    "hrv_dfa_alpha1",
    "hrv_frequency",
    "hrv_nonlinear",
    "hrv_time",
    "smoothness_priors_detrend",
    "welch_window",
]

FloatArray = npt.NDArray[np.float64]
Method = Literal["fast", "neurokit"]
Spectrum = Literal["kubios", "neurokit"]

HRV_TIME_FEATURES: Final = (
    "mean_hr_bpm", "mean_hr_inst_bpm", "mean_rr_ms", "rmssd_ms", "sdnn_ms", "pnn50_pct",
    "sd1_ms", "sd2_ms", "baevsky_si", "baevsky_si_sqrt", "pns_index", "sns_index",
)  # fmt: skip
HRV_FREQ_FEATURES: Final = (
    "vlf_ms2", "lf_ms2", "hf_ms2", "total_power_ms2", "vlf_pct", "lf_pct", "hf_pct",
    "lf_nu", "hf_nu", "lf_hf", "vlf_peak_hz", "lf_peak_hz", "hf_peak_hz",
)  # fmt: skip
HRV_NONLINEAR_FEATURES: Final = ("dfa_alpha1",)

INTERPOLATION_HZ: Final = 4.0
VLF_BAND: Final = (0.0033, 0.04)
LF_BAND: Final = (0.04, 0.15)
HF_BAND: Final = (0.15, 0.4)
ALL_BANDS: Final = ((0.0, 0.0033), VLF_BAND, LF_BAND, HF_BAND, (0.4, 0.5))
# Kubios: smoothness priors with λ = 500 on the 4 Hz series (amplitude gain 1/√2 at
# ≈ 0.035 Hz: the trend below VLF goes, LF stays), Welch with a fixed segment in seconds so
# that the estimate does not depend on the window length or the interpolation rate.
KUBIOS_LAMBDA: Final = 500.0
WELCH_SEGMENT_S: Final = 150.0
WELCH_OVERLAP: Final = 0.5
DFA_SCALES: Final = np.arange(4, 12)  # NeuroKit2's DFA α1 window: 4-11 beats
SI_BIN_MS: Final = 50.0

# Short-term (5 min, supine) population norms, Nunan et al. 2010: mean RR 926 ± 90 ms,
# RMSSD 42 ± 15 ms, SDNN 50 ± 16 ms. SD1 = RMSSD/√2 and SD2 = √(2 SDNN² − SD1²) follow
# from them; mean HR 65 ± 6.5 bpm from mean RR; √SI 10 ± 3 from Baevsky's resting range
# SI 80-150 (Baevsky & Chernikova 2017).
NORMS: Final = {
    "mean_rr_ms": (926.0, 90.0),
    "rmssd_ms": (42.0, 15.0),
    "sd1_ms": (29.7, 10.6),
    "mean_hr_bpm": (65.0, 6.5),
    "baevsky_si_sqrt": (10.0, 3.0),
    "sd2_ms": (63.9, 20.0),
}


# -- time domain -------------------------------------------------------------------------------
def hrv_time(w: BeatWindow, method: Method = "fast") -> dict[str, float]:
    """Time-domain and Poincaré features, Baevsky's SI and PNS/SNS of >= 3 intervals."""
    if w.n < 3:
        raise ValueError(f"hrv_time needs at least 3 RR intervals, got {w.n}")
    return _TIME[method](w)


def mean(x: FloatArray) -> float:
    """``np.mean(x)`` of a 1-D float64 array, bit-identical (numpy's pairwise sum divided by
    the count), without its per-call overhead; NaN when empty.

    >>> x = np.random.default_rng(0).normal(800.0, 50.0, 77)
    >>> mean(x) == float(np.mean(x))
    True
    """
    n = x.size
    return float(x.sum()) / n if n else math.nan


def std1(x: FloatArray) -> float:
    """``np.std(x, ddof=1)`` of a 1-D float64 array, bit-identical (the same sums in the same
    order), without its per-call overhead; NaN below two values.

    >>> x = np.random.default_rng(0).normal(800.0, 50.0, 77)
    >>> std1(x) == float(np.std(x, ddof=1))
    True
    """
    n = x.size
    if n < 2:
        return math.nan
    d = x - x.sum() / n
    return math.sqrt(float((d * d).sum()) / (n - 1))


def _hrv_time_fast(w: BeatWindow) -> dict[str, float]:
    rr = w.rr_ms
    ok = w.successive
    diff = np.diff(rr)[ok]
    mean_rr = mean(rr)
    x1 = (rr[:-1][ok] - rr[1:][ok]) / math.sqrt(2)
    x2 = (rr[:-1][ok] + rr[1:][ok]) / math.sqrt(2)
    return _with_indices(
        rr,
        mean_rr=mean_rr,
        rmssd=math.sqrt(mean(diff * diff)),
        sdnn=std1(rr),
        pnn50=float(np.sum(np.abs(diff) > 50) / (diff.size + 1) * 100),
        sd1=std1(x1),
        sd2=std1(x2),
    )


def _hrv_time_neurokit(w: BeatWindow) -> dict[str, float]:
    rri = {"RRI": w.rr_ms, "RRI_Time": w.times_s}
    import neurokit2 as nk  # on first use: the reference is slow to import

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = nk.hrv_time(rri)
        nl = nk.hrv_nonlinear(rri)
    return _with_indices(
        w.rr_ms,
        mean_rr=float(t["HRV_MeanNN"].iloc[0]),
        rmssd=float(t["HRV_RMSSD"].iloc[0]),
        sdnn=float(t["HRV_SDNN"].iloc[0]),
        pnn50=float(t["HRV_pNN50"].iloc[0]),
        sd1=float(nl["HRV_SD1"].iloc[0]),
        sd2=float(nl["HRV_SD2"].iloc[0]),
    )


def _with_indices(
    rr: FloatArray, *, mean_rr: float, rmssd: float, sdnn: float, pnn50: float, sd1: float,
    sd2: float,
) -> dict[str, float]:  # fmt: skip
    """The features NeuroKit2 has no function for, added the same way to both methods."""
    si = baevsky_si(rr)
    out = {
        "mean_hr_bpm": 60000.0 / mean_rr,
        "mean_hr_inst_bpm": mean(60000.0 / rr),
        "mean_rr_ms": mean_rr,
        "rmssd_ms": rmssd,
        "sdnn_ms": sdnn,
        "pnn50_pct": pnn50,
        "sd1_ms": sd1,
        "sd2_ms": sd2,
        "baevsky_si": si,
        "baevsky_si_sqrt": math.sqrt(si),
    }
    out.update(pns_sns(out))
    return out


def baevsky_si(rr_ms: FloatArray) -> float:
    """Baevsky's stress index: AMo (%) / (2 · Mo (s) · MxDMn (s)), 50 ms histogram bins.

    Mo is the centre of the most populated bin (bins aligned on multiples of 50 ms), AMo the
    share of intervals in it, MxDMn the range of the intervals. Intervals are binned to the
    microsecond: beats of a sampled signal fall on its sample grid (4 ms at 250 Hz), so
    intervals often sit exactly on a bin edge, and nanoseconds of float noise from the time
    stamps (LSL's clock offset, times read as float seconds) must not flip their bin.

    >>> round(baevsky_si(np.array([800.0] * 6 + [850.0] * 3 + [700.0])), 2)
    242.42
    """
    bins = np.floor(np.round(rr_ms, 3) / SI_BIN_MS).astype(np.int64)
    values, counts = np.unique(bins, return_counts=True)
    top = int(np.argmax(counts))  # ties: the shortest interval bin, as np.argmax takes the first
    mode_s = (values[top] + 0.5) * SI_BIN_MS / 1000.0
    amo_pct = counts[top] / rr_ms.size * 100.0
    range_s = max(float(np.ptp(rr_ms)) / 1000.0, SI_BIN_MS / 1000.0)  # never divide by < 1 bin
    return float(amo_pct / (2.0 * mode_s * range_s))


def pns_sns(f: dict[str, float]) -> dict[str, float]:
    """Kubios-style PNS and SNS indices: mean z-score against population norms."""

    def z(name: str) -> float:
        mean, sd = NORMS[name]
        return (f[name] - mean) / sd

    return {
        "pns_index": (z("mean_rr_ms") + z("rmssd_ms") + z("sd1_ms")) / 3.0,
        "sns_index": (z("mean_hr_bpm") + z("baevsky_si_sqrt") - z("sd2_ms")) / 3.0,
    }


# -- frequency domain --------------------------------------------------------------------------
def hrv_frequency(
    w: BeatWindow,
    method: Method = "fast",
    spectrum: Spectrum = "kubios",
    interpolation_hz: float = INTERPOLATION_HZ,
) -> dict[str, float]:
    """VLF/LF/HF powers (ms², % of total, normalised units), LF/HF and peak frequencies."""
    if w.n < 3:
        raise ValueError("hrv_frequency needs at least 3 RR intervals")
    freq, power = _PSD[spectrum, method](w.rr_ms, w.times_s, interpolation_hz)
    return _band_powers(freq, power)


def _grid(t: FloatArray, fs: float) -> FloatArray:
    return np.arange(t[0], t[-1] + 1 / fs, 1 / fs)


def _psd_neurokit_fast(rr: FloatArray, t: FloatArray, fs: float) -> tuple[FloatArray, FloatArray]:
    """NeuroKit2's hrv_frequency PSD (interpolation_rate=fs), step by step."""
    interp = scipy.interpolate.interp1d(
        t, rr, kind="quadratic", bounds_error=False, fill_value=([rr[0]], [rr[-1]])
    )
    signal = interp(_grid(t, fs))
    signal = signal - np.mean(signal)
    n = signal.size
    # NeuroKit2's signal_psd: min_frequency "default" = 2·fs/(n/2); nperseg = 2/min_f·fs,
    # capped at n/2; nfft = 2·nperseg; Hann window, no detrending, mean averaging.
    min_frequency = (2 * fs) / (n / 2)
    nperseg = min(int((2 / min_frequency) * fs), int(n / 2))
    freq, power = scipy.signal.welch(
        signal, fs=fs, scaling="density", detrend=False, nfft=int(nperseg * 2),
        average="mean", nperseg=nperseg, window="hann",
    )  # fmt: skip
    keep = (freq >= min_frequency) & (freq <= ALL_BANDS[-1][1])
    return freq[keep], power[keep]


def _psd_neurokit_reference(
    rr: FloatArray, t: FloatArray, fs: float
) -> tuple[FloatArray, FloatArray]:
    """The PSD NeuroKit2's hrv_frequency integrates, from NeuroKit2's own steps
    (``intervals_process`` then ``signal_psd`` with hrv_frequency's arguments)."""
    import neurokit2 as nk  # on first use: the reference is slow to import

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signal, _, fs = nk.intervals_process(
            rr, intervals_time=t, interpolate=True, interpolation_rate=fs
        )
        psd = nk.signal_psd(
            signal, sampling_rate=fs, method="welch", normalize=False,
            max_frequency=ALL_BANDS[-1][1],
        )  # fmt: skip
    keep = psd["Frequency"] <= ALL_BANDS[-1][1]
    return (
        np.asarray(psd["Frequency"][keep], dtype=float),
        np.asarray(psd["Power"][keep], dtype=float),
    )


@functools.lru_cache(maxsize=64)
def _priors_band(n: int, lam: float) -> FloatArray:
    """Upper band form of I + λ² D2ᵀD2 (n × n, pentadiagonal) for solveh_banded."""
    l2 = lam * lam
    main = np.full(n, 1.0 + 6.0 * l2)
    main[[0, -1]] = 1.0 + l2
    main[[1, -2]] = 1.0 + 5.0 * l2
    off1 = np.full(n, -4.0 * l2)
    off1[[1, -1]] = -2.0 * l2
    off2 = np.full(n, l2)
    ab = np.zeros((3, n))
    ab[0, 2:] = off2[2:]
    ab[1, 1:] = off1[1:]
    ab[2] = main
    return ab


def smoothness_priors_detrend(x: FloatArray, lam: float = KUBIOS_LAMBDA) -> FloatArray:
    """Tarvainen et al. 2002's detrending: x − (I + λ² D2ᵀD2)⁻¹ x, solved as a banded system.

    >>> x = np.linspace(0.0, 1.0, 50) ** 2 * 100 + np.sin(np.arange(50.0))
    >>> bool(np.std(smoothness_priors_detrend(x, 10.0)) < np.std(x) / 10)
    True
    """
    if x.size < 5:
        return x - np.mean(x)
    trend = scipy.linalg.solveh_banded(_priors_band(x.size, lam), x, check_finite=False)
    return np.asarray(x - trend, dtype=np.float64)


def _kubios_lambda(fs: float) -> float:
    """λ at ``fs`` giving the detrending the cutoff (in Hz) λ = 500 has at 4 Hz: the
    smoothness-priors high-pass cuts at a fixed share of the sampling rate times λ^-1/2."""
    return KUBIOS_LAMBDA * (fs / INTERPOLATION_HZ) ** 2


@functools.lru_cache(maxsize=16)
def welch_window(name: str, n: int) -> FloatArray:
    """``scipy.signal.get_window(name, n)``, computed once per (name, length) and read-only:
    ``welch`` given this array computes what it computes given the name, without designing
    the window again for every call.

    >>> w = welch_window("hann", 8)
    >>> bool(np.array_equal(w, scipy.signal.get_window("hann", 8)))
    True
    """
    window: FloatArray = np.asarray(scipy.signal.get_window(name, n), dtype=np.float64)
    window.setflags(write=False)
    return window


def _welch(signal: FloatArray, fs: float) -> tuple[FloatArray, FloatArray]:
    nperseg = min(signal.size, round(WELCH_SEGMENT_S * fs))
    freq, power = scipy.signal.welch(
        signal, fs=fs, window=welch_window("hann", nperseg), nperseg=nperseg,
        noverlap=int(nperseg * WELCH_OVERLAP), nfft=max(nperseg, round(300 * fs)),
        detrend=False, scaling="density", average="mean",
    )  # fmt: skip
    keep = freq <= HF_BAND[1]
    return freq[keep], power[keep]


def _psd_kubios_fast(rr: FloatArray, t: FloatArray, fs: float) -> tuple[FloatArray, FloatArray]:
    """Cubic spline at 4 Hz, smoothness priors (λ 500), fixed-segment Welch."""
    signal = scipy.interpolate.CubicSpline(t, rr)(_grid(t, fs))
    signal = smoothness_priors_detrend(signal, _kubios_lambda(fs))
    return _welch(signal - np.mean(signal), fs)


def _psd_kubios_reference(
    rr: FloatArray, t: FloatArray, fs: float
) -> tuple[FloatArray, FloatArray]:
    """The same steps with NeuroKit2's interpolation and detrending (an independent
    implementation of both), and scipy's Welch called directly."""
    import neurokit2 as nk  # on first use: the reference is slow to import

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signal = nk.signal_interpolate(t, rr, x_new=_grid(t, fs), method="cubic")
        signal = nk.signal_detrend(
            signal, method="tarvainen2002", regularization=_kubios_lambda(fs)
        )
    signal = np.asarray(signal, dtype=float)
    return _welch(signal - np.mean(signal), fs)


Psd = Callable[[FloatArray, FloatArray, float], tuple[FloatArray, FloatArray]]
_PSD: Final[dict[tuple[str, str], Psd]] = {
    ("neurokit", "fast"): _psd_neurokit_fast,
    ("neurokit", "neurokit"): _psd_neurokit_reference,
    ("kubios", "fast"): _psd_kubios_fast,
    ("kubios", "neurokit"): _psd_kubios_reference,
}  # fmt: skip


def _band_powers(freq: FloatArray, power: FloatArray) -> dict[str, float]:
    """Band powers by the trapezoid rule over [lo, hi), as NeuroKit2's signal_power."""

    def band(lo: float, hi: float) -> tuple[float, float]:
        sel = (freq >= lo) & (freq < hi)
        p = float(np.trapezoid(y=power[sel], x=freq[sel]))
        peak = float(freq[sel][np.argmax(power[sel])]) if sel.any() else math.nan
        return (math.nan if p == 0.0 else p), peak

    (vlf, vlf_peak), (lf, lf_peak), (hf, hf_peak) = band(*VLF_BAND), band(*LF_BAND), band(*HF_BAND)
    total = math.fsum(x for x in (vlf, lf, hf) if not math.isnan(x))
    return {
        "vlf_ms2": vlf, "lf_ms2": lf, "hf_ms2": hf, "total_power_ms2": total,
        "vlf_pct": 100 * vlf / total, "lf_pct": 100 * lf / total, "hf_pct": 100 * hf / total,
        "lf_nu": 100 * lf / (lf + hf), "hf_nu": 100 * hf / (lf + hf), "lf_hf": lf / hf,
        "vlf_peak_hz": vlf_peak, "lf_peak_hz": lf_peak, "hf_peak_hz": hf_peak,
    }  # fmt: skip


# -- nonlinear ---------------------------------------------------------------------------------
def hrv_nonlinear(w: BeatWindow, method: Method = "fast") -> dict[str, float]:
    """DFA α1 (NaN below 12 intervals)."""
    if method == "neurokit":
        import neurokit2 as nk  # on first use: the reference is slow to import

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nl = nk.hrv_nonlinear({"RRI": w.rr_ms, "RRI_Time": w.times_s})
        return {"dfa_alpha1": float(nl["HRV_DFA_alpha1"].iloc[0])}
    return {"dfa_alpha1": hrv_dfa_alpha1(w.rr_ms)}


def hrv_dfa_alpha1(rr_ms: FloatArray) -> float:
    """DFA α1 as NeuroKit2's ``hrv_nonlinear`` (``fractal_dfa`` over scales 4-11, overlapping
    half-windows, first-order detrending, near-zero variances dropped relative to the largest
    as NeuroKit2 0.3), with the per-segment linear fits in closed form."""
    if rr_ms.size < 12:
        return math.nan
    y = np.cumsum(rr_ms - mean(rr_ms))  # means as sums / counts: np.mean's, bit for bit
    n = y.size
    flucts = []
    for w in DFA_SCALES:
        starts = np.arange(0, n - w, w // 2)
        seg = y[starts[:, None] + np.arange(w)]
        x = np.arange(w, dtype=float)
        xm = x - mean(x)
        ym = seg - seg.sum(axis=1, keepdims=True) / w
        slope = (ym @ xm) / (xm @ xm)
        resid = ym - slope[:, None] * xm
        var = (resid**2).sum(axis=1) / w
        # NeuroKit2 0.3 drops (numerically) zero variances relative to the largest one:
        # corrected beats lie on a line and leave such segments.
        var = var[var > 1e-08 * np.max(var)]
        if var.size == 0:
            return math.nan
        flucts.append(math.sqrt(mean(var)))
    return float(np.polyfit(np.log2(DFA_SCALES), np.log2(flucts), 1)[0])


_TIME: Final[dict[str, Callable[[BeatWindow], dict[str, float]]]] = {
    "fast": _hrv_time_fast,
    "neurokit": _hrv_time_neurokit,
}
