"""Simulated Polar sensors: the H10 chest strap and the Verity Sense optical sensor.

Both speak the standard Heart Rate Service (from :class:`SimulatedHeartRateStrap`) and the
Polar Measurement Data (PMD) service: a control point that answers "get settings", "start"
and "stop" requests with the response bytes and error codes of Polar's SDK
(:mod:`stresstrack.simulators.pmd_control`; its names are re-exported here), and a data
characteristic that notifies frames built with the encoders of
:mod:`stresstrack.sensors.profiles.polar_pmd` (layouts and sources are documented there).

* **H10**: ECG at 130 Hz (int24 µV, 73 samples a frame at the 232-byte MTU the SDK asks
  for), accelerometer at 25/50/100/200 Hz (int16 mG, frame type 1). Every frame carries the
  sensor's timestamp of its last sample. The ECG is synthesised from the participant
  model's beats (one P-QRS-T template per beat, :func:`ecg_synthesize`), so the R peaks
  are at the model's beat times and tests can check them.
* **Verity Sense**: HR without RR on the Heart Rate Service, PPI (pulse-to-pulse intervals
  with error estimate, blocker and skin-contact flags; the first batch ~25 s after the start,
  as Polar documents) and accelerometer at 52 Hz, delta-compressed (frame type 0x81) with a
  FACTOR in the start response. PPI frames carry timestamp 0, as the sensors do
  (technical_documentation/TimeSystemExplained.md: "some data streams are the type where time
  of the individual sample cannot be defined, e.g. PPI"); ``ppi_timestamps=True`` stamps
  them with the last beat's sensor time instead.

The sensor clock starts at 2019-01-01T00:00:00Z as an H10 does when it was never set
(TimeSystemExplained.md), and runs fast or slow by ``Faults.clock_drift_ppm``.

Size (issue 17): just over 400 lines because the two models share the PMD base class and its
frame pacing, and the H10's ECG synthesis belongs to the H10; the control-point protocol was
moved out (:mod:`stresstrack.simulators.pmd_control`).
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from stresstrack.events import Contact
from stresstrack.sensors.profiles.device_info import DeviceInfo
from stresstrack.sensors.profiles.heart_rate import HEART_RATE_SERVICE_UUID
from stresstrack.sensors.profiles.polar_pmd import (
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PMD_SERVICE_UUID,
    PmdError,
    PmdMeasurementType,
    PmdOpCode,
    PmdSettings,
    encode_pmd_features,
)
from stresstrack.sensors.profiles.polar_pmd_data import (
    AccSample,
    EcgSample,
    PpiSample,
    encode_acc_frame,
    encode_delta_frame,
    encode_ecg_frame,
    encode_ppi_frame,
)
from stresstrack.simulators.faults import in_episodes, motion_episodes
from stresstrack.simulators.peripherals import NS, Notify, SimulatedHeartRateStrap
from stresstrack.simulators.pmd_control import ATT_HEADER, PmdOffer, indications, pmd_control_point

__all__ = [
    "ECG_TEMPLATE",
    "UNSET_SENSOR_CLOCK_NS",
    "PmdOffer",
    "SimulatedPolarH10",
    "SimulatedPolarSensor",
    "SimulatedVeritySense",
    "acc_synthesize",
    "ecg_synthesize",
    "pmd_control_point",
]

FloatArray = npt.NDArray[np.float64]
ECG, ACC, PPI = PmdMeasurementType.ECG, PmdMeasurementType.ACC, PmdMeasurementType.PPI

# An H10 that was never given the time restarts at 2019-01-01T00:00:00Z, i.e.
# 599616000000000000 ns after the Polar epoch (TimeSystemExplained.md).
UNSET_SENSOR_CLOCK_NS: Final = 599_616_000 * NS
POLAR_MTU: Final = 232  # the MTU Polar's SDK requests; an H10 ECG frame (229 bytes) fills it
_FRAME_HEADER: Final = 10  # measurement type, uint64 timestamp, frame type (polar_pmd.py)
_COMPRESSED: Final = 0x80  # frame-type bit 7: delta-compressed (PmdDataFrame.kt)
_TYPE_MASK: Final = 0x3F  # measurement type in byte 0 of a frame (PmdMeasurementType.kt)
_PPI_RECORD_SIZE: Final = 6  # HR, PP, PP error, flags (polar_pmd.py)
_PPI_WARM_UP_S: Final = 25.0  # "around 25 seconds for the first sample batch" (Polar docs)

# One P-QRS-T complex as Gaussians (µV, centre s relative to the R peak, width s): an
# ordinary lead-like shape with the R peak sharp enough to time to a millisecond at 130 Hz.
ECG_TEMPLATE: Final = (
    (110.0, -0.200, 0.025),  # P
    (-110.0, -0.035, 0.010),  # Q
    (1200.0, 0.000, 0.011),  # R
    (-280.0, 0.036, 0.012),  # S
    (280.0, 0.260, 0.045),  # T
)
_ECG_REACH_S: Final = (-0.35, 0.45)  # a beat's template is negligible outside this span
_ECG_NOISE_UV: Final = 8.0
_ECG_WANDER_UV: Final = 40.0  # baseline wander with breathing


def ecg_synthesize(t_s: FloatArray, beats_s: FloatArray, *, resp_hz: float = 0.25) -> FloatArray:
    """ECG in µV at times ``t_s``: one :data:`ECG_TEMPLATE` per beat (R peak at the beat),
    plus a breathing baseline wander; no noise (add it where sampling happens).

    At the R peak the template's Q and S tails pull the 1200 µV R wave down a little; 2 s and
    4 s are whole half-breaths at 0.25 Hz, where the wander is zero:

    >>> v = ecg_synthesize(np.array([2.0, 4.0]), np.array([2.0]))
    >>> round(float(v[0])), round(float(v[1]))
    (1197, 0)
    """
    out = _ECG_WANDER_UV * np.sin(2 * np.pi * resp_hz * t_s)
    lo = np.searchsorted(beats_s, t_s[0] + _ECG_REACH_S[0], side="left") if t_s.size else 0
    hi = np.searchsorted(beats_s, t_s[-1] + _ECG_REACH_S[1], side="right") if t_s.size else 0
    for b in beats_s[max(0, lo - 1) : hi + 1]:
        d = t_s - b
        near = (d > -_ECG_REACH_S[1]) & (d < -_ECG_REACH_S[0])
        if not near.any():
            continue
        dn = d[near]
        out[near] += sum(a * np.exp(-0.5 * ((dn - c) / w) ** 2) for a, c, w in ECG_TEMPLATE)
    return np.asarray(out, dtype=np.float64)


# A chest strap worn upright: gravity mostly on one axis (mG), a small sway with breathing.
_GRAVITY_MG: Final = np.array([40.0, -985.0, 160.0])
_SWAY_MG: Final = 12.0
_ACC_NOISE_MG: Final = 4.0
_MOTION_MG: Final = (250.0, 700.0)  # amplitude of a movement burst
_MOTION_HZ: Final = (1.2, 2.8)  # steps, gestures


def acc_synthesize(
    t_s: FloatArray,
    moving: npt.NDArray[np.bool_],
    rng: np.random.Generator,
    *,
    resp_hz: float = 0.25,
) -> FloatArray:
    """Accelerometer x, y, z in mG at times ``t_s``; bursts where ``moving``."""
    n = t_s.size
    out = np.tile(_GRAVITY_MG, (n, 1))
    out[:, 2] += _SWAY_MG * np.sin(2 * np.pi * resp_hz * t_s)
    out += rng.normal(0.0, _ACC_NOISE_MG, (n, 3))
    if moving.any():
        amp = rng.uniform(*_MOTION_MG, 3)
        hz = rng.uniform(*_MOTION_HZ, 3)
        phase = rng.uniform(0, 2 * np.pi, 3)
        burst = amp * np.sin(2 * np.pi * hz * t_s[:, None] + phase)
        out[moving] += burst[moving] + rng.normal(0.0, 60.0, (int(moving.sum()), 3))
    return np.asarray(out, dtype=np.float64)


@dataclass
class SimulatedPolarSensor(SimulatedHeartRateStrap):
    """Base of the Polar sensors: Heart Rate Service plus the PMD service."""

    mtu: int = POLAR_MTU
    sensor_clock_start_ns: int = UNSET_SENSOR_CLOCK_NS  # sensor time at ``start_ns``

    def __post_init__(self) -> None:
        super().__post_init__()
        assert self.model is not None
        self.motion = motion_episodes(
            self.faults.motion_every_s,
            self.faults.motion_for_s,
            self.model.protocol.duration_s,
            self.faults.seed,
        )
        self._streams: dict[PmdMeasurementType, asyncio.Task[None]] = {}
        self.frames: dict[PmdMeasurementType, int] = {}  # generated, per stream
        self.delivered: Counter[PmdMeasurementType] = Counter()  # frames that reached a client
        self.delivered_ppi_beats = 0
        # True UTC of the last sample of every frame generated, per stream (for tests).
        self.frame_truth: dict[PmdMeasurementType, list[int]] = {}

    @abstractmethod
    def offers(self) -> dict[PmdMeasurementType, PmdOffer]:
        """The measurement types this sensor streams, with their settings."""

    def gatt(self) -> dict[str, dict[str, list[str]]]:
        table = super().gatt()
        table[PMD_SERVICE_UUID] = {
            PMD_CONTROL_POINT_UUID: ["read", "write", "indicate"],
            PMD_DATA_UUID: ["notify"],
        }
        return table

    def read(self, uuid: str) -> bytes:
        if uuid == PMD_CONTROL_POINT_UUID:
            return encode_pmd_features(frozenset(self.offers()))
        return super().read(uuid)

    def write(self, uuid: str, data: bytes) -> None:
        if uuid != PMD_CONTROL_POINT_UUID:
            super().write(uuid, data)
            return
        response, start = pmd_control_point(data, self.offers(), set(self._streams))
        if response[3] == PmdError.SUCCESS and data[0] == PmdOpCode.STOP_MEASUREMENT:
            self._streams.pop(PmdMeasurementType(data[1])).cancel()
        for part in indications(response, self.mtu):
            self.transmit(PMD_CONTROL_POINT_UUID, part, droppable=False)
        if start is not None:
            m = PmdMeasurementType(data[1])
            self._streams[m] = asyncio.get_running_loop().create_task(self._stream(m, start))

    def _deliver(self, notify: Notify, subscribed: set[str], uuid: str, data: bytes) -> None:
        if uuid == PMD_DATA_UUID and uuid in subscribed:
            m = PmdMeasurementType(data[0] & _TYPE_MASK)
            self.delivered[m] += 1
            if m is PPI:
                self.delivered_ppi_beats += (len(data) - _FRAME_HEADER) // _PPI_RECORD_SIZE
        super()._deliver(notify, subscribed, uuid, data)

    def link_down(self, notify: Notify | None = None) -> None:
        if notify is not None and notify != self._notify:
            return
        super().link_down()
        for task in self._streams.values():  # a sensor stops streaming when the link drops
            task.cancel()
        self._streams.clear()

    def sensor_time_ns(self, utc_ns: int) -> int:
        """The sensor's clock (ns since 2000-01-01 as it believes) at true time ``utc_ns``."""
        return self.sensor_clock_start_ns + round(
            (utc_ns - self.start_ns) * (1 + self.faults.drift)
        )

    async def _stream(self, m: PmdMeasurementType, settings: PmdSettings) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            if m is PPI:
                await self._ppi_stream()
            else:
                await self._sampled_stream(m, settings)

    def samples_per_frame(self, m: PmdMeasurementType) -> int:
        """As many samples as fit the MTU (ECG 3 bytes, ACC 6 bytes a sample)."""
        size = 3 if m is ECG else 6
        return max(1, (self.mtu - ATT_HEADER - _FRAME_HEADER) // size)

    async def _sampled_stream(self, m: PmdMeasurementType, settings: PmdSettings) -> None:
        loop = asyncio.get_running_loop()
        t0, t0_ns = loop.time(), self.clock.now_ns()
        # The sensor samples at the nominal rate of its own (drifting) clock.
        period_s = 1.0 / (settings.sample_rates[0] * (1.0 + self.faults.drift))
        n = self.samples_per_frame(m)
        k = 0
        while True:
            await asyncio.sleep(max(0.0, t0 + (k + n) * period_s - loop.time()))
            times = t0_ns + np.round((k + 1 + np.arange(n)) * period_s * NS).astype(np.int64)
            number = self.frames.get(m, 0)
            self.frames[m] = number + 1
            self.frame_truth.setdefault(m, []).append(int(times[-1]))
            self.transmit(PMD_DATA_UUID, self.frame(m, number, times))
            k += n

    @abstractmethod
    def frame(self, m: PmdMeasurementType, number: int, times_ns: npt.NDArray[np.int64]) -> bytes:
        """The data frame ``number`` of stream ``m`` with samples taken at ``times_ns``."""

    def acc_mg(self, number: int, times_ns: npt.NDArray[np.int64]) -> FloatArray:
        """The model's acceleration at ``times_ns`` (deterministic per frame number)."""
        assert self.model is not None
        t = (times_ns - self.start_ns) / NS
        rng = np.random.default_rng([self.faults.seed, 10, number])
        # Fault bursts and the model's own movement episodes; breathing at the model's rate.
        moving = in_episodes(t, self.motion) | (self.model.activity_at(t) > 0)
        resp_hz = float(np.mean(self.model.breathing_hz_at(t))) if t.size else 0.25
        return acc_synthesize(t, moving, rng, resp_hz=resp_hz)

    async def _ppi_stream(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not stream PPI")


@dataclass
class SimulatedPolarH10(SimulatedPolarSensor):
    """Polar H10: HRS with RR, PMD ECG (130 Hz) and accelerometer (25-200 Hz)."""

    info: DeviceInfo | None = field(
        default_factory=lambda: DeviceInfo(
            manufacturer_name="Polar Electro Oy",
            model_number="H10",
            hardware_revision="39044024.10",
            firmware_revision="5.0.0",
            software_revision="5.0.0",
        )
    )

    def offers(self) -> dict[PmdMeasurementType, PmdOffer]:
        # Settings as Polar documents for the H10 (documentation/products/PolarH10.md).
        return {
            ECG: PmdOffer(PmdSettings(sample_rates=(130,), resolutions=(14,))),
            ACC: PmdOffer(
                PmdSettings(sample_rates=(25, 50, 100, 200), resolutions=(16,), ranges=(2, 4, 8))
            ),
        }

    def ecg_microvolts(self, number: int, times_ns: npt.NDArray[np.int64]) -> FloatArray:
        """The model's ECG at ``times_ns``, noise included (deterministic per frame number)."""
        assert self.model is not None
        t = (times_ns - self.start_ns) / NS
        beats = (self.true_beat_ns - self.start_ns) / NS
        rng = np.random.default_rng([self.faults.seed, 9, number])
        return ecg_synthesize(t, beats, resp_hz=self.model.params.resp_hz) + rng.normal(
            0.0, _ECG_NOISE_UV, t.size
        )

    def frame(self, m: PmdMeasurementType, number: int, times_ns: npt.NDArray[np.int64]) -> bytes:
        stamp = self.sensor_time_ns(int(times_ns[-1]))
        if m is ECG:
            uv = np.round(self.ecg_microvolts(number, times_ns)).astype(np.int64)
            return encode_ecg_frame(stamp, [EcgSample(int(v)) for v in uv])
        xyz = np.round(self.acc_mg(number, times_ns)).astype(np.int64)
        return encode_acc_frame(stamp, [AccSample(int(x), int(y), int(z)) for x, y, z in xyz])


@dataclass
class SimulatedVeritySense(SimulatedPolarSensor):
    """Polar Verity Sense: HRS without RR, PMD PPI and accelerometer (52 Hz, compressed)."""

    send_rr: bool = False
    ppi_timestamps: bool = False  # real sensors send 0
    ppi_period_s: float = 1.0  # a PPI frame with the beats of the last second
    info: DeviceInfo | None = field(
        default_factory=lambda: DeviceInfo(
            manufacturer_name="Polar Electro Oy",
            model_number="Polar Verity Sense",
            firmware_revision="2.1.0",
        )
    )

    def offers(self) -> dict[PmdMeasurementType, PmdOffer]:
        # Verity Sense ACC: 52 Hz, 8 G, 16 bit (documentation/products/PolarVeritySense.md);
        # the start response carries the FACTOR of its compressed frames (mG per unit here).
        return {
            ACC: PmdOffer(
                PmdSettings(sample_rates=(52,), resolutions=(16,), ranges=(8,), channels=(3,)),
                start_parameters=PmdSettings(factors=(1.0,)),
            ),
            PPI: PmdOffer(PmdSettings()),
        }

    def frame(self, m: PmdMeasurementType, number: int, times_ns: npt.NDArray[np.int64]) -> bytes:
        stamp = self.sensor_time_ns(int(times_ns[-1]))
        xyz = np.round(self.acc_mg(number, times_ns)).astype(np.int64)
        body = encode_delta_frame([tuple(int(v) for v in row) for row in xyz], 16)
        return bytes([ACC]) + stamp.to_bytes(8, "little") + bytes([_COMPRESSED | 1]) + body

    def ppi_samples(self, lo: int, hi: int) -> list[PpiSample]:
        """PPI samples of reported beats ``lo..hi-1``: movement sets the blocker and spoils
        the interval; lost contact clears the contact flag."""
        t = (self._beat_ns[lo:hi] - self.start_ns) / NS
        moving = in_episodes(t, self.motion)
        rng = np.random.default_rng([self.faults.seed, 11, lo])
        out = []
        for k, blocked in zip(range(lo, hi), moving, strict=True):
            pp = float(self.reported_rr_ms[k])
            error = 8 + int(rng.integers(0, 8))
            if blocked:
                pp += float(rng.normal(0.0, 90.0))
                error += 60
            pp_ms = int(np.clip(round(pp), 250, 2500))
            contact = self.contact(int(self._beat_ns[k])) is Contact.DETECTED
            out.append(
                PpiSample(
                    hr=min(255, round(60000 / pp_ms)),
                    pp_ms=pp_ms,
                    error_ms=error,
                    blocker=bool(blocked),
                    contact=contact,
                    contact_supported=True,
                )
            )
        return out

    def ppi_frame(self, lo: int, hi: int) -> bytes:
        stamp = self.sensor_time_ns(int(self._beat_ns[hi - 1])) if self.ppi_timestamps else 0
        return encode_ppi_frame(stamp, self.ppi_samples(lo, hi))

    async def _ppi_stream(self) -> None:
        loop = asyncio.get_running_loop()
        start_ns = self.clock.now_ns()
        t0 = loop.time()
        period = self.ppi_period_s / (1.0 + self.faults.drift)
        warm_up_ns = start_ns + int(_PPI_WARM_UP_S * NS)
        sent_until = int(np.searchsorted(self._beat_ns, warm_up_ns, side="right"))
        per_frame = (self.mtu - ATT_HEADER - _FRAME_HEADER) // _PPI_RECORD_SIZE
        k = 0
        while True:
            k += 1
            await asyncio.sleep(max(0.0, t0 + k * period - loop.time()))
            now = self.clock.now_ns()
            if now < warm_up_ns:
                continue
            hi = int(np.searchsorted(self._beat_ns, now, side="right"))
            for lo in range(sent_until, hi, per_frame):
                end = min(hi, lo + per_frame)
                number = self.frames.get(PPI, 0)
                self.frames[PPI] = number + 1
                self.frame_truth.setdefault(PPI, []).append(int(self._beat_ns[end - 1]))
                self.transmit(PMD_DATA_UUID, self.ppi_frame(lo, end))
            sent_until = max(sent_until, hi)

    def advertised_services(self) -> list[str]:
        return [HEART_RATE_SERVICE_UUID]
