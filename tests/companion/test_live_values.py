"""``collect``'s live view shows each participant's HR, RMSSD, SCL and stress index: the
newest values the pipeline computed, checked against NumPy on the same beats and EDA."""

from __future__ import annotations

import io

import numpy as np
from support_protocols import SHORT_PROTOCOL

from stresstrack.events import Beat, EdaSamples
from stresstrack.pipeline.engine import Pipeline, PipelineConfig
from stresstrack.pipeline.latest import LatestValues
from stresstrack.runtime.status import LiveStatus
from stresstrack.simulators.physiology import ParticipantModel, ParticipantParams
from stresstrack.simulators.recording import CLEAN, recording_events

NS = 1_000_000_000
START = 1_780_000_000 * NS


def test_live_view_lines_follow_the_pipeline() -> None:
    model = ParticipantModel(SHORT_PROTOCOL, ParticipantParams(), 3)
    events = recording_events("P7", model, CLEAN, np.random.default_rng(3), start_ns=START)
    events = [e for e in events if e.time_ns < START + 300 * NS]
    latest = LatestValues()
    pipeline = Pipeline(PipelineConfig(baseline_s=120.0))
    pipeline.observe(outputs=latest.observe)
    outputs = pipeline.process_many(events)
    last = max(o.time_ns for o in outputs if type(o).__name__ == "FeatureRow")
    # Independent: the last 60 s window's mean HR and RMSSD from the beats, SCL from the EDA.
    rr = np.array(
        [e.rr_ms for e in events if isinstance(e, Beat) and last - 60 * NS < e.time_ns <= last]
    )
    eda = np.concatenate([
        [v for i, v in enumerate(e.values_us) if last - 60 * NS < e.sample_time_ns(i) <= last]
        for e in events if isinstance(e, EdaSamples)
    ])  # fmt: skip
    v = latest.by_participant["P7"]
    assert v.hr_bpm is not None and abs(v.hr_bpm - 60000 / rr.mean()) < 1.0
    assert (
        v.rmssd_ms is not None
        and abs(v.rmssd_ms - np.sqrt(np.mean(np.diff(rr) ** 2))) < 0.05 * v.rmssd_ms
    )
    assert v.scl_us is not None and abs(v.scl_us - float(np.mean(eda))) < 0.3
    assert v.stress is not None
    status = LiveStatus([], io.StringIO(), physiology=latest.lines)
    line = status.table(last)[-1]
    assert line.startswith("P7: HR ") and f"RMSSD {v.rmssd_ms:.1f} ms" in line
    assert f"stress {v.stress:.0f}" in status.log_lines(last)[-1]
