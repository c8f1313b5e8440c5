"""Carry-over checks of a crossover study's controlled estimate
(:mod:`stresstrack.analysis.effects`; docs/sessions.md, "Carry-over").

Two checks are reported side by side, and neither is used to switch analyses (the
two-stage procedure of Grizzle 1965 inflates the error rates; Freeman 1989, *Stat. Med.*
8:1421; Senn 2002, *Cross-over Trials in Clinical Research*, 2nd ed., ch. 3):

* **Pre-value check** (the flag, at p < :data:`PRE_CHECK_ALPHA`): *residual* carry-over, an
  earlier condition's effect still present when the next condition starts, shows in that
  condition's pre-session value. Each condition session's pre value is regressed on the
  participant (fixed effects), the period and the condition of the participant's previous
  condition session; the test is that the previous condition ``t`` leaves the same pre value
  as the previous control (ordinary least squares, t test on the residual df). Every term is
  a within-participant comparison, so between-participant spread does not dilute it. In an
  AB/BA crossover it is exactly the two-sample t test of (pre in period 2 - pre in period 1)
  between the two orders (Willan & Pater 1986, *Control. Clin. Trials* 7:282; Kenward &
  Jones 1987, *Stat. Med.* 6:911). It cannot see carry-over that changes only the response
  to the next condition and has faded from its pre window (or that starts after it).
* **Condition × period term** (Grizzle 1965, *Biometrics* 21:467): the mixed model with
  condition × period terms, joint Kenward–Roger F test
  (:mod:`stresstrack.analysis.kenward_roger`; the Wald F on participants - orders df only
  when that is unavailable), reported at p < :data:`CARRYOVER_ALPHA`. In two periods it is
  the sequence effect, a comparison *between* participants: it sees carry-over into the
  response too, but with little power (Brown 1980, *Biometrics* 36:69).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy import stats

from stresstrack.analysis.mixed_model import Row, design_matrix, fit_mixed, unit_vector, wald_p
from stresstrack.analysis.stats import NAN
from stresstrack.session.protocol import Design

__all__ = [
    "CARRYOVER_ALPHA",
    "PRE_CHECK_ALPHA",
    "CarryOver",
    "PreCheck",
    "carryover_checks",
    "pre_value_check",
]

CARRYOVER_ALPHA: Final = 0.10  # Grizzle's level for the (low-power) condition × period test
PRE_CHECK_ALPHA: Final = 0.05  # the pre-value check: a calibrated within-participant test


@dataclass(frozen=True, slots=True)
class PreCheck:
    """Pre value after ``treatment`` minus pre value after the control, within participants."""

    estimate: float
    p: float
    n_participants: int  # participants with a pre value in two or more periods
    note: str = ""  # why there is no p

    @property
    def flagged(self) -> bool:
        return bool(self.p < PRE_CHECK_ALPHA)


@dataclass(frozen=True, slots=True)
class CarryOver:
    """Both checks for one condition against the control; ``flagged`` is the condition ×
    period term at p < 0.10, ``pre`` the pre-value check (its own flag at p < 0.05)."""

    treatment: str
    p: float
    flagged: bool
    note: str = ""
    estimate: float = NAN  # the first condition × period term (two periods: the only one)
    pre: PreCheck = PreCheck(NAN, NAN, 0, "not computed")


def pre_value_check(rows: Sequence[Row], treatment: str, control: str) -> PreCheck:
    """The residual carry-over of ``treatment`` into the next condition's pre value (module
    docstring); rows need ``follows`` (the previous condition, "" in period 1)."""
    by: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by[r.participant].append(r)
    used = [r for rs in by.values() if len(rs) >= 2 for r in rs]
    n = sum(len(rs) >= 2 for rs in by.values())
    after = [r.follows == treatment for r in used]
    if not any(after) or not any(r.follows == control for r in used):
        why = (
            f"needs pre values after {treatment} and after {control} (participants with "
            "two periods)"
        )
        return PreCheck(NAN, NAN, n, why)
    people = sorted({r.participant for r in used})
    periods = sorted({r.period for r in used})[1:]
    others = sorted({r.follows for r in used} - {"", control, treatment})
    cols = [np.array([r.participant == p for r in used], dtype=float) for p in people]
    cols += [np.array([r.period == k for r in used], dtype=float) for k in periods]
    cols += [np.array([r.follows == o for r in used], dtype=float) for o in others]
    x = np.column_stack([*cols, np.array(after, dtype=float)])
    y = np.array([r.pre for r in used])
    rank = int(np.linalg.matrix_rank(x))
    df = len(y) - rank
    if rank < x.shape[1] or df < 1:
        why = "the previous condition cannot be told from the period and participant (orders)"
        return PreCheck(NAN, NAN, n, why if df >= 1 else "too few participants with two periods")
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    cov = float(resid @ resid) / df * np.linalg.inv(x.T @ x)
    est, se = float(beta[-1]), math.sqrt(max(float(cov[-1, -1]), 0.0))
    if not se > 0:
        return PreCheck(est, NAN, n, "the pre values leave no residual variation")
    return PreCheck(est, float(2 * stats.t.sf(abs(est / se), df)), n)


def carryover_checks(rows: Sequence[Row], design: Design) -> list[CarryOver]:
    """Both checks for every condition of ``design`` against its control."""
    assert design.control is not None
    out: list[CarryOver] = []
    if not rows:
        return out
    m = design_matrix(rows, design, carryover=True)
    sequences: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for r in rows:
        sequences[r.participant].append((r.period, r.condition))
    orders = {tuple(c for _, c in sorted(v)) for v in sequences.values()}
    df2 = float(len(sequences) - len(orders))
    try:
        fit = fit_mixed(m.y, m.x, m.groups) if df2 >= 1 else None
    except ValueError:
        fit = None
    for t in design.treatments:
        pre = pre_value_check(rows, t, design.control)
        names = [c for c in m.columns if c.startswith(f"c:{t}×period:")]
        if fit is None or not names:
            why = (
                "needs participants in at least two orders"
                if len(orders) < 2 or df2 < 1
                else "the model with condition × period terms could not be fitted"
            )
            out.append(CarryOver(t, NAN, False, why, pre=pre))
            continue
        p = wald_p(fit, np.array([unit_vector(m.columns, c) for c in names]), df2)
        est = float(fit.params[m.columns.index(names[0])])
        out.append(CarryOver(t, p, bool(p < CARRYOVER_ALPHA), estimate=est, pre=pre))
    return out
