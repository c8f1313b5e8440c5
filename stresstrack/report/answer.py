"""The report's first section, the study's answer: the primary controlled estimate in plain
words and in numbers, carry-over, the secondary outcomes, for whom, and responders.

Pure: an :class:`~stresstrack.analysis.effects.StudyEffects` in, HTML text out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

from stresstrack.analysis import Analysis
from stresstrack.analysis.breakdowns import Breakdown
from stresstrack.analysis.effects import NOT_CAUSAL, CarryOver, Effect, StudyEffects
from stresstrack.report.charts import _esc, _fmt

__all__ = ["answer_section", "headline"]


def _p(x: float) -> str:
    if not math.isfinite(x):
        return "–"
    return "< 0.001" if x < 0.001 else f"{x:.3f}"


_OUTCOME_NAMES: Final = {
    "stress_index": ("stress index", "points"),
    "hr": ("heart rate", "bpm"),
    "rmssd": ("RMSSD", "ms"),
    "scl": ("skin conductance level", "µS"),
    "scr_rate": ("SCR rate (≥ 0.05 µS)", "/min"),  # ns_scr_per_min (analysis/sessions.py)
    "hr_z": ("heart-rate component", "z"),
    "ln_rmssd_z": ("ln RMSSD component", "z"),
    "scl_z": ("SCL component", "z"),
    "scr_rate_z": ("SCR-rate component", "z"),
}


def _ci(ci: tuple[float, float], spec: str = ".1f") -> str:
    return f"{_fmt(ci[0], spec)} to {_fmt(ci[1], spec)}"


def headline(e: Effect, design_control: str) -> str:
    """The primary controlled estimate in plain words.

    >>> from stresstrack.analysis.effects import Effect
    >>> e = Effect("stress_index", "self-care vs rest", -12.3, (-15.0, -9.6), 0.0001, 0.0001,
    ...            -1.5, (-2.2, -0.8), 20, True, True)
    >>> print(headline(e, "rest"))  # doctest: +NORMALIZE_WHITESPACE
    Self-care lowered the stress index by 12.3 points (95 % CI 9.6 to 15.0) more than rest,
    in 20 participants.
    """
    treatment = e.contrast.split(" vs ")[0]
    name, unit = _OUTCOME_NAMES.get(e.outcome, (e.outcome, ""))
    who = f"in {e.n_participants} participant{'s' if e.n_participants != 1 else ''}"
    if not math.isfinite(e.estimate):
        return f"No estimate of {treatment} against {design_control}: {e.note}."
    lo, hi = e.ci
    if lo <= 0 <= hi:
        return (
            f"{treatment.capitalize()} and {design_control} did not differ clearly: the "
            f"{name} was {e.estimate:+.1f} {unit} with {treatment} compared with "
            f"{design_control} (95 % CI {lo:+.1f} to {hi:+.1f}, compatible with no "
            f"difference), {who}."
        )
    verb = "lowered" if e.estimate < 0 else "raised"
    a, b = sorted((abs(lo), abs(hi)))
    return (
        f"{treatment.capitalize()} {verb} the {name} by {abs(e.estimate):.1f} {unit} "
        f"(95 % CI {a:.1f} to {b:.1f}) more than {design_control}, {who}."
    )


def answer_section(a: Analysis) -> str:
    """The study's answer first: the primary controlled estimate, then secondary outcomes,
    carry-over, for whom, responders."""
    fx: StudyEffects = a.effects
    head = '<section class="answer" id="answer"><h2>The answer</h2>'
    primary = fx.primary
    if primary is None or fx.design is None or fx.design.control is None:
        why = fx.note or "the study names no control condition"
        return (
            head + f'<p class="headline" id="headline">No controlled estimate: {_esc(why)}.</p>'
            f'<p class="caveat" id="not-causal">Every change shown below is during − pre: it '
            f"{_esc(NOT_CAUSAL.split(': ', 1)[1])}.</p></section>"
        )
    control = fx.design.control
    parts = [head, f'<p class="headline" id="headline">{_esc(headline(primary, control))}</p>']
    if math.isfinite(primary.estimate):
        parts.append(_primary_detail(primary, fx.design.smallest_effect))
    parts += [_carryover_note(c) for c in fx.carryover]
    parts.append(_secondary_table([e for e in fx.effects if e.controlled and not e.primary]))
    parts.append(_for_whom(fx.breakdowns, control))
    parts.append(_responders(fx))
    return "".join(parts) + "</section>"


def _primary_detail(primary: Effect, smallest_effect: float | None) -> str:
    """The primary estimate with its interval, p, dz, model and equivalence test."""
    tost = (
        f" Equivalence within ±{smallest_effect:g} (TOST): p {_p(primary.tost_p)}."
        if smallest_effect is not None
        else ""
    )
    return (
        f'<p class="detail" id="primary-detail">Primary outcome '
        f"<b>{_esc(_OUTCOME_NAMES.get(primary.outcome, (primary.outcome,))[0])}</b>, "
        f"{_esc(primary.contrast)}: estimate "
        f"{primary.estimate:+.2f} (95 % CI {_ci(primary.ci, '+.2f')}), p {_p(primary.p)}, "
        f"dz {_fmt(primary.dz, '+.2f')} (95 % CI {_ci(primary.dz_ci, '+.2f')}, noncentral "
        f"t), {primary.n_participants} participants with both conditions. Linear mixed "
        "model: outcome during the session ~ condition + period + the pre-session value, "
        f"random intercept per participant; Kenward–Roger t test on {primary.df:.1f} df."
        f"{tost}</p>"
    )


def _carryover_note(c: CarryOver) -> str:
    """Both carry-over checks in words: what each can and cannot see."""
    pre = c.pre
    pre_verdict = (
        "<b>flagged</b>: the calm (or stress) of the earlier condition was still there when "
        "the next one started, which can bias the estimate above; interpret with care"
        if pre.flagged
        else "not flagged"
    )
    pre_why = f" ({_esc(pre.note)})" if pre.note else ""
    grizzle = "<b>flagged</b>" if c.flagged else "not flagged"
    why = f" ({_esc(c.note)})" if c.note else ""
    return (
        f'<p class="note" id="carryover">Carry-over check: the pre-session value after '
        f"{_esc(c.treatment)} differed from that after the control by "
        f"{_fmt(pre.estimate, '+.2f')}, p {_p(pre.p)}: {pre_verdict} at p &lt; 0.05{pre_why}. "
        "This check compares each participant with themselves, so it sees carry-over that "
        "lasts into the next condition's pre window; it cannot see carry-over that shows only "
        f"in the response to the next condition. The {_esc(c.treatment)} × period term, "
        f"which would, has p {_p(c.p)} ({grizzle} at p &lt; 0.10{why}) but little power: it "
        "compares participants between orders. Neither check changes the analysis.</p>"
    )


def _secondary_table(secondary: Sequence[Effect]) -> str:
    """The controlled secondary outcomes, Holm-adjusted (empty without any)."""
    if not secondary:
        return ""
    parts = [
        '<h3>Secondary outcomes</h3><table class="secondary"><tr><th>Outcome</th>'
        "<th>Contrast</th><th>Estimate (95% CI)</th><th>p</th><th>p, Holm</th>"
        "<th>dz (95% CI)</th><th>n</th></tr>"
    ]
    for e in secondary:
        name, unit = _OUTCOME_NAMES.get(e.outcome, (e.outcome, ""))
        missing = f'<div class="missing">{_esc(e.note)}</div>' if e.note else ""
        parts.append(
            f'<tr data-outcome="{_esc(e.outcome)}"><td>{_esc(name)} ({_esc(unit)})</td>'
            f'<td>{_esc(e.contrast)}</td><td class="num">{_fmt(e.estimate, "+.2f")} '
            f'({_ci(e.ci, "+.2f")}){missing}</td><td class="num">{_p(e.p)}</td>'
            f'<td class="num">{_p(e.p_adjusted)}</td><td class="num">'
            f"{_fmt(e.dz, '+.2f')} ({_ci(e.dz_ci, '+.2f')})</td>"
            f'<td class="num">{e.n_participants}</td></tr>'
        )
    parts.append(
        '</table><p class="note">Holm-adjusted across the secondary outcomes of each '
        "contrast; the primary outcome is tested alone.</p>"
    )
    return "".join(parts)


def _for_whom(breakdowns: Sequence[Breakdown], control: str) -> str:
    """The effect by kind, mode or arm, each with its interaction test."""
    parts = ["<h3>For whom</h3>"]
    if not breakdowns:
        parts.append(
            '<p class="note" id="no-breakdown">One way of doing each condition and no study '
            "arms: nothing to break down. Differences between kinds, modes or arms are "
            "tested as an interaction (does the effect differ?), not by separate tests.</p>"
        )
    for b in breakdowns:
        parts.append(
            f'<table class="breakdown" data-moderator="{_esc(b.moderator)}"><tr><th>'
            f"{_esc(b.treatment)} by {_esc(b.moderator)}</th><th>Effect vs {_esc(control)} "
            "(95% CI)</th><th>n</th></tr>"
        )
        for lv in b.levels:
            parts.append(
                f'<tr><td>{_esc(lv.name)}</td><td class="num">{_fmt(lv.estimate, "+.2f")} '
                f'({_ci(lv.ci, "+.2f")})</td><td class="num">{lv.n_participants}</td></tr>'
            )
        parts.append(
            f'</table><p class="note">Interaction test (does the effect differ by '
            f"{_esc(b.moderator)}?): p {_p(b.p_interaction)}"
            + (f" ({_esc(b.note)})" if b.note else "")
            + "</p>"
        )
    return "".join(parts)


def _responders(fx: StudyEffects) -> str:
    """Reliable change per participant (Jacobson & Truax 1991); empty without responders."""
    if not fx.responders:
        return ""
    parts = [
        '<h3>Responders</h3><p class="note" id="responders">'
        + ", ".join(f"{_esc(k)}: {v}" for k, v in fx.responder_counts().items())
        + ". A participant's difference (condition − control, adjusted for period and "
        "pre value) counts as a reliable change when it exceeds 1.96 times its standard "
        "error from the model's residual variance (Jacobson &amp; Truax 1991).</p>"
        '<table class="responders"><tr><th>Participant</th><th>Difference</th>'
        "<th>Reliable change index</th><th>Classification</th></tr>"
    ]
    for r in fx.responders:
        parts.append(
            f'<tr data-participant="{_esc(r.participant)}"><td>{_esc(r.participant)}</td>'
            f'<td class="num">{r.difference:+.1f}</td><td class="num">{_fmt(r.rci, "+.2f")}'
            f"</td><td>{_esc(r.category)}</td></tr>"
        )
    parts.append("</table>")
    return "".join(parts)
