"""Self-report and lab values next to physiology: per-session values, convergence and the
controlled analysis of every endpoint (docs/endpoints.md).

**Per session.** A self-report item's *pre* value is the participant's last answer in the
``pre_s`` seconds before the session starts (or up to :data:`SLACK_S` after, a late answer
to the prompt before it), its *during* value the first answer from :data:`SLACK_S` before
its end to ``post_s`` after it: the before / after questions of the ``[ask]`` table. A lab
analyte's pre and during values are its level (interpolated between samples) at the
session's start and end, each shifted by the analyte's lag; its AUCg and AUCi cover the
samples surrounding the lagged session (:mod:`stresstrack.endpoints.cortisol`).

**Controlled analysis.** These values join the session results under the names ``sr_<item>``
and ``<analyte>``, and the mixed model of :mod:`stresstrack.analysis.effects` runs on every
endpoint: the study file's ``[endpoints]`` primary and secondary when given, else the
design's, with every self-report item and analyte the store holds added as secondary
outcomes (Holm across the secondary outcomes of each contrast, as for physiology).

**Convergence.** Each answer is paired with the physiology of the ``window_minutes`` before
it (the mean over the windows wholly inside, the index over its confident windows); each lab
sample with the physiology of the same span before its time minus the lag; each answer with
the analyte's level at its time plus the lag. Per pair of outcomes: the repeated-measures
and the between-person correlation (:mod:`stresstrack.analysis.convergence`).

**Disagreement.** A session where the stress index and the self-reported stress moved in
opposite directions by at least :data:`INDEX_CHANGE` index points and :data:`VAS_CHANGE`
scale points (about the minimal important change of a 0-100 VAS, Kelly 2001), or where one
moved that much and the other did not move at all in its direction.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final

from stresstrack.analysis.convergence import Correlation, between_corr, rm_corr
from stresstrack.analysis.effects import study_effects
from stresstrack.endpoints.config import PHYSIOLOGY, SR_PREFIX, EndpointConfig
from stresstrack.endpoints.cortisol import Reactivity, level_at, session_reactivity
from stresstrack.events import LabSample, SelfReport
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.store.sqlite import Store

if TYPE_CHECKING:
    from stresstrack.analysis.sessions import Analysis, AnalysisSettings, SessionResult

__all__ = [
    "INDEX_CHANGE",
    "VAS_CHANGE",
    "ConvergenceRow",
    "EndpointAnalysis",
    "SessionEndpoints",
    "disagreement",
    "with_endpoints",
]

NS: Final = 1_000_000_000
SLACK_S: Final = 60.0
INDEX_CHANGE: Final = 5.0  # index points (0-100)
VAS_CHANGE: Final = 10.0  # points of a 0-100 visual analogue scale
CONVERGENCE_MEASURES: Final = ("stress_index", "hr", "rmssd", "scl")
Data = Sequence[tuple[str, Sequence[Session], Sequence[StressRow], Sequence[FeatureRow]]]


@dataclass(frozen=True, slots=True)
class SessionEndpoints:
    result: SessionResult  # with the endpoint values added to its periods
    reactivity: Mapping[str, Reactivity]  # analyte -> AUC
    verdict: str  # "" when body and mind agree (or cannot be compared)


@dataclass(frozen=True, slots=True)
class ConvergenceRow:
    outcome: str  # sr_<item> or an analyte
    measure: str  # stress_index, hr, rmssd, scl, or an sr_<item> (for analytes)
    within: Correlation
    between: Correlation


@dataclass(frozen=True, slots=True)
class EndpointAnalysis:
    sessions: Sequence[SessionEndpoints]
    convergence: Sequence[ConvergenceRow]
    outcomes: Sequence[str]  # endpoints found or declared besides physiology
    items: Mapping[str, str]  # sr_<item> -> question
    # (outcome, measure) -> (participant, outcome value, measure value) of every pair
    pairs: Mapping[tuple[str, str], Sequence[tuple[str, float, float]]] = field(
        default_factory=dict
    )


def _series(
    events: Iterable[SelfReport | LabSample],
) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """(participant, endpoint name) -> sorted (time, value)."""
    out: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    for e in events:
        name = SR_PREFIX + e.item if isinstance(e, SelfReport) else e.analyte
        out[(e.participant, name)].append((e.time_ns, e.value))
    for v in out.values():
        v.sort()
    return out


def _answer(points: Sequence[tuple[int, float]], lo: int, hi: int, last: bool) -> float | None:
    inside = [v for t, v in points if lo <= t <= hi]
    return (inside[-1] if last else inside[0]) if inside else None


def _values(
    r: SessionResult,
    series: Mapping[tuple[str, str], Sequence[tuple[int, float]]],
    cfg: EndpointConfig,
    s: AnalysisSettings,
) -> tuple[dict[str, float | None], dict[str, float | None], dict[str, Reactivity]]:
    sess = r.session
    end = sess.end_ns if sess.end_ns is not None else sess.start_ns
    slack = round(SLACK_S * NS)
    pre: dict[str, float | None] = {}
    during: dict[str, float | None] = {}
    auc: dict[str, Reactivity] = {}
    for (participant, name), points in series.items():
        if participant != sess.participant:
            continue
        if name.startswith(SR_PREFIX):
            # The slack never reaches past the session's middle: in a short session one
            # answer cannot count as both before and after.
            mid = (sess.start_ns + end) // 2
            lo_pre, hi_pre = sess.start_ns - round(s.pre_s * NS), min(sess.start_ns + slack, mid)
            pre[name] = _answer(points, lo_pre, hi_pre, True)
            lo_post = max(end - slack, mid + 1)
            during[name] = _answer(points, lo_post, end + round(s.post_s * NS), False)
            continue
        lag = cfg.lag_ns(name)
        times, vals = [t for t, _ in points], [v for _, v in points]
        pre[name] = level_at(times, vals, sess.start_ns + lag)
        during[name] = level_at(times, vals, end + lag)
        if sess.end_ns is not None and (
            x := session_reactivity(times, vals, sess.start_ns, end, lag)
        ):
            auc[name] = x
    return pre, during, auc


def disagreement(d_index: float | None, d_stress: float | None) -> str:
    """How the stress index's change and the self-reported stress change disagree, or "".

    >>> disagreement(-12.0, 20.0), disagreement(-12.0, -15.0), disagreement(1.0, -30.0)
    ('body calmer, feels more stressed', '', 'feels calmer, body unchanged')
    """
    if d_index is None or d_stress is None:
        return ""
    body = 0 if abs(d_index) < INDEX_CHANGE else (1 if d_index > 0 else -1)
    mind = 0 if abs(d_stress) < VAS_CHANGE else (1 if d_stress > 0 else -1)
    if body == mind or (body == 0 and mind == 0):
        return ""
    word = {1: "more stressed", -1: "calmer"}
    if body == 0:
        return f"feels {word[mind]}, body unchanged"
    if mind == 0:
        return f"body {word[body]}, feels unchanged"
    return f"body {word[body]}, feels {word[mind]}"


def _self_stress(r: SessionResult, items: Iterable[str]) -> float | None:
    """The self-reported stress change: the ``stress`` item, else ``calm`` reversed."""
    for name, sign in (("sr_stress", 1.0), ("sr_calm", -1.0)):
        if name in items:
            d = r.delta(name)
            if d is not None:
                return sign * d
    return None


def _pairs(
    data: Data,
    series: Mapping[tuple[str, str], Sequence[tuple[int, float]]],
    cfg: EndpointConfig,
    s: AnalysisSettings,
) -> dict[tuple[str, str], list[tuple[str, float, float]]]:
    from stresstrack.analysis.sessions import _Series

    span = round(cfg.window_minutes * 60 * NS)
    out: dict[tuple[str, str], list[tuple[str, float, float]]] = defaultdict(list)
    by_participant = {p: _Series(st, fe) for p, _, st, fe in data}
    for (participant, name), points in series.items():
        phys = by_participant.get(participant)
        lag = 0 if name.startswith(SR_PREFIX) else cfg.lag_ns(name)
        for t, v in points:
            if phys is not None:
                values = phys.period(t - lag - span, t - lag, s).values
                for m in CONVERGENCE_MEASURES:
                    x = values.get(m)
                    if x is not None and math.isfinite(x):
                        out[(name, m)].append((participant, v, x))
            if not name.startswith(SR_PREFIX):
                continue
            for (p2, analyte), lab in series.items():
                if p2 == participant and not analyte.startswith(SR_PREFIX):
                    level = level_at(
                        [a for a, _ in lab], [b for _, b in lab], t + cfg.lag_ns(analyte)
                    )
                    if level is not None:
                        out[(analyte, name)].append((participant, level, v))
    return out


def _convergence(
    pairs: Mapping[tuple[str, str], Sequence[tuple[str, float, float]]],
) -> list[ConvergenceRow]:
    rows = []
    for (outcome, measure), obs in sorted(pairs.items()):
        who, a, b = [o[0] for o in obs], [o[1] for o in obs], [o[2] for o in obs]
        rows.append(ConvergenceRow(outcome, measure, rm_corr(who, a, b), between_corr(who, a, b)))
    return rows


def _outcomes(analysis: Analysis, found: Sequence[str], cfg: EndpointConfig) -> Analysis:
    kinds = [r.session.kind for r in analysis.sessions]
    design = analysis.settings.resolved_design(kinds)
    if design is None:
        return analysis
    primary = cfg.primary or design.primary
    secondary = cfg.secondary if cfg.secondary is not None else (*design.secondary, *found)
    secondary = tuple(x for x in dict.fromkeys(secondary) if x != primary)
    design = replace(design, primary=primary, secondary=secondary)
    return replace(analysis, effects=study_effects(analysis.sessions, analysis.groups, design))


def with_endpoints(analysis: Analysis, store: Store, cfg: EndpointConfig, data: Data) -> Analysis:
    """``analysis`` with the store's self-report and lab endpoints added (see the module);
    unchanged when the store holds none and the study file declares none."""
    events = [
        e
        for e in store.iter_events(types=("selfreport", "lab"))
        if isinstance(e, SelfReport | LabSample)
    ]
    declared = [x for x in (cfg.primary, *(cfg.secondary or ())) if x and x not in PHYSIOLOGY]
    if not events and not declared:
        return analysis
    series = _series(events)
    found = sorted({name for _, name in series})
    s = analysis.settings
    results: list[SessionResult] = []
    per_session: list[SessionEndpoints] = []
    for r in analysis.sessions:
        pre, during, auc = _values(r, series, cfg, s)
        r2 = replace(
            r,
            pre=replace(r.pre, values={**r.pre.values, **pre}),
            during=replace(r.during, values={**r.during.values, **during}),
        )
        results.append(r2)
        verdict = _self_stress(r2, found)
        per_session.append(
            SessionEndpoints(r2, auc, disagreement(r2.delta("stress_index"), verdict))
        )
    enriched = replace(analysis, sessions=results)
    enriched = _outcomes(enriched, [*found, *(d for d in declared if d not in found)], cfg)
    items = {SR_PREFIX + k: v.question for k, v in cfg.items.items()}
    pairs = _pairs(data, series, cfg, s)
    conv = _convergence(pairs)
    endpoints = EndpointAnalysis(per_session, conv, found, items, dict(pairs))
    return replace(enriched, endpoints=endpoints)
