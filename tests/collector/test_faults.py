"""Fault injection in the simulated devices: heart (ectopic, missed), movement, radio."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from stresstrack.clock import VirtualClock, run_virtual
from stresstrack.sensors.profiles.eda import STRESSTRACK_EDA_V1
from stresstrack.session.protocol import Protocol
from stresstrack.simulators.faults import (
    Faults,
    beats_with_ectopics,
    beats_with_missed,
    in_episodes,
    motion_episodes,
)
from stresstrack.simulators.peripherals import SimulatedEdaBand, SimulatedHeartRateStrap
from stresstrack.simulators.physiology import ParticipantModel, ParticipantParams, simulate_beats
from stresstrack.simulators.polar import SimulatedPolarH10

T0 = 1_767_603_600_000_000_000
NS = 1_000_000_000


def _beats(protocol: Protocol) -> tuple[np.ndarray, np.ndarray]:
    return simulate_beats(ParticipantModel(protocol, ParticipantParams(), seed=4))


def test_ectopic_beats_are_premature_with_a_compensatory_pause(short_protocol: Protocol) -> None:
    """About 6 per minute; each: RR 20-35 % short, the next RR longer by as much, later beats
    unmoved, and every time still the previous time plus its RR."""
    t, rr = _beats(short_protocol)
    t2, rr2 = beats_with_ectopics(t, rr, 6.0, np.random.default_rng(1))
    changed = np.flatnonzero(~np.isclose(rr2, rr))
    starts = changed[::2]
    assert 40 <= len(starts) <= 80  # 10.5 minutes at ~6 per minute, picks kept 3 beats apart
    for k in starts:
        early = rr[k] - rr2[k]
        assert 0.2 * rr[k] - 1e-9 <= early <= 0.35 * rr[k] + 1e-9
        assert rr2[k + 1] == pytest.approx(rr[k + 1] + early)
        assert t2[k] == pytest.approx(t[k] - early / 1000)
        assert t2[k + 1] == t[k + 1]
    assert np.allclose(np.diff(t2), rr2[1:] / 1000)
    assert beats_with_ectopics(t, rr, 0.0, np.random.default_rng(1))[1] is rr


def test_missed_beats_merge_two_intervals(short_protocol: Protocol) -> None:
    """A missed beat disappears and the next RR spans both intervals: times and RR agree."""
    t, rr = _beats(short_protocol)
    t2, rr2 = beats_with_missed(t, rr, 3.0, np.random.default_rng(2))
    missing = len(t) - len(t2)
    assert 15 <= missing <= 45
    assert set(t2.tolist()) < set(t.tolist())
    assert np.allclose(np.diff(t2), rr2[1:] / 1000)
    assert rr2.sum() == pytest.approx(rr.sum())


def test_the_strap_reports_detector_beats_the_ecg_shows_all(short_protocol: Protocol) -> None:
    """An H10 with ectopic and missed beats: its HRS RR miss beats its ECG still has."""
    model = ParticipantModel(short_protocol, ParticipantParams(), seed=4)
    h10 = SimulatedPolarH10(
        address="A0:9E:1A:00:00:01",
        name="h10",
        clock=VirtualClock(T0),
        start_ns=T0,
        model=model,
        faults=Faults(ectopic_per_min=4.0, missed_per_min=2.0, seed=9),
    )
    reported, ticks = h10.reported_beats
    assert set(reported.tolist()) < set(h10.true_beat_ns.tolist())
    assert len(h10.true_beat_ns) - len(reported) >= 10
    # Each reported RR spans exactly the true beats between its ends (to a 1/1024 s tick).
    assert np.all(np.abs(np.diff(reported) / 1e6 - ticks[1:] * 1000 / 1024) < 0.5)
    # The ECG template is drawn at every true beat: a beat the strap missed is in the ECG.
    missed = sorted(set(h10.true_beat_ns.tolist()) - set(reported.tolist()))[0]
    times = np.array([missed - 20_000_000, missed, missed + 20_000_000])
    uv = h10.ecg_microvolts(0, times)
    assert uv[1] > 1000 and uv[1] > uv[0] and uv[1] > uv[2]


def test_motion_episodes_are_reproducible_and_spoil_eda(short_protocol: Protocol) -> None:
    """Motion bursts come from the seed alone; the EDA band's values jump and get noisy
    inside them and equal the model's outside."""
    duration = short_protocol.duration_s
    episodes = motion_episodes(60.0, 8.0, duration, seed=3)
    assert episodes == motion_episodes(60.0, 8.0, duration, seed=3)
    assert episodes != motion_episodes(60.0, 8.0, duration, seed=4)
    assert all(4.0 <= b - a <= 12.0 for a, b in episodes)
    model = ParticipantModel(short_protocol, ParticipantParams(), seed=4)
    band = SimulatedEdaBand(
        address="E0:00:00:00:00:01",
        name="band",
        clock=VirtualClock(T0),
        start_ns=T0,
        model=model,
        faults=Faults(motion_every_s=60.0, motion_for_s=8.0, seed=3),
    )
    assert band.motion == episodes
    t = np.arange(band.true_values_us.size) / STRESSTRACK_EDA_V1.sampling_rate
    inside = in_episodes(t, episodes)
    measured = np.array([v for k in range(0, t.size, 8) for v in band.packet_values(k)])
    assert np.array_equal(measured[~inside], band.true_values_us[~inside])
    spoiled = np.abs(measured[inside] - band.true_values_us[inside])
    assert spoiled.mean() > 0.25


def test_transport_jitter_delays_in_order_and_never_early(short_protocol: Protocol) -> None:
    """With 50 ms mean latency, notifications arrive after they were sent, in order."""
    clock = VirtualClock(T0)
    model = ParticipantModel(short_protocol, ParticipantParams(), seed=4)
    strap = SimulatedHeartRateStrap(
        address="F0:00:00:00:00:01",
        name="strap",
        clock=clock,
        start_ns=T0,
        model=model,
        faults=Faults(latency_s=0.05, seed=1),
    )
    arrivals: list[tuple[int, bytes]] = []
    subscribed = {"00002a37-0000-1000-8000-00805f9b34fb"}

    async def main() -> None:
        task = asyncio.create_task(
            strap.serve(lambda u, d: arrivals.append((clock.now_ns(), d)), subscribed, lambda: None)
        )
        await asyncio.sleep(60.5)
        task.cancel()

    run_virtual(main(), clock)
    delays = [(t - T0) / NS - (k + 1) for k, (t, _) in enumerate(arrivals)]
    assert len(arrivals) == strap.sent == 60
    assert min(delays) >= 0 and 0.02 < float(np.mean(delays)) < 0.1
    assert [t for t, _ in arrivals] == sorted(t for t, _ in arrivals)


def test_battery_drains(short_protocol: Protocol) -> None:
    clock = VirtualClock(T0)
    model = ParticipantModel(short_protocol, ParticipantParams(), seed=4)
    strap = SimulatedHeartRateStrap(
        address="F0:00:00:00:00:01",
        name="strap",
        clock=clock,
        start_ns=T0,
        model=model,
        battery_pct=50.0,
        battery_drain_per_h=10.0,
    )
    assert strap.read("00002a19-0000-1000-8000-00805f9b34fb") == bytes([50])
    clock.advance(3 * 3600)
    assert strap.read("00002a19-0000-1000-8000-00805f9b34fb") == bytes([20])
