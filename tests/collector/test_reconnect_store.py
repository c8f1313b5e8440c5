"""Repeated link losses while collecting into a real store: nothing delivered is lost.

A participant wears all four simulated devices (strap, EDA band, Polar H10, Verity Sense);
each loses its link every ~45 s for 6 s and drops 2 % of notifications in the air. The
collectors write through a :class:`Recorder` into a SQLite :class:`Store`.
"""

from __future__ import annotations

import asyncio
import random

import numpy as np
import pytest

from stresstrack.backoff import Backoff
from stresstrack.clock import VirtualClock, run_virtual
from stresstrack.events import (
    Beat,
    BeatSource,
    DeviceState,
    DeviceStatus,
    EdaSamples,
    Event,
    HeartRate,
    Waveform,
)
from stresstrack.sensors.collector import CollectorStats, DeviceCollector
from stresstrack.sensors.profiles.eda import STRESSTRACK_EDA_V1
from stresstrack.sensors.profiles.heart_rate import HEART_RATE_MEASUREMENT_UUID
from stresstrack.sensors.profiles.polar_pmd import PmdMeasurementType
from stresstrack.session.protocol import Phase, Protocol
from stresstrack.session.recorder import Recorder
from stresstrack.simulators.faults import Faults
from stresstrack.simulators.polar import SimulatedPolarH10, SimulatedVeritySense
from stresstrack.simulators.study import build_participant_air, simulated_client_factory
from stresstrack.store.sqlite import Store

T0 = 1_767_603_600_000_000_000
NS = 1_000_000_000
SECONDS = 600.0
FAULTS = Faults(disconnect_every_s=45.0, disconnect_for_s=6.0, drop_share=0.02, seed=11)


@pytest.fixture(scope="module")
def collected(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, object], dict[str, CollectorStats], list[Event], str]:
    protocol = Protocol("rest", (Phase("rest", SECONDS + 60),))
    clock = VirtualClock(T0)
    sim = build_participant_air("p1", clock, protocol=protocol, seed=4, faults=FAULTS)
    factory = simulated_client_factory(sim.air)
    path = tmp_path_factory.mktemp("store") / "collect.db"
    with Store(path) as store:
        recorder = Recorder(store, None, batch=64)
        collectors = {
            kind: DeviceCollector(
                device.address,
                participant="p1",
                sink=recorder,
                clock=clock,
                client_factory=factory,
                backoff=Backoff(0.5, 4.0),
                rng=random.Random(k),
            )
            for k, (kind, device) in enumerate(sim.devices.items())
        }

        async def main() -> None:
            stop = asyncio.Event()
            tasks = [asyncio.create_task(c.run(stop)) for c in collectors.values()]
            await asyncio.sleep(SECONDS)
            stop.set()
            await asyncio.gather(*tasks)

        run_virtual(main(), clock)
        recorder.close()
    with Store(path, readonly=True) as store:
        events = list(store.iter_events())
        integrity = store.integrity_check()
        assert store.count("events") == recorder.events
    stats = {kind: c.stats for kind, c in collectors.items()}
    assert sum(s.events for s in stats.values()) == recorder.events  # all emitted were stored
    return dict(sim.devices), stats, events, integrity


def _of(events: list[Event], device: object, cls: type) -> list:  # type: ignore[type-arg]
    address = getattr(device, "address")  # noqa: B009
    return [e for e in events if isinstance(e, cls) and e.device == address]


def test_the_store_is_sound(collected) -> None:  # type: ignore[no-untyped-def]
    _, _, events, integrity = collected
    assert integrity == "ok"
    assert {e.participant for e in events} == {"p1"}


@pytest.mark.parametrize("kind", ["strap", "eda-band", "polar-h10", "verity-sense"])
def test_every_device_reconnects_after_each_loss_and_records_the_gap(collected, kind: str) -> None:  # type: ignore[no-untyped-def]
    devices, stats, events, _ = collected
    s = stats[kind]
    assert s.disconnects >= 6  # ~13 expected in 10 minutes
    # Stopped while connected, or while waiting to reconnect.
    assert s.connects - s.disconnects in (0, 1)
    device_statuses = _of(events, devices[kind], DeviceStatus)
    lost = [e.detail for e in device_statuses if e.state is DeviceState.DISCONNECTED]
    assert lost.count("link lost") == s.disconnects
    assert lost.count("stopped") == s.connects - s.disconnects
    # Attempts while the device was out of range failed with a clear message.
    others = set(lost) - {"link lost", "stopped"}
    assert others <= {
        f"{devices[kind].address}: device not found "  # type: ignore[attr-defined]
        "(is it on, charged, in range, and not connected to a phone?)"
    }
    gaps = [e for e in device_statuses if e.detail == "reconnected"]
    assert len(gaps) == s.connects - 1
    for gap in gaps:
        assert gap.state is DeviceState.GAP and gap.gap_start_ns is not None
        assert gap.time_ns - gap.gap_start_ns >= 6 * NS  # unreachable for 6 s at least


def test_every_heart_rate_notification_delivered_is_stored(collected) -> None:  # type: ignore[no-untyped-def]
    devices, _, events, _ = collected
    for kind in ("strap", "polar-h10", "verity-sense"):
        device = devices[kind]
        hr = _of(events, device, HeartRate)
        assert len(hr) == device.sent_by_uuid[HEART_RATE_MEASUREMENT_UUID] > 400
        times = [e.time_ns for e in hr]
        assert times == sorted(times)


def test_every_eda_packet_delivered_is_stored_and_holes_are_gaps(collected) -> None:  # type: ignore[no-untyped-def]
    devices, _, events, _ = collected
    band = devices["eda-band"]
    chunks = _of(events, band, EdaSamples)
    assert len(chunks) == band.sent_by_uuid[STRESSTRACK_EDA_V1.characteristic_uuid] > 1500
    holes = [e for e in _of(events, band, DeviceStatus) if e.detail == "EDA: packets missing"]
    assert holes  # 2 % of packets dropped within connections
    steps = np.diff([c.time_ns for c in chunks]) / NS
    assert np.all(steps > 0)


def test_every_ecg_frame_delivered_is_stored(collected) -> None:  # type: ignore[no-untyped-def]
    devices, _, events, _ = collected
    h10 = devices["polar-h10"]
    assert isinstance(h10, SimulatedPolarH10)
    ecg = _of(events, h10, Waveform)
    assert len(ecg) == h10.delivered[PmdMeasurementType.ECG] > 800
    holes = [e for e in _of(events, h10, DeviceStatus) if e.detail.startswith("ECG: ")]
    assert holes and all(e.detail == "ECG: 73 samples missing" for e in holes[:3])
    beats = _of(events, h10, Beat)
    assert {b.source for b in beats} == {BeatSource.HRS}


def test_every_ppi_beat_delivered_is_stored_or_counted_as_discarded(collected) -> None:  # type: ignore[no-untyped-def]
    devices, stats, events, _ = collected
    verity = devices["verity-sense"]
    assert isinstance(verity, SimulatedVeritySense)
    beats = _of(events, verity, Beat)
    assert {b.source for b in beats} == {BeatSource.PPI}
    discarded = stats["verity-sense"].discarded_beats
    assert len(beats) + discarded == verity.delivered_ppi_beats > 300
