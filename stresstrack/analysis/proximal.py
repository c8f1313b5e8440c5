"""The proximal effect of just-in-time prompts, from a micro-randomised design.

At each decision point (:mod:`stresstrack.companion.prompts`) the participant was prompted
with a known probability ``p``. The *proximal effect* is the mean difference in the outcome
over the next ``horizon`` (30 min by default) between prompted and unprompted decision points
(Klasnja et al. 2015, Health Psychol. 34S:1220; Boruvka et al. 2018, JASA 113:1112).

Outcome ``Y``: the mean stress index over the windows ending in ``(t, t + horizon]`` minus the
index at the decision point (so moments of different stress levels compare). A decision point
whose horizon holds indices for less than ``min_coverage`` of the expected windows is left out.

Estimator: the weighted and centred least squares of Boruvka et al. with a constant
randomisation probability, i.e. ordinary least squares of ``Y`` on ``(1, A - p)`` (the weights
are all 1); ``β`` of ``A - p`` is the marginal proximal effect. Its standard error is the
cluster-robust sandwich with participants as clusters (CR1 small-sample factor) and the CI
uses Student's t with ``G - 1`` degrees of freedom, ``G`` the number of participants; with a
single participant the decision points are the clusters.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from scipy import stats

from stresstrack.events import Marker, MarkerAction
from stresstrack.outputs import private_output
from stresstrack.pipeline.results import StressRow
from stresstrack.store.sqlite import Store

__all__ = [
    "DecisionOutcome",
    "ProximalEffect",
    "decision_outcomes",
    "proximal_effect",
    "store_proximal",
    "write_proximal",
]

NS: Final = 1_000_000_000
DECISION_KIND: Final = "jit-decision"  # stresstrack.companion.prompts.DECISION


@dataclass(frozen=True, slots=True)
class DecisionOutcome:
    participant: str
    time_ns: int
    prompted: bool
    probability: float
    outcome: float  # mean index over the horizon minus the index at the decision point


@dataclass(frozen=True, slots=True)
class ProximalEffect:
    n_decisions: int
    n_prompted: int
    n_participants: int
    effect: float | None  # prompted - unprompted, stress index points
    se: float | None
    ci_low: float | None
    ci_high: float | None
    df: int
    p_value: float | None
    reason: str = ""


def decision_outcomes(
    markers: Iterable[Marker],
    stress: Sequence[StressRow],
    *,
    horizon_s: float = 1800.0,
    hop_s: float = 5.0,
    min_coverage: float = 0.5,
) -> list[DecisionOutcome]:
    """One outcome per stored decision point with enough stress index in its horizon."""
    by_participant: dict[str, list[StressRow]] = {}
    for r in stress:
        if r.index is not None:
            by_participant.setdefault(r.participant, []).append(r)
    out = []
    for m in markers:
        if m.kind != DECISION_KIND or m.action is not MarkerAction.EVENT:
            continue
        note = json.loads(m.note)
        rows = by_participant.get(m.participant, [])
        end = m.time_ns + round(horizon_s * NS)
        after = [r.index for r in rows if m.time_ns < r.time_ns <= end and r.index is not None]
        if len(after) < min_coverage * horizon_s / hop_s:
            continue
        out.append(
            DecisionOutcome(
                participant=m.participant,
                time_ns=m.time_ns,
                prompted=bool(note["prompted"]),
                probability=float(note["probability"]),
                outcome=float(np.mean(after)) - float(note["index"]),
            )
        )
    return out


def proximal_effect(outcomes: Sequence[DecisionOutcome]) -> ProximalEffect:
    """WCLS estimate of the proximal effect with its cluster-robust 95 % CI.

    >>> o = [DecisionOutcome("P1", i, i % 2 == 0, 0.5, -10.0 * (i % 2 == 0) + i % 3)
    ...      for i in range(12)]
    >>> round(proximal_effect(o).effect, 6)
    -10.0
    """
    n = len(outcomes)
    prompted = sum(o.prompted for o in outcomes)
    participants = sorted({o.participant for o in outcomes})

    def empty(reason: str) -> ProximalEffect:
        return ProximalEffect(n, prompted, len(participants), None, None, None, None, 0, None,
                              reason)  # fmt: skip

    if n < 3 or prompted == 0 or prompted == n:
        return empty(
            "needs prompted and unprompted decision points (0 < p < 1) with the stress index "
            "over the horizon after them"
        )
    a = np.array([float(o.prompted) - o.probability for o in outcomes])
    x = np.column_stack([np.ones(n), a])
    y = np.array([o.outcome for o in outcomes])
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    resid = y - x @ beta
    groups = (
        [o.participant for o in outcomes] if len(participants) > 1 else list(range(n))
    )  # one participant: each decision point is its own cluster
    g_ids = sorted(set(groups), key=str)
    g = len(g_ids)
    if g < 2:
        return empty("needs at least two clusters")
    index = {k: i for i, k in enumerate(g_ids)}
    scores = np.zeros((g, 2))
    for row, grp in enumerate(groups):
        scores[index[grp]] += x[row] * resid[row]
    k = x.shape[1]
    factor = g / (g - 1) * (n - 1) / (n - k)
    cov = factor * xtx_inv @ (scores.T @ scores) @ xtx_inv
    se = math.sqrt(float(cov[1, 1]))
    df = g - 1
    effect = float(beta[1])
    q = float(stats.t.ppf(0.975, df))
    p_value = float(2 * stats.t.sf(abs(effect / se), df)) if se > 0 else None
    return ProximalEffect(n, prompted, len(participants), effect, se, effect - q * se,
                          effect + q * se, df, p_value)  # fmt: skip


def store_proximal(store: Store, *, horizon_s: float = 1800.0) -> ProximalEffect | None:
    """The proximal effect of the prompts recorded in a store, or ``None`` without any."""
    markers = [
        e
        for e in store.iter_events(types=("marker",))  # not the EDA/beat bulk of the store
        if isinstance(e, Marker) and e.kind == DECISION_KIND
    ]
    if not markers:
        return None
    rows = store.stress()
    times = sorted({r.time_ns for r in rows})
    hop_s = float(np.median(np.diff(times))) / NS if len(times) > 1 else 5.0
    return proximal_effect(decision_outcomes(markers, rows, horizon_s=horizon_s, hop_s=hop_s))


def write_proximal(effect: ProximalEffect, path: Path) -> str:
    """Write ``proximal.csv`` (one row) and return a line for the terminal."""
    fields = [f.name for f in dataclasses.fields(ProximalEffect)]
    with private_output(path, newline="") as f:  # participant data: owner-only (0600)
        writer = csv.writer(f)
        writer.writerow(fields)
        writer.writerow(["" if getattr(effect, k) is None else getattr(effect, k) for k in fields])
    if effect.effect is None:
        return f"prompts: {effect.n_decisions} decision points, no proximal effect: {effect.reason}"
    assert effect.ci_low is not None and effect.ci_high is not None
    return (
        f"prompts: proximal effect on the stress index over 30 min {effect.effect:+.1f} "
        f"[{effect.ci_low:+.1f}, {effect.ci_high:+.1f}] ({effect.n_prompted} of "
        f"{effect.n_decisions} decision points prompted, {effect.n_participants} participant(s))"
    )
