"""The collector with Polar sensors (PMD) through bleak, against simulated H10 / Verity Sense."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.service import BleakGATTService
from hypothesis import given, settings
from hypothesis import strategies as st

from stresstrack.backoff import Backoff
from stresstrack.clock import VirtualClock, run_virtual
from stresstrack.events import (
    Beat,
    BeatSource,
    Contact,
    DeviceState,
    DeviceStatus,
    Event,
    HeartRate,
    Waveform,
    WaveformKind,
)
from stresstrack.sensors.collector import CollectorStats, DeviceCollector
from stresstrack.sensors.profiles.polar_pmd import (
    PMD_DATA_UUID,
    PmdError,
    PmdMeasurementType,
)
from stresstrack.session.protocol import Protocol
from stresstrack.simulators.bleak_backend import SimulatedBleakClient
from stresstrack.simulators.faults import Faults
from stresstrack.simulators.peripherals import SimulatedAir, SimulatedPeripheral, Ticks
from stresstrack.simulators.physiology import ParticipantModel, ParticipantParams
from stresstrack.simulators.polar import (
    SimulatedPolarH10,
    SimulatedVeritySense,
)

T0 = 1_767_603_600_000_000_000
NS = 1_000_000_000
ECG, ACC, PPI = PmdMeasurementType.ECG, PmdMeasurementType.ACC, PmdMeasurementType.PPI
NO_FAULTS = Faults()


@dataclass
class ListSink:
    events: list[Event] = field(default_factory=list)

    def emit(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


def collect(  # type: ignore[no-untyped-def]
    cls,
    protocol: Protocol,
    seconds: float,
    faults: Faults = NO_FAULTS,
    collector_kw: dict | None = None,  # type: ignore[type-arg]
    **kw,
) -> tuple[SimulatedPeripheral, list[Event], CollectorStats]:
    clock = VirtualClock(T0)
    air = SimulatedAir()
    model = ParticipantModel(protocol, ParticipantParams(), seed=2)
    device = air.add(
        cls(
            address="A0:9E:1A:00:00:07",
            name="Polar H10 00000007",
            clock=clock,
            start_ns=T0,
            model=model,
            faults=faults,
            **kw,
        )
    )
    sink = ListSink()
    collector = DeviceCollector(
        device.address,
        participant="p1",
        sink=sink,
        clock=clock,
        client_factory=lambda address, cb: BleakClient(
            address, cb, backend=SimulatedBleakClient, air=air
        ),
        backoff=Backoff(0.5, 4.0),
        rng=random.Random(0),
        **(collector_kw or {}),
    )

    async def main() -> CollectorStats:
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run(stop))
        await asyncio.sleep(seconds)
        stop.set()
        return await task

    return device, sink.events, run_virtual(main(), clock)


def statuses(events: list[Event]) -> list[DeviceStatus]:
    return [e for e in events if isinstance(e, DeviceStatus)]


def test_h10_gives_ecg_waveforms_hrs_beats_and_its_identity(short_protocol: Protocol) -> None:
    """An H10 for two minutes: ECG chunks of 73 samples at 130 Hz that follow each other on
    the sample grid, RR beats from the Heart Rate Service, and its Device Information stored
    once per connection."""
    h10, events, stats = collect(SimulatedPolarH10, short_protocol, 120.0)
    assert stats.profiles == ["heart-rate", "pmd:ecg", "pmd:acc"]
    assert stats.bad_packets == 0
    ecg = [e for e in events if isinstance(e, Waveform)]
    assert len(ecg) == h10.delivered[ECG] >= 200
    assert all(
        (w.kind, w.sampling_rate, len(w.values)) == (WaveformKind.ECG, 130.0, 73) for w in ecg
    )
    steps = np.diff([w.time_ns for w in ecg]) / (73 * NS / 130)
    assert np.all(np.abs(steps - 1) < 0.01)  # consecutive frames: 73 samples apart, ±0.4 ms
    beats = [e for e in events if isinstance(e, Beat)]
    assert {b.source for b in beats} == {BeatSource.HRS}
    assert len([e for e in events if isinstance(e, HeartRate)]) == 119
    info = [s.detail for s in statuses(events) if s.detail.startswith("device:")]
    assert info == [
        "device: manufacturer=Polar Electro Oy; model=H10; hardware=39044024.10; "
        "firmware=5.0.0; software=5.0.0"
    ]
    assert stats.device_info == info[0]
    # The accelerometer is not stored, only the still/moving state (still at rest).
    motion = [s.detail for s in statuses(events) if s.detail.startswith("motion=")]
    assert len(motion) == 1 and motion[0].startswith("motion=still level_mg=")
    assert stats.moving is False


def test_motion_bursts_become_moving_and_still_statuses(short_protocol: Protocol) -> None:
    """Every simulated movement burst is reported moving then still, within a frame or two."""
    faults = Faults(motion_every_s=40.0, motion_for_s=10.0, seed=5)
    h10, events, _ = collect(SimulatedPolarH10, short_protocol, 400.0, faults)
    assert isinstance(h10, SimulatedPolarH10)
    changes = [
        ((s.time_ns - T0) / NS, s.detail.split()[0])
        for s in statuses(events)
        if s.detail.startswith("motion=")
    ][1:]  # the first is the initial "still"
    bursts = [(a, b) for a, b in h10.motion if b < 395]
    assert len(bursts) >= 4
    changes = changes[: 2 * len(bursts)]
    assert [c[1] for c in changes] == ["motion=moving", "motion=still"] * len(bursts)
    for (start, end), (moved, _), (stilled, _) in zip(
        bursts, changes[::2], changes[1::2], strict=True
    ):
        assert start <= moved < start + 3.0  # ACC frames at 25 Hz are 1.44 s long
        assert end <= stilled < end + 3.0


def test_verity_ppi_beats_leave_out_blocked_intervals(short_protocol: Protocol) -> None:
    """Verity Sense: HR without RR, PPI beats (source PPI, whole ms) from 25 s on; intervals
    flagged by the blocker are counted, not emitted, and the flag's changes are statuses."""
    faults = Faults(motion_every_s=45.0, motion_for_s=12.0, seed=8)
    verity, events, stats = collect(SimulatedVeritySense, short_protocol, 300.0, faults)
    assert isinstance(verity, SimulatedVeritySense)
    assert stats.profiles == ["heart-rate", "pmd:ppi", "pmd:acc"]
    beats = [e for e in events if isinstance(e, Beat)]
    assert {b.source for b in beats} == {BeatSource.PPI}
    assert all(b.rr_ticks is None and b.rr_ms == int(b.rr_ms) for b in beats)
    assert (beats[0].time_ns - T0) / NS > 25.0  # PPI needs ~25 s to start
    assert len(beats) + stats.discarded_beats == verity.delivered_ppi_beats
    assert stats.discarded_beats > 10
    blocker = [s.detail for s in statuses(events) if s.detail.startswith("ppi-blocker")]
    assert blocker[:2] == ["ppi-blocker=on", "ppi-blocker=off"]
    assert len(blocker) % 2 == 0 and blocker == ["ppi-blocker=on", "ppi-blocker=off"] * (
        len(blocker) // 2
    )
    # No emitted beat lies inside a movement burst.
    for b in beats:
        t = (b.time_ns - T0) / NS
        assert not any(a <= t - 1.5 and t < e for a, e in verity.motion)
    assert all(e.contact is Contact.DETECTED for e in events if isinstance(e, HeartRate))


class ChargingH10(SimulatedPolarH10):
    """Refuses to start ECG as an H10 on its charger would."""

    def write(self, uuid: str, data: bytes) -> None:
        if data[:2] == bytes([2, ECG]):
            for part in [bytes([0xF0, 2, ECG, PmdError.DEVICE_IN_CHARGER, 0])]:
                self.transmit("fb005c81-02e7-f387-1cad-8acd2d8df0c8", part, droppable=False)
            return
        super().write(uuid, data)


def test_a_refused_stream_is_noted_and_the_others_run(short_protocol: Protocol) -> None:
    _, events, stats = collect(ChargingH10, short_protocol, 30.0)
    assert stats.profiles == ["heart-rate", "pmd:acc"]
    notes = [s.detail for s in statuses(events) if s.detail.startswith("pmd:")]
    assert notes == ["pmd: ECG not started: the sensor answered DEVICE_IN_CHARGER"]
    assert not any(isinstance(e, Waveform) for e in events)
    assert len([e for e in events if isinstance(e, HeartRate)]) == 29


class GarbageH10(SimulatedPolarH10):
    """Every fifth ECG frame is cut short in the middle of a sample."""

    def frame(self, m, number, times_ns):  # type: ignore[no-untyped-def]
        data = super().frame(m, number, times_ns)
        return data[:-1] if m is ECG and number % 5 == 4 else data


def test_bad_pmd_frames_are_counted_and_collection_goes_on(short_protocol: Protocol) -> None:
    h10, events, stats = collect(GarbageH10, short_protocol, 60.0)
    bad = [s for s in statuses(events) if s.state is DeviceState.BAD_PACKET]
    assert stats.bad_packets == len(bad) == h10.delivered[ECG] // 5
    assert bad[0].detail.startswith(
        "Polar PMD data frame: 218 sample bytes is not a positive multiple of 3"
    )
    ecg = [e for e in events if isinstance(e, Waveform)]
    assert len(ecg) == h10.delivered[ECG] - stats.bad_packets
    gaps = [s for s in statuses(events) if s.state is DeviceState.GAP]
    assert [g.detail for g in gaps] == ["ECG: 73 samples missing"] * len(gaps)
    assert len(gaps) == stats.bad_packets  # each lost frame is a hole in the ECG


def _pmd_char() -> BleakGATTCharacteristic:
    service = BleakGATTService(None, 1, "fb005c80-02e7-f387-1cad-8acd2d8df0c8")
    return BleakGATTCharacteristic(None, 2, PMD_DATA_UUID, ["notify"], lambda: 229, service)


@settings(deadline=None, max_examples=200)
@given(st.lists(st.binary(max_size=60), min_size=1, max_size=8))
def test_arbitrary_pmd_notifications_never_stop_the_collector(packets: list[bytes]) -> None:
    """Whatever bytes arrive on the PMD data characteristic, the handler returns; each packet
    either yields events or is counted (and stored) as a bad packet."""
    sink = ListSink()
    clock = VirtualClock(T0)
    collector = DeviceCollector(
        "A0:9E:1A:00:00:08",
        participant="p1",
        sink=sink,
        clock=clock,
        client_factory=lambda a, cb: BleakClient(a, cb, backend=SimulatedBleakClient),
    )
    char = _pmd_char()
    for data in packets:
        clock.advance(0.5)
        bad_before = collector.stats.bad_packets
        collector.on_pmd_data(char, bytearray(data))
        if collector.stats.bad_packets == bad_before + 1:
            status = sink.events[-1]
            assert isinstance(status, DeviceStatus) and status.state is DeviceState.BAD_PACKET
            assert "internal error" not in status.detail
        else:
            assert collector.stats.bad_packets == bad_before
    assert collector.stats.notifications == len(packets)


class StallingStrap(SimulatedPolarH10):
    """After 20 s its notifications stop while the link looks up (an adapter that hangs)."""

    stalled = False

    def ticks(self) -> Ticks:
        for delay, packets in super().ticks():
            if not StallingStrap.stalled and self.seconds_since_start() > 20:
                StallingStrap.stalled = True
                while True:
                    yield 3600.0, []
            yield delay, packets


def test_a_silent_connection_is_dropped_and_reconnected(short_protocol: Protocol) -> None:
    """No data for 30 s on a link bleak still calls connected: disconnect and reconnect."""
    StallingStrap.stalled = False
    _, events, stats = collect(
        StallingStrap, short_protocol, 120.0, collector_kw={"pmd_streams": ()}
    )
    assert (stats.connects, stats.disconnects) == (2, 1)
    lost = [s for s in statuses(events) if s.state is DeviceState.DISCONNECTED]
    assert lost[0].detail == "no data for 30 s"
    assert 50 <= (lost[0].time_ns - T0) / NS <= 62
    hr_after = [e for e in events if isinstance(e, HeartRate) and e.time_ns > lost[0].time_ns]
    assert len(hr_after) >= 50


class FlakyH10(SimulatedPolarH10):
    """The first control-point write fails at the GATT level (as after an adapter restart)."""

    failures = 0

    def write(self, uuid: str, data: bytes) -> None:
        if FlakyH10.failures == 0:
            FlakyH10.failures += 1
            raise KeyError(uuid)
        super().write(uuid, data)


def test_a_bleak_error_on_an_established_link_reconnects(short_protocol: Protocol) -> None:
    FlakyH10.failures = 0
    _, events, stats = collect(FlakyH10, short_protocol, 30.0)
    assert stats.connects == 1 and stats.profiles == ["heart-rate", "pmd:ecg", "pmd:acc"]
    lost = [
        i for i, e in enumerate(events) if getattr(e, "state", None) is DeviceState.DISCONNECTED
    ]
    first_ecg = next(i for i, e in enumerate(events) if isinstance(e, Waveform))
    assert lost[0] < first_ecg
    failure = events[lost[0]]
    assert isinstance(failure, DeviceStatus)
    assert failure.detail == (
        "A0:9E:1A:00:00:07: BleakError: characteristic fb005c81-02e7-f387-1cad-8acd2d8df0c8 "
        "is not writable"
    )
