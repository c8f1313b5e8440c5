"""Time-domain HRV of one window of RR intervals, equal to NeuroKit2's ``hrv_time``.

The formulas are NeuroKit2's (``neurokit2/hrv/hrv_time.py``): MeanNN, SDNN with ``ddof=1``,
RMSSD as the root mean square of successive differences, pNN50 as the number of successive
differences larger than 50 ms over the number of intervals (NeuroKit2 divides by the interval
count, as the Task Force 1996 definition does, not by the count of differences).
``tests/pipeline/test_hrv.py`` checks each value against ``nk.hrv_time`` on the same
intervals. Computing them with numpy directly avoids NeuroKit2's per-call overhead (peak
reconstruction, a DataFrame) on every hop.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["HRV_TIME_FEATURES", "clean_rr", "hrv_time"]

HRV_TIME_FEATURES: Final = ("mean_hr_bpm", "rmssd_ms", "sdnn_ms", "pnn50_pct")

# Physiological range of an RR interval: 30-200 bpm.
RR_MIN_MS: Final = 300.0
RR_MAX_MS: Final = 2000.0
# An interval more than this share away from the local median is an artefact (ectopic,
# missed or extra beat). Placeholder for the Kubios-style correction of the pipeline issue.
RR_MAX_DEVIATION: Final = 0.25


def clean_rr(rr_ms: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], int]:
    """Drop implausible intervals; return the kept intervals and how many were dropped."""
    if rr_ms.size == 0:
        return rr_ms, 0
    ok = (rr_ms >= RR_MIN_MS) & (rr_ms <= RR_MAX_MS)
    if ok.any():
        med = float(np.median(rr_ms[ok]))
        ok &= np.abs(rr_ms - med) <= RR_MAX_DEVIATION * med
    return rr_ms[ok], int(rr_ms.size - ok.sum())


def hrv_time(rr_ms: npt.NDArray[np.float64]) -> dict[str, float]:
    """Mean HR, RMSSD, SDNN and pNN50 of at least three RR intervals (ms)."""
    if rr_ms.size < 3:
        raise ValueError(f"hrv_time needs at least 3 RR intervals, got {rr_ms.size}")
    diff = np.diff(rr_ms)
    mean_nn = float(np.mean(rr_ms))
    return {
        "mean_hr_bpm": 60000.0 / mean_nn,
        "rmssd_ms": float(np.sqrt(np.mean(diff**2))),
        "sdnn_ms": float(np.std(rr_ms, ddof=1)),
        "pnn50_pct": float(np.sum(np.abs(diff) > 50) / rr_ms.size * 100),
    }
