"""One participant's store rows on a one-minute grid in local clock time.

Every multi-day measure (sleep, rhythm, load, self-care) reads this grid. A window of the
store is dated at its end; on the grid it counts for the minute holding its **centre**
(end − window/2), so a 60 s window lands on the minute it mostly covers. Each minute holds
the mean of the windows centred in it:

* ``hr`` (``mean_hr_bpm``), ``rmssd`` (``rmssd_ms``), ``activity`` (``activity_mg``),
  ``moving`` (``moving_share``) from the features;
* ``stress``: the mean index of the windows whose confidence is ≥ ``min_confidence``
  (NaN when none), ``confidence``: the mean confidence of every window with a stress row.

NaN marks a minute without a value. Clock hours and dates are those of ``tz`` (an IANA time
zone name; the store keeps UTC).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import pandas as pd

from stresstrack.errors import StressTrackError
from stresstrack.pipeline.results import FeatureRow, StressRow

__all__ = [
    "FEATURE_KEYS",
    "MINUTE_NS",
    "Minutes",
    "minutes_from_columns",
    "minutes_from_rows",
    "time_zone",
]

FloatArray = npt.NDArray[np.float64]
MINUTE_NS: Final = 60_000_000_000
MAX_DAYS: Final = 400  # a longer span is a wrong time, not a recording (and 0.6 M minutes)
_FEATURES: Final = {
    "hr": "mean_hr_bpm",
    "rmssd": "rmssd_ms",
    "activity": "activity_mg",
    "moving": "moving_share",
}


def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; a clear error when unknown.

    >>> time_zone("Europe/Paris").key
    'Europe/Paris'
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise StressTrackError(
            f"time zone {name!r}: unknown (an IANA name such as Europe/Paris or UTC)"
        ) from None


@dataclass(frozen=True, slots=True, eq=False)
class Minutes:
    """Per-minute values of one participant from ``start_ns`` (UTC ns, on a minute)."""

    start_ns: int
    tz: str
    hr: FloatArray
    rmssd: FloatArray
    stress: FloatArray
    confidence: FloatArray
    activity: FloatArray
    moving: FloatArray

    @property
    def n(self) -> int:
        return int(self.hr.size)

    @property
    def times_ns(self) -> npt.NDArray[np.int64]:
        """Start of every minute, UTC ns."""
        return self.start_ns + np.arange(self.n, dtype=np.int64) * MINUTE_NS

    def local(self) -> pd.DatetimeIndex:
        """Start of every minute in local time."""
        return pd.DatetimeIndex(pd.to_datetime(self.times_ns, utc=True)).tz_convert(self.tz)

    def clock_hours(self) -> FloatArray:
        """Local clock time of every minute's middle, in hours since the first local midnight
        (so 25.5 is 01:30 on the second day; daylight-saving days have 23 or 25 hours)."""
        local = self.local()
        first = local[0].normalize() if self.n else None
        if first is None:
            return np.zeros(0)
        wall = local.tz_localize(None) - first.tz_localize(None)
        return np.asarray(wall / pd.Timedelta(hours=1), dtype=float) + 1 / 120

    def dates(self) -> list[date]:
        """Local date of every minute."""
        return [d.date() for d in self.local()]

    def slice(self, lo: int, hi: int) -> Minutes:
        """Minutes ``lo`` to ``hi`` (indices)."""
        return Minutes(
            self.start_ns + lo * MINUTE_NS,
            self.tz,
            self.hr[lo:hi],
            self.rmssd[lo:hi],
            self.stress[lo:hi],
            self.confidence[lo:hi],
            self.activity[lo:hi],
            self.moving[lo:hi],
        )


def _binned_mean(index: npt.NDArray[np.int64], values: FloatArray, n: int) -> FloatArray:
    ok = np.isfinite(values)
    total = np.bincount(index[ok], weights=values[ok], minlength=n)
    count = np.bincount(index[ok], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


FEATURE_KEYS: Final = tuple(_FEATURES.values())


def _array(values: Sequence[float | None]) -> FloatArray:
    return np.fromiter((math.nan if v is None else v for v in values), float, len(values))


def minutes_from_columns(
    feature_t: Sequence[int],
    features: Mapping[str, Sequence[float | None]],
    stress_t: Sequence[int],
    index: Sequence[float | None],
    confidence: Sequence[float],
    *,
    tz: str = "UTC",
    window_s: float = 60.0,
    min_confidence: float = 0.5,
    label: str = "",
) -> Minutes:
    """The minute grid (see the module) of feature columns (keyed by :data:`FEATURE_KEYS`,
    missing keys are NaN) and stress columns, each with its window end times."""
    time_zone(tz)
    half = round(window_s * 1e9 / 2)
    ft = np.asarray(feature_t, dtype=np.int64) - half
    st = np.asarray(stress_t, dtype=np.int64) - half
    if ft.size + st.size == 0:
        empty = np.zeros(0)
        return Minutes(0, tz, *([empty] * 6))
    every = np.concatenate([ft, st])
    start = int(every.min()) // MINUTE_NS * MINUTE_NS
    n = int((int(every.max()) - start) // MINUTE_NS) + 1
    if n > MAX_DAYS * 1440:
        first, last = (pd.Timestamp(int(t), unit="ns") for t in (every.min(), every.max()))
        raise StressTrackError(
            f"{label or 'rows'}: the data span {n / 1440:.0f} days ({first:%Y-%m-%d} to "
            f"{last:%Y-%m-%d}), more than {MAX_DAYS}; a row with a wrong time? (see "
            "stresstrack export --table features)"
        )
    fi, si = (ft - start) // MINUTE_NS, (st - start) // MINUTE_NS
    columns = {
        name: _binned_mean(fi, _array(features.get(key, [None] * ft.size)), n)
        for name, key in _FEATURES.items()
    }
    conf = np.asarray(confidence, dtype=float)
    values = _array(index)
    values[conf < min_confidence] = math.nan
    return Minutes(
        start_ns=start,
        tz=tz,
        hr=columns["hr"],
        rmssd=columns["rmssd"],
        stress=_binned_mean(si, values, n),
        confidence=_binned_mean(si, conf, n),
        activity=columns["activity"],
        moving=columns["moving"],
    )


def minutes_from_rows(
    features: Sequence[FeatureRow],
    stress: Sequence[StressRow],
    *,
    tz: str = "UTC",
    window_s: float = 60.0,
    min_confidence: float = 0.5,
    label: str = "",
) -> Minutes:
    """The minute grid of one participant's feature and stress rows (see the module).

    >>> rows = [StressRow(time_ns=90 * 10**9, participant="p", study="s", index=80.0,
    ...                   confidence=0.9, components={}, version="2")]
    >>> m = minutes_from_rows([], rows)
    >>> m.n, float(m.stress[0])
    (1, 80.0)
    """
    return minutes_from_columns(
        [r.time_ns for r in features],
        {k: [r.values.get(k) for r in features] for k in FEATURE_KEYS},
        [r.time_ns for r in stress],
        [r.index for r in stress],
        [r.confidence for r in stress],
        tz=tz,
        window_s=window_s,
        min_confidence=min_confidence,
        label=label,
    )
