"""Self-care in everyday life: the hours after each session against the same clock hours of
other days without one.

For a closed session of kind ``self-care`` ending at local clock time c on day d:

* **after** = the mean stress index over the ``hours`` (2) after its end, from the minute grid
  (confident windows only);
* **matched** = the same clock span [c, c + hours) on every other day of the recording that
  has no self-care session from ``hours`` before c to its end (so neither the session nor
  its own aftermath sits in the comparison); each needs ``min_coverage`` (50 %) of its
  minutes with a value, as does *after*;
* **effect** = after − mean(matched), with a 95 % interval from the day-to-day spread of the
  matched values: ± t(k − 1) · s · √(1 + 1/k) for k matched days with SD s (the interval of
  one new day's value against the mean of k, a prediction interval: the session day is one
  draw of the person's day-to-day variation). Needs k ≥ 2.

Per participant, the mean of their sessions' effects; its interval
(:func:`participant_effect`) counts matched days that several sessions share once (sessions
at the same hour share all their matched days, and a t interval over sessions would miss
that shared uncertainty). Across participants, the mean of the participants' means with a t
interval over participants (each person counts once). Observational: the person chose when
to do self-care, so a session taken on a bad day compares with calmer days; the matching
removes the clock-time rhythm, not that choice.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy import stats

from stresstrack.days.minutes import MINUTE_NS, Minutes
from stresstrack.pipeline.results import Session

__all__ = [
    "SELFCARE_KIND",
    "MeanCI",
    "SessionEffect",
    "mean_ci",
    "participant_effect",
    "session_effects",
]

SELFCARE_KIND: Final = "self-care"
DAY_NS: Final = 24 * 3600 * 1_000_000_000
NAN: Final = math.nan


@dataclass(frozen=True, slots=True)
class MeanCI:
    n: int
    mean: float
    ci: tuple[float, float]


@dataclass(frozen=True, slots=True)
class SessionEffect:
    participant: str
    session: Session
    after: float  # mean index over the hours after
    matched: float  # mean over the matched days
    matched_days: int
    effect: float
    ci: tuple[float, float]
    matched_spans: tuple[tuple[int, float], ...] = ()  # (start ns, mean) of each matched span
    span_ns: int = 0


def mean_ci(values: Sequence[float]) -> MeanCI:
    """Mean with a 95 % t interval (NaN bounds with fewer than 2 values).

    >>> r = mean_ci([1.0, 2.0, 3.0])
    >>> r.mean, tuple(round(x, 3) for x in r.ci)
    (2.0, (-0.484, 4.484))
    """
    xs = [v for v in values if math.isfinite(v)]
    if not xs:
        return MeanCI(0, NAN, (NAN, NAN))
    mean = statistics.fmean(xs)
    if len(xs) < 2:
        return MeanCI(1, mean, (NAN, NAN))
    half = float(stats.t.ppf(0.975, len(xs) - 1)) * statistics.stdev(xs) / math.sqrt(len(xs))
    return MeanCI(len(xs), mean, (mean - half, mean + half))


def _span_mean(m: Minutes, start_ns: int, end_ns: int, min_coverage: float) -> float:
    lo = max(0, (start_ns - m.start_ns) // MINUTE_NS)
    hi = min(m.n, (end_ns - m.start_ns) // MINUTE_NS)
    want = (end_ns - start_ns) // MINUTE_NS
    if hi <= lo or want <= 0:
        return NAN
    x = m.stress[lo:hi]
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size >= min_coverage * want else NAN


def session_effects(
    m: Minutes,
    sessions: Sequence[Session],
    participant: str,
    *,
    hours: float = 2.0,
    min_coverage: float = 0.5,
) -> list[SessionEffect]:
    """The effect of every closed self-care session (see the module)."""
    span = round(hours * 3600e9)
    care = [s for s in sessions if s.kind == SELFCARE_KIND and s.end_ns is not None]
    if m.n == 0:
        return []
    first, last = m.start_ns, m.start_ns + m.n * MINUTE_NS
    out = []
    for s in care:
        end = s.end_ns if s.end_ns is not None else s.start_ns
        after = _span_mean(m, end, end + span, min_coverage)
        matched: list[float] = []
        spans: list[tuple[int, float]] = []
        # Same clock time on other days: whole days apart (a daylight-saving change shifts
        # the wall clock by an hour for the days across it).
        for k in range(-((end - first) // DAY_NS), (last - end) // DAY_NS + 1):
            if k == 0:
                continue
            lo = end + k * DAY_NS
            if any(c.start_ns < lo + span and (c.end_ns or c.start_ns) > lo - span for c in care):
                continue
            v = _span_mean(m, lo, lo + span, min_coverage)
            if math.isfinite(v):
                matched.append(v)
                spans.append((lo, v))
        k = len(matched)
        mean = statistics.fmean(matched) if matched else NAN
        effect = after - mean
        ci = (NAN, NAN)
        if k >= 2 and math.isfinite(effect):
            half = float(stats.t.ppf(0.975, k - 1)) * statistics.stdev(matched)
            half *= math.sqrt(1 + 1 / k)
            ci = (effect - half, effect + half)
        out.append(SessionEffect(participant, s, after, mean, k, effect, ci, tuple(spans), span))
    return out


def _shared(a: SessionEffect, b: SessionEffect) -> float:
    """Σ over the two sessions' matched spans of their overlap share, over k_a · k_b: the
    covariance of their matched means in units of the day-to-day variance."""
    total = 0.0
    for lo_a, _ in a.matched_spans:
        for lo_b, _ in b.matched_spans:
            overlap = min(lo_a + a.span_ns, lo_b + b.span_ns) - max(lo_a, lo_b)
            total += max(0, overlap) / max(a.span_ns, b.span_ns)
    return total / (len(a.matched_spans) * len(b.matched_spans))


def participant_effect(effects: Sequence[SessionEffect]) -> MeanCI:
    """A participant's mean effect over sessions, with a 95 % interval that counts matched
    days shared between sessions once (see the module).

    ``SE² = s²·(1/n + c)``: s² the day-to-day variance of the matched spans, pooled over the
    distinct sets of matched spans; 1/n for the n session days; c the variance of the mean
    of the sessions' matched means, (1/n²)·Σᵢ Σⱼ (overlap of i's and j's matched spans)/(kᵢkⱼ),
    1/k for sessions sharing all k days, Σ 1/kᵢ / n² for sessions sharing none. t with the
    pooled degrees of freedom. With one session: the session's own interval.
    """
    used = [e for e in effects if math.isfinite(e.effect) and e.matched_spans]
    if not used:
        return MeanCI(0, NAN, (NAN, NAN))
    n = len(used)
    mean = statistics.fmean(e.effect for e in used)
    distinct = {tuple(lo for lo, _ in e.matched_spans): e for e in used}.values()
    ss = sum(sum((v - e.matched) ** 2 for _, v in e.matched_spans) for e in distinct)
    df = sum(len(e.matched_spans) - 1 for e in distinct)
    if df < 1:
        return MeanCI(n, mean, (NAN, NAN))
    c = sum(_shared(a, b) for a in used for b in used) / n**2
    half = float(stats.t.ppf(0.975, df)) * math.sqrt(ss / df * (1 / n + c))
    return MeanCI(n, mean, (mean - half, mean + half))
