"""Fairness audit: do signal quality, the index and the prompts work equally well per group?

Groups come from the consented participant attributes of the study file
(:mod:`stresstrack.attributes`). For each attribute, each group is compared with the other
participants (with two groups, the one with the other) on:

==================  ========================================================  =========
metric              per participant                                            bound
==================  ========================================================  =========
index_excluded      share of windows without a stress index of confidence      0.05
                    ``min_confidence`` (what the session analysis drops)
hrv_excluded        share of windows whose HRV was withheld (coverage, gaps,   0.05
                    artefacts, implausible)
eda_excluded        share of windows whose EDA was withheld                    0.05
optical_beat_loss   share of expected beats missing from optical (PPI/PPG)     0.02
                    beat streams (:func:`optical_beat_loss`)
baseline_spread     SD of the stress index over baseline windows (points)      2.0
confidence          mean index confidence over all windows                     0.05
prompts_per_high_h  just-in-time prompts per hour of high stress (index at     0.5
                    or above the study's prompt threshold and confidence)
session_effect      group × condition interaction of the controlled session    5.0
                    effect (primary outcome; mixed model of
                    :mod:`stresstrack.analysis.effects`)
==================  ========================================================  =========

A difference is **flagged** when its 95 % CI excludes zero *and* its estimate is at least
the bound: equal groups are flagged at most at the nominal 5 % per comparison, and
differences too small to matter are not flagged however many windows there are. Intervals
take the participant as the unit (:mod:`stresstrack.analysis.group_stats`).
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from stresstrack.analysis.group_stats import Difference, mean_difference, ratio_difference
from stresstrack.analysis.sessions import BASELINE_KIND, Analysis
from stresstrack.events import Beat, BeatSource, Marker
from stresstrack.pipeline.results import FeatureRow, Session, StressRow

__all__ = [
    "METRICS",
    "AuditResult",
    "Comparison",
    "Metric",
    "ParticipantQuality",
    "audit",
    "compare_groups",
    "optical_beat_loss",
    "participant_quality",
]

NS: Final = 1_000_000_000
OPTICAL: Final = frozenset({BeatSource.PPI, BeatSource.PPG})
# A beat-to-beat step longer than this is a lost link or a pause, not optical beat loss
# (those show in hrv_excluded); shorter holes are beats the optical sensor lost.
MAX_OPTICAL_GAP_S: Final = 30.0
_MEDIAN_BEATS: Final = 31  # running median of RR that sets the expected beat length


@dataclass(frozen=True, slots=True)
class ParticipantQuality:
    """One participant's counts and values for the audit's metrics."""

    participant: str
    windows: int = 0
    index_excluded: int = 0
    hrv_windows: int = 0
    hrv_excluded: int = 0
    eda_windows: int = 0
    eda_excluded: int = 0
    optical_expected: float = 0.0
    optical_lost: float = 0.0
    baseline_spread: float = math.nan
    confidence: float = math.nan
    prompts: int = 0
    high_hours: float = 0.0


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    label: str
    bound: float
    ratio: Callable[[ParticipantQuality], tuple[float, float]] | None = None
    value: Callable[[ParticipantQuality], float] | None = None


METRICS: Final = (
    Metric("index_excluded", "windows without a confident index (share)", 0.05,
           ratio=lambda q: (q.index_excluded, q.windows)),
    Metric("hrv_excluded", "windows with HRV withheld (share)", 0.05,
           ratio=lambda q: (q.hrv_excluded, q.hrv_windows)),
    Metric("eda_excluded", "windows with EDA withheld (share)", 0.05,
           ratio=lambda q: (q.eda_excluded, q.eda_windows)),
    Metric("optical_beat_loss", "optical beats lost (share of expected)", 0.02,
           ratio=lambda q: (q.optical_lost, q.optical_expected)),
    Metric("baseline_spread", "SD of the index over the baseline (points)", 2.0,
           value=lambda q: q.baseline_spread),
    Metric("confidence", "mean index confidence", 0.05, value=lambda q: q.confidence),
    Metric("prompts_per_high_h", "prompts per hour of high stress", 0.5,
           ratio=lambda q: (q.prompts, q.high_hours)),
)  # fmt: skip
SESSION_EFFECT_BOUND: Final = 5.0  # index points: the session effect's interaction


@dataclass(frozen=True, slots=True)
class Comparison:
    """One metric: ``group`` against ``other`` within ``attribute``."""

    attribute: str
    group: str
    other: str
    metric: str
    label: str
    difference: Difference
    bound: float
    note: str = ""

    @property
    def flagged(self) -> bool:
        d = self.difference
        return d.excludes_zero() and abs(d.estimate) >= self.bound


@dataclass(frozen=True, slots=True)
class AuditResult:
    groups: Mapping[str, Mapping[str, list[str]]]  # attribute -> group -> participants
    comparisons: Sequence[Comparison]
    qualities: Sequence[ParticipantQuality] = ()
    notes: Sequence[str] = field(default_factory=tuple)

    @property
    def flagged(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.flagged]


def optical_beat_loss(times_ns: Sequence[int], rr_ms: Sequence[float]) -> tuple[float, float]:
    """``(lost, expected)`` beats of one optical stream: each step between emitted beats
    holds ``round(step / RR)`` beats (RR: running median), so a merged interval (a missed
    pulse) or discarded intervals (movement, no contact) count as lost beats.

    >>> optical_beat_loss([0, 10**9, 2 * 10**9, 4 * 10**9, 5 * 10**9], [1000.0] * 5)
    (1.0, 6.0)
    """
    t = np.asarray(times_ns, dtype=np.int64)
    rr = np.asarray(rr_ms, dtype=float)
    order = np.argsort(t, kind="stable")
    t, rr = t[order], rr[order]
    lost = 0.0
    for k in range(1, t.size):
        step_ms = (t[k] - t[k - 1]) / 1e6
        if step_ms > MAX_OPTICAL_GAP_S * 1000:
            continue
        typical = float(np.median(rr[max(0, k - _MEDIAN_BEATS) : k]))
        lost += max(0.0, round(step_ms / typical) - 1.0) if typical > 0 else 0.0
    return lost, float(t.size) + lost


def _in_any(t: int, sessions: Iterable[Session], kind: str) -> bool:
    return any(
        s.kind == kind and s.start_ns < t <= (s.end_ns if s.end_ns is not None else t)
        for s in sessions
    )


def participant_quality(
    participant: str,
    stress: Sequence[StressRow],
    features: Sequence[FeatureRow],
    sessions: Sequence[Session],
    events: Iterable[object],
    *,
    min_confidence: float,
    high: tuple[float, float],
    prompt_kind: str,
) -> ParticipantQuality:
    """The audit's counts for one participant; ``high`` = (threshold, confidence) of high
    stress; ``events`` are the participant's raw events (beats and prompt markers)."""
    good = [r for r in stress if r.index is not None and r.confidence >= min_confidence]
    base = [
        r.index for r in good if r.index is not None and _in_any(r.time_ns, sessions, BASELINE_KIND)
    ]
    steps = [b.time_ns - a.time_ns for a, b in itertools.pairwise(stress)]
    hop = statistics.median(steps) / NS if steps else 0.0
    is_high = [
        r for r in good if r.index is not None and r.index >= high[0] and r.confidence >= high[1]
    ]
    beats_t: list[int] = []
    beats_rr: list[float] = []
    prompts = 0
    for e in events:
        if isinstance(e, Beat) and e.source in OPTICAL:
            beats_t.append(e.time_ns)
            beats_rr.append(e.rr_ms)
        elif isinstance(e, Marker) and e.kind == prompt_kind:
            prompts += 1
    lost, expected = optical_beat_loss(beats_t, beats_rr) if beats_t else (0.0, 0.0)
    hrv = [f for f in features if "hrv_coverage" in f.quality]
    eda = [f for f in features if "eda_coverage" in f.quality]
    return ParticipantQuality(
        participant=participant,
        windows=len(stress),
        index_excluded=len(stress) - len(good),
        hrv_windows=len(hrv),
        hrv_excluded=sum("hrv" in f.reasons for f in hrv),
        eda_windows=len(eda),
        eda_excluded=sum("eda" in f.reasons for f in eda),
        optical_expected=expected,
        optical_lost=lost,
        baseline_spread=statistics.stdev(base) if len(base) > 1 else math.nan,
        confidence=statistics.fmean(r.confidence for r in stress) if stress else math.nan,
        prompts=prompts,
        high_hours=len(is_high) * hop / 3600.0,
    )


def _pairs(values: Mapping[str, list[str]]) -> list[tuple[str, str, list[str], list[str]]]:
    """(group, other, its participants, the others'): the one pair of two groups, else
    each group against the rest."""
    names = sorted(values)
    if len(names) == 2:
        a, b = names
        return [(a, b, values[a], values[b])]
    return [(g, "rest", values[g], [p for h in names if h != g for p in values[h]]) for g in names]


def compare_groups(
    attribute: str,
    values: Mapping[str, list[str]],
    qualities: Mapping[str, ParticipantQuality],
) -> list[Comparison]:
    """Every metric of :data:`METRICS` for every pair of :func:`_pairs`."""
    out = []
    for g, other, ps, qs in _pairs(values):
        a = [qualities[p] for p in ps if p in qualities]
        b = [qualities[p] for p in qs if p in qualities]
        for m in METRICS:
            if m.ratio is not None:
                diff = ratio_difference([m.ratio(q) for q in a], [m.ratio(q) for q in b])
            else:
                assert m.value is not None
                diff = mean_difference([m.value(q) for q in a], [m.value(q) for q in b])
            note = (
                "" if math.isfinite(diff.estimate) else "needs 2 participants with data per group"
            )
            out.append(Comparison(attribute, g, other, m.name, m.label, diff, m.bound, note))
    return out


def grouping(attributes: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, list[str]]]:
    """Attribute -> value -> participants (attributes with at least two values)."""
    out: dict[str, dict[str, list[str]]] = {}
    for p, attrs in sorted(attributes.items()):
        for name, value in attrs.items():
            out.setdefault(name, {}).setdefault(value, []).append(p)
    return {k: v for k, v in sorted(out.items()) if len(v) > 1}


def audit(
    qualities: Sequence[ParticipantQuality],
    attributes: Mapping[str, Mapping[str, str]],
    analysis: Analysis | None = None,
) -> AuditResult:
    """Compare the groups of every attribute on every metric (and, with ``analysis``, on the
    session effect's group × condition interaction)."""
    from stresstrack.analysis.audit_effect import session_effect_comparisons

    by = {q.participant: q for q in qualities}
    groups = grouping(attributes)
    comparisons: list[Comparison] = []
    notes: list[str] = []
    for attribute, values in groups.items():
        comparisons += compare_groups(attribute, values, by)
        if analysis is not None:
            found, note = session_effect_comparisons(analysis, attribute, _pairs(values))
            comparisons += found
            if note:
                notes.append(f"{attribute}: {note}")
    if not groups:
        notes.append("no attribute has two groups: nothing to compare")
    return AuditResult(groups, comparisons, qualities, tuple(notes))
