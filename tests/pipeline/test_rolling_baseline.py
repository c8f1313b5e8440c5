"""The rolling baseline (pipeline/rolling.py, docs/days.md "Rolling baseline").

Two references: the batch formula (numpy over whole arrays: the documented selection of
resting minute-windows, then median and 1.4826 x MAD) against the streaming reference fed one
window at a time, as river checks streaming statistics; and a simulated multi-day participant,
whose rolling baseline HR must be the awake resting HR the simulator's truth says (measured
from the raw beats, outside sleep, activity, stressors and self-care).
"""

from __future__ import annotations

import numpy as np
import pytest

from stresstrack.events import Beat
from stresstrack.pipeline import Pipeline, PipelineConfig
from stresstrack.pipeline.rolling import DAY_NS, RollingReference
from stresstrack.pipeline.stress import COMPONENTS, Baseline, Derived
from stresstrack.simulators.days import DaysPlan, DaysTruth, simulate_days

NS = 1_000_000_000
MIN = 60 * NS
DAY0 = 20_458 * DAY_NS  # 2026-01-05T00:00:00Z


def _window(t_ns: int, hr: float, rmssd: float, moving: float) -> Derived:
    inputs: dict[str, float | None] = {c.name: None for c in COMPONENTS}
    inputs["hr"], inputs["ln_rmssd"] = hr, np.log(rmssd)
    return Derived(t_ns, inputs, None, 5.0, moving, None, False, None)


def _batch(hr: np.ndarray, moving: np.ndarray, usable: np.ndarray, lo: int, hi: int) -> float:
    """The documented rule on whole arrays: still (<= 0.2), usable, and a centred 31-minute
    mean moving share >= 0.01 (a truncated window at the ends), minutes [lo, hi)."""
    kernel = np.ones(31)
    sums = np.convolve(moving, kernel, mode="same")
    counts = np.convolve(np.ones_like(moving), kernel, mode="same")
    awake = sums / counts >= 0.01
    keep = (moving <= 0.2) & usable & awake
    keep[:lo] = False
    keep[hi:] = False
    return float(np.median(hr[keep]))


def test_streaming_reference_equals_the_batch_formula() -> None:
    """Three days of minute windows: nights (00:00-07:00) without movement, days with light
    movement every third minute, walks (moving share 0.6) and unusable windows (a stressor
    session, implausible). Each midnight's baseline, and each hour's of the first day once
    an hour of resting windows is kept, is the median (and 1.4826 MAD) of the windows of
    the last 2 days the rule keeps; 5 s windows between minutes are ignored."""
    rng = np.random.default_rng(1)
    n = 3 * 1440 + 1
    minute = np.arange(n)
    clock_h = (minute % 1440) / 60
    night = clock_h < 7
    hr = np.where(night, 55.0, 70.0) + rng.normal(0, 3, n) + minute / 1440  # +1 bpm a day
    rmssd = np.where(night, 60.0, 40.0) * np.exp(rng.normal(0, 0.2, n))
    moving = np.where(night, 0.0, np.where(minute % 3 == 0, 0.1, 0.0))
    moving[(clock_h >= 18) & (clock_h < 18.5)] = 0.6  # a walk
    usable = ~((clock_h >= 10) & (clock_h < 10.5))  # a stressor session
    usable[rng.random(n) < 0.02] = False  # implausible windows
    ref = RollingReference(days=2.0)
    base = Baseline(mean={"hr": 0.0}, sd={"hr": 1.0}, frozen=True)
    refreshed: dict[int, Baseline] = {}  # by minute
    for i in range(n):
        ref.offer(_window(DAY0 + i * MIN, hr[i], rmssd[i], moving[i]), bool(usable[i]))
        ref.offer(_window(DAY0 + i * MIN + 5 * NS, 999.0, 1.0, 1.0), True)  # off the minute
        new = ref.refresh(DAY0 + i * MIN, base)
        if new is not None:
            refreshed[i] = base = new
    # The first day warms up hourly, from the first hour with 60 resting windows decided
    # (07:00 + 60 kept + 15 min of context: 09:00); then once a day, at midnight.
    warm = [i for i in refreshed if i < 1440]
    assert warm == list(range(9 * 60, 1440, 60))
    assert sorted(set(refreshed) - set(warm)) == [1440, 2 * 1440, 3 * 1440]
    for i, b in refreshed.items():
        # Windows decided by then: up to 15 min before (the context they need).
        hi = i - 15 + 1
        lo = max(0, i - 2 * 1440)
        assert b.mean["hr"] == pytest.approx(_batch(hr, moving, usable, lo, hi), abs=1e-12)
        ln = np.log(rmssd)
        centre = _batch(ln, moving, usable, lo, hi)
        assert b.mean["ln_rmssd"] == pytest.approx(centre, abs=1e-12)
        assert b.mean["hr"] > 65.0  # nights and walks are not in it
    refreshed = {i // 1440: b for i, b in refreshed.items() if i % 1440 == 0}
    assert refreshed[3].mean["hr"] - refreshed[1].mean["hr"] == pytest.approx(1.5, abs=0.4)


def test_too_few_windows_keep_the_previous_statistics() -> None:
    ref = RollingReference(days=1.0)
    base = Baseline(mean={"hr": 61.0}, sd={"hr": 4.0}, frozen=True)
    for i in range(40):  # 40 resting minutes: fewer than an hour
        ref.offer(_window(DAY0 + (1400 + i) * MIN, 70.0, 40.0, 0.1), True)
    assert ref.refresh(DAY0 + 1439 * MIN, base) is None
    assert ref.refresh(DAY0 + 1440 * MIN, base) is None  # nothing changes: no new baseline


def _awake_rest_hr(truth: DaysTruth, beats: list[Beat], lo_ns: int, hi_ns: int) -> float:
    busy = [*truth.sleep, *truth.activity, *truth.stressors, *truth.self_care]
    minutes: dict[int, list[float]] = {}
    for b in beats:
        if lo_ns <= b.time_ns < hi_ns and not any(
            s.start_ns - 10 * MIN <= b.time_ns < s.end_ns + 10 * MIN for s in busy
        ):
            minutes.setdefault(b.time_ns // MIN, []).append(60000.0 / b.rr_ms)
    return float(np.median([np.mean(v) for v in minutes.values()]))


def test_a_simulated_participant_gets_their_awake_resting_heart_rate() -> None:
    """A simulated day (07:00 to 07:00) through the pipeline (rolling, 1 day): the
    baseline starts as the fixed one, is refreshed hourly through the first day, and after
    midnight the baseline HR is the median awake resting HR of that day measured from the
    raw beats (within 1.5 bpm: the pipeline's still windows include a few minutes the
    truth calls busy, and mean HR per window is 60000/mean RR); the fixed mode keeps the
    5-min morning baseline."""
    plan = DaysPlan(days=1, seed=3, eda_hz=4.0, acc_hz=10.0)
    (truth,), chunks = simulate_days(plan)
    # 30 s hops: the marked 5-min baseline still holds the 6 windows a baseline needs.
    fast = {"hop_s": 30.0, "slow_hop_s": 60.0, "edasymp_hop_s": 60.0}
    rolling = Pipeline(PipelineConfig(baseline_mode="rolling", baseline_days=1.0, **fast))
    fixed = Pipeline(PipelineConfig(**fast))
    beats: list[Beat] = []
    midnight = (truth.start_ns // DAY_NS + 1) * DAY_NS
    seen: list[tuple[int, float]] = []  # (chunk end, baseline HR) at each change
    for chunk in chunks:
        rolling.process_many(chunk)
        fixed.process_many(chunk)
        beats += [e for e in chunk if isinstance(e, Beat)]
        b = rolling.baseline(truth.participant)
        if b is not None and b.mean and (not seen or b.mean["hr"] != seen[-1][1]):
            seen.append((chunk[-1].time_ns, b.mean["hr"]))
    first = fixed.baseline(truth.participant)
    last = rolling.baseline(truth.participant)
    assert first is not None and last is not None
    assert seen[0][1] == first.mean["hr"]
    # Hourly during the first day (the chunks are hours), then once, at midnight.
    assert len([t for t, _ in seen if t < midnight]) >= 10
    assert len([t for t, _ in seen if t >= midnight]) == 1
    reference = _awake_rest_hr(truth, beats, truth.start_ns, midnight)
    assert last.mean["hr"] == pytest.approx(reference, abs=1.5)
    assert last.independent["hr"] >= 8 * 60  # a day's awake resting minutes
