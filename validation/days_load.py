"""Daily stress load through the real pipeline, per simulated participant and day.

Each participant (``DaysPlan(days=D, seed=S)``, stresstrack.simulators.days: RR, EDA 32 Hz,
chest ACC 25 Hz, commutes, exercise, stressors) is streamed through
:class:`~stresstrack.pipeline.Pipeline` with the rolling baseline and the multi-day hops
(tests/days/test_days_pipeline.py uses :func:`through_pipeline`), then
:func:`stresstrack.days.profile`. Printed per participant and day: the load threshold used,
the simulator's stressor minutes (truth), the load found and its error; the minute index
(10th/50th/90th percentile) during stressor minutes and during calm awake still minutes
(outside stressors and self-care); the false episode minutes (inside an episode, outside
every stressor) and episode minutes inside an activity bout; per participant, the
stressors not found as an episode starting within 2 min. Then a summary.

Run: python validation/days_load.py [--seeds 1-8] [--days 2] [--threshold 75] [--smooth 1]
[--cache DIR] (``--threshold 75 --smooth 1``: the fixed rule before the personal threshold)
(``--cache`` keeps each participant's rows, ~17 s of pipeline per 2-day participant.)
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from stresstrack.days import DaysSettings, ParticipantRows, profile
from stresstrack.days.load import STATES
from stresstrack.pipeline import Pipeline, PipelineConfig
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.simulators.days import DaysPlan, DaysTruth, simulate_days

MIN = 60_000_000_000


class _Span(Protocol):
    start_ns: int
    end_ns: int


def through_pipeline(
    plan: DaysPlan, cache: Path | None = None
) -> tuple[DaysTruth, ParticipantRows]:
    """The simulated participant and their rows from the pipeline (kept in ``cache``)."""
    path = cache / f"days{plan.days}_seed{plan.seed}.pkl" if cache else None
    if path is not None and path.exists():
        with path.open("rb") as f:
            return pickle.load(f)  # type: ignore[no-any-return]
    (truth,), chunks = simulate_days(plan)
    pipeline = Pipeline(
        PipelineConfig(baseline_mode="rolling", hop_s=30.0, slow_hop_s=60.0, edasymp_hop_s=300.0)
    )
    rows: list[FeatureRow | StressRow | Session] = []
    for chunk in chunks:
        rows.extend(pipeline.process_many(chunk))
    rows.extend(pipeline.finish())
    out = (
        truth,
        ParticipantRows(
            [r for r in rows if isinstance(r, FeatureRow)],
            [r for r in rows if isinstance(r, StressRow)],
            [r for r in rows if isinstance(r, Session)],
        ),
    )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            pickle.dump(out, f)
    return out


def inside(times_ns: npt.NDArray[np.int64], spans: Iterable[_Span]) -> npt.NDArray[np.bool_]:
    """Which minutes (their middles) fall inside any of ``spans``."""
    t = times_ns + MIN // 2
    out = np.zeros(t.size, dtype=bool)
    for s in spans:
        out |= (t >= s.start_ns) & (t < s.end_ns)
    return out


def _q(x: npt.NDArray[np.float64]) -> str:
    x = x[np.isfinite(x)]
    if not x.size:
        return "   -/   -/   -"
    lo, med, hi = np.percentile(x, [10, 50, 90])
    return f"{lo:4.0f}/{med:4.0f}/{hi:4.0f}"


def report(
    truth: DaysTruth, rows: ParticipantRows, settings: DaysSettings, seed: int
) -> list[tuple[float, ...]]:
    """Print one line per day; return (truth, found, false minutes) per day."""
    r = profile(rows, truth.participant, settings)
    t = r.minutes.times_ns
    stressor, bouts = inside(t, truth.stressors), inside(t, truth.activity)
    in_ep = inside(t, r.episodes)
    calm = np.isin(r.states, [STATES.index("not stressed"), STATES.index("stressed")])
    calm &= ~stressor & ~inside(t, truth.self_care)
    dates = np.array(r.minutes.dates())
    got = {d.date: d for d in r.days}
    out = []
    for day, want in truth.stress_load_min.items():
        on = dates == day
        found, thr = (got[day].load_min, got[day].load_threshold) if day in got else (0, np.nan)
        err = f"{(found - want) / want:+5.0%}" if want else "    -"
        false = int(np.sum(on & in_ep & ~stressor))
        print(f"seed {seed} {day} thr {thr:5.1f} truth {want:5.1f} found {found:4d} "
              f"err {err} | index stressor {_q(r.minutes.stress[on & stressor])} calm "
              f"{_q(r.minutes.stress[on & calm])} | false {false:3d} in-bouts "
              f"{int(np.sum(on & in_ep & bouts))}", flush=True)  # fmt: skip
        out.append((want, float(found), float(false)))
    missed = [s for s in truth.stressors
              if not any(abs(e.start_ns - s.start_ns) <= 2 * MIN for e in r.episodes)]  # fmt: skip
    print(
        f"  hr_gain {truth.params.hr_gain:.1f} bpm, {len(truth.stressors)} stressors, "
        f"{len(missed)} not found within 2 min, {len(r.episodes)} episodes",
        flush=True,
    )
    return out


def _seeds(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(x) for x in text.split(",")]


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--seeds", default="1-8", help="e.g. 1-8 or 1,3,5")
    ap.add_argument("--days", type=int, default=2)
    ap.add_argument("--threshold", type=float, default=None, help="a fixed threshold")
    ap.add_argument("--smooth", type=int, default=None, help="smoothing minutes (1: none)")
    ap.add_argument("--k", type=float, default=None, help="k of the personal threshold")
    ap.add_argument("--cache", type=Path, default=None, help="folder to keep pipeline rows in")
    args = ap.parse_args()
    settings = DaysSettings()
    load = replace(settings.load, threshold=args.threshold)
    if args.smooth is not None:
        load = replace(load, smooth_min=args.smooth)
    if args.k is not None:
        load = replace(load, k=args.k)
    settings = replace(settings, load=load)
    days = []
    for seed in _seeds(args.seeds):
        t0 = time.perf_counter()
        truth, rows = through_pipeline(DaysPlan(days=args.days, seed=seed), args.cache)
        print(f"seed {seed}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        days += [d for d in report(truth, rows, settings, seed) if d[0] > 0]
    rel = sorted(abs(f - w) / w for w, f, _ in days)
    print(f"{len(days)} days with stressors: |error| median {np.median(rel):.0%}, max "
          f"{rel[-1]:.0%}, within 10 % {sum(e <= 0.10 for e in rel)}; mean |error| "
          f"{np.mean([abs(f - w) for w, f, _ in days]):.1f} min/day; false episode minutes "
          f"{sum(x for *_, x in days):.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
