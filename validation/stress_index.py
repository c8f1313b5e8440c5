"""Does the stress index follow the true stress level? Spearman ρ on simulated cohorts.

Each simulated participant follows a protocol with several stress levels (baseline, stressor,
recovery, self-care, ...); the simulator's true stress level is known at every instant. For
every window the pipeline computes, the truth is the model's stress level averaged over the
window (the mean of its heart and skin traces, which follow the phases with their own lags).
We report, per participant, Spearman's ρ between the stress index and that truth:

* clean: the simulated RR intervals and skin conductance as they are;
* artefacts: 2 % ectopic beats (short-long pairs), 1 % missed beats, 1 % extra beats, a 20-40 s
  dropout of both signals every ~4 min, and EDA motion jumps.

Then scenarios where the truth is known and is *not* stress, or where stress shows in one
system only (:data:`SCENARIOS`). Each participant is run twice, with and without the
scenario's manipulation, same seed: the difference of the index over the scenario's span is
what the manipulation did to it. Reported per scenario: the mean shift of the index (points),
the share of windows where the shifted index crosses 75 ("alarm", z̄ ≈ 1.35) while the
control run does not, and the mean confidence. Bounds are in docs/stress-index.md and
tests/pipeline/test_validation.py.

Run: python validation/stress_index.py [--participants N] [--seed S] [--scenarios N]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

import numpy as np
from scipy.stats import mannwhitneyu, spearmanr

from stresstrack.pipeline import Pipeline, PipelineConfig, StressRow
from stresstrack.session.protocol import Phase, Protocol
from stresstrack.simulators.physiology import Episode, ParticipantModel, ParticipantParams
from stresstrack.simulators.recording import CLEAN, REALISTIC, Artefacts, recording_events

NS = 1_000_000_000
T0 = 1_767_603_600 * NS
EDA_HZ = 8.0

VALIDATION_PROTOCOL = Protocol(
    name="validation",
    phases=(
        Phase("baseline", 300.0),
        Phase("stressor", 180.0),
        Phase("recovery", 180.0),
        Phase("self-care", 240.0, mode="solo"),
        Phase("stressor", 120.0),
        Phase("rest", 180.0),
        Phase("self-care", 240.0, mode="partner"),
        Phase("recovery", 120.0),
    ),
)


def truth_at(model: ParticipantModel, end_s: float, window_s: float) -> float:
    t = np.linspace(end_s - window_s, end_s, 61)
    return float(np.mean(model.stress_at(t, which="heart") + model.stress_at(t, which="skin")) / 2)


def run_cohort(
    n: int, seed: int, art: Artefacts, config: PipelineConfig | None = None
) -> list[float]:
    """Spearman ρ between index and truth, one per participant."""
    return [rho for rho, _ in agreement(n, seed, art, config)]


def agreement(
    n: int, seed: int, art: Artefacts, config: PipelineConfig | None = None
) -> list[tuple[float, float]]:
    """Per participant: Spearman ρ between index and truth, and the AUC of the index for
    stressor windows (truth ≥ 0.6) against the others (truth ≤ 0.35), from scipy's
    Mann-Whitney U."""
    rng = np.random.default_rng(seed)
    config = config or PipelineConfig()
    out_rows: list[tuple[float, float]] = []
    for i in range(n):
        params = ParticipantParams.draw(rng)
        model = ParticipantModel(VALIDATION_PROTOCOL, params, seed * 1000 + i)
        events = recording_events(
            f"v-{i:03d}", model, art, np.random.default_rng([seed, i]), start_ns=T0, eda_hz=EDA_HZ
        )
        pipe = Pipeline(config)
        out = pipe.process_many(events) + pipe.finish()
        rows = [o for o in out if isinstance(o, StressRow) and o.index is not None]
        idx = np.array([r.index for r in rows])
        truth = np.array(
            [truth_at(model, (r.time_ns - T0) / NS, config.hrv_window_s) for r in rows]
        )
        hi, lo = idx[truth >= 0.6], idx[truth <= 0.35]
        auc = float(mannwhitneyu(hi, lo).statistic) / (hi.size * lo.size)
        out_rows.append((float(spearmanr(idx, truth).statistic), auc))
    return out_rows


# -- scenarios --------------------------------------------------------------------------------
SPAN: Final = (300.0, 540.0)  # the scenario's manipulation, after a 5-min baseline
SCENARIO_PROTOCOL = Protocol(
    name="scenario", phases=(Phase("baseline", 300.0), Phase("rest", 240.0), Phase("rest", 90.0))
)
STRESS_PROTOCOL = Protocol(
    name="scenario-stress",
    phases=(Phase("baseline", 300.0), Phase("stressor", 240.0), Phase("rest", 90.0)),
)
ALARM: Final = 75.0


def _rest(p: ParticipantParams, seed: int, **kw: object) -> ParticipantModel:
    """The scenario's person at rest (no spontaneous movement), with ``kw`` for the model."""
    return ParticipantModel(
        SCENARIO_PROTOCOL,
        replace(p, movement_every_s=None),
        seed,
        **kw,  # type: ignore[arg-type]
    )


def _stressed(p: ParticipantParams, seed: int) -> ParticipantModel:
    return ParticipantModel(STRESS_PROTOCOL, replace(p, movement_every_s=None), seed)


@dataclass(frozen=True)
class Scenario:
    name: str
    stress: bool  # True: the index should move; False: it should not
    make: Callable[[ParticipantParams, int], ParticipantModel]  # the manipulated run
    control: Callable[[ParticipantParams, int], ParticipantModel] = _rest  # same person without
    acc: bool = False  # a chest accelerometer is worn


_PACED = (Episode(*SPAN, 6.0),)
_MOVES = (Episode(320.0, 380.0, 0.4), Episode(430.0, 500.0, 0.3))
_ORIENTING = tuple(float(t) for t in np.arange(SPAN[0], SPAN[1], 10.0))

SCENARIOS: Final = (
    Scenario(
        "paced breathing 6/min, strap only", False, lambda p, s: _rest(p, s, breathing=_PACED)
    ),
    Scenario(
        "paced breathing 6/min, with ACC", False, lambda p, s: _rest(p, s, breathing=_PACED),
        acc=True,
    ),
    Scenario(
        "movement without stress, with ACC", False, lambda p, s: _rest(p, s, activity=_MOVES),
        acc=True,
    ),
    Scenario(
        "movement without stress, strap only (no ACC: not handled)", False,
        lambda p, s: _rest(p, s, activity=_MOVES),
    ),
    Scenario(
        "orienting responses every 10 s", False, lambda p, s: _rest(p, s, orienting=_ORIENTING)
    ),
    Scenario(
        "EDA drift +0.1 uS/min", False,
        lambda p, s: _rest(replace(p, eda_drift_us_per_min=0.1), s),
        lambda p, s: _rest(replace(p, eda_drift_us_per_min=0.0), s),
    ),
    Scenario(
        "stressor, EDA non-responder", True,
        lambda p, s: _stressed(replace(p, eda_responder=False), s),
        lambda p, s: _rest(replace(p, eda_responder=False), s),
    ),
    Scenario(
        "stressor in the heart only", True,
        lambda p, s: _stressed(replace(p, scl_gain=0.0, scr_gain_per_min=0.0), s),
    ),
    Scenario(
        "stressor in the skin only", True,
        lambda p, s: _stressed(replace(p, hr_gain=0.0, vagal_drop=0.0), s),
    ),
)  # fmt: skip


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    stress: bool
    shift: float  # mean index difference (manipulated - control) over the span, points
    alarms: float  # share of span windows >= ALARM in the manipulated run, not in the control
    confidence: float  # mean confidence over the span, manipulated run
    control_confidence: float
    n: int


def _span_rows(model: ParticipantModel, pid: str, seed: int, acc: bool) -> list[StressRow]:
    events = recording_events(
        pid, model, CLEAN, np.random.default_rng(seed), start_ns=T0, eda_hz=EDA_HZ,
        acc_hz=25.0 if acc else None,
    )  # fmt: skip
    pipe = Pipeline()
    out = pipe.process_many(events) + pipe.finish()
    lo, hi = SPAN[0] + 30.0, SPAN[1] + 30.0  # windows mostly inside the span
    return [
        o
        for o in out
        if isinstance(o, StressRow) and lo <= (o.time_ns - T0) / NS <= hi and o.index is not None
    ]


def run_scenario(sc: Scenario, n: int, seed: int) -> ScenarioResult:
    """The scenario on ``n`` drawn EDA responders (non-responders are their own scenario)."""
    rng = np.random.default_rng(seed)
    shifts, alarms, conf, conf0 = [], [], [], []
    for i in range(n):
        p = ParticipantParams.draw(rng, non_responder_share=0.0)
        s = seed * 1000 + i
        a = {r.time_ns: r for r in _span_rows(sc.make(p, s), f"s-{i:03d}", s, sc.acc)}
        b = {r.time_ns: r for r in _span_rows(sc.control(p, s), f"s-{i:03d}", s, sc.acc)}
        common = sorted(set(a) & set(b))
        ia = np.array([a[t].index for t in common], dtype=float)
        ib = np.array([b[t].index for t in common], dtype=float)
        shifts.append(float(np.mean(ia - ib)))
        alarms.append(float(np.mean((ia >= ALARM) & (ib < ALARM))))
        conf.append(float(np.mean([a[t].confidence for t in common])))
        conf0.append(float(np.mean([b[t].confidence for t in common])))
    return ScenarioResult(
        sc.name, sc.stress, float(np.mean(shifts)), float(np.mean(alarms)),
        float(np.mean(conf)), float(np.mean(conf0)), n,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=20)
    parser.add_argument("--scenarios", type=int, default=12, help="participants per scenario")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for name, art in (("clean", CLEAN), ("artefacts+dropouts", REALISTIC)):
        res = np.array(agreement(args.participants, args.seed, art))
        rhos, aucs = res[:, 0], res[:, 1]
        print(
            f"{name:<20} n={rhos.size:3d}  Spearman rho: median {np.median(rhos):.3f}  "
            f"min {rhos.min():.3f}  stressor AUC: median {np.median(aucs):.3f}  "
            f"min {aucs.min():.3f}"
        )
    print()
    print(f"| scenario | should move | n | index shift | alarms (>= {ALARM:.0f}) | confidence |")
    print("|---|---|---|---|---|---|")
    for sc in SCENARIOS:
        r = run_scenario(sc, args.scenarios, args.seed)
        print(
            f"| {r.name} | {'yes' if r.stress else 'no'} | {r.n} | {r.shift:+.1f} | "
            f"{r.alarms:.0%} | {r.confidence:.2f} (control {r.control_confidence:.2f}) |"
        )


if __name__ == "__main__":
    main()
