"""The collector through bleak's own client API, against simulated peripherals."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest
from bleak import BleakClient

from stresstrack.backoff import Backoff
from stresstrack.clock import VirtualClock, run_virtual
from stresstrack.events import Beat, DeviceState, DeviceStatus, EdaSamples, Event, HeartRate
from stresstrack.sensors.collector import DeviceCollector
from stresstrack.session.protocol import Protocol
from stresstrack.simulators.bleak_backend import SimulatedBleakClient
from stresstrack.simulators.peripherals import (
    Faults,
    SimulatedAir,
    SimulatedEdaBand,
    SimulatedHeartRateStrap,
    Ticks,
)
from stresstrack.simulators.physiology import ParticipantModel, ParticipantParams
from stresstrack.simulators.study import StudyPlan, simulate_study

T0 = 1_767_603_600_000_000_000


@dataclass
class ListSink:
    events: list[Event] = field(default_factory=list)

    def emit(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


def _collect(peripheral_cls, protocol: Protocol, faults: Faults, seconds: float, **kw):  # type: ignore[no-untyped-def]
    clock = VirtualClock(T0)
    air = SimulatedAir()
    model = ParticipantModel(protocol, ParticipantParams(), seed=1)
    device = air.add(
        peripheral_cls(
            address="AA:BB:CC:00:00:01",
            name="dev",
            clock=clock,
            start_ns=T0,
            model=model,
            faults=faults,
            **kw,
        )
    )
    sink = ListSink()

    def factory(address, on_disconnect):  # type: ignore[no-untyped-def]
        return BleakClient(address, on_disconnect, backend=SimulatedBleakClient, air=air)

    collector = DeviceCollector(
        device.address,
        participant="p1",
        sink=sink,
        clock=clock,
        client_factory=factory,
        backoff=Backoff(0.5, 4.0),
        rng=random.Random(0),
    )

    async def main():  # type: ignore[no-untyped-def]
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run(stop))
        await asyncio.sleep(seconds)
        stop.set()
        return await task

    stats = run_virtual(main(), clock)
    return device, sink.events, stats


def test_collector_reconnects_and_keeps_every_delivered_notification(short_protocol) -> None:  # type: ignore[no-untyped-def]
    faults = Faults(disconnect_every_s=40.0, disconnect_for_s=6.0, seed=3)
    strap, events, stats = _collect(SimulatedHeartRateStrap, short_protocol, faults, 600.0)
    assert stats.disconnects >= 8  # ~15 expected in 10 minutes
    assert stats.connects == stats.disconnects + 1
    hr = [e for e in events if isinstance(e, HeartRate)]
    assert len(hr) == strap.sent  # every notification delivered while connected was recorded
    statuses = [e for e in events if isinstance(e, DeviceStatus)]
    gaps = [s for s in statuses if s.state is DeviceState.GAP]
    assert len(gaps) == stats.disconnects
    for gap in gaps:
        assert gap.gap_start_ns is not None and gap.time_ns - gap.gap_start_ns >= 5e9
    beats = [e for e in events if isinstance(e, Beat)]
    times = [b.time_ns for b in beats]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert all(b.rr_ticks is not None and b.rr_ms == b.rr_ticks * 1000 / 1024 for b in beats)


def test_eda_band_chunks_are_continuous_between_drops(short_protocol) -> None:  # type: ignore[no-untyped-def]
    band, events, _stats = _collect(
        SimulatedEdaBand, short_protocol, Faults(drop_share=0.05, seed=2), 120.0
    )
    chunks = [e for e in events if isinstance(e, EdaSamples)]
    assert len(chunks) == band.sent and band.dropped > 0
    assert all(c.sampling_rate == 32.0 and len(c.values_us) == 8 for c in chunks)
    steps = np.diff([c.time_ns for c in chunks])
    # Consecutive packets are exactly 8 samples (0.25 s) apart; a dropped one leaves 0.5 s.
    assert set(np.round(steps / 1e9, 6)) <= {0.25, 0.5, 0.75}


class GarbageStrap(SimulatedHeartRateStrap):
    """Sends a malformed packet every fifth notification."""

    def ticks(self) -> Ticks:
        for n, (delay, packets) in enumerate(super().ticks(), 1):
            if n % 5 == 0:
                yield delay, [(uuid, lambda: b"\x10\x48\xf0") for uuid, _ in packets]
            else:
                yield delay, packets


def test_bad_packets_are_counted_and_collection_goes_on(short_protocol) -> None:  # type: ignore[no-untyped-def]
    _, events, stats = _collect(GarbageStrap, short_protocol, Faults(), 60.0)
    bad = [e for e in events if isinstance(e, DeviceStatus) and e.state is DeviceState.BAD_PACKET]
    assert stats.bad_packets == len(bad) >= 10
    assert "RR intervals flagged but 1 bytes follow" in bad[0].detail
    assert len([e for e in events if isinstance(e, HeartRate)]) >= 40


def test_device_not_found_is_retried_with_a_clear_message(short_protocol) -> None:  # type: ignore[no-untyped-def]
    clock = VirtualClock(T0)
    air = SimulatedAir()
    sink = ListSink()

    def factory(address, on_disconnect):  # type: ignore[no-untyped-def]
        return BleakClient(address, on_disconnect, backend=SimulatedBleakClient, air=air)

    collector = DeviceCollector(
        "11:22:33:44:55:66",
        participant="p1",
        sink=sink,
        clock=clock,
        client_factory=factory,
        backoff=Backoff(1.0, 8.0),
        rng=random.Random(1),
    )

    async def main():  # type: ignore[no-untyped-def]
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run(stop))
        await asyncio.sleep(60)
        stop.set()
        return await task

    stats = run_virtual(main(), clock)
    assert stats.connects == 0
    assert "device not found" in stats.last_error
    attempts = [
        e for e in sink.events if isinstance(e, DeviceStatus) and e.state is DeviceState.CONNECTING
    ]
    gaps = np.diff([a.time_ns for a in attempts]) / 1e9
    assert 6 <= len(attempts) <= 15  # backoff grows to its 8 s cap instead of hammering
    assert max(gaps) <= 8.0 + 2.0 + 1e-6


@pytest.mark.parametrize("faulty", [False, True])
def test_simulated_study_runs_through_bleak(short_protocol, faulty: bool) -> None:  # type: ignore[no-untyped-def]
    sink = ListSink()
    faults = Faults(disconnect_every_s=120.0, disconnect_for_s=5.0) if faulty else Faults()
    stats = simulate_study(
        StudyPlan(participants=2, seed=1, protocol=short_protocol, faults=faults), sink
    )
    assert len(stats) == 4
    assert all(s.connects >= 1 for s in stats)
    assert any(s.disconnects > 0 for s in stats) == faulty
    pids = {e.participant for e in sink.events}
    assert pids == {"sim-001", "sim-002"}
