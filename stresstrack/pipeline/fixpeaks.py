"""Kubios artefact detection and correction of a peak series, in numpy.

The steps of NeuroKit2 0.3's ``signal_fixpeaks(method="kubios")`` (Lipponen & Tarvainen
2019, J Med Eng Technol 43:173), computed without pandas and without per-beat numpy scalars:
the dRR and mRR series, their thresholds from rolling quartiles over 91 beats and the
11-beat rolling median (pandas' ``rolling(center=True, min_periods=1)``, reproduced to the
bit: windows clipped at the edges, linear interpolation between the sorted values as
pandas' skiplist computes it), the subspaces S12 and S22, the classification of Figure 1
and the correction (extra peaks deleted, missed ones inserted, ectopic and long/short ones
moved midway, positions truncated to integers as NeuroKit2 does). The same peaks in give
the same artefacts and corrected peaks out (tests/pipeline/test_fixpeaks.py, against
NeuroKit2 on realistic series with artefacts and on a real NN recording).

>>> p = np.cumsum(800.0 + 30 * np.sin(np.arange(40.0)))
>>> p[20] -= 300  # a premature beat: its interval short, the next one long
>>> found, clean = fixpeaks_pass(p)
>>> found["longshort"], found["ectopic"], float(clean[20])
([20], [21], 16747.0)
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["fixpeaks_pass", "rolling_median", "rolling_quantile"]

FloatArray = npt.NDArray[np.float64]
Artefacts = dict[str, list[int]]

# Lipponen & Tarvainen 2019 (NeuroKit2's defaults)
C1: Final = 0.13
C2: Final = 0.17
ALPHA: Final = 5.2
WINDOW_WIDTH: Final = 91
MEDFILT_ORDER: Final = 11


def _sorted_windows(x: FloatArray, width: int) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """Each centred window of ``x`` (clipped at the edges) sorted, NaN-padded at the end,
    and the number of values in each."""
    half = (width - 1) // 2
    n = x.size
    padded = np.concatenate((np.full(half, np.nan), x, np.full(width - 1 - half, np.nan)))
    windows = np.sort(np.lib.stride_tricks.sliding_window_view(padded, width), axis=1)
    i = np.arange(n)
    count = np.minimum(n, i + width - half) - np.maximum(0, i - half)
    return windows, count


def rolling_quantile(x: FloatArray, width: int, q: float) -> FloatArray:
    """``pd.Series(x).rolling(width, center=True, min_periods=1).quantile(q)``.

    >>> rolling_quantile(np.array([4.0, 1.0, 3.0, 2.0]), 3, 0.25).tolist()
    [1.75, 2.0, 1.5, 2.25]
    """
    if x.size == 0:
        return x.copy()
    windows, count = _sorted_windows(x, width)
    position = q * (count - 1)
    idx = position.astype(np.intp)
    frac = position - idx
    rows = np.arange(x.size)
    low = windows[rows, idx]
    high = windows[rows, np.minimum(idx + 1, count - 1)]
    # pandas: vlow + (vhigh - vlow) * fraction, or vlow itself at a whole position
    return np.where(frac == 0, low, low + (high - low) * frac)


def rolling_median(x: FloatArray, width: int) -> FloatArray:
    """``pd.Series(x).rolling(width, center=True, min_periods=1).median()``.

    >>> rolling_median(np.array([4.0, 1.0, 3.0, 2.0]), 3).tolist()
    [2.5, 3.0, 2.0, 2.5]
    """
    if x.size == 0:
        return x.copy()
    windows, count = _sorted_windows(x, width)
    rows = np.arange(x.size)
    mid = count // 2
    upper = windows[rows, mid]
    lower = windows[rows, np.maximum(mid - 1, 0)]
    return np.where(count % 2 == 1, upper, (upper + lower) / 2)


def _threshold(x: FloatArray) -> FloatArray:
    a = np.abs(x)
    q1 = rolling_quantile(a, WINDOW_WIDTH, 0.25)
    q3 = rolling_quantile(a, WINDOW_WIDTH, 0.75)
    return ALPHA * ((q3 - q1) / 2)


def _normalised(x: FloatArray, th: FloatArray) -> FloatArray:
    out = x.copy()
    np.divide(x, th, out=out, where=th != 0)
    out[th == 0] = np.nan
    return out


def _subspaces(drrs: FloatArray) -> tuple[FloatArray, FloatArray]:
    """S12 and S22 of Lipponen & Tarvainen from the normalised dRRs (reflect-padded by 2)."""
    p = np.pad(drrs, 2, "reflect")
    before, after, after2 = p[1:-3], p[3:-1], p[4:]
    s12 = np.zeros(drrs.size)
    s22 = np.zeros(drrs.size)
    with np.errstate(invalid="ignore"):
        pos, neg = drrs > 0, drrs < 0
        s12[pos] = np.maximum(before, after)[pos]
        s12[neg] = np.minimum(before, after)[neg]
        s22[drrs >= 0] = np.minimum(after, after2)[drrs >= 0]
        s22[neg] = np.maximum(after, after2)[neg]
    return s12, s22


def _series(peaks: FloatArray, sampling_rate: float) -> tuple[FloatArray, FloatArray]:
    """Periods (s) and their successive differences, first values as NeuroKit2 fills them."""
    rr = np.ediff1d(peaks, to_begin=0) / sampling_rate
    if rr.size > 1:
        rr[0] = np.mean(rr[1:])
    elif rr.size == 1:
        rr[0] = 1.0
    drrs = np.ediff1d(rr, to_begin=0)
    if drrs.size > 1:
        drrs[0] = np.mean(drrs[1:])
    elif drrs.size == 1:
        drrs[0] = 0.0
    return rr, drrs


def find_artefacts(peaks: FloatArray, sampling_rate: float = 1000.0) -> Artefacts:
    """Indices of ectopic, missed, extra and long/short beats (NeuroKit2's ``_find_artifacts``)."""
    rr, drrs = _series(peaks, sampling_rate)
    drrs = _normalised(drrs, _threshold(drrs))
    s12, s22 = _subspaces(drrs)
    medrr = rolling_median(rr, MEDFILT_ORDER)
    mrrs = rr - medrr
    mrrs[mrrs < 0] = mrrs[mrrs < 0] * 2
    th2 = _threshold(mrrs)
    mrrs = _normalised(mrrs, th2)
    found: Artefacts = {"ectopic": [], "missed": [], "extra": [], "longshort": []}
    d, s1, s2, m = drrs.tolist(), s12.tolist(), s22.tolist(), mrrs.tolist()
    r, med, th = rr.tolist(), medrr.tolist(), th2.tolist()
    # Only beats with |dRR| > 1 (or NaN: a zero threshold) can be artefacts (Figure 1).
    with np.errstate(invalid="ignore"):
        candidates = np.flatnonzero(~(np.abs(drrs) <= 1)).tolist()
    i = 0
    for c in candidates:
        if c < i or c >= rr.size - 2:
            continue
        i = c
        if (d[i] > 1 and s1[i] < -C1 * d[i] - C2) or (d[i] < -1 and s1[i] > -C1 * d[i] + C2):
            found["ectopic"].append(i)
            i += 1
            continue
        if not (abs(d[i]) > 1 or abs(m[i]) > 3):
            i += 1
            continue
        js = [i, i + 1] if abs(d[i + 1]) < abs(d[i + 2]) else [i]
        for j in js:
            i += 1
            long_ = d[j] > 1 and s2[j] < -1
            short = d[j] < -1 and s2[j] > 1
            if not (long_ or abs(m[j]) > 3 or short):
                continue
            if short and abs(r[j] + r[j + 1] - med[j]) < th[j]:
                found["extra"].append(j)
            elif long_ and abs(r[j] / 2 - med[j]) < th[j]:
                found["missed"].append(j)
            else:
                found["longshort"].append(j)
    return found


def _shift(source: list[int], indices: list[int], step: int) -> list[int]:
    """NeuroKit2's ``_update_indices``: every index after a source index moves by ``step``."""
    if not indices:
        return indices
    for s in source:
        indices = [u + step if u > s else u for u in indices]
    return [int(u) for u in np.unique(indices)]


def _misaligned(indices: list[int], peaks: FloatArray) -> FloatArray:
    idx = np.asarray(indices, dtype=np.intp)
    idx = idx[(idx > 1) & (idx < peaks.size - 1)]
    prev, nxt = peaks[idx - 1], peaks[idx + 1]
    moved = prev + (nxt - prev) / 2
    out = np.concatenate((np.delete(peaks, idx), moved)).astype(int)
    out.sort(kind="mergesort")
    return out.astype(np.float64)


def correct_artefacts(found: Artefacts, peaks: FloatArray) -> FloatArray:
    """NeuroKit2's ``_correct_artifacts``: delete extra peaks, insert missed ones midway,
    move ectopic and long/short ones midway between their neighbours."""
    extra, missed = found["extra"], found["missed"]
    ectopic, longshort = found["ectopic"], found["longshort"]
    if extra:
        peaks = np.delete(peaks, extra)
        missed, ectopic = _shift(extra, missed, -1), _shift(extra, ectopic, -1)
        longshort = _shift(extra, longshort, -1)
    if missed:
        idx = np.asarray(missed, dtype=np.intp)
        idx = idx[(idx > 1) & (idx < peaks.size)]
        prev, nxt = peaks[idx - 1], peaks[idx]
        peaks = np.insert(peaks, idx, prev + (nxt - prev) / 2)
        ectopic, longshort = _shift(missed, ectopic, 1), _shift(missed, longshort, 1)
    if ectopic:
        peaks = _misaligned(ectopic, peaks)
    if longshort:
        peaks = _misaligned(longshort, peaks)
    return peaks


def fixpeaks_pass(peaks: FloatArray, sampling_rate: float = 1000.0) -> tuple[Artefacts, FloatArray]:
    """One pass (``signal_fixpeaks(method="kubios", iterative=False)``): the artefacts found
    and the corrected peaks."""
    peaks = np.asarray(peaks, dtype=np.float64)
    found = find_artefacts(peaks, sampling_rate)
    return found, correct_artefacts(found, peaks)
