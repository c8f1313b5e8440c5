"""Breathing rate per window, from the RR series (respiratory sinus arrhythmia) or from a
chest accelerometer (breathing moves the chest).

Why it matters: the RSA amplitude, and with it RMSSD and HF power, depends on how fast and
deep one breathes, not only on vagal tone (Grossman & Taylor 2007, *Biol. Psychol.* 74:263).
Slow paced breathing (about 6/min, a common self-care routine) raises RMSSD mechanically and
moves the RSA out of the HF band. The stress index therefore withholds its vagal component in
windows with slow breathing (``stress.py``).

Both estimators take the peak of a periodogram: of the RR series interpolated at 4 Hz, or of
the acceleration magnitude averaged to 4 Hz, over 0.05-0.5 Hz (3-30 breaths per minute), and
report the power around the peak that the stress index compares with the baseline, and the
share of the 0.04-0.5 Hz power within ±0.02 Hz of the peak (a paced breath is a near-sine;
Mayer waves and the 1/f background are broad).
"""

from __future__ import annotations

import functools
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "RESPIRATION_FEATURES",
    "SLOW_BREATHING_PER_MIN",
    "respiration_acc",
    "respiration_rr",
]

FloatArray = npt.NDArray[np.float64]
RESPIRATION_FEATURES: Final = (
    "resp_rate_bpm", "resp_from_acc", "rr_slow_power_ms2", "resp_peak_share",
)  # fmt: skip
# Below 9 breaths per minute (0.15 Hz) the RSA leaves the HF band: the vagal component no
# longer reads vagal tone alone (Grossman & Taylor 2007; Task Force 1996 band limits).
SLOW_BREATHING_PER_MIN: Final = 9.0
# At rest the 60 s RR spectrum's largest peak is often the Mayer waves (~0.1 Hz), not the
# breath: a slow peak counts as breathing only when it holds half of the 0.04-0.5 Hz power
# within ±0.02 Hz (paced breathing on simulated people: 0.5-0.9; rest: 0.3-0.5); otherwise
# the rate is the peak of the HF band.
PACED_PEAK_SHARE: Final = 0.6
_FS: Final = 4.0
_BAND: Final = (0.07, 0.5)  # 4.2-30 breaths/min: below, VLF and drifts dominate
_SLOW: Final = (0.04, 0.15)
_NFFT: Final = 2048  # zero padding: 4/2048 Hz ≈ 0.12 breaths/min resolution


def _periodogram(x: FloatArray, fs: float = _FS) -> tuple[FloatArray, FloatArray]:
    """One-sided power spectral density (unit² / Hz) of ``x`` sampled at ``fs``, Hann
    window, linear trend removed."""
    n = x.size
    k, kk, w, norm, freqs = _plan(n, fs)
    slope = float(k @ x) / kk  # least-squares line, in closed form (k is centred)
    x = x - (float(np.mean(x)) + slope * k)
    spec = np.abs(np.fft.rfft(x * w, max(_NFFT, n))) ** 2 / norm
    spec[1:-1] *= 2.0
    return freqs, np.asarray(spec, dtype=np.float64)


@functools.lru_cache(maxsize=64)
def _plan(n: int, fs: float) -> tuple[FloatArray, float, FloatArray, float, FloatArray]:
    """Centred sample index, its sum of squares, the Hann window, the PSD normalisation and
    the frequencies of an ``n``-sample periodogram (the same for every window)."""
    k = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    w = np.asarray(np.hanning(n), dtype=np.float64)
    freqs = np.asarray(np.fft.rfftfreq(max(_NFFT, n), 1.0 / fs), dtype=np.float64)
    return k, float(k @ k), w, fs * float(np.sum(w * w)), freqs


_BANDS: dict[tuple[int, float, float, float, bool], npt.NDArray[np.intp]] = {}


def _band(f: FloatArray, lo: float, hi: float, upper: bool) -> npt.NDArray[np.intp]:
    """Indices of the frequencies in [lo, hi] (``upper``) or [lo, hi) of an ``rfftfreq``
    grid, remembered: the grid ``k * f[1]`` is fixed by its size and ``f[1]``."""
    key = (f.size, float(f[1]), lo, hi, upper)
    found = _BANDS.get(key)
    if found is None:
        if len(_BANDS) > 256:
            _BANDS.clear()
        found = _BANDS[key] = np.flatnonzero((f >= lo) & ((f <= hi) if upper else (f < hi)))
    return found


def _peak(f: FloatArray, p: FloatArray, limits: tuple[float, float] = _BAND) -> float:
    band = _band(f, limits[0], limits[1], True)
    return float(f[band][np.argmax(p[band])] * 60.0)


def respiration_rr(rr: FloatArray, t_s: FloatArray) -> dict[str, float | None]:
    """Breathing rate (per minute) from the RSA in a window of RR intervals ending at beat
    times ``t_s`` (s), and the RR power (ms²) in 0.04-0.15 Hz.

    >>> t = np.cumsum(np.full(80, 0.8))
    >>> rr = 800 + 40 * np.sin(2 * np.pi * 0.1 * t)
    >>> round(respiration_rr(rr, t)["resp_rate_bpm"])
    6
    """
    out: dict[str, float | None] = dict.fromkeys(RESPIRATION_FEATURES)
    if rr.size < 20 or t_s[-1] - t_s[0] < 30.0:
        return out
    grid = np.arange(t_s[0], t_s[-1], 1.0 / _FS)
    f, p = _periodogram(np.interp(grid, t_s, rr))
    slow = _band(f, _SLOW[0], _SLOW[1], False)
    rate = _peak(f, p)
    near = np.abs(f - rate / 60.0) <= 0.02
    total = float(p[_band(f, 0.04, 0.5, True)].sum())
    share = float(p[near].sum()) / total if total > 0 else 0.0
    if rate < 9.0 and share < PACED_PEAK_SHARE:
        rate = _peak(f, p, (0.15, _BAND[1]))  # a broad slow peak: Mayer waves, not breath
    out["resp_rate_bpm"] = rate
    out["resp_from_acc"] = 0.0
    out["rr_slow_power_ms2"] = float(p[slow].sum() * (f[1] - f[0]))
    out["resp_peak_share"] = share
    return out


def respiration_acc(magnitude_mg: FloatArray, sampling_rate: float) -> float | None:
    """Breathing rate (per minute) from a chest accelerometer's magnitude (mG) while still.

    >>> fs = 25.0
    >>> t = np.arange(int(60 * fs)) / fs
    >>> round(respiration_acc(1000 + 8 * np.sin(2 * np.pi * 0.25 * t), fs))
    15
    """
    per = round(sampling_rate / _FS)
    if per < 1 or magnitude_mg.size < 30 * sampling_rate:
        return None
    n = magnitude_mg.size // per
    x = magnitude_mg[: n * per].reshape(n, per).mean(axis=1)
    f, p = _periodogram(np.asarray(x, dtype=np.float64), sampling_rate / per)
    return _peak(f, p)
