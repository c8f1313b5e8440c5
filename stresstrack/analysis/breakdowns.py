"""Secondary answers of the study's mixed model (:mod:`stresstrack.analysis.effects`): the
effect per level of how a condition was done or per arm, with the interaction test, and each
participant's reliable change (Jacobson & Truax 1991, *J. Consult. Clin. Psychol.* 59:12).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from stresstrack.analysis.mixed_model import (
    Matrix,
    ModelFit,
    Row,
    bw_df,
    contrast_test,
    design_matrix,
    fit_or_none,
    participants_with_both,
    unit_vector,
    wald_p,
)
from stresstrack.analysis.stats import NAN
from stresstrack.session.protocol import Design

__all__ = [
    "LOWER_IS_CALMER",
    "RCI_Z",
    "Breakdown",
    "Level",
    "Responder",
    "study_breakdowns",
    "study_responders",
]


RCI_Z: Final = 1.96


# Outcomes where a lower value means less stress (RMSSD: higher is calmer).
LOWER_IS_CALMER: Final = frozenset(
    {"stress_index", "hr_z", "scl_z", "scr_rate_z", "hr", "scl", "scr_rate"}
)


@dataclass(frozen=True, slots=True)
class Level:
    name: str
    estimate: float
    ci: tuple[float, float]
    n_participants: int


@dataclass(frozen=True, slots=True)
class Breakdown:
    """The effect of ``treatment`` per level of ``moderator``, and the interaction test."""

    treatment: str
    moderator: str  # "how" (kind · mode · label) or "arm"
    levels: Sequence[Level]
    p_interaction: float
    note: str = ""


@dataclass(frozen=True, slots=True)
class Responder:
    participant: str
    treatment: str
    difference: float  # adjusted condition − control, outcome units
    rci: float
    category: str  # "reliably calmer", "no reliable change", "reliably more stressed"


def study_breakdowns(rows: Sequence[Row], design: Design) -> list[Breakdown]:
    out = []
    for t in design.treatments:
        levels = list(dict.fromkeys(r.level for r in rows if r.condition == t))
        if len(levels) > 1:
            m = design_matrix(rows, design, levels=True)
            out.append(_level_breakdown(rows, m, design, t, levels))
        arms = sorted({r.arm for r in rows})
        if len(arms) > 1:
            m = design_matrix(rows, design, arms=True)
            out.append(_arm_breakdown(rows, m, design, t, arms))
    return out


def _level_breakdown(
    rows: Sequence[Row], m: Matrix, design: Design, t: str, levels: list[str]
) -> Breakdown:
    assert design.control is not None
    df = bw_df(m)
    fit = fit_or_none(m, df)
    if fit is None:
        return Breakdown(t, "how", [], NAN, "too few participants to compare how it was done")
    out = []
    for lv in levels:
        c = contrast_test(fit, unit_vector(m.columns, f"c:{lv}"), df)
        est, half = c.estimate, c.half_width()
        n = participants_with_both(rows, lv, design.control, "level")
        out.append(Level(lv, est, (est - half, est + half), n))
    first = unit_vector(m.columns, f"c:{levels[0]}")
    diffs = np.array([unit_vector(m.columns, f"c:{lv}") - first for lv in levels[1:]])
    return Breakdown(t, "how", out, wald_p(fit, diffs, df))


def _arm_breakdown(
    rows: Sequence[Row], m: Matrix, design: Design, t: str, arms: list[str]
) -> Breakdown:
    df = bw_df(m)
    fit = fit_or_none(m, df)
    if fit is None:
        return Breakdown(t, "arm", [], NAN, "too few participants per arm")
    out = []
    for a in arms:
        vec = unit_vector(m.columns, f"c:{t}")
        if a != arms[0]:
            vec = vec + unit_vector(m.columns, f"c:{t}×arm:{a}")
        c = contrast_test(fit, vec, df)
        est, half = c.estimate, c.half_width()
        n = len({r.participant for r in rows if r.arm == a and r.condition == t})
        out.append(Level(a or "(no arm)", est, (est - half, est + half), n))
    names = [f"c:{t}×arm:{a}" for a in arms[1:]]
    return Breakdown(
        t, "arm", out, wald_p(fit, np.array([unit_vector(m.columns, c) for c in names]), df)
    )


def study_responders(
    rows: Sequence[Row], fit: ModelFit, m: Matrix, design: Design, outcome: str
) -> list[Responder]:
    """Reliable change (Jacobson & Truax 1991) of each participant's adjusted difference."""
    # Adjusted outcome: y minus the period and pre terms (the participant's intercept cancels
    # in the difference of their conditions).
    nuisance = [i for i, c in enumerate(m.columns) if c.startswith("period:") or c == "pre"]
    adjusted = m.y - m.x[:, nuisance] @ fit.params[nuisance]
    calmer = -1.0 if outcome in LOWER_IS_CALMER else 1.0
    out = []
    for t in design.treatments:
        by: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for r, a in zip(rows, adjusted, strict=True):
            if r.condition in (t, design.control):
                by[r.participant][r.condition].append(float(a))
        for participant, v in sorted(by.items()):
            assert design.control is not None
            tr, ct = v.get(t, []), v.get(design.control, [])
            if not tr or not ct:
                continue
            diff = float(np.mean(tr) - np.mean(ct))
            se = math.sqrt(fit.scale * (1 / len(tr) + 1 / len(ct)))
            rci = diff / se if se > 0 else NAN
            category = "no reliable change"
            if math.isfinite(rci) and calmer * rci >= RCI_Z:
                category = "reliably calmer"
            elif math.isfinite(rci) and -calmer * rci >= RCI_Z:
                category = "reliably more stressed"
            out.append(Responder(participant, t, diff, rci, category))
    return out
