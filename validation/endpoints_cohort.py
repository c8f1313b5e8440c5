"""Self-report and cortisol beside physiology on a simulated cohort (docs/endpoints.md).

The cohort: the crossover of ``session_effect.py`` (baseline 5 min; AB/BA blocks of stressor
2 min, self-care or rest 3 min, recovery 1 min; self-care at the rest level, so no
physiological effect), clean signals through the real pipeline, self-report and cortisol from
:mod:`stresstrack.simulators.selfreport` (stress VAS = 10 + 80·s + b + e, e ~ N(0, 8²),
b ~ N(0, 10²); cortisol with a 20 min lag), stored twice: without a placebo and with
self-report 15 points calmer after self-care.

Printed: the within-person correlation of self-reported stress with the stress index that
the simulation implies (:func:`expected_within_r`) and the one the analysis finds, every
outcome pair, and the controlled estimates of every endpoint with and without the placebo.

Run: python validation/endpoints_cohort.py [--participants N]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from session_effect import REST_LEVEL, T0, XSETTINGS, Participant, crossover_protocol, simulate

from stresstrack.analysis.sessions import Analysis, analyze_store
from stresstrack.endpoints.config import EndpointConfig
from stresstrack.events import SelfReport
from stresstrack.simulators.physiology import ParticipantParams
from stresstrack.simulators.recording import CLEAN
from stresstrack.simulators.selfreport import (
    CortisolParams,
    SelfReportParams,
    simulate_cortisol,
    simulate_selfreport,
)
from stresstrack.store.sqlite import Store

NS = 1_000_000_000
NOISE_SD = 8.0
SCALE = SelfReportParams().scale  # VAS points per unit of latent stress
PLACEBO = 15.0
BASE = crossover_protocol(REST_LEVEL)
SETTINGS = replace(XSETTINGS, design=BASE.design)
ENDPOINTS = EndpointConfig(secondary=("hr", "rmssd", "scl", "sr_stress", "cortisol"))


@dataclass(frozen=True)
class Cohort:
    people: list[Participant]
    plain: Path  # self-report without placebo
    placebo: Path  # the same people, placebo on self-report after self-care


def _store(path: Path, people: list[Participant], placebo: float) -> Path:
    with Store(path) as store:
        for i, p in enumerate(people):
            store.add_results(p.features, p.stress, p.sessions)
            sr = SelfReportParams(noise_sd=NOISE_SD, placebo=placebo)
            store.add_events(
                simulate_selfreport(p.pid, p.model, sr, np.random.default_rng([i, 1]), start_ns=T0)
            )
            store.add_events(
                simulate_cortisol(
                    p.pid, p.model, CortisolParams(), np.random.default_rng([i, 2]), start_ns=T0
                )
            )
    return path


def build_cohort(n: int, folder: Path, seed: int = 5) -> Cohort:
    rng = np.random.default_rng(seed)
    people = [
        simulate(f"x-{i:03d}", BASE.for_participant(i), ParticipantParams.draw(rng), 100 + i, CLEAN)
        for i in range(n)
    ]
    return Cohort(
        people,
        _store(folder / "plain.db", people, 0.0),
        _store(folder / "placebo.db", people, PLACEBO),
    )


def analysis(path: Path) -> Analysis:
    with Store(path, readonly=True) as store:
        return analyze_store(store, SETTINGS, endpoints=ENDPOINTS)


def expected_within_r(cohort: Cohort) -> tuple[float, float]:
    """The within-person correlation the simulation implies, computed without stresstrack's
    convergence code: each answer's latent stress s (from the participant model) is paired
    with the mean confident stress index of the windows ending in the minute before it (the
    windows wholly inside the 2 minutes before the answer, ``window_minutes`` = 2), and
    pingouin's rm_corr gives r(80·s, index). The answers add noise e independent of the
    index, so r(answer, index) = r(80·s, index)·√(v / (v + σ²)) (Spearman's attenuation),
    v the within-person variance of 80·s at the answers, σ² = 8² + 1/12 (rounding).
    Returns (expected r, share of answers clipped at 0 or 100)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pingouin as pg

    rows = []
    clipped = 0
    conf = SETTINGS.min_confidence
    with Store(cohort.plain, readonly=True) as store:
        for p in cohort.people:
            stress = [(r.time_ns, r.index) for r in p.stress
                      if r.index is not None and r.confidence >= conf]  # fmt: skip
            for e in store.iter_events(p.pid, types=("selfreport",)):
                assert isinstance(e, SelfReport)
                if e.item != "stress":
                    continue
                clipped += e.value in (0.0, 100.0)
                near = [x for t, x in stress if e.time_ns - 60 * NS <= t <= e.time_ns]
                if near:
                    s = float(p.model.stress_at((e.time_ns - T0) / NS))
                    rows.append((p.pid, SCALE * s, float(np.mean(near))))
    df = pd.DataFrame(rows, columns=["p", "latent", "index"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho = float(pg.rm_corr(df, x="latent", y="index", subject="p")["r"].iloc[0])
    centred = df["latent"] - df.groupby("p")["latent"].transform("mean")
    v = float((centred**2).sum()) / (len(df) - df["p"].nunique())
    return rho * math.sqrt(v / (v + NOISE_SD**2 + 1 / 12)), clipped / (2 * len(df))


def _ci(ci: tuple[float, float]) -> str:
    return f"[{ci[0]:+.2f}, {ci[1]:+.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=16)
    args = parser.parse_args()
    cohort = build_cohort(args.participants, Path(tempfile.mkdtemp()))
    expected, clipped = expected_within_r(cohort)
    plain, placebo = analysis(cohort.plain), analysis(cohort.placebo)
    assert plain.endpoints is not None and placebo.endpoints is not None
    print(f"expected within-person r (sr_stress ~ stress_index): {expected:.3f} "
          f"(answers clipped: {clipped:.1%})")  # fmt: skip
    for r in plain.endpoints.convergence:
        w, b = r.within, r.between
        print(f"  {r.outcome} ~ {r.measure}: within {w.r:+.3f} {_ci(w.ci)} n={w.n_obs}; "
              f"between {b.r:+.3f} {_ci(b.ci)} k={b.n_participants}")  # fmt: skip
    for name, a in (("no placebo", plain), (f"placebo {PLACEBO:g}", placebo)):
        print(f"controlled estimates, self-care vs rest, {name}:")
        for e in a.effects.effects:
            if e.controlled and e.contrast == "self-care vs rest":
                print(f"  {e.outcome}: {e.estimate:+.2f} {_ci(e.ci)} p={e.p:.4f} "
                      f"Holm {e.p_adjusted:.4f} n={e.n_participants}")  # fmt: skip
    flagged = sum(1 for s in placebo.endpoints.sessions if s.verdict)
    print(f"sessions where body and self-report disagree (placebo): {flagged} "
          f"of {len(placebo.endpoints.sessions)}")  # fmt: skip


if __name__ == "__main__":
    main()
