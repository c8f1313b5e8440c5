"""The baseline: maximum duration, settling, spread from non-overlapping windows, and a
confidence that falls with a short baseline."""

from __future__ import annotations

import numpy as np

from stresstrack.events import Event, Marker, MarkerAction
from stresstrack.pipeline import Pipeline, PipelineConfig, StressRow
from stresstrack.pipeline.stress import COMPONENTS, Baseline, Derived
from stresstrack.session.protocol import Phase, Protocol
from stresstrack.simulators.physiology import ParticipantModel, ParticipantParams
from stresstrack.simulators.recording import CLEAN, recording_events

NS = 1_000_000_000
T0 = 1_767_603_600 * NS


def _rest_events(seconds: float, seed: int) -> list[Event]:
    params = ParticipantParams.draw(np.random.default_rng(seed), non_responder_share=0.0)
    model = ParticipantModel(Protocol("rest", (Phase("rest", seconds),)), params, seed)
    return recording_events("p", model, CLEAN, np.random.default_rng(seed), start_ns=T0)


def test_an_unstopped_baseline_ends_by_itself_and_the_index_goes_live() -> None:
    """Only ``mark start --kind baseline`` at 60 s, never a stop, 20 min of data: the first
    index leaves the pipeline (not at finish) before the data reaches the baseline's start
    + its maximum duration (600 s) + one window (60 s)."""
    start = T0 + 60 * NS
    events = _rest_events(1200.0, 2)
    events.append(
        Marker(time_ns=start, participant="p", action=MarkerAction.START, kind="baseline")
    )
    events.sort(key=lambda e: e.time_ns)
    config = PipelineConfig()
    pipe = Pipeline(config)
    first_live: int | None = None
    live = 0
    for e in events:
        rows = [o for o in pipe.process(e) if isinstance(o, StressRow) and o.index is not None]
        live += len(rows)
        if rows and first_live is None:
            first_live = e.time_ns
    assert first_live is not None and live > 100
    limit = start + int((config.baseline_max_s + config.hrv_window_s) * NS)
    assert first_live <= limit, (first_live - start) / NS
    # The baseline holds windows from its start to start + 600 s only.
    baseline = pipe._p["p"].stress.baseline
    assert baseline.offered == (600 - 60) // 5 + 2  # windows ending 115 s (start - 1 hop) .. 660 s


def _derived(t_s: float, hr: float) -> Derived:
    inputs: dict[str, float | None] = {c.name: None for c in COMPONENTS}
    inputs["hr"] = hr
    return Derived(int(t_s * NS), inputs, None, None, None, None, False, None)


def test_baseline_spread_comes_from_non_overlapping_windows() -> None:
    """60 s windows every 5 s of a slowly wandering HR: the SD is that of windows 60 s
    apart (numpy on every 12th value), not of the 49 overlapping ones."""
    rng = np.random.default_rng(4)
    hr = 65 + np.cumsum(rng.normal(0, 0.4, 49))
    b = Baseline()
    for k, x in enumerate(hr):
        b.add(_derived(60 + 5 * k, float(x)))
    b.freeze(60 * NS)
    independent = hr[::-12]
    assert b.independent["hr"] == independent.size == 5
    assert b.sd["hr"] == max(float(np.std(independent, ddof=1)), 3.0)
    assert b.mean["hr"] == float(np.mean(hr))


def test_settling_leaves_the_first_minute_out() -> None:
    """Windows flagged as not settled do not enter the mean while enough others remain."""
    b = Baseline()
    for k in range(12):
        b.add(_derived(60 + 5 * k, 90.0), settled=False)  # arriving, still out of breath
    for k in range(12, 49):
        b.add(_derived(60 + 5 * k, 65.0))
    b.freeze(60 * NS)
    assert b.mean["hr"] == 65.0


def test_a_short_baseline_lowers_the_confidence() -> None:
    """The same 10 min of rest: a 60 s baseline (no independent spread) gives a lower
    confidence than a 5 min one."""
    events = _rest_events(600.0, 5)

    def mean_confidence(baseline_s: float) -> float:
        pipe = Pipeline(PipelineConfig(baseline_s=baseline_s))
        rows = [
            o
            for o in pipe.process_many(events) + pipe.finish()
            if isinstance(o, StressRow) and o.index is not None and o.time_ns > T0 + 330 * NS
        ]
        return float(np.mean([r.confidence for r in rows]))

    short, full = mean_confidence(90.0), mean_confidence(300.0)
    assert short <= 0.6 * full, (short, full)
