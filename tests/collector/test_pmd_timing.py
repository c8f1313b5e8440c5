"""Sensor-clock timing end to end: Polar sensors whose clocks drift, behind a jittery link.

The simulated sensors know the true time of every sample and beat; the collector only sees
sensor timestamps and receive times. docs/devices.md states the bounds checked here.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest
from bleak import BleakClient

from stresstrack.clock import VirtualClock, run_virtual
from stresstrack.events import Beat, Event, Waveform
from stresstrack.sensors.collector import DeviceCollector
from stresstrack.sensors.profiles.polar_pmd import PmdMeasurementType
from stresstrack.session.protocol import Phase, Protocol
from stresstrack.simulators.bleak_backend import SimulatedBleakClient
from stresstrack.simulators.faults import Faults
from stresstrack.simulators.peripherals import SimulatedAir
from stresstrack.simulators.physiology import ParticipantModel, ParticipantParams
from stresstrack.simulators.polar import SimulatedPolarH10, SimulatedVeritySense

T0 = 1_767_603_600_000_000_000
NS = 1_000_000_000
SETTLE_NS = 60 * NS  # the first minute: the clock estimate has too few points
MINUTES = 12
ECG = PmdMeasurementType.ECG


@dataclass
class ListSink:
    events: list[Event] = field(default_factory=list)

    def emit(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


@dataclass
class Run:
    h10: SimulatedPolarH10
    verity: SimulatedVeritySense  # PPI frames with timestamp 0, as real sensors send
    stamped: SimulatedVeritySense  # PPI frames stamped with the last beat's sensor time
    events: list[Event]


def _run(drift_ppm: float, seed: int) -> Run:
    clock = VirtualClock(T0)
    protocol = Protocol("rest", (Phase("rest", MINUTES * 60 + 60.0),))
    model = ParticipantModel(protocol, ParticipantParams(), seed=seed)
    air = SimulatedAir()
    # 30 ms mean transport jitter, some movement (the Verity's PPI blocker), a drifting clock.
    faults = Faults(latency_s=0.03, clock_drift_ppm=drift_ppm, motion_every_s=150.0, seed=seed)
    common = {"clock": clock, "start_ns": T0, "model": model, "faults": faults}
    h10 = SimulatedPolarH10(address="A0:9E:1A:00:00:01", name="Polar H10 1", **common)  # type: ignore[arg-type]
    verity = SimulatedVeritySense(address="A0:9E:1A:00:00:02", name="Polar Sense 2", **common)  # type: ignore[arg-type]
    stamped = SimulatedVeritySense(
        address="A0:9E:1A:00:00:03",
        name="Polar Sense 3",
        ppi_timestamps=True,
        **common,  # type: ignore[arg-type]
    )
    sink = ListSink()
    collectors = []
    for device in (h10, verity, stamped):
        air.add(device)
        collectors.append(
            DeviceCollector(
                device.address,
                participant="p1",
                sink=sink,
                clock=clock,
                client_factory=lambda a, cb: BleakClient(
                    a, cb, backend=SimulatedBleakClient, air=air
                ),
                rng=random.Random(seed),
            )
        )

    async def main() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(c.run(stop)) for c in collectors]
        await asyncio.sleep(MINUTES * 60)
        stop.set()
        await asyncio.gather(*tasks)

    run_virtual(main(), clock)
    return Run(h10, verity, stamped, sink.events)


@pytest.fixture(scope="module", params=[(-150.0, 1), (120.0, 2)], ids=["slow", "fast"])
def run(request: pytest.FixtureRequest) -> Run:
    drift, seed = request.param
    return _run(drift, seed)


def test_ecg_sample_times_are_within_3_ms(run: Run) -> None:
    """The last sample of every ECG chunk, mapped from the sensor clock, is within 3 ms of
    when the sensor took it (after the first minute); the median error is under 0.5 ms."""
    chunks = [e for e in run.events if isinstance(e, Waveform) and e.device == run.h10.address]
    truth = np.array(run.h10.frame_truth[ECG])
    assert len(chunks) == len(truth) == run.h10.delivered[ECG]
    last = np.array([c.time_ns + round((len(c.values) - 1) * NS / 130) for c in chunks])
    err_ms = (last - truth)[truth - T0 > SETTLE_NS] / 1e6
    assert err_ms.min() > -3.0 and err_ms.max() < 3.0
    assert abs(np.median(err_ms)) < 0.5


def _r_peaks(chunks: list[Waveform]) -> np.ndarray:
    """R peaks (UTC ns) of an ECG: local maxima above 600 µV, refined by a parabola through
    the log of the three samples around each (exact for a Gaussian R wave)."""
    t = np.concatenate(
        [c.time_ns + np.round(np.arange(len(c.values)) * NS / c.sampling_rate) for c in chunks]
    )
    v = np.concatenate([np.asarray(c.values) for c in chunks])
    peaks = []
    for i in range(1, v.size - 1):
        if v[i] > 600 and v[i - 1] < v[i] >= v[i + 1]:
            a, b, c = np.log(np.clip(v[i - 1 : i + 2], 1.0, None))
            shift = 0.5 * (a - c) / (a - 2 * b + c)
            peaks.append(t[i] + shift * (t[i + 1] - t[i]))
    return np.array(peaks)


def test_r_peaks_of_the_collected_ecg_are_at_the_true_beats(run: Run) -> None:
    """R peaks found in the stored ECG chunks fall within 4 ms of the model's beats: what a
    pipeline detecting beats from this ECG can rely on."""
    chunks = [e for e in run.events if isinstance(e, Waveform) and e.device == run.h10.address]
    peaks = _r_peaks(chunks)
    truth = run.h10.true_beat_ns
    truth = truth[(truth > peaks[0] - NS // 2) & (truth < peaks[-1] + NS // 2)]
    assert len(peaks) == len(truth)  # every beat found, nothing else
    err_ms = (peaks - truth)[truth - T0 > SETTLE_NS] / 1e6
    assert np.max(np.abs(err_ms)) < 4.0


def _ppi_errors_ms(run: Run, device: SimulatedVeritySense) -> np.ndarray:
    """Placed minus true time of each PPI beat after the first minute; the true beat is the
    reported beat with the same interval at or before the placed time (+20 ms)."""
    times, _ = device.reported_beats
    pp = np.round(device.reported_rr_ms)
    beats = [e for e in run.events if isinstance(e, Beat) and e.device == device.address]
    assert beats
    out = []
    for b in beats:
        j = int(np.searchsorted(times, b.time_ns + 20_000_000, side="right")) - 1
        while pp[j] != b.rr_ms:
            j -= 1
        if b.time_ns - T0 > SETTLE_NS:
            out.append((b.time_ns - int(times[j])) / 1e6)
    return np.array(out)


def test_stamped_ppi_beat_times_are_within_3_ms(run: Run) -> None:
    """PPI frames that carry the last beat's sensor time: beats within 3 ms of the truth."""
    err = _ppi_errors_ms(run, run.stamped)
    assert err.min() > -3.0 and err.max() < 3.0


def test_unstamped_ppi_beat_times_are_never_early_and_lag_less_than_a_frame(run: Run) -> None:
    """PPI frames with timestamp 0 (real sensors): beats are chained on receive times as HRS
    RR are; never placed more than 3 ms before they happened, at most one PPI frame period
    (1 s) late, typically tens of ms."""
    err = _ppi_errors_ms(run, run.verity)
    assert err.min() > -3.0
    assert err.max() < 1000.0
    assert np.median(err) < 120.0
