"""The controlled crossover estimate and its carry-over checks, on simulated studies.

Run: ``python validation/crossover.py`` (or ``python validation/session_effect.py crossover``)
[--study-size 20] [--pipeline-studies 24] [--studies 500] [--carry-studies 100]
[--response-studies 0] [--effect-studies 0] [--sd-u SD] [--seed 1] [--workers N]. The
defaults are the documented run (docs/sessions.md): n = 20, since at n = 12 the pre-value
check flags the simulated residual carry-over in only about 57 % of studies, not
demonstrably "most". ``--sd-u`` replaces the summary model's participant SD (0: the
participant variance's boundary).

The default demo design (stress-selfcare-vs-rest: self-care vs rest after a stressor, AB/BA),
shortened for speed (``session_effect.crossover_protocol``: baseline 5 min; blocks of stressor
2 min, condition 3 min, recovery 1 min; pre window 2 min = the stressor).

* *Full pipeline*: simulated participants through the pipeline and the analysis,
  (a) no specific effect (self-care at the rest level 0.30: only period, order and noise);
  (b) **residual carry-over**: self-care's calm lingers, every phase after self-care (its
  recovery, the next block's stressor, rest and recovery) at its level - ``--carry``, so it
  shows in the next condition's pre window as in its response; (c) **response-only
  carry-over** (``--response-studies``): only the rest after self-care at the rest level -
  ``--carry``, the stressor before it untouched: carry-over the pre-value check cannot see.
* *Session-summary level* (``--studies``): the mixed model's own rows drawn from a documented
  model whose parameters are estimated from the full-pipeline null rows (pooled fit): for
  participant i in period k under condition c, ``pre_ik = m_pre + a_i + d_ik + lp·[k = 2,
  after self-care]``, ``y_ik = m_y + g·(pre_ik - m_pre) + p·[k = 2] + t·[c = self-care] +
  l·[k = 2, after self-care] + u_i + e_ik``, with a_i, d_ik, u_i, e_ik normal and independent
  (SDs estimated from the pipeline rows); lp and l are the carry-over the pipeline runs (b)
  estimated. The specific effect t is set from dz: t = dz·√2·SD(e) (the definition
  ``stresstrack power`` uses).

Claims checked (PASS only when all hold): the primary estimate's false-positive rate and the
pre-value check's false-flag rate are not significantly above 5 % (one-sided exact binomial
test, p >= 0.05), in the pipeline and at the summary level; the empirical power at dz 0.5,
n = 20 is within 5 points of ``stresstrack power``; residual carry-over is flagged in *most*
studies: the lower end of the exact 95 % interval of the pre-value check's flag rate is above
50 %, in the pipeline at ``--study-size``. The condition × period term's rates are printed
beside, as is response-only carry-over (no claim: see docs/sessions.md), and, on the same
null summary studies, the rate of an exact test of the same contrast (:func:`within_t_p`),
which tells a liberal test from a lucky draw of studies.
"""

# Size (issue 13): a little over 400 lines because the exact reference test of the null
# studies (within_t_p) sits beside the studies whose rates it checks.

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
from scipy import stats
from session_effect import (
    REST_LEVEL,
    XARTEFACTS,
    XSETTINGS,
    above_alpha_p,
    binomial_ci,
    crossover_protocol,
    simulate,
)

from stresstrack.analysis import analyze
from stresstrack.analysis.carryover import CARRYOVER_ALPHA, CarryOver, PreCheck
from stresstrack.analysis.effects import condition_rows, row_effects
from stresstrack.analysis.mixed_model import Row, fit_mixed
from stresstrack.analysis.power import power
from stresstrack.session.protocol import Protocol
from stresstrack.simulators.physiology import ParticipantParams, phase_level

CARRY_KINDS = ("none", "residual", "response")


def with_carryover(protocol: Protocol, carry: float, kind: str = "residual") -> Protocol:
    """Self-care's calm lingers by ``carry`` (stress level): ``residual``, in every phase
    after self-care; ``response``, only in the rest after it."""
    phases = list(protocol.phases)
    seen_self_care = False
    for i, p in enumerate(phases):
        if seen_self_care and (kind == "residual" or p.kind == "rest"):
            phases[i] = replace(p, simulated_stress=phase_level(p) - carry)
        seen_self_care |= p.kind == "self-care"
    return replace(protocol, phases=tuple(phases))


@dataclass(frozen=True)
class CrossoverResult:
    estimate: float
    p: float
    n: int
    carry: CarryOver
    rows: list[Row]


def crossover_study(args: tuple[int, int, float, float, str]) -> CrossoverResult:
    """One full-pipeline crossover study: ``n`` participants (AB/BA), self-care at
    ``level``, carry-over ``carry`` of ``kind`` after self-care."""
    n, seed, level, carry, kind = args
    rng = np.random.default_rng([seed, 11])
    base = crossover_protocol(level)
    data = []
    for i in range(n):
        protocol = base.for_participant(i)
        if carry and base.order_for(i)[0] == "self-care":
            protocol = with_carryover(protocol, carry, kind)
        p = simulate(
            f"x-{i:03d}", protocol, ParticipantParams.draw(rng), seed * 1000 + i, XARTEFACTS
        )
        data.append((p.pid, p.sessions, p.stress, p.features))
    result = analyze(data, replace(XSETTINGS, design=base.design))
    primary = result.effects.primary
    assert primary is not None and base.design is not None
    # No carry-over check when no condition session was included (the study has no rows).
    none = CarryOver("self-care", math.nan, False, pre=PreCheck(math.nan, math.nan, 0))
    c = next(iter(result.effects.carryover), none)
    rows = condition_rows(result.sessions, base.design, "stress_index")
    return CrossoverResult(primary.estimate, primary.p, primary.n_participants, c, rows)


def pipeline_crossovers(
    n: int, studies: int, seed: int, level: float, carry: float, workers: int,
    kind: str = "residual",
) -> list[CrossoverResult]:  # fmt: skip
    jobs = [(n, seed * 100_000 + k, level, carry, kind) for k in range(studies)]
    if workers <= 1:
        return [crossover_study(j) for j in jobs]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(crossover_study, jobs, chunksize=2))


@dataclass(frozen=True)
class SummaryModel:
    """Parameters of the session-summary model (see the module), index points."""

    m_pre: float
    sd_a: float  # between-participant SD of pre
    sd_d: float  # within-participant SD of pre
    m_y: float
    g: float  # slope on pre
    period: float  # period 2 - period 1
    sd_u: float  # random intercept SD
    sd_e: float  # residual SD


def estimate_summary_model(studies: Sequence[Sequence[Row]]) -> SummaryModel:
    """Pooled mixed-model fit of null full-pipeline rows (participants renamed per study);
    the pre value's between and within SDs from participants with both periods."""
    rows = [
        replace(r, participant=f"{k}/{r.participant}") for k, rs in enumerate(studies) for r in rs
    ]
    y = np.array([r.during for r in rows])
    pre = np.array([r.pre for r in rows])
    cols = [
        np.ones(len(rows)),
        np.array([r.condition == "self-care" for r in rows], dtype=float),
        np.array([r.period == 2 for r in rows], dtype=float),
        pre - pre.mean(),
    ]
    fit = fit_mixed(y, np.column_stack(cols), [r.participant for r in rows])
    by: dict[str, list[float]] = {}
    for r in rows:
        by.setdefault(r.participant, []).append(r.pre)
    pairs = np.array([v for v in by.values() if len(v) == 2])
    var_d = float(np.mean((pairs[:, 0] - pairs[:, 1]) ** 2) / 2)  # E(d1 - d2)^2 = 2 var_d
    var_a = max(float(pairs.mean(axis=1).var(ddof=1)) - var_d / 2, 0.0)
    return SummaryModel(
        m_pre=float(pre.mean()),
        sd_a=math.sqrt(var_a),
        sd_d=math.sqrt(var_d),
        m_y=float(fit.params[0]),
        g=float(fit.params[3]),
        period=float(fit.params[2]),
        sd_u=math.sqrt(max(fit.re_var, 0.0)),
        sd_e=math.sqrt(fit.scale),
    )


class SummaryResult(NamedTuple):
    estimate: float
    p: float
    carry_p: float  # condition × period term (nan when not computed)
    pre_p: float  # pre-value check (nan when not computed)
    exact_p: float = math.nan  # the exact within-participant t test of the same contrast


def within_t_p(rows: Sequence[Row]) -> float:
    """p of the condition term in an OLS of y on a fixed effect per participant, condition,
    period and pre: exact under the summary model (its errors are iid normal given the
    participant), so its rate on the same studies separates Monte Carlo luck from a liberal
    mixed-model test."""
    people = sorted({r.participant for r in rows})
    cols = [np.array([r.participant == q for r in rows], dtype=float) for q in people]
    cols += [np.array([r.condition == "self-care" for r in rows], dtype=float)]
    cols += [np.array([r.period == 2 for r in rows], dtype=float), np.array([r.pre for r in rows])]
    x, y = np.column_stack(cols), np.array([r.during for r in rows])
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    df = len(y) - int(np.linalg.matrix_rank(x))
    resid = y - x @ beta
    var = float(resid @ resid) / df * float(np.linalg.pinv(x.T @ x)[len(people), len(people)])
    return float(2 * stats.t.sf(abs(beta[len(people)]) / math.sqrt(var), df))


def summary_study(
    model: SummaryModel,
    n: int,
    dz: float,
    carry: tuple[float, float],
    rng: np.random.Generator,
    checks: bool = False,
) -> SummaryResult:
    """One session-summary crossover study; ``carry`` = (into the period-2 pre value, into
    the period-2 response) after self-care; the carry-over checks (a second fit) only when
    ``checks``."""
    design = crossover_protocol(REST_LEVEL).design
    assert design is not None
    effect = dz * math.sqrt(2) * model.sd_e
    rows = []
    for i in range(n):
        order = ("self-care", "rest") if i % 2 == 0 else ("rest", "self-care")
        a, u = rng.normal(0, model.sd_a), rng.normal(0, model.sd_u)
        for k, cond in enumerate(order, 1):
            after = k == 2 and order[0] == "self-care"
            pre = model.m_pre + a + rng.normal(0, model.sd_d) + carry[0] * after
            y = (
                model.m_y + model.g * (pre - model.m_pre) + model.period * (k == 2)
                + effect * (cond == "self-care") + carry[1] * after + u
                + rng.normal(0, model.sd_e)
            )  # fmt: skip
            follows = order[0] if k == 2 else ""
            rows.append(Row(f"s{i:03d}", cond, cond, "", k, float(pre), float(y), follows))
    effects, carryover = row_effects(rows, design, carryover=checks)
    c = carryover[0] if carryover else None
    return SummaryResult(
        effects[0].estimate,
        effects[0].p,
        c.p if c else math.nan,
        c.pre.p if c else math.nan,
        within_t_p(rows),
    )


SUMMARY_CHUNK = 50  # studies per seeded chunk: results do not depend on the worker count


def _summary_chunk(
    args: tuple[SummaryModel, int, float, tuple[float, float], bool, int, int, int],
) -> list[SummaryResult]:
    model, n, dz, carry, checks, studies, seed, chunk = args
    rng = np.random.default_rng([seed, 23, chunk])
    return [summary_study(model, n, dz, carry, rng, checks) for _ in range(studies)]


def summary_studies(
    model: SummaryModel,
    n: int,
    dz: float,
    carry: tuple[float, float],
    studies: int,
    seed: int,
    workers: int = 1,
    *,
    checks: bool = False,
) -> list[SummaryResult]:
    """``studies`` session-summary studies in seeded chunks, in ``workers`` processes."""
    jobs = [
        (model, n, dz, carry, checks, min(SUMMARY_CHUNK, studies - start), seed,
         start // SUMMARY_CHUNK)
        for start in range(0, studies, SUMMARY_CHUNK)
    ]  # fmt: skip
    if workers <= 1:
        chunks = [_summary_chunk(j) for j in jobs]
    else:
        with ProcessPoolExecutor(workers) as pool:
            chunks = list(pool.map(_summary_chunk, jobs))
    return [r for c in chunks for r in c]


def _rate(k: int, n: int) -> str:
    if n == 0:
        return "0/0"
    lo, hi = binomial_ci(k, n)
    return f"{k}/{n} = {k / n:.1%} (95 % CI {lo:.1%}-{hi:.1%})"


def null_rate(results: Sequence[float], alpha: float = 0.05) -> tuple[int, int]:
    """(below ``alpha``, finite) of a list of p-values."""
    finite = [p for p in results if math.isfinite(p)]
    return sum(p < alpha for p in finite), len(finite)


def calibrated(label: str, ps: Sequence[float], alpha: float = 0.05) -> bool:
    """Print the rate of p < ``alpha``; True when it is not significantly above ``alpha``."""
    k, n = null_rate(ps, alpha)
    p_above = above_alpha_p(k, n, alpha) if n else 0.0
    print(f"  {label}: {_rate(k, n)}; above {alpha:.0%}? one-sided p = {p_above:.2f}")
    return p_above >= 0.05


def most(label: str, ps: Sequence[float], alpha: float) -> tuple[bool, float]:
    """Print the flag rate; True when its exact 95 % interval lies above 50 %."""
    k, n = null_rate(ps, alpha)
    print(f"  {label}: flagged in {_rate(k, n)}")
    return (n > 0 and binomial_ci(k, n)[0] > 0.5), (k / n if n else math.nan)


def pipeline_part(
    args: argparse.Namespace,
) -> tuple[bool, list[CrossoverResult], tuple[float, float]]:
    """The full-pipeline runs; (claims hold, the null studies, residual carry-over estimated
    into (pre, response))."""
    size, s, w = args.study_size, args.pipeline_studies, args.workers
    t0 = time.monotonic()
    null = pipeline_crossovers(size, s, args.seed, REST_LEVEL, 0.0, w)
    print(f"full pipeline, no specific effect, {s} studies of {size} (AB/BA; median "
          f"{np.median([r.n for r in null]):.0f} participants with both conditions; mean "
          f"estimate {np.nanmean([r.estimate for r in null]):+.2f} index points; "
          f"{time.monotonic() - t0:.0f} s):")  # fmt: skip
    ok = calibrated("primary significant at 0.05", [r.p for r in null])
    ok &= calibrated("pre-value check flags (false)", [r.carry.pre.p for r in null])
    calibrated("condition × period term flags (false)", [r.carry.p for r in null],
               CARRYOVER_ALPHA)  # fmt: skip
    t0 = time.monotonic()
    res = pipeline_crossovers(size, s, args.seed + 1, REST_LEVEL, args.carry, w, "residual")
    pre_carry = float(np.nanmean([r.carry.pre.estimate for r in res]))
    y_carry = float(np.nanmean([r.carry.estimate for r in res]))
    print(f"full pipeline, residual carry-over (every phase after self-care {args.carry:.2f} "
          f"calmer), {s} studies of {size}: estimated {pre_carry:+.1f} index points in the "
          f"period-2 pre value, {y_carry:+.1f} in the condition × period term "
          f"({time.monotonic() - t0:.0f} s):")  # fmt: skip
    flagged, _ = most("pre-value check (p < 0.05)", [r.carry.pre.p for r in res], 0.05)
    ok &= flagged
    most("condition × period term (p < 0.10)", [r.carry.p for r in res], CARRYOVER_ALPHA)
    if args.response_studies:
        t0 = time.monotonic()
        resp = pipeline_crossovers(size, args.response_studies, args.seed + 4, REST_LEVEL,
                                   args.carry, w, "response")  # fmt: skip
        print(f"full pipeline, response-only carry-over (rest after self-care "
              f"{args.carry:.2f} calmer, its pre window not), {args.response_studies} studies "
              f"of {size}; no claim ({time.monotonic() - t0:.0f} s):")  # fmt: skip
        most("pre-value check (p < 0.05)", [r.carry.pre.p for r in resp], 0.05)
        most("condition × period term (p < 0.10)", [r.carry.p for r in resp], CARRYOVER_ALPHA)
    if args.effect_studies:
        t0 = time.monotonic()
        eff = pipeline_crossovers(size, args.effect_studies, args.seed + 5, args.effect_level,
                                  0.0, w)  # fmt: skip
        print(f"full pipeline, a specific effect (self-care at {args.effect_level:.2f}) and no "
              f"carry-over, {args.effect_studies} studies of {size} "
              f"({time.monotonic() - t0:.0f} s):")  # fmt: skip
        ok &= calibrated("pre-value check flags (false)", [r.carry.pre.p for r in eff])
        calibrated("condition × period term flags (false)", [r.carry.p for r in eff],
                   CARRYOVER_ALPHA)  # fmt: skip
    return ok, null, (pre_carry, y_carry)


def summary_part(
    args: argparse.Namespace, null: Sequence[CrossoverResult], carry: tuple[float, float]
) -> bool:
    """The session-summary runs; True when their claims hold."""
    size, s, w = args.study_size, args.studies, args.workers
    model = estimate_summary_model([r.rows for r in null])
    if args.sd_u is not None:  # e.g. 0: every fit near the participant variance's boundary
        model = replace(model, sd_u=args.sd_u)
    print("session-summary model from the pipeline's null rows (index points): "
          + ", ".join(f"{k} {v:.3g}" for k, v in vars(model).items()))  # fmt: skip
    t0 = time.monotonic()
    res = summary_studies(model, size, 0.0, (0.0, 0.0), s, args.seed, w, checks=True)
    print(f"session-summary, no effect, no carry-over, {s} studies of {size}:")
    ok = calibrated("primary significant at 0.05", [r.p for r in res])
    calibrated("exact within-participant t, same studies (reference)", [r.exact_p for r in res])
    ok &= calibrated("pre-value check flags (false)", [r.pre_p for r in res])
    calibrated("condition × period term flags (false)", [r.carry_p for r in res],
               CARRYOVER_ALPHA)  # fmt: skip
    predicted = power(0.5, 20, "crossover")
    res = summary_studies(model, 20, 0.5, (0.0, 0.0), s, args.seed + 2, w)
    k, n = null_rate([r.p for r in res])
    within = abs(k / n - predicted) <= 0.05
    ok &= within
    print(
        f"session-summary, dz 0.5, n = 20: empirical power {_rate(k, n)} vs stresstrack "
        f"power {predicted:.1%} ({'within' if within else 'NOT within'} 5 points)"
    )
    for n_c in sorted({size, 20}):
        res = summary_studies(model, n_c, 0.0, carry, args.carry_studies, args.seed + 3, w,
                              checks=True)  # fmt: skip
        print(f"session-summary, residual carry-over ({carry[0]:+.1f} pre, {carry[1]:+.1f} "
              f"response), {args.carry_studies} studies of {n_c}:")  # fmt: skip
        most("pre-value check (p < 0.05)", [r.pre_p for r in res], 0.05)
        most("condition × period term (p < 0.10)", [r.carry_p for r in res], CARRYOVER_ALPHA)
    print(f"  ({time.monotonic() - t0:.0f} s)")
    return ok


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--study-size", type=int, default=20)
    parser.add_argument("--pipeline-studies", type=int, default=24)
    parser.add_argument("--response-studies", type=int, default=0, help="full pipeline")
    parser.add_argument("--effect-studies", type=int, default=0, help="full pipeline")
    parser.add_argument("--effect-level", type=float, default=0.22,
                        help="self-care's stress level in the --effect-studies")  # fmt: skip
    parser.add_argument("--studies", type=int, default=500, help="session-summary")
    parser.add_argument("--carry-studies", type=int, default=100, help="session-summary")
    parser.add_argument("--carry", type=float, default=0.25, help="carry-over, stress level")
    parser.add_argument("--sd-u", type=float, default=None,
                        help="session-summary: this participant SD, not the estimate")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    print(f"{time.strftime('%H:%M:%S')} start", flush=True)
    ok, null, carry = pipeline_part(args)
    ok &= summary_part(args, null, carry)
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
