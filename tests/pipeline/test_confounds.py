"""Breathing rate and movement per window against the simulator's truth, and the live Polar
path (still/moving statuses) reaching the index."""

from __future__ import annotations

import numpy as np

from stresstrack.events import DeviceState, DeviceStatus, Event
from stresstrack.pipeline import Pipeline, StressRow
from stresstrack.pipeline.movement import acc_activity
from stresstrack.pipeline.respiration import SLOW_BREATHING_PER_MIN, respiration_acc
from stresstrack.pipeline.results import FeatureRow
from stresstrack.session.protocol import Phase, Protocol
from stresstrack.simulators.physiology import (
    Episode,
    ParticipantModel,
    ParticipantParams,
    simulate_acc,
)
from stresstrack.simulators.recording import CLEAN, recording_events

NS = 1_000_000_000
T0 = 1_767_603_600 * NS
REST = Protocol("rest", (Phase("baseline", 300.0), Phase("rest", 300.0)))


def _model(seed: int, **kw: object) -> ParticipantModel:
    params = ParticipantParams.draw(np.random.default_rng(seed), non_responder_share=0.0)
    return ParticipantModel(REST, params, seed, **kw)  # type: ignore[arg-type]


def test_breathing_rate_from_the_chest_accelerometer_matches_the_truth() -> None:
    """60 s windows of a still chest: within 1 breath/min of the model's mean rate, at
    spontaneous rates and at 6/min."""
    for seed in range(4):
        model = ParticipantModel(
            REST, ParticipantParams.draw(np.random.default_rng(seed)), seed,
            breathing=(Episode(300.0, 600.0, 6.0),),
        )  # fmt: skip
        t, xyz = simulate_acc(model)
        mag = np.sqrt(np.sum(xyz * xyz, axis=1))
        for start in (30.0, 150.0, 360.0, 480.0):
            sel = (t >= start) & (t < start + 60.0)
            moving = model.activity_at(t[sel]).max() > 0
            if moving:
                continue
            true = 60.0 * float(np.mean(model.breathing_hz_at(t[sel])))
            rate = respiration_acc(mag[sel], 25.0)
            assert rate is not None and abs(rate - true) <= 1.0, (seed, start, rate, true)


def test_activity_sees_the_movement_episodes() -> None:
    model = _model(1, activity=(Episode(120.0, 240.0, 0.3),))
    t, xyz = simulate_acc(model)
    mag = np.sqrt(np.sum(xyz * xyz, axis=1))
    moving = acc_activity(mag[(t >= 150) & (t < 210)], 25.0)
    still = [
        acc_activity(mag[(t >= a) & (t < a + 60)], 25.0)
        for a in (0.0, 300.0, 400.0, 500.0)
        if model.activity_at(t[(t >= a) & (t < a + 60)]).max() == 0
    ]
    assert moving["moving_share"] is not None and moving["moving_share"] >= 0.9
    assert still and all(s["moving_share"] == 0.0 for s in still)
    assert all(s["activity_mg"] is not None and s["activity_mg"] < 8.0 for s in still)


def test_slow_breathing_withholds_the_vagal_component_with_an_accelerometer() -> None:
    model = ParticipantModel(
        REST, ParticipantParams.draw(np.random.default_rng(3)), 3,
        breathing=(Episode(300.0, 600.0, 6.0),),
    )  # fmt: skip
    events = recording_events("p", model, CLEAN, np.random.default_rng(3), start_ns=T0, acc_hz=25.0)
    pipe = Pipeline()
    out = pipe.process_many(events) + pipe.finish()
    feats = {o.time_ns: o for o in out if isinstance(o, FeatureRow)}
    late = [o for o in out if isinstance(o, StressRow) and o.time_ns >= T0 + 400 * NS]
    rates = [feats[r.time_ns].values["resp_rate_bpm"] for r in late]
    assert all(r is not None and r < SLOW_BREATHING_PER_MIN for r in rates)
    assert all(r.components["ln_rmssd"] is None and "slow breathing" in r.reason for r in late)


def test_polar_motion_statuses_flag_movement_in_the_live_pipeline() -> None:
    """No raw accelerometer: the still/moving statuses a Polar collector stores
    (``motion=moving level_mg=...``) give the windows their movement."""
    model = _model(5, activity=(Episode(400.0, 520.0, 0.6),))
    events: list[Event] = list(recording_events("p", model, CLEAN, np.random.default_rng(5),
                                                start_ns=T0))  # fmt: skip
    for t, detail in ((0.0, "still level_mg=4"), (400.0, "moving level_mg=180"),
                      (520.0, "still level_mg=5")):  # fmt: skip
        events.append(
            DeviceStatus(
                time_ns=T0 + int(t * NS), participant="p", state=DeviceState.CONNECTED,
                detail=f"motion={detail}",
            )
        )  # fmt: skip
    events.sort(key=lambda e: e.time_ns)
    pipe = Pipeline()
    out = pipe.process_many(events) + pipe.finish()
    feats = {o.time_ns: o for o in out if isinstance(o, FeatureRow)}
    moving = [
        o for o in out if isinstance(o, StressRow) and T0 + 470 * NS <= o.time_ns <= T0 + 520 * NS
    ]
    assert moving and all(feats[r.time_ns].values["moving_share"] == 1.0 for r in moving)
    assert all("movement" in r.reason and r.components["scl"] is None for r in moving)
    assert all(r.confidence <= 0.5 for r in moving)
