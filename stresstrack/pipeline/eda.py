"""Skin-conductance features of one window, computed with NeuroKit2.

Steps (NeuroKit2 0.2): ``eda_clean`` (4th-order Butterworth low-pass at 3 Hz; skipped below
7 Hz sampling, where NeuroKit2 itself cannot filter), ``eda_phasic(method="highpass")``
(NeuroKit2's default: phasic = zero-phase Butterworth high-pass at 0.05 Hz, tonic = the
rest; Biopac AcqKnowledge's method; over a 60 s window it keeps ~85 % of a response's
amplitude where a 4 s running median keeps ~25 %), and the peaks of the phasic component
as ``signal_findpeaks`` finds them. A peak counts as a skin-conductance response (SCR)
when it rises at least ``SCR_MIN_AMPLITUDE_US`` above its onset: an absolute criterion, so
a calm window's noise is not counted as responses (the relative ``amplitude_min`` of
``eda_peaks`` would scale with each window's largest peak).
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Final

import neurokit2 as nk
import numpy as np
import numpy.typing as npt
import scipy.ndimage
import scipy.signal

__all__ = [
    "EDA_FEATURES",
    "EDA_SYMP_FEATURES",
    "SCR_MIN_AMPLITUDE_US",
    "eda_decompose",
    "eda_features",
    "eda_quality",
    "eda_sympathetic",
    "reference_eda_features",
    "reference_eda_sympathetic",
    "scr_onsets_peaks",
    "sosfiltfilt_cached",
]

EDA_FEATURES: Final = ("scl_us", "scr_count", "scr_per_min", "scr_amplitude_us")
EDA_SYMP_FEATURES: Final = ("eda_symp", "eda_symp_n")
# Minimum SCR amplitude; 0.01-0.05 µS are customary (Boucsein et al. 2012, Psychophysiology
# 49:1017, "Publication recommendations for electrodermal measurements"). 0.05 µS is the
# conservative end, robust to the 0.001 µS quantisation and noise of wearable sensors.
SCR_MIN_AMPLITUDE_US: Final = 0.05


def scr_onsets_peaks(
    phasic: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Peaks of ``phasic`` and their onsets, as ``nk.signal_findpeaks`` finds them.

    NeuroKit2 takes every local maximum (``scipy.signal.find_peaks``) and, as its onset, the
    closest local minimum strictly before it; peaks with no minimum before them have no onset.
    NeuroKit2 looks each onset up with pandas, one peak at a time (about 40 ms per minute of
    32 Hz signal); a binary search gives the same indices (tests/pipeline/test_eda.py).
    """
    peaks, _ = scipy.signal.find_peaks(phasic)
    troughs, _ = scipy.signal.find_peaks(-phasic)
    before = np.searchsorted(troughs, peaks, side="left") - 1
    has_onset = before >= 0
    return troughs[before[has_onset]], peaks[has_onset]


@functools.lru_cache(maxsize=32)
def _butter(order: int, cutoff: float, btype: str, fs: float) -> npt.NDArray[np.float64]:
    """NeuroKit2's Butterworth design (``signal_filter(method="butterworth")``), cached: the
    design costs as much as filtering a minute of signal, and it never changes."""
    sos: npt.NDArray[np.float64] = scipy.signal.butter(
        order, cutoff, btype=btype, output="sos", fs=fs
    )
    return sos


Plan = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], int]


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


def _filtfilt(x: npt.NDArray[np.float64], plan: Plan) -> npt.NDArray[np.float64]:
    """``scipy.signal.sosfiltfilt`` (odd padding, default pad length) with the design and the
    initial conditions computed once; bit-identical to scipy's."""
    sos, zi, edge = plan
    if x.size <= edge:
        return np.asarray(scipy.signal.sosfiltfilt(sos, x), dtype=np.float64)
    ext = np.concatenate((2 * x[0] - x[edge:0:-1], x, 2 * x[-1] - x[-2 : -(edge + 2) : -1]))
    y, _ = scipy.signal.sosfilt(sos, ext, zi=zi * ext[0])
    y, _ = scipy.signal.sosfilt(sos, y[::-1], zi=zi * y[-1])
    return np.asarray(y[::-1][edge:-edge], dtype=np.float64)


def sosfiltfilt_cached(
    x: npt.NDArray[np.float64], order: int, cutoff: float, btype: str, fs: float
) -> npt.NDArray[np.float64]:
    """``sosfiltfilt(butter(order, cutoff, btype, output="sos", fs=fs), x)``, cached design."""
    return _filtfilt(x, _butter_plan(order, cutoff, btype, fs))


def decimate_cached(x: npt.NDArray[np.float64], q: int) -> npt.NDArray[np.float64]:
    """``scipy.signal.decimate(x, q, n=8)`` (zero-phase IIR), cached design; bit-identical."""
    return _filtfilt(x, _decimate_plan(q))[::q]


def eda_decompose(
    signal_us: npt.NDArray[np.float64], sampling_rate: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Tonic and phasic components exactly as ``eda_clean`` + ``eda_phasic(method="highpass")``:
    low-pass 3 Hz (order 4) unless the rate is 6 Hz or less, then low-/high-pass 0.05 Hz
    (order 2), each a zero-phase ``sosfiltfilt``."""
    fs = round(sampling_rate)
    cleaned = signal_us if fs <= 6 else sosfiltfilt_cached(signal_us, 4, 3.0, "lowpass", fs)
    tonic = sosfiltfilt_cached(cleaned, 2, 0.05, "lowpass", fs)
    phasic = sosfiltfilt_cached(cleaned, 2, 0.05, "highpass", fs)
    return tonic, phasic


def eda_features(signal_us: npt.NDArray[np.float64], sampling_rate: float) -> dict[str, float]:
    """SCL (mean tonic µS), SCR count, SCRs per minute and mean SCR amplitude of one window."""
    n = signal_us.size
    if n < 4 * sampling_rate:
        raise ValueError(
            f"eda_features needs at least 4 s of signal, got {n / sampling_rate:.1f} s"
        )
    tonic, phasic_signal = eda_decompose(signal_us, sampling_rate)
    onsets, peaks = scr_onsets_peaks(phasic_signal)
    amps = phasic_signal[peaks] - phasic_signal[onsets]
    amplitudes = amps[amps >= SCR_MIN_AMPLITUDE_US]
    minutes = n / sampling_rate / 60.0
    return {
        "scl_us": float(np.mean(tonic)),
        "scr_count": float(amplitudes.size),
        "scr_per_min": amplitudes.size / minutes,
        "scr_amplitude_us": float(np.mean(amplitudes)) if amplitudes.size else 0.0,
    }


# Quality limits of a skin-conductance window.
FLATLINE_RANGE_US: Final = 0.005  # less change than this over a whole window: sensor off skin
LOW_US: Final = 0.05  # below: no skin contact (open circuit)
SATURATION_US: Final = 60.0  # above: outside any physiological range; sensor saturated/shorted
JUMP_US_PER_S: Final = 5.0  # faster change than an SCR can rise: electrode motion or contact


def eda_quality(
    signal_us: npt.NDArray[np.float64], sampling_rate: float
) -> tuple[dict[str, float], str]:
    """Flatline, saturation and implausible jumps; returns (quality values, reason if unusable)."""
    jumps = np.abs(np.diff(signal_us)) * sampling_rate > JUMP_US_PER_S
    jump_share = float(jumps.mean()) if jumps.size else 0.0
    low = float(np.mean(signal_us < LOW_US))
    high = float(np.mean(signal_us > SATURATION_US))
    rng = float(np.ptp(signal_us)) if signal_us.size else 0.0
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


@functools.lru_cache(maxsize=1)
def _posada_cheby() -> npt.NDArray[np.float64]:
    cheby: npt.NDArray[np.float64] = scipy.signal.cheby1(8, 1, 0.8, "lowpass", fs=400, output="sos")
    return cheby


def eda_sympathetic(signal_us: npt.NDArray[np.float64], sampling_rate: float) -> dict[str, float]:
    """EDASymp (Posada-Quintero et al. 2016, Ann Biomed Eng 44:3124), the steps of NeuroKit2's
    ``eda_sympathetic(method="posada")`` with the filters designed once: resample any device
    rate to 400 Hz (``ndimage.zoom``), Chebyshev I low-pass, decimate by 10 and 20 to 2 Hz,
    Butterworth high-pass 0.01 Hz, Welch PSD (Blackman, 128 samples, 50 % overlap), power in
    0.045-0.25 Hz, and the same on the max-normalised PSD. Needs more than 64 s of signal."""
    if signal_us.size <= 64 * sampling_rate:
        raise ValueError("eda_sympathetic needs more than 64 s of signal")
    fs = round(sampling_rate)
    length = int(np.round(signal_us.size * 400 / fs))
    x = (
        signal_us
        if length == signal_us.size
        else scipy.ndimage.zoom(signal_us, length / signal_us.size)
    )
    x = scipy.signal.sosfilt(_posada_cheby(), x)
    x = decimate_cached(x, 10)
    x = decimate_cached(x, 20)
    x = sosfiltfilt_cached(x, 8, 0.01, "highpass", 2)
    freq, power = scipy.signal.welch(
        x, fs=2, scaling="density", detrend=False, nfft=256, average="mean", nperseg=128,
        window="blackman", noverlap=64,
    )  # fmt: skip
    sel = (freq >= 0.045) & (freq < 0.25)
    symp = float(np.trapezoid(y=power[sel], x=freq[sel]))
    symp_n = float(np.trapezoid(y=power[sel] / np.max(power), x=freq[sel]))
    return {
        "eda_symp": math.nan if symp == 0.0 else symp,
        "eda_symp_n": math.nan if symp_n == 0.0 else symp_n,
    }


def reference_eda_sympathetic(
    signal_us: npt.NDArray[np.float64], sampling_rate: float
) -> dict[str, float]:
    """EDASymp from NeuroKit2 itself (for tests and the benchmark)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = nk.eda_sympathetic(signal_us, sampling_rate=round(sampling_rate), method="posada")
    return {
        "eda_symp": float(out["EDA_Sympathetic"]),
        "eda_symp_n": float(out["EDA_SympatheticN"]),
    }


def reference_eda_features(
    signal_us: npt.NDArray[np.float64], sampling_rate: float
) -> dict[str, float]:
    """:func:`eda_features` computed with NeuroKit2's own peak search (``signal_findpeaks``):
    the slow reference for tests and the benchmark."""
    fs = round(sampling_rate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cleaned = (
            nk.eda_clean(signal_us, sampling_rate=fs, method="neurokit") if fs >= 7 else signal_us
        )
        dec = nk.eda_phasic(np.asarray(cleaned, dtype=float), sampling_rate=fs, method="highpass")
        phasic = np.asarray(dec["EDA_Phasic"], dtype=float)
        info = nk.signal_findpeaks(phasic)
    amps = [
        float(phasic[int(p)] - phasic[int(o)])
        for o, p in zip(info["Onsets"], info["Peaks"], strict=True)
        if not np.isnan(o)
    ]
    kept = [a for a in amps if a >= SCR_MIN_AMPLITUDE_US]
    minutes = signal_us.size / sampling_rate / 60.0
    return {
        "scl_us": float(np.mean(np.asarray(dec["EDA_Tonic"], dtype=float))),
        "scr_count": float(len(kept)),
        "scr_per_min": len(kept) / minutes,
        "scr_amplitude_us": float(np.mean(kept)) if kept else 0.0,
    }
