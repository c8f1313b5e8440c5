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

__all__ = ["EDA_FEATURES", "SCR_MIN_AMPLITUDE_US", "eda_features", "scr_onsets_peaks"]

EDA_FEATURES: Final = ("scl_us", "scr_count", "scr_per_min", "scr_amplitude_us")
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
