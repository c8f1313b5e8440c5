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

import warnings
from typing import Final

import neurokit2 as nk
import numpy as np
import numpy.typing as npt
import scipy.signal

__all__ = [
    "EDA_FEATURES",
    "EDA_SYMP_FEATURES",
    "SCR_MIN_AMPLITUDE_US",
    "eda_features",
    "eda_quality",
    "eda_sympathetic",
    "scr_onsets_peaks",
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


def eda_features(signal_us: npt.NDArray[np.float64], sampling_rate: float) -> dict[str, float]:
    """SCL (mean tonic µS), SCR count, SCRs per minute and mean SCR amplitude of one window."""
    n = signal_us.size
    if n < 4 * sampling_rate:
        raise ValueError(
            f"eda_features needs at least 4 s of signal, got {n / sampling_rate:.1f} s"
        )
    fs = round(sampling_rate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cleaned = (
            np.asarray(nk.eda_clean(signal_us, sampling_rate=fs, method="neurokit"), dtype=float)
            if fs >= 7
            else signal_us
        )
        phasic = nk.eda_phasic(cleaned, sampling_rate=fs, method="highpass")
    tonic = np.asarray(phasic["EDA_Tonic"], dtype=float)
    phasic_signal = np.asarray(phasic["EDA_Phasic"], dtype=float)
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


def eda_sympathetic(signal_us: npt.NDArray[np.float64], sampling_rate: float) -> dict[str, float]:
    """EDASymp (Posada-Quintero et al. 2016, Ann Biomed Eng 44:3124) with NeuroKit2's
    ``eda_sympathetic(method="posada")``: power of the EDA in 0.045-0.25 Hz after resampling
    (NeuroKit2 resamples any device rate to 400 Hz, then filters and decimates to 2 Hz, so
    the sampling rate is handled for any device). Needs more than 64 s of signal."""
    if signal_us.size <= 64 * sampling_rate:
        raise ValueError("eda_sympathetic needs more than 64 s of signal")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = nk.eda_sympathetic(signal_us, sampling_rate=round(sampling_rate), method="posada")
    return {
        "eda_symp": float(out["EDA_Sympathetic"]),
        "eda_symp_n": float(out["EDA_SympatheticN"]),
    }
