"""The study's answer: each condition against the control in a linear mixed model, and the
uncontrolled before / during changes, labelled as such (see docs/sessions.md).

**Controlled estimate.** One row per included session of a design condition (``Design``:
e.g. self-care and rest): the outcome during the session ``y``, its value in the pre window
``pre``, the condition, and the period (1 for a participant's first condition session, 2
for the second, ...). The model is

    y = b0 + Σ b_c·[condition = c] + Σ p_k·[period = k] + g·pre + u_participant + e

with a random intercept per participant (statsmodels ``MixedLM``, REML): an ANCOVA on the
pre value (Vickers & Altman 2001, *BMJ* 323:1123) within a crossover. ``b_c`` is condition
``c`` minus the control, in outcome units. Its SE, t and df are Kenward–Roger's (1997,
*Biometrics* 53:983; :mod:`stresstrack.analysis.kenward_roger`): the covariance of the fixed
effects adjusted for the estimated variances, and a t reference whose df reflects how much of
the estimate rests on between-participant information (the pre value varies between
participants); in designs where the test is exact (AB/BA without the covariate) it is the
classical t test. The between-within df (observations − participants − within-participant
fixed effects; SAS's DDFM=BW) remains only as the fallback when the adjustment is
unavailable. dz = t/√n (n participants with both conditions): Cohen's dz of the
covariate-adjusted within-participant differences, with its noncentral-t interval on the
same df.

**Carry-over checks** (:mod:`stresstrack.analysis.carryover`): a within-participant check of
the pre-session values (residual carry-over into the next condition's pre window; the flag)
beside the condition × period term (Grizzle 1965; between participants, low power; its
Kenward–Roger F test); both
reported, never used to switch analyses (Freeman 1989).

**Multiplicity.** The primary outcome's controlled contrast is tested alone; the secondary
outcomes of each contrast form a family adjusted with Holm's method (Holm 1979,
*Scand. J. Stat.* 6:65; family-wise error) by default, or Benjamini-Hochberg's (1995, *J. R.
Stat. Soc. B* 57:289; false discovery rate) with ``multiplicity = "bh"`` in the study file's
``[design]``. **Equivalence**: with a smallest effect of interest, the two
one-sided tests (TOST) on the primary estimate.

**For whom.** Whether the effect differs by how self-care was done (kind · mode · label
levels of a condition) or by study arm is an *interaction* test (a Wald F test that the
level-specific effects are equal; Kenward–Roger), not separate tests per level. **Responders**: each
participant's covariate-adjusted difference (condition − control) divided by its standard
error from the model's residual variance, the reliable change index of Jacobson & Truax
(1991, *J. Consult. Clin. Psychol.* 59:12): beyond ±1.96 is a reliable change.

**Without a control** only during − pre per group remains; every such row is marked
``controlled = False`` and carries :data:`NOT_CAUSAL`.
"""

# Size (issue 17): over 400 lines because the controlled estimate is one model (data rows,
# mixed model fit, contrasts, carry-over) whose parts share the design; ``_controlled_rows``
# builds the model's rows in one pass over the sessions (condition, period, pre value).

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from stresstrack.analysis.breakdowns import (
    Breakdown,
    Responder,
    study_breakdowns,
    study_responders,
)
from stresstrack.analysis.carryover import CARRYOVER_ALPHA, CarryOver, carryover_checks
from stresstrack.analysis.mixed_model import (
    Matrix,
    ModelFit,
    Row,
    bw_df,
    contrast_test,
    design_matrix,
    fit_mixed,
    participants_with_both,
    unit_vector,
)
from stresstrack.analysis.stats import NAN, adjust_p, dz_interval, tost_p
from stresstrack.session.protocol import Design

if TYPE_CHECKING:
    from stresstrack.analysis.sessions import GroupSummary, SessionResult

__all__ = [
    "CARRYOVER_ALPHA",
    "NOT_CAUSAL",
    "NOT_CONDITIONS",
    "CarryOver",
    "Effect",
    "StudyEffects",
    "condition_rows",
    "default_design",
    "row_effects",
    "study_effects",
]

FloatArray = npt.NDArray[np.float64]
NOT_CAUSAL: Final = (
    "during − pre: includes natural recovery and time effects; not a causal estimate"
)
# Phase kinds that are never conditions when a design is derived from --control alone.
NOT_CONDITIONS: Final = frozenset({"baseline", "stressor", "recovery"})


@dataclass(frozen=True, slots=True)
class Effect:
    """One outcome × contrast: a row of effects.csv."""

    outcome: str
    contrast: str
    estimate: float
    ci: tuple[float, float]
    p: float
    p_adjusted: float
    dz: float
    dz_ci: tuple[float, float]
    n_participants: int
    primary: bool
    controlled: bool
    se: float = NAN
    df: float = NAN
    tost_p: float = NAN
    note: str = ""  # why a number is missing, or what the row is not


@dataclass(frozen=True, slots=True)
class StudyEffects:
    design: Design | None
    effects: Sequence[Effect]
    carryover: Sequence[CarryOver] = ()
    breakdowns: Sequence[Breakdown] = ()
    responders: Sequence[Responder] = ()
    orders: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    note: str = ""  # why there is no controlled estimate

    @property
    def primary(self) -> Effect | None:
        return next((e for e in self.effects if e.primary), None)

    def responder_counts(self) -> dict[str, int]:
        """Participants per responder category, sorted by category."""
        counts: dict[str, int] = {}
        for r in self.responders:
            counts[r.category] = counts.get(r.category, 0) + 1
        return dict(sorted(counts.items()))


def default_design(kinds: Sequence[str], control: str) -> Design:
    """The design ``--control KIND`` implies: every session kind but baselines, stressors
    and recoveries is a condition."""
    conditions = [k for k in dict.fromkeys(kinds) if k not in NOT_CONDITIONS and k != control]
    return Design(conditions=(*conditions, control), control=control)


def condition_rows(results: Sequence[SessionResult], design: Design, outcome: str) -> list[Row]:
    """Included sessions of the design's conditions with a pre and during value; period =
    the session's rank among the participant's condition sessions (all, included or not)."""
    by: dict[str, list[SessionResult]] = defaultdict(list)
    for r in results:
        if r.session.kind in design.conditions:
            by[r.session.participant].append(r)
    out = []
    for participant, rs in sorted(by.items()):
        follows = ""
        for period, r in enumerate(sorted(rs, key=lambda x: x.session.start_ns), 1):
            pre, during = r.value(outcome, "pre"), r.value(outcome, "during")
            s = r.session
            if r.included and pre is not None and during is not None:
                level = " · ".join(x for x in (s.kind, s.mode, s.label) if x)
                out.append(Row(participant, s.kind, level, r.arm, period, pre, during, follows))
            follows = s.kind
    return out


def _confounded(rows: Sequence[Row]) -> bool:
    """Every participant saw the conditions in one order (and there is more than one period):
    the condition's effect cannot be told from the period's."""
    seq: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for r in rows:
        seq[r.participant].append((r.period, r.condition))
    periods = {r.period for r in rows}
    by_period: dict[int, set[str]] = defaultdict(set)
    for r in rows:
        by_period[r.period].add(r.condition)
    return len(periods) > 1 and all(len(c) == 1 for c in by_period.values())


def _controlled(
    results: Sequence[SessionResult], design: Design, outcome: str, primary_treatment: str
) -> tuple[list[Effect], ModelFit | None, Matrix | None, list[Row]]:
    rows = condition_rows(results, design, outcome)
    return (*_controlled_rows(rows, design, outcome, primary_treatment), rows)


def row_effects(
    rows: Sequence[Row], design: Design, outcome: str = "stress_index", *, carryover: bool = True
) -> tuple[list[Effect], list[CarryOver]]:
    """The controlled estimates (and carry-over checks) of condition rows built elsewhere
    (e.g. the session-summary simulations of validation/session_effect.py)."""
    effects, _, _ = _controlled_rows(rows, design, outcome, design.treatments[0])
    return effects, carryover_checks(rows, design) if carryover else []


def _controlled_rows(
    rows: Sequence[Row], design: Design, outcome: str, primary_treatment: str
) -> tuple[list[Effect], ModelFit | None, Matrix | None]:
    assert design.control is not None
    primary = outcome == design.primary
    out = []
    fit: ModelFit | None = None
    m: Matrix | None = None
    why = ""
    treatments = [t for t in design.treatments if any(r.condition == t for r in rows)]
    if not any(r.condition == design.control for r in rows):
        why = f"no included {design.control} session"
    elif not treatments:
        why = "no included session of a condition other than the control"
    elif _confounded(rows):
        why = (
            "condition and period are confounded: every participant had the conditions in "
            "the same order (counterbalance the order: a protocol [design] with blocks)"
        )
    else:
        m = design_matrix(rows, design)
        df = bw_df(m)
        if df < 1:
            why = f"too few participants for the model ({len(set(m.groups))})"
        else:
            try:
                fit = fit_mixed(m.y, m.x, m.groups)
            except ValueError as exc:
                why = str(exc)
    for t in design.treatments:
        contrast = f"{t} vs {design.control}"
        n = participants_with_both(rows, t, design.control)
        is_primary = primary and t == primary_treatment
        if fit is None or m is None or f"c:{t}" not in m.columns:
            note = why or f"no included {t} session"
            out.append(
                Effect(
                    outcome,
                    contrast,
                    NAN,
                    (NAN, NAN),
                    NAN,
                    NAN,
                    NAN,
                    (NAN, NAN),
                    n,
                    is_primary,
                    True,
                    note=note,
                )
            )
            continue
        c = contrast_test(fit, unit_vector(m.columns, f"c:{t}"), bw_df(m))
        est, se, tval, p, df = c.estimate, c.se, c.t, c.p, c.df
        half = c.half_width()
        dz = tval / math.sqrt(n) if n >= 2 and math.isfinite(tval) else NAN
        dz_ci = dz_interval(tval, n, df) if n >= 2 else (NAN, NAN)
        tost = NAN
        if is_primary and design.smallest_effect is not None:
            tost = tost_p(est, se, df, design.smallest_effect)
        note = "" if n >= 2 else f"dz needs 2 participants with both conditions ({n})"
        out.append(
            Effect(
                outcome,
                contrast,
                est,
                (est - half, est + half),
                p,
                p,
                dz,
                dz_ci,
                n,
                is_primary,
                True,
                se=se,
                df=df,
                tost_p=tost,
                note=note,
            )
        )
    return out, fit, m


def _uncontrolled(
    groups: Sequence[GroupSummary], outcomes: Sequence[str], multiplicity: str = "holm"
) -> list[Effect]:
    out = []
    for g in groups:
        contrast = f"during − pre: {g.label or '(no kind)'}"
        family = []
        for outcome in outcomes:
            s = g.during.get(outcome)
            if s is None:  # self-report and lab endpoints: controlled rows only
                continue
            note = NOT_CAUSAL
            if s.n < 2:
                note += f"; tests need 2 participants ({s.n})"
            elif not math.isfinite(s.dz):
                note += "; dz undefined: every participant changed by the same amount"
            family.append(
                Effect(
                    outcome,
                    contrast,
                    s.mean_delta,
                    s.mean_ci,
                    s.ttest_p,
                    NAN,
                    s.dz,
                    s.dz_ci,
                    s.n,
                    False,
                    False,
                    note=note,
                )
            )
        adjusted = adjust_p([e.p for e in family], multiplicity)
        out += [_with_p_adjusted(e, p) for e, p in zip(family, adjusted, strict=True)]
    return out


def _with_p_adjusted(e: Effect, p: float) -> Effect:
    from dataclasses import replace

    return replace(e, p_adjusted=p)


def study_effects(
    results: Sequence[SessionResult],
    groups: Sequence[GroupSummary],
    design: Design | None,
) -> StudyEffects:
    """The controlled estimates (with a design that has a control), carry-over, breakdowns,
    responders, and the uncontrolled during − pre rows of every group."""
    outcomes = (
        (design.primary, *design.secondary)
        if design is not None
        else ("stress_index", "hr", "rmssd", "scl", "scr_rate")
    )
    effects: list[Effect] = []
    carry: list[CarryOver] = []
    breakdowns: list[Breakdown] = []
    responders: list[Responder] = []
    note = ""
    orders: dict[str, tuple[str, ...]] = {}
    if design is not None and design.control is not None and design.treatments:
        primary_treatment = design.treatments[0]
        for outcome in outcomes:
            rows_effects, fit, m, rows = _controlled(results, design, outcome, primary_treatment)
            if outcome == design.primary:
                carry = carryover_checks(rows, design)
                breakdowns = study_breakdowns(rows, design)
                if fit is not None and m is not None:
                    responders = study_responders(rows, fit, m, design, outcome)
                seq: dict[str, list[tuple[int, str]]] = defaultdict(list)
                for r in rows:
                    seq[r.participant].append((r.period, r.condition))
                orders = {p: tuple(c for _, c in sorted(v)) for p, v in seq.items()}
            effects += rows_effects
        # Holm (or BH) across the secondary outcomes of each contrast; the primary row
        # stands alone.
        by_contrast: dict[str, list[int]] = defaultdict(list)
        for i, e in enumerate(effects):
            if not e.primary:
                by_contrast[e.contrast].append(i)
        for idx in by_contrast.values():
            adjusted = adjust_p([effects[i].p for i in idx], design.multiplicity)
            for i, p in zip(idx, adjusted, strict=True):
                effects[i] = _with_p_adjusted(effects[i], p)
    elif design is None or design.control is None:
        note = (
            "no control condition: only during − pre is reported, which includes natural "
            "recovery and time effects and is not a causal estimate (use a protocol with a "
            "[design] control, e.g. stress-selfcare-vs-rest, or --control KIND)"
        )
    effects += _uncontrolled(groups, outcomes, design.multiplicity if design else "holm")
    return StudyEffects(design, effects, carry, breakdowns, responders, orders, note)
