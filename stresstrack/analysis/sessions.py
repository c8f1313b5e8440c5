"""Before / during / after each session, and the effect per participant and across them.

For every session (other than baselines) of every participant:

* **pre** = the ``pre_s`` seconds before its start (default 5 min), **during** = the session,
  **post** = the ``post_s`` seconds after its end (default 5 min);
* a window (a row of the store, dated at its end) counts for a period when it lies wholly
  inside it: its end is in ``[period start + window_s, period end]``, so no window mixes
  what came before a marker with what followed it;
* a window is **good** when it has a stress index with confidence ≥ ``min_confidence``;
  a period's **coverage** is its good windows over the windows the hop grid puts in it;
* per period: the mean stress index and component z-scores over its good windows, and the
  mean of each key feature (HR, RMSSD, SCL, SCR rate) over its windows that have a value;
* **deltas**: during − pre, and post − pre;
* a session is **excluded** (and the reason kept) when it is not closed, is shorter than a
  window, or its pre or during coverage is below ``min_coverage``; a post period below it
  leaves the post values empty without excluding the session.

Sessions are grouped by kind, mode, label (product) and arm (the participant's study arm).
A participant's **within-participant effect** in a group is the mean of their included
sessions' values, so each participant counts once; the group's paired statistics
(:mod:`stresstrack.analysis.stats`) compare participants' pre and during (and pre and post)
means. With ``control`` (e.g. ``rest``), each group's participant deltas are also compared
with the same participants' deltas in sessions of the control kind.
"""

# Size (issue 17): over 400 lines because the session analysis is one chain over the same
# windows (periods, exclusion, per-participant effects, group statistics) whose steps share
# the settings and the window selection; the statistics themselves are in analysis/stats.py.

from __future__ import annotations

import bisect
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from stresstrack.analysis.effects import StudyEffects, default_design, study_effects
from stresstrack.analysis.endpoints import EndpointAnalysis, with_endpoints
from stresstrack.analysis.stats import PairedStats, paired_stats
from stresstrack.endpoints.config import EndpointConfig
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.pipeline.stress import COMPONENTS
from stresstrack.session.protocol import Design
from stresstrack.store.sqlite import Store

__all__ = [
    "BASELINE_KIND",
    "MEASURES",
    "PERIODS",
    "Analysis",
    "AnalysisSettings",
    "GroupKey",
    "GroupSummary",
    "Measure",
    "ParticipantEffect",
    "Period",
    "SessionResult",
    "analyze",
    "analyze_participant",
    "analyze_store",
    "control_deltas",
    "group_summaries",
    "participant_effects",
    "store_design",
]

NS: Final = 1_000_000_000
BASELINE_KIND: Final = "baseline"
DEFAULT_HOP_S: Final = 5.0  # the pipeline's default, when a participant has < 2 rows
PERIODS: Final = ("pre", "during", "post")
PeriodName = Literal["pre", "during", "post"]


@dataclass(frozen=True, slots=True)
class Measure:
    """A value averaged per period: the index, a component's z-score or a feature."""

    name: str  # column prefix in the tables
    source: Literal["index", "component", "feature"]
    key: str  # component name (StressRow.components) or feature name (FeatureRow.values)
    label: str
    unit: str = ""


_FEATURES: Final = (
    Measure("hr", "feature", "mean_hr_bpm", "Heart rate", "bpm"),
    Measure("rmssd", "feature", "rmssd_ms", "RMSSD", "ms"),
    Measure("scl", "feature", "scl_us", "SCL", "µS"),
    Measure("scr_rate", "feature", "ns_scr_per_min", "SCR rate (≥ 0.05 µS)", "/min"),
)
MEASURES: Final = (
    Measure("stress_index", "index", "", "Stress index", "0-100"),
    *(Measure(f"{c.name}_z", "component", c.name, f"{c.name} component", "z") for c in COMPONENTS),
    *_FEATURES,
)


@dataclass(frozen=True, slots=True)
class AnalysisSettings:
    """Periods in seconds; shares in 0-1. ``boot`` bootstrap resamples, seeded by ``seed``."""

    pre_s: float = 300.0
    post_s: float = 300.0
    window_s: float = 60.0  # the pipeline's window (--hrv-window, --eda-window)
    min_coverage: float = 0.5
    min_confidence: float = 0.5
    boot: int = 2000
    seed: int = 0
    control: str | None = None  # a session kind every group is also compared with
    design: Design | None = None  # conditions, control and outcomes (a protocol's [design])

    def resolved_design(self, kinds: Iterable[str]) -> Design | None:
        """The design: ``design`` (its control replaced by ``control`` if given), else the
        one ``control`` implies, else none."""
        kinds = list(kinds)
        d = self.design
        if d is None:
            return default_design(kinds, self.control) if self.control is not None else None
        control = self.control or d.control
        conditions = d.conditions
        if control is not None and not [c for c in conditions if c != control]:
            conditions = default_design(kinds, control).conditions
        elif control is not None and control not in conditions:
            conditions = (*conditions, control)
        return replace(d, conditions=conditions, control=control)

    def __post_init__(self) -> None:
        if not self.pre_s > 0:
            raise ValueError(f"the pre window must be > 0 s, got {self.pre_s:g}")
        if not self.post_s >= 0:
            raise ValueError(f"the post window must be >= 0 s, got {self.post_s:g}")
        if not self.window_s >= 0:
            raise ValueError(f"the window length must be >= 0 s, got {self.window_s:g}")
        for name in ("min_coverage", "min_confidence"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name.replace('_', ' ')} must be within 0-1, got {v:g}")
        if self.boot < 0:
            raise ValueError(f"bootstrap resamples must be >= 0, got {self.boot}")


@dataclass(frozen=True, slots=True)
class Period:
    """One period of a session: its bounds, windows and mean values per measure."""

    start_ns: int
    end_ns: int
    expected: int  # windows the hop grid puts wholly inside
    good: int  # of them with an index of enough confidence
    values: Mapping[str, float | None]

    @property
    def coverage(self) -> float:
        return self.good / self.expected if self.expected else 0.0


GroupKey = tuple[str, str, str, str, str]  # (kind, mode, label, arm, follows)
# Sessions of these kinds are grouped by the session they follow: recovery after self-care is
# not recovery after rest, and pooling them would blur the uncontrolled comparison.
SPLIT_BY_PREVIOUS: Final = frozenset({"recovery"})


@dataclass(frozen=True, slots=True)
class SessionResult:
    session: Session
    arm: str
    pre: Period
    during: Period
    post: Period
    included: bool
    reason: str = ""  # why excluded
    post_note: str = ""  # why the post values are empty
    follows: str = ""  # a recovery's previous session kind (SPLIT_BY_PREVIOUS), else ""

    @property
    def group(self) -> GroupKey:
        s = self.session
        return (s.kind, s.mode, s.label, self.arm, self.follows)

    def value(self, measure: str, period: PeriodName) -> float | None:
        if period == "post" and self.post_note:
            return None
        p: Period = getattr(self, period)
        return p.values.get(measure)

    def delta(self, measure: str, period: PeriodName = "during") -> float | None:
        """``period`` − pre of ``measure``."""
        pre, other = self.value(measure, "pre"), self.value(measure, period)
        return None if pre is None or other is None else other - pre


@dataclass(frozen=True, slots=True)
class ParticipantEffect:
    """A participant's mean over their included sessions of one group."""

    group: GroupKey
    participant: str
    study: str
    sessions: int
    values: Mapping[tuple[str, PeriodName], float | None]

    def value(self, measure: str, period: PeriodName) -> float | None:
        return self.values.get((measure, period))

    def delta(self, measure: str, period: PeriodName = "during") -> float | None:
        pre, other = self.value(measure, "pre"), self.value(measure, period)
        return None if pre is None or other is None else other - pre


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """Paired statistics of one group, per measure: pre vs during, pre vs post, and (with a
    control kind) the participants' delta vs their control delta."""

    key: GroupKey
    sessions: int
    excluded: int
    reasons: Mapping[str, int]
    during: Mapping[str, PairedStats]
    post: Mapping[str, PairedStats]
    control: Mapping[str, PairedStats] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``kind · mode · label · arm``, and ``after KIND`` for a split recovery.

        >>> GroupSummary(("recovery", "", "", "", "self-care"), 0, 0, {}, {}, {}).label
        'recovery · after self-care'
        """
        *named, follows = self.key
        return " · ".join([*(x for x in named if x), *([f"after {follows}"] if follows else [])])


@dataclass(frozen=True, slots=True)
class Analysis:
    study: str
    index_version: str
    stresstrack_version: str
    settings: AnalysisSettings
    sessions: Sequence[SessionResult]
    participants: Sequence[ParticipantEffect]
    groups: Sequence[GroupSummary]
    effects: StudyEffects = field(default_factory=lambda: StudyEffects(None, ()))
    endpoints: EndpointAnalysis | None = None  # self-report and lab values (docs/endpoints.md)


def _mean(xs: Iterable[float | None]) -> float | None:
    vals = [x for x in xs if x is not None and math.isfinite(x)]
    return statistics.fmean(vals) if vals else None


class _Series:
    """One participant's rows, sorted by window end, for period lookups."""

    def __init__(self, stress: Sequence[StressRow], features: Sequence[FeatureRow]) -> None:
        self.stress = sorted(stress, key=lambda r: r.time_ns)
        self.features = sorted(features, key=lambda r: r.time_ns)
        self.stress_t = [r.time_ns for r in self.stress]
        self.feature_t = [r.time_ns for r in self.features]
        steps = [b - a for a, b in zip(self.stress_t, self.stress_t[1:], strict=False) if b > a]
        self.hop_ns = int(statistics.median(steps)) if steps else int(DEFAULT_HOP_S * NS)

    def period(self, lo: int, hi: int, settings: AnalysisSettings) -> Period:
        first = lo + round(settings.window_s * NS)  # earliest end of a window wholly inside
        hop = self.hop_ns
        expected = max(0, hi // hop - -(-first // hop) + 1) if hi >= first else 0
        a, b = bisect.bisect_left(self.stress_t, first), bisect.bisect_right(self.stress_t, hi)
        good = [
            r
            for r in self.stress[a:b]
            if r.index is not None and r.confidence >= settings.min_confidence
        ]
        values: dict[str, float | None] = {}
        fa, fb = bisect.bisect_left(self.feature_t, first), bisect.bisect_right(self.feature_t, hi)
        for m in MEASURES:
            if m.source == "index":
                values[m.name] = _mean(r.index for r in good)
            elif m.source == "component":
                values[m.name] = _mean(r.components.get(m.key) for r in good)
            else:
                values[m.name] = _mean(r.values.get(m.key) for r in self.features[fa:fb])
        return Period(lo, hi, expected, min(len(good), expected), values)


def _exclusion(during: Period, pre: Period, settings: AnalysisSettings) -> str:
    need = f"need {settings.min_coverage:.0%}"
    if during.expected == 0:
        return f"shorter than one window ({settings.window_s:g} s)"
    if pre.expected == 0:
        return f"pre window shorter than one window ({settings.window_s:g} s)"
    for name, p in (("pre", pre), ("during", during)):
        if p.coverage < settings.min_coverage or p.good == 0:
            return (
                f"{name}: {p.coverage:.0%} of windows with an index of confidence "
                f">= {settings.min_confidence:g} ({need})"
            )
    return ""


def analyze_participant(
    sessions: Sequence[Session],
    stress: Sequence[StressRow],
    features: Sequence[FeatureRow],
    settings: AnalysisSettings,
    *,
    arm: str = "",
) -> list[SessionResult]:
    """Pre, during and post of every non-baseline session of one participant."""
    series = _Series(stress, features)
    pre_ns, post_ns = round(settings.pre_s * NS), round(settings.post_s * NS)
    out = []
    previous = ""
    for s in sorted(sessions, key=lambda x: (x.start_ns, x.kind)):
        follows = previous if s.kind in SPLIT_BY_PREVIOUS else ""
        previous = s.kind
        if s.kind == BASELINE_KIND:
            continue
        end = s.end_ns if s.end_ns is not None else s.start_ns
        pre = series.period(s.start_ns - pre_ns, s.start_ns, settings)
        during = series.period(s.start_ns, end, settings)
        post = series.period(end, end + post_ns, settings)
        reason = (
            "not closed (no stop marker)" if s.end_ns is None else _exclusion(during, pre, settings)
        )
        post_note = ""
        if not reason and (post.expected == 0 or post.coverage < settings.min_coverage):
            post_note = (
                f"post: {post.coverage:.0%} of windows with an index of confidence "
                f">= {settings.min_confidence:g} (need {settings.min_coverage:.0%})"
            )
        out.append(SessionResult(s, arm, pre, during, post, not reason, reason, post_note, follows))
    return out


def participant_effects(results: Iterable[SessionResult]) -> list[ParticipantEffect]:
    """Each participant's mean over their included sessions, per group."""
    by: dict[tuple[GroupKey, str], list[SessionResult]] = defaultdict(list)
    for r in results:
        if r.included:
            by[(r.group, r.session.participant)].append(r)
    out = []
    for (group, participant), rs in sorted(by.items()):
        values: dict[tuple[str, PeriodName], float | None] = {}
        for m in MEASURES:
            for period in PERIODS:
                values[(m.name, period)] = _mean(r.value(m.name, period) for r in rs)
        out.append(ParticipantEffect(group, participant, rs[0].session.study, len(rs), values))
    return out


def _paired(
    effects: Sequence[ParticipantEffect], measure: str, period: PeriodName, s: AnalysisSettings
) -> PairedStats:
    pairs = [(e.value(measure, "pre"), e.value(measure, period)) for e in effects]
    kept = [(b, a) for b, a in pairs if b is not None and a is not None]
    return paired_stats([b for b, _ in kept], [a for _, a in kept], n_resamples=s.boot, seed=s.seed)


def control_deltas(
    effects: Sequence[ParticipantEffect], control: str, measure: str
) -> dict[str, float]:
    """Each participant's mean delta over their control-kind groups."""
    deltas: dict[str, list[float]] = defaultdict(list)
    for e in effects:
        d = e.delta(measure)
        if e.group[0] == control and d is not None:
            deltas[e.participant].append(d)
    return {p: statistics.fmean(ds) for p, ds in deltas.items()}


def group_summaries(
    results: Sequence[SessionResult],
    effects: Sequence[ParticipantEffect],
    settings: AnalysisSettings,
) -> list[GroupSummary]:
    """Paired statistics per group (kind, mode, label, arm), in order of first session."""
    keys = list(dict.fromkeys(r.group for r in sorted(results, key=lambda r: r.session.start_ns)))
    out = []
    for key in keys:
        rs = [r for r in results if r.group == key]
        es = [e for e in effects if e.group == key]
        during = {m.name: _paired(es, m.name, "during", settings) for m in MEASURES}
        post = {m.name: _paired(es, m.name, "post", settings) for m in MEASURES}
        control: dict[str, PairedStats] = {}
        if settings.control is not None and key[0] != settings.control:
            for m in MEASURES:
                ctrl = control_deltas(effects, settings.control, m.name)
                pairs = [(ctrl.get(e.participant), e.delta(m.name)) for e in es]
                kept = [(c, d) for c, d in pairs if c is not None and d is not None]
                control[m.name] = paired_stats(
                    [c for c, _ in kept],
                    [d for _, d in kept],
                    n_resamples=settings.boot,
                    seed=settings.seed,
                )
        reasons = Counter(r.reason for r in rs if not r.included)
        out.append(
            GroupSummary(
                key=key,
                sessions=len(rs),
                excluded=sum(reasons.values()),
                reasons=dict(reasons),
                during=during,
                post=post,
                control=control,
            )
        )
    return out


def analyze(
    data: Iterable[tuple[str, Sequence[Session], Sequence[StressRow], Sequence[FeatureRow]]],
    settings: AnalysisSettings,
    *,
    arms: Mapping[str, str] | None = None,
    study: str = "",
    index_version: str = "",
    stresstrack_version: str = "",
) -> Analysis:
    """The whole analysis from ``(participant, sessions, stress, features)`` tuples."""
    arms = arms or {}
    results: list[SessionResult] = []
    for participant, sessions, stress, features in data:
        results += analyze_participant(
            sessions, stress, features, settings, arm=arms.get(participant, "")
        )
    effects = participant_effects(results)
    groups = group_summaries(results, effects, settings)
    design = settings.resolved_design(r.session.kind for r in results)
    return Analysis(
        study=study,
        index_version=index_version,
        stresstrack_version=stresstrack_version,
        settings=settings,
        sessions=results,
        participants=effects,
        groups=groups,
        effects=study_effects(results, groups, design),
    )


def store_design(store: Store) -> Design | None:
    """The design of the protocol the store records (meta ``protocol``), if it is a shipped
    protocol or a file that can be read and has a ``[design]``."""
    from stresstrack.session.protocol import load_protocol

    name = store.meta("protocol")
    if not name:
        return None
    try:
        return load_protocol(name).design
    except (ValueError, OSError):
        return None


def analyze_store(
    store: Store,
    settings: AnalysisSettings | None = None,
    *,
    arms: Mapping[str, str] | None = None,
    endpoints: EndpointConfig | None = None,
    unblind: Mapping[str, str] | None = None,
) -> Analysis:
    """:func:`analyze` of every participant of ``store``; arms default to those the store
    recorded (``collect --study``). Self-report answers and lab values in the store add
    their endpoints (``endpoints``: the study file's tables, docs/endpoints.md). ``unblind``
    (code -> name, :mod:`stresstrack.blinding`) renames coded arms, kinds and labels."""
    from stresstrack import __version__
    from stresstrack.blinding import rename_design, rename_sessions
    from stresstrack.session.study import store_arms

    settings = settings or AnalysisSettings()
    if settings.design is None:
        settings = replace(settings, design=store_design(store))
    key = unblind or {}
    settings = replace(settings, design=rename_design(settings.design, key))
    if settings.control is not None:
        settings = replace(settings, control=key.get(settings.control, settings.control))
    participants = store.participants()
    data = [
        (p, rename_sessions(store.sessions(p), key), store.stress(p), store.features(p))
        for p in participants
    ]
    arms = store_arms(store, participants) if arms is None else arms
    arms = {p: key.get(a, a) for p, a in arms.items()}
    studies = {s.study for _, se, _, _ in data for s in se}
    studies |= {r.study for _, _, st, _ in data for r in st}
    versions = {r.version for _, _, st, _ in data for r in st}
    analysis = analyze(
        data,
        settings,
        arms=arms,
        study=store.meta("study") or ", ".join(sorted(studies)),
        index_version=", ".join(sorted(versions)),
        stresstrack_version=__version__,
    )
    return with_endpoints(analysis, store, endpoints or EndpointConfig(), data)
