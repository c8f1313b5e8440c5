"""The fairness audit's session-effect row: the group × condition interaction.

The controlled model of :mod:`stresstrack.analysis.effects` (condition, period, pre value,
random intercept per participant) with a group term and group × condition terms, fitted on
the primary outcome: the interaction coefficient is the effect of the first treatment in the
group minus its effect in the other participants, with its Kenward–Roger t interval
(:mod:`stresstrack.analysis.kenward_roger`), as for the study's own per-arm breakdown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from stresstrack.analysis.audit import SESSION_EFFECT_BOUND, Comparison
from stresstrack.analysis.effects import condition_rows
from stresstrack.analysis.group_stats import Difference
from stresstrack.analysis.mixed_model import (
    Row,
    bw_df,
    contrast_test,
    design_matrix,
    fit_mixed,
    unit_vector,
)
from stresstrack.analysis.sessions import Analysis
from stresstrack.session.protocol import Design

__all__ = ["session_effect_comparisons"]

LABEL = "session effect: group × condition interaction (primary outcome)"


def session_effect_comparisons(
    analysis: Analysis,
    attribute: str,
    pairs: Sequence[tuple[str, str, list[str], list[str]]],
) -> tuple[list[Comparison], str]:
    """One comparison per pair, or none and why."""
    design = analysis.effects.design
    if design is None or design.control is None or not design.treatments:
        return [], "no controlled design (a control condition): no session-effect comparison"
    treatment = design.treatments[0]
    bound = design.smallest_effect or SESSION_EFFECT_BOUND
    rows = condition_rows(analysis.sessions, design, design.primary)
    out = []
    for group, other, ps, qs in pairs:
        # "1" sorts after "0": the interaction term is the group minus the others.
        side = {**dict.fromkeys(qs, "0"), **dict.fromkeys(ps, "1")}
        tagged = [replace(r, arm=side[r.participant]) for r in rows if r.participant in side]
        diff, note = _interaction(tagged, design, treatment, len(ps), len(qs))
        out.append(
            Comparison(attribute, group, other, "session_effect", f"{LABEL}: {treatment}",
                       diff, bound, note)
        )  # fmt: skip
    return out, ""


def _interaction(
    typed: Sequence[Row], design: Design, treatment: str, n_a: int, n_b: int
) -> tuple[Difference, str]:
    none = Difference(math.nan, (math.nan, math.nan), math.nan, math.nan, n_a, n_b)
    if len({r.arm for r in typed}) < 2:
        return none, "needs included condition sessions in both groups"
    m = design_matrix(typed, design, arms=True)
    name = f"c:{treatment}×arm:1"
    df = bw_df(m)
    if name not in m.columns or df < 1:
        return none, "too few participants for the model with the group term"
    try:
        fit = fit_mixed(m.y, m.x, m.groups)
    except ValueError as exc:
        return none, str(exc)
    c = contrast_test(fit, unit_vector(m.columns, name), df)
    est, half = c.estimate, c.half_width()
    base = contrast_test(fit, unit_vector(m.columns, f"c:{treatment}"), df).estimate
    return Difference(est, (est - half, est + half), base + est, base, n_a, n_b), ""
