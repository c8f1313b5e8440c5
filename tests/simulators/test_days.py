"""The multi-day simulator: its signals carry the ground truth it returns, seamlessly.

The reference for each check is the truth's schedule (sleep, bouts, stressors, self-care) and
the published contrasts it encodes (docs/simulators.md, "Multi-day participants"), measured
on the generated events with plain numpy: per-minute HR from the RR intervals, movement from
the accelerometer magnitude, the cosinor fit by ``scipy.optimize.curve_fit`` (nonlinear least
squares, not the simulator's linear :func:`cosinor`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from scipy.optimize import curve_fit

from stresstrack.events import Beat, EdaSamples, Marker, MarkerAction, Waveform
from stresstrack.simulators.days import DaysPlan, DaysTruth, cosinor, simulate_days

NS = 1_000_000_000
MIN = 60 * NS


@dataclass
class Week:
    """Per-minute summaries of a simulated recording (the events themselves are not kept)."""

    plan: DaysPlan
    truth: DaysTruth
    minutes: dict[int, list[float]] = field(default_factory=dict)  # minute -> instant HRs
    moving: dict[int, float] = field(default_factory=dict)  # minute -> max 1 s ACC SD (mG)
    markers: list[Marker] = field(default_factory=list)
    beat_gaps_ms: list[float] = field(default_factory=list)  # |Δt - RR| of consecutive beats
    eda_steps: list[float] = field(default_factory=list)  # |jump| at each 1 s chunk start
    chunks: int = 0


@pytest.fixture(scope="module")
def week() -> Week:
    plan = DaysPlan(days=2, seed=4)
    (truth,), chunks = simulate_days(plan)
    w = Week(plan, truth)
    last_beat: int | None = None
    last_eda: float | None = None
    for chunk in chunks:
        w.chunks += 1
        for e in chunk:
            m = (e.time_ns - plan.start_ns) // MIN
            if isinstance(e, Beat):
                w.minutes.setdefault(m, []).append(60000.0 / e.rr_ms)
                if last_beat is not None:
                    w.beat_gaps_ms.append(abs((e.time_ns - last_beat) / 1e6 - e.rr_ms))
                last_beat = e.time_ns
            elif isinstance(e, Waveform):
                w.moving[m] = max(w.moving.get(m, 0.0), float(np.std(e.values)))
            elif isinstance(e, EdaSamples):
                if last_eda is not None:
                    w.eda_steps.append(abs(e.values_us[0] - last_eda))
                last_eda = e.values_us[-1]
            elif isinstance(e, Marker):
                w.markers.append(e)
    return w


def _minutes(truth: DaysTruth, spans: str) -> set[int]:
    out: set[int] = set()
    for s in getattr(truth, spans):
        out |= set(range((s.start_ns - truth.start_ns) // MIN, (s.end_ns - truth.start_ns) // MIN))
    return out


def test_streams_one_hour_chunks_and_is_deterministic(week: Week) -> None:
    assert week.chunks == 2 * 24
    (again,), chunks = simulate_days(DaysPlan(days=2, seed=4))
    assert again == week.truth
    first = next(chunks)
    (other,), other_chunks = simulate_days(DaysPlan(days=2, seed=5))
    assert other != week.truth
    assert first != next(other_chunks)
    assert all(e.time_ns < week.plan.start_ns + 3600 * NS for e in first)


def test_chunks_join_without_a_seam(week: Week) -> None:
    """Every beat lies one RR interval after the previous one, across chunk boundaries too;
    skin conductance never jumps between 1 s chunks by more than a large SCR's second."""
    assert max(week.beat_gaps_ms) < 1.0
    assert max(week.eda_steps) < 0.5


def test_sleep_is_still_and_calm(week: Week) -> None:
    """Asleep: few moving minutes and lower HR than awake rest (Speed et al. 2023: resting
    HR 4 bpm lower at night)."""
    t = week.truth
    asleep = _minutes(t, "sleep")
    busy = asleep | _minutes(t, "activity") | _minutes(t, "stressors") | _minutes(t, "self_care")
    awake_rest = set(week.minutes) - busy
    moving = {m for m, sd in week.moving.items() if sd > 30.0}
    assert len(moving & asleep) / len(asleep) < 0.05
    assert len(moving & awake_rest) / len(awake_rest) > 0.05

    def hr(ms: set[int]) -> float:
        return float(np.mean([np.mean(week.minutes[m]) for m in ms if m in week.minutes]))

    assert hr(awake_rest) - hr(asleep) > 3.0
    assert hr(_minutes(t, "activity")) - hr(awake_rest) > 12.0
    assert hr(_minutes(t, "stressors")) - hr(awake_rest) > 0.5 * t.params.hr_gain


def test_cosinor_of_measured_hr_recovers_the_truth(week: Week) -> None:
    """The truth's acrophase (the cosinor of the noise-free HR) is what a cosinor of the
    measured per-minute HR finds, within 30 min (issue 20's criterion for the analysis)."""
    minutes = np.array(sorted(week.minutes), dtype=float)
    hr = np.array([np.mean(week.minutes[int(m)]) for m in minutes])
    start_h = (week.plan.start_ns / NS % 86400) / 3600
    t_h = start_h + minutes / 60

    def model(t: np.ndarray, m: float, a: float, phi: float) -> np.ndarray:
        return m + a * np.cos(2 * np.pi * (t - phi) / 24)

    (m, a, phi), _ = curve_fit(model, t_h, hr, p0=(70.0, 3.0, 12.0))
    if a < 0:
        a, phi = -a, phi + 12
    truth = week.truth
    diff_h = (phi - truth.hr_acrophase_h + 12) % 24 - 12
    assert abs(diff_h) < 0.5, (phi % 24, truth.hr_acrophase_h)
    assert a == pytest.approx(truth.hr_amplitude_bpm, rel=0.25)
    assert m == pytest.approx(truth.hr_mesor_bpm, abs=1.5)
    assert cosinor(t_h, hr)[2] == pytest.approx(phi % 24, abs=1e-3)


def test_markers_are_the_truths_baseline_and_self_care(week: Week) -> None:
    t = week.truth
    starts = [(m.kind, m.time_ns) for m in week.markers if m.action is MarkerAction.START]
    stops = [(m.kind, m.time_ns) for m in week.markers if m.action is MarkerAction.STOP]
    assert starts == [("baseline", t.baseline.start_ns)] + [
        ("self-care", s.start_ns) for s in t.self_care
    ]
    assert stops == [("baseline", t.baseline.end_ns)] + [
        ("self-care", s.end_ns) for s in t.self_care
    ]
    assert {m.study for m in week.markers} == {week.plan.study}


def test_truth_per_day() -> None:
    """Stress load per calendar day is the stressors' minutes; sleep ends in the morning."""
    (t,), _ = simulate_days(DaysPlan(days=4, seed=2))
    load = t.stress_load_min
    assert len(load) == 4 and sum(load.values()) == pytest.approx(
        sum(s.minutes for s in t.stressors)
    )
    assert all(5.0 <= s.minutes <= 30.0 for s in t.stressors)
    for s in t.sleep:
        assert 6 * 60 <= s.minutes <= 10 * 60 or s.end_ns == t.end_ns
    assert not any(t.asleep(s.start_ns) for s in t.stressors)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"eda_hz": 64.0}, "eda_hz"),
        ({"acc_hz": 0.5}, "acc_hz"),
        ({"days": 0}, "days"),
        ({"chunk_s": 7000.0}, "chunk_s"),
    ],
)
def test_plan_refuses_bad_arguments(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DaysPlan(**kwargs)  # type: ignore[arg-type]
