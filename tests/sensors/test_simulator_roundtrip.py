"""Simulator model → bytes → decoder gives back the model's values within quantisation.

Each simulated device builds its notifications with the profile encoders from values of the
participant model; decoding them with the collector's decoders must return those values,
off by no more than the layout's resolution: RR 1/1024 s, EDA 0.001 µS, ECG 1 µV, ACC 1 mG,
PPI 1 ms.
"""

from __future__ import annotations

import numpy as np
import pytest

from stresstrack.clock import VirtualClock
from stresstrack.events import RR_TICKS_PER_S, Contact
from stresstrack.sensors.profiles.eda import STRESSTRACK_EDA_V1, decode_eda_packet
from stresstrack.sensors.profiles.heart_rate import decode_heart_rate_measurement
from stresstrack.sensors.profiles.polar_pmd import PmdMeasurementType, polar_to_unix_ns
from stresstrack.sensors.profiles.polar_pmd_data import (
    AccSample,
    EcgSample,
    PmdFrame,
    PpiSample,
    decode_pmd_frame,
)
from stresstrack.session.protocol import Protocol
from stresstrack.simulators.faults import Faults
from stresstrack.simulators.peripherals import SimulatedEdaBand, SimulatedHeartRateStrap
from stresstrack.simulators.physiology import ParticipantModel, ParticipantParams, simulate_beats
from stresstrack.simulators.polar import (
    ECG_TEMPLATE,
    POLAR_MTU,
    UNSET_SENSOR_CLOCK_NS,
    SimulatedPolarH10,
    SimulatedVeritySense,
    ecg_synthesize,
)

T0 = 1_767_603_600_000_000_000
NS = 1_000_000_000
ECG, ACC, PPI = PmdMeasurementType.ECG, PmdMeasurementType.ACC, PmdMeasurementType.PPI


def _model(protocol: Protocol, seed: int = 1) -> ParticipantModel:
    return ParticipantModel(protocol, ParticipantParams(), seed=seed)


NO_FAULTS = Faults()


def _device(cls, protocol: Protocol, faults: Faults = NO_FAULTS, **kw):  # type: ignore[no-untyped-def]
    clock = VirtualClock(T0)
    dev = cls(
        address="AA:BB:CC:00:00:01",
        name="dev",
        clock=clock,
        start_ns=T0,
        model=_model(protocol),
        faults=faults,
        **kw,
    )
    return clock, dev


def _times(start_s: float, n: int, rate: float) -> np.ndarray:
    return T0 + np.round((start_s + np.arange(n) / rate) * NS).astype(np.int64)


@pytest.mark.parametrize("uint16", [False, True])
def test_strap_rr_bytes_decode_to_the_model_rr(short_protocol: Protocol, uint16: bool) -> None:
    """Two minutes of Heart Rate Measurements carry every model beat in order, each RR within
    half a 1/1024 s tick of the model's, and a heart rate near 60000 / RR."""
    clock, strap = _device(SimulatedHeartRateStrap, short_protocol, uint16=uint16)
    ticker = strap.ticks()
    rr_ms: list[float] = []
    for _ in range(120):
        delay, packets = next(ticker)
        clock.advance(delay)
        for _uuid, make in packets:
            data = make()
            assert data is not None
            m = decode_heart_rate_measurement(data)
            assert m.contact is Contact.DETECTED
            if m.rr_ticks:
                last = m.rr_ticks[-1] * 1000 / RR_TICKS_PER_S
                assert abs(m.bpm - 60000 / last) < 15
            rr_ms.extend(m.rr_ms)
    t, model_rr = simulate_beats(strap.model)
    expected = model_rr[t <= 120.0]
    assert len(rr_ms) == len(expected)
    assert np.max(np.abs(np.array(rr_ms) - expected)) <= 1000 / RR_TICKS_PER_S / 2 + 1e-9


def test_strap_drift_scales_rr_as_the_device_clock_measures(short_protocol: Protocol) -> None:
    """A strap whose crystal runs 200 ppm fast reports every RR 200 ppm long."""
    _, strap = _device(SimulatedHeartRateStrap, short_protocol, Faults(clock_drift_ppm=200.0))
    _, model_rr = simulate_beats(strap.model)
    _, ticks = strap.reported_beats
    assert np.allclose(ticks, np.round(model_rr * 1.0002 * RR_TICKS_PER_S / 1000))


def test_eda_band_bytes_decode_to_the_model_conductance(short_protocol: Protocol) -> None:
    """EDA packets: consecutive counters and 8 samples each within 0.0005 µS of the model."""
    clock, band = _device(SimulatedEdaBand, short_protocol)
    ticker = band.ticks()
    values: list[float] = []
    counters = []
    for _ in range(40):
        delay, packets = next(ticker)
        clock.advance(delay)
        for _uuid, make in packets:
            data = make()
            assert data is not None
            packet = decode_eda_packet(STRESSTRACK_EDA_V1, data)
            counters.append(packet.counter)
            values.extend(packet.values_us)
    assert counters == list(range(40))
    model = band.true_values_us[: len(values)]
    assert len(values) == 320
    assert np.max(np.abs(np.array(values) - model)) <= 0.0005 + 1e-9


def test_h10_ecg_frame_decodes_to_the_model_ecg(short_protocol: Protocol) -> None:
    """An H10 ECG frame fills the 232-byte MTU with 73 int24 samples stamped with the sensor
    time of the last one; every sample is the model's ECG rounded to 1 µV."""
    _, h10 = _device(SimulatedPolarH10, short_protocol)
    times = _times(30.0, 73, 130.0)
    data = h10.frame(ECG, 5, times)
    assert len(data) == POLAR_MTU - 3
    frame = decode_pmd_frame(data)
    model = h10.ecg_microvolts(5, times)
    assert frame == PmdFrame(
        measurement=ECG,
        timestamp_ns_polar=UNSET_SENSOR_CLOCK_NS + int(times[-1] - T0),
        unix_time_ns=polar_to_unix_ns(UNSET_SENSOR_CLOCK_NS + int(times[-1] - T0)),
        frame_type=0,
        compressed=False,
        samples=tuple(EcgSample(int(v)) for v in np.round(model)),
    )
    decoded = np.array([s.microvolts for s in frame.samples if isinstance(s, EcgSample)])
    assert np.max(np.abs(decoded - model)) <= 0.5


def test_ecg_model_has_its_r_peaks_at_the_beats() -> None:
    """The synthesised ECG peaks (1200 µV R wave) exactly at each beat time."""
    beats = np.array([1.0, 1.8, 2.55])
    t = np.arange(0, 3.0, 0.001)
    ecg = ecg_synthesize(t, beats)
    peaks = [
        t[i] for i in range(1, t.size - 1) if ecg[i] > 800 and ecg[i - 1] < ecg[i] >= ecg[i + 1]
    ]
    assert np.allclose(peaks, beats, atol=0.0011)
    r_amplitude = max(a for a, _, _ in ECG_TEMPLATE)
    assert abs(float(np.max(ecg)) - r_amplitude) < 60  # plus the breathing wander


def test_h10_acc_frame_decodes_to_the_model_acceleration(short_protocol: Protocol) -> None:
    """H10 accelerometer frame type 1: int16 mG x, y, z, each the model's within 0.5 mG."""
    _, h10 = _device(SimulatedPolarH10, short_protocol)
    times = _times(12.0, h10.samples_per_frame(ACC), 25.0)
    frame = decode_pmd_frame(h10.frame(ACC, 3, times))
    assert (frame.measurement, frame.frame_type, frame.compressed) == (ACC, 1, False)
    decoded = np.array([(s.x, s.y, s.z) for s in frame.samples if isinstance(s, AccSample)])
    assert np.max(np.abs(decoded - h10.acc_mg(3, times))) <= 0.5


def test_verity_compressed_acc_frame_decodes_to_the_model(short_protocol: Protocol) -> None:
    """Verity Sense ACC is delta-compressed (frame type 0x81); with the FACTOR of its start
    response (1.0) it decodes to the model's acceleration within 0.5 mG, also in motion."""
    _, verity = _device(
        SimulatedVeritySense, short_protocol, Faults(motion_every_s=20.0, motion_for_s=30.0)
    )
    start = verity.motion[0][0] + 1.0
    times = _times(start, 36, 52.0)
    data = verity.frame(ACC, 0, times)
    frame = decode_pmd_frame(data, factor=1.0)
    assert (frame.measurement, frame.frame_type, frame.compressed) == (ACC, 1, True)
    assert len(data) < POLAR_MTU - 3
    decoded = np.array([(s.x, s.y, s.z) for s in frame.samples if isinstance(s, AccSample)])
    model = verity.acc_mg(0, times)
    assert np.max(np.abs(decoded - model)) <= 0.5
    assert np.std(np.linalg.norm(model, axis=1)) > 100  # a movement burst, not rest


def test_verity_ppi_frame_decodes_to_the_model_intervals(short_protocol: Protocol) -> None:
    """PPI records: HR, PP within 0.5 ms of the model's RR (unless flagged by the blocker),
    contact flags, and timestamp 0 as Verity Sense sends it."""
    _, verity = _device(
        SimulatedVeritySense, short_protocol, Faults(motion_every_s=30.0, motion_for_s=20.0)
    )
    beats_ns = verity.reported_beats[0]
    lo = max(0, int(np.searchsorted(beats_ns, T0 + verity.motion[0][0] * NS)) - 10)  # movement
    frame = decode_pmd_frame(verity.ppi_frame(lo, lo + 30))
    assert (frame.measurement, frame.timestamp_ns_polar, frame.unix_time_ns) == (PPI, 0, None)
    samples = [s for s in frame.samples if isinstance(s, PpiSample)]
    assert len(samples) == 30
    truth = verity.reported_rr_ms[lo : lo + 30]
    beat_s = (beats_ns[lo : lo + 30] - T0) / NS
    for s, rr, t in zip(samples, truth, beat_s, strict=True):
        moving = any(a <= t < b for a, b in verity.motion)
        assert s.blocker == moving
        assert (s.contact, s.contact_supported) == (True, True)
        if not moving:
            assert abs(s.pp_ms - rr) <= 0.5
            assert s.hr == round(60000 / s.pp_ms)
    assert any(s.blocker for s in samples) and not all(s.blocker for s in samples)


def test_verity_ppi_frame_can_carry_the_last_beat_time(short_protocol: Protocol) -> None:
    """With ``ppi_timestamps`` the frame is stamped with the sensor time of its last beat."""
    _, verity = _device(
        SimulatedVeritySense, short_protocol, Faults(clock_drift_ppm=-50.0), ppi_timestamps=True
    )
    frame = decode_pmd_frame(verity.ppi_frame(10, 14))
    last = int(verity.reported_beats[0][13])
    assert frame.timestamp_ns_polar == UNSET_SENSOR_CLOCK_NS + round((last - T0) * (1 - 50e-6))
