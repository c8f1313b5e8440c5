"""Daily load through the real pipeline: simulated participants' two days (RR, EDA at 32 Hz,
chest ACC at 25 Hz, stressors, commutes and exercise; stresstrack.simulators.days) streamed
chunk by chunk through :class:`~stresstrack.pipeline.Pipeline` with the rolling baseline and
the multi-day hops, then :func:`~stresstrack.days.profile`, against the simulator's stressor
minutes (its ground truth, not our analysis).

Participants: the first three seeds, ``DaysPlan(days=2, seed=1|2|3)``, not chosen for their
results: seed 1 is a strong responder (+15 bpm, -33 % vagal tone under stress), seeds 2 and 3
weak ones (+5 and +6.7 bpm; their stressors read 60-74 on the index against calm minutes
around 50). One pipeline run per seed for the whole module (~17 s each). Seeds 1-8 with the
index's distributions: ``python validation/days_load.py --seeds 1-8`` (docs/days.md).
"""

from __future__ import annotations

import numpy as np
import pytest
from pipeline_runs import MIN, inside, through_pipeline

from stresstrack.days import DaysSettings, LoadSettings, ParticipantRows, profile
from stresstrack.days.load import STATES
from stresstrack.simulators.days import DaysTruth

SEEDS = (1, 2, 3)


@pytest.fixture(scope="module")
def people() -> dict[int, tuple[DaysTruth, ParticipantRows]]:
    return {seed: through_pipeline(2, seed) for seed in SEEDS}


def _errors(
    people: dict[int, tuple[DaysTruth, ParticipantRows]], settings: DaysSettings | None = None
) -> list[tuple[int, float, float]]:
    """(seed, load found, stressor minutes) for every day with stressors."""
    out = []
    for seed, (truth, rows) in people.items():
        got = {d.date: d.load_min for d in profile(rows, truth.participant, settings).days}
        out += [(seed, got[day], want) for day, want in truth.stress_load_min.items() if want]
    return out


def test_daily_load_of_strong_and_weak_responders(
    people: dict[int, tuple[DaysTruth, ParticipantRows]],
) -> None:
    """With the personal threshold each day's load is within 15 % (or a minute) of the
    stressor minutes for all three people (measured: -4 %, -2 %; +12 %, 0 %; -10 %, -12 %),
    and its total error is under a third of a fixed 75's, which missed most of the weak
    responders' stress (31/42, 19/38, 23/60, 32/77 min). No active minute and no minute of a
    commute or exercise bout counts; every stressor is found as an episode within 2 min;
    episode minutes outside every stressor stay under 30 over the six days (measured 22,
    11 of them on seed 2's first day)."""
    personal = _errors(people)
    for seed, got, want in personal:
        assert abs(got - want) <= max(0.15 * want, 1.0), (seed, got, want)
    fixed = _errors(people, DaysSettings(load=LoadSettings(threshold=75.0, smooth_min=1)))
    total = sum(abs(got - want) for _, got, want in personal)
    assert total < sum(abs(got - want) for _, got, want in fixed) / 3
    false = 0
    for truth, rows in people.values():
        r = profile(rows, truth.participant)
        got = {d.date: d.load_min for d in r.days}
        assert all(got[d] == 0 for d in got.keys() - truth.stress_load_min.keys())
        assert all(60.0 <= d.load_threshold <= 75.0 for d in r.days)
        in_load = inside(r.minutes.times_ns, r.episodes)
        bouts = inside(r.minutes.times_ns, truth.activity)
        assert not np.any(in_load & bouts)
        assert np.all(r.states[bouts] != STATES.index("stressed"))
        for s in truth.stressors:
            assert any(abs(e.start_ns - s.start_ns) <= 2 * MIN for e in r.episodes), s
        false += int(np.sum(in_load & ~inside(r.minutes.times_ns, truth.stressors)))
    assert false < 30


@pytest.mark.xfail(strict=True, reason="issue 20's 10 % is not met for weak responders")
def test_daily_load_within_ten_percent_for_every_person(
    people: dict[int, tuple[DaysTruth, ParticipantRows]],
) -> None:
    """The issue's done criterion for every person, not met: seed 2's first day (+12 %) and
    seed 3's days (-10 %, -12 %); strict, so meeting it shows as a failure to update."""
    for seed, got, want in _errors(people):
        assert abs(got - want) <= max(0.10 * want, 1.0), (seed, got, want)
