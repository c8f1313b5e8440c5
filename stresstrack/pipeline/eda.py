"""Skin-conductance features of one window, computed with NeuroKit2.

Steps (NeuroKit2 0.2): ``eda_clean`` (4th-order Butterworth low-pass at 3 Hz; skipped below
7 Hz sampling, where NeuroKit2 itself cannot filter), ``eda_phasic(method="smoothmedian")``
(tonic = running median over 4 s, the Biopac AcqKnowledge method, which needs no long
history), and ``signal_findpeaks`` on the phasic component. A peak counts as a
skin-conductance response (SCR) when it rises at least ``SCR_MIN_AMPLITUDE_US`` above its
onset: an absolute criterion, so a calm window's noise is not counted as responses (the
relative ``amplitude_min`` of ``eda_peaks`` would scale with each window's largest peak).
"""

from __future__ import annotations

import warnings
from typing import Final

import neurokit2 as nk
import numpy as np
import numpy.typing as npt

__all__ = ["EDA_FEATURES", "SCR_MIN_AMPLITUDE_US", "eda_features"]

EDA_FEATURES: Final = ("scl_us", "scr_count", "scr_per_min", "scr_amplitude_us")
# Minimum SCR amplitude; 0.01-0.05 µS are customary (Boucsein et al. 2012, Psychophysiology
# 49:1017, "Publication recommendations for electrodermal measurements"). 0.05 µS is the
# conservative end, robust to the 0.001 µS quantisation and noise of wearable sensors.
SCR_MIN_AMPLITUDE_US: Final = 0.05


def eda_features(signal_us: npt.NDArray[np.float64], sampling_rate: float) -> dict[str, float]:
    """SCL (mean tonic µS), SCR count, SCRs per minute and mean SCR amplitude of one window."""
    n = signal_us.size
    if n < 4 * sampling_rate:
        raise ValueError(f"eda_features needs at least 4 s of signal, got {n / sampling_rate:.1f} s")
    fs = int(round(sampling_rate))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cleaned = (
            np.asarray(nk.eda_clean(signal_us, sampling_rate=fs, method="neurokit"), dtype=float)
            if fs >= 7
            else signal_us
        )
        phasic = nk.eda_phasic(cleaned, sampling_rate=fs, method="smoothmedian")
    tonic = np.asarray(phasic["EDA_Tonic"], dtype=float)
    phasic_signal = np.asarray(phasic["EDA_Phasic"], dtype=float)
    peaks = nk.signal_findpeaks(phasic_signal)
    onsets = np.asarray(peaks["Onsets"], dtype=float)
    heights = np.asarray(peaks["Peaks"], dtype=int)
    amplitudes: list[float] = []
    for onset, peak in zip(onsets, heights, strict=True):
        if np.isnan(onset):
            continue
        amp = float(phasic_signal[peak] - phasic_signal[int(onset)])
        if amp >= SCR_MIN_AMPLITUDE_US:
            amplitudes.append(amp)
    minutes = n / sampling_rate / 60.0
    return {
        "scl_us": float(np.mean(tonic)),
        "scr_count": float(len(amplitudes)),
        "scr_per_min": len(amplitudes) / minutes,
        "scr_amplitude_us": float(np.mean(amplitudes)) if amplitudes else 0.0,
    }
