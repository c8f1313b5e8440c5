"""Simulated multi-day participants streamed through the real pipeline, once per test run.

A participant of :mod:`stresstrack.simulators.days` (RR, EDA at 32 Hz, chest ACC at 25 Hz;
sleep, commutes, exercise, stressors) goes chunk by chunk through
:class:`~stresstrack.pipeline.Pipeline` with the rolling baseline and the multi-day hops, as
``stresstrack replay`` runs a week. Each (days, seed) is run once and shared by the test
files that compare :func:`~stresstrack.days.profile` with the simulator's truth.
"""

from __future__ import annotations

from functools import cache

from stresstrack.days import ParticipantRows
from stresstrack.pipeline import Pipeline, PipelineConfig
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.simulators.days import DaysPlan, DaysTruth, simulate_days

MIN = 60_000_000_000
#: The participants every pipeline test of the days analysis uses: the first four seeds,
#: not chosen by how they come out (seeds 2 and 3 are weak HR responders).
SEEDS = (1, 2, 3, 4)


@cache
def through_pipeline(days: int, seed: int) -> tuple[DaysTruth, ParticipantRows]:
    (truth,), chunks = simulate_days(DaysPlan(days=days, seed=seed))
    pipeline = Pipeline(
        PipelineConfig(baseline_mode="rolling", hop_s=30.0, slow_hop_s=60.0, edasymp_hop_s=300.0)
    )
    rows: list[FeatureRow | StressRow | Session] = []
    for chunk in chunks:
        rows.extend(pipeline.process_many(chunk))
    rows.extend(pipeline.finish())
    features = [r for r in rows if isinstance(r, FeatureRow)]
    stress = [r for r in rows if isinstance(r, StressRow)]
    sessions = [r for r in rows if isinstance(r, Session)]
    return truth, ParticipantRows(features, stress, sessions)
