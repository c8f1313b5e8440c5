"""HRV features of one window of RR intervals, equal to NeuroKit2's.

Each function here computes, with plain numpy/scipy, what a NeuroKit2 function returns for the
same intervals; ``tests/pipeline/test_hrv.py`` checks every value against NeuroKit2 (relative
tolerance 1e-9 where the arithmetic is the same, 1e-6 for DFA, whose least-squares fits are
done in closed form here). Skipping NeuroKit2's per-call overhead (input parsing, DataFrames,
and the ~40 nonlinear indices ``hrv_nonlinear`` always computes) is what makes the pipeline
fast; ``reference_*`` functions call NeuroKit2 itself and serve tests and the benchmark.

* time domain (``hrv_time``): mean HR, mean RR, RMSSD, SDNN (ddof 1), pNN50 — NeuroKit2
  divides NN50 by the number of intervals (Task Force 1996), not of differences;
* Poincaré SD1/SD2 as ``hrv_nonlinear`` (Brennan et al. 2001);
* frequency domain (``hrv_frequency``): RR interpolated at 4 Hz (quadratic, as NeuroKit2),
  Welch PSD with NeuroKit2's window choice, LF 0.04-0.15 Hz, HF 0.15-0.4 Hz in ms², LF/HF.
  4 Hz instead of NeuroKit2's default 100 Hz is Kubios's choice: the bands end at 0.4 Hz;
* DFA α1 as ``hrv_nonlinear`` (scales 4-11 beats, overlapping windows, linear detrending);
* Baevsky's stress index SI = AMo / (2 Mo MxDMn) with a 50 ms histogram (Baevsky & Chernikova
  2017, Cardiometry 10:66), and √SI as Kubios reports it; NeuroKit2 has no SI, so it is
  tested against a hand computation;
* PNS and SNS indices in the manner of Kubios (Tarvainen et al. 2014, Kubios HRV user's guide):
  z-scores against short-term population norms (Nunan et al. 2010, PACE 33:1407), averaged
  with equal weights (Kubios's own weights are not published).
"""

from __future__ import annotations

import math
import warnings
from typing import Final

import neurokit2 as nk
import numpy as np
import numpy.typing as npt
import scipy.interpolate
import scipy.signal

__all__ = [
    "HRV_FREQ_FEATURES",
    "HRV_NONLINEAR_FEATURES",
    "HRV_TIME_FEATURES",
    "baevsky_si",
    "hrv_dfa_alpha1",
    "hrv_frequency",
    "hrv_time",
    "reference_hrv",
]

FloatArray = npt.NDArray[np.float64]

HRV_TIME_FEATURES: Final = (
    "mean_hr_bpm", "mean_rr_ms", "rmssd_ms", "sdnn_ms", "pnn50_pct", "sd1_ms", "sd2_ms",
    "baevsky_si", "baevsky_si_sqrt", "pns_index", "sns_index",
)  # fmt: skip
HRV_FREQ_FEATURES: Final = ("lf_ms2", "hf_ms2", "lf_hf")
HRV_NONLINEAR_FEATURES: Final = ("dfa_alpha1",)

INTERPOLATION_HZ: Final = 4.0
LF_BAND: Final = (0.04, 0.15)
HF_BAND: Final = (0.15, 0.4)
ALL_BANDS: Final = ((0.0, 0.0033), (0.0033, 0.04), LF_BAND, HF_BAND, (0.4, 0.5))
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


def hrv_time(rr_ms: FloatArray) -> dict[str, float]:
    """Time-domain and Poincaré features, Baevsky's SI and PNS/SNS of >= 3 intervals (ms)."""
    if rr_ms.size < 3:
        raise ValueError(f"hrv_time needs at least 3 RR intervals, got {rr_ms.size}")
    diff = np.diff(rr_ms)
    mean_rr = float(np.mean(rr_ms))
    sdnn = float(np.std(rr_ms, ddof=1))
    x1 = (rr_ms[:-1] - rr_ms[1:]) / math.sqrt(2)
    x2 = (rr_ms[:-1] + rr_ms[1:]) / math.sqrt(2)
    out = {
        "mean_hr_bpm": 60000.0 / mean_rr,
        "mean_rr_ms": mean_rr,
        "rmssd_ms": float(np.sqrt(np.mean(diff**2))),
        "sdnn_ms": sdnn,
        "pnn50_pct": float(np.sum(np.abs(diff) > 50) / rr_ms.size * 100),
        "sd1_ms": float(np.std(x1, ddof=1)),
        "sd2_ms": float(np.std(x2, ddof=1)),
    }
    si = baevsky_si(rr_ms)
    out["baevsky_si"] = si
    out["baevsky_si_sqrt"] = math.sqrt(si)
    out.update(pns_sns(out))
    return out


def baevsky_si(rr_ms: FloatArray) -> float:
    """Baevsky's stress index: AMo (%) / (2 · Mo (s) · MxDMn (s)), 50 ms histogram bins.

    Mo is the centre of the most populated bin (bins aligned on multiples of 50 ms), AMo the
    share of intervals in it, MxDMn the range of the intervals.
    """
    bins = np.floor(rr_ms / SI_BIN_MS).astype(np.int64)
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


def hrv_frequency(rr_ms: FloatArray, rr_time_s: FloatArray) -> dict[str, float]:
    """LF and HF power (ms²) and LF/HF, as ``nk.hrv_frequency(normalize=False,
    interpolation_rate=4)`` computes them for intervals ending at ``rr_time_s``."""
    if rr_ms.size < 3:
        raise ValueError("hrv_frequency needs at least 3 RR intervals")
    fs = INTERPOLATION_HZ
    x_new = np.arange(rr_time_s[0], rr_time_s[-1] + 1 / fs, 1 / fs)
    interp = scipy.interpolate.interp1d(
        rr_time_s, rr_ms, kind="quadratic", bounds_error=False, fill_value=([rr_ms[0]], [rr_ms[-1]])
    )
    signal = interp(x_new)
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
    freq, power = freq[keep], power[keep]

    def band(lo: float, hi: float) -> float:
        sel = (freq >= lo) & (freq < hi)
        p = float(np.trapezoid(y=power[sel], x=freq[sel]))
        return math.nan if p == 0.0 else p

    lf, hf = band(*LF_BAND), band(*HF_BAND)
    return {"lf_ms2": lf, "hf_ms2": hf, "lf_hf": lf / hf}


def hrv_dfa_alpha1(rr_ms: FloatArray) -> float:
    """DFA α1 as NeuroKit2's ``hrv_nonlinear`` (``fractal_dfa`` over scales 4-11, overlapping
    half-windows, first-order detrending), with the per-segment linear fits in closed form."""
    if rr_ms.size < 12:
        return math.nan
    y = np.cumsum(rr_ms - np.mean(rr_ms))
    n = y.size
    flucts = []
    for w in DFA_SCALES:
        starts = np.arange(0, n - w, w // 2)
        seg = y[starts[:, None] + np.arange(w)]
        x = np.arange(w, dtype=float)
        xm = x - x.mean()
        ym = seg - seg.mean(axis=1, keepdims=True)
        slope = (ym @ xm) / (xm @ xm)
        resid = ym - slope[:, None] * xm
        var = np.mean(resid**2, axis=1)
        var = var[var > 1e-08]
        if var.size == 0:
            return math.nan
        flucts.append(math.sqrt(float(np.mean(var))))
    return float(np.polyfit(np.log2(DFA_SCALES), np.log2(flucts), 1)[0])


def reference_hrv(rr_ms: FloatArray, rr_time_s: FloatArray, families: set[str]) -> dict[str, float]:
    """The same features from NeuroKit2 itself (slow: for tests and the benchmark's baseline)."""
    out: dict[str, float] = {}
    rri = {"RRI": rr_ms, "RRI_Time": rr_time_s}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if "time" in families:
            t = nk.hrv_time(rri)
            nl = nk.hrv_nonlinear(rri)
            mean_rr = float(t["HRV_MeanNN"].iloc[0])
            out.update({
                "mean_hr_bpm": 60000.0 / mean_rr, "mean_rr_ms": mean_rr,
                "rmssd_ms": float(t["HRV_RMSSD"].iloc[0]), "sdnn_ms": float(t["HRV_SDNN"].iloc[0]),
                "pnn50_pct": float(t["HRV_pNN50"].iloc[0]), "sd1_ms": float(nl["HRV_SD1"].iloc[0]),
                "sd2_ms": float(nl["HRV_SD2"].iloc[0]),
            })  # fmt: skip
            si = baevsky_si(rr_ms)  # not in NeuroKit2
            out.update(baevsky_si=si, baevsky_si_sqrt=math.sqrt(si))
            out.update(pns_sns(out))
        if "freq" in families:
            f = nk.hrv_frequency(rri, interpolation_rate=INTERPOLATION_HZ, normalize=False)
            lf, hf = float(f["HRV_LF"].iloc[0]), float(f["HRV_HF"].iloc[0])
            out.update(lf_ms2=lf, hf_ms2=hf, lf_hf=lf / hf)
        if "nonlinear" in families:
            nl = nk.hrv_nonlinear(rri)
            out["dfa_alpha1"] = float(nl["HRV_DFA_alpha1"].iloc[0])
    return out
