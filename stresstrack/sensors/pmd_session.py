"""Polar Measurement Data (PMD) over a connected bleak client: control point and streams.

:class:`PmdControl` is the control-point state machine, as Polar's SDK drives it
(``BlePMDClient.kt``): enable indications on the control point (FB005C81), read the feature
bitmap, then for each stream "get settings" → choose → "start", one request at a time, each
answered by a 0xF0 indication for the same op code (others are ignored, as the SDK does),
continued while its "more" byte is set. Error statuses become :class:`PmdRequestError`
with the device's code (``INVALID_SAMPLE_RATE``, ``ALREADY_IN_STATE``...). A stream the
sensor reports as already running is stopped and started again, so its settings are ours.

:class:`PmdStreams` turns the decoded data frames (FB005C82) of one device into events:

* **ECG** → :class:`~stresstrack.events.Waveform` chunks (``kind=ECG``, µV). A frame's
  timestamp is the sensor time of its last sample; earlier samples are one period
  (1/130 s of sensor time) apart. Sensor time is mapped to UTC by a
  :class:`~stresstrack.sensors.timing.DeviceClock` shared by every stream of the device.
  ``time_ns`` is the first sample's time. A hole between frames (sensor timestamps more than
  half a period off) is recorded as a ``GAP`` status.
* **PPI** → :class:`~stresstrack.events.Beat` (``source=PPI``). Sensors send PPI frames with
  timestamp 0, so beats are chained from the intervals and anchored on receive times by a
  :class:`~stresstrack.sensors.timing.BeatTimer`, exactly as Heart Rate Service RR; a frame
  that does carry a timestamp (last beat's sensor time) is placed by the device clock
  instead. Polar says to discard intervals flagged by the movement "blocker" or without
  skin contact (``documentation/PPIData.md``): those are **not** emitted as beats (they
  still advance the chain, so later beats keep their times and the hole is visible as a
  beat whose time minus its RR is not the previous beat), and every change of the contact
  or blocker flags is stored as a ``DeviceStatus`` (``contact=...``;
  ``detail="ppi-blocker=on"``/``"off"``).
* **ACC** → no raw samples are stored. Each frame gives a motion level, the standard
  deviation of the acceleration magnitude over the frame in mG (gravity drops out, whatever
  the orientation); a hysteresis turns it into still/moving, and each change is stored as a
  ``DeviceStatus`` with ``detail="motion=moving level_mg=412"`` (or ``still``).

Size (issue 17): over 400 lines because the PMD session is one protocol: the control-point
state machine and the streams' decoding share the measurement types, settings and timing
chain of one device; the byte layouts are already in ``sensors/profiles/polar_pmd*.py``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Final

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic

from stresstrack.errors import DecodeError, StressTrackError
from stresstrack.events import (
    Beat,
    BeatSource,
    Contact,
    DeviceState,
    DeviceStatus,
    Event,
    EventIds,
    Waveform,
    WaveformKind,
)
from stresstrack.sensors.profiles.polar_pmd import (
    PMD_CONTROL_POINT_UUID,
    PmdControlPointResponse,
    PmdError,
    PmdMeasurementType,
    PmdOpCode,
    PmdSettings,
    decode_pmd_features,
    decode_pmd_response,
    decode_pmd_settings,
    encode_get_settings,
    encode_pmd_settings,
    encode_stop_stream,
)
from stresstrack.sensors.profiles.polar_pmd_data import AccSample, EcgSample, PmdFrame, PpiSample
from stresstrack.sensors.timing import BeatTimer, ChunkTimer, DeviceClock

__all__ = [
    "DEFAULT_STREAMS",
    "MotionDetector",
    "PmdControl",
    "PmdRequestError",
    "PmdStreams",
    "acc_motion_level",
    "choose_settings",
]

log = logging.getLogger(__name__)

NS: Final = 1_000_000_000
ECG, ACC, PPI = PmdMeasurementType.ECG, PmdMeasurementType.ACC, PmdMeasurementType.PPI
# What the collector streams when a sensor offers it: ECG for beat-exact timing and waveform
# quality, PPI from optical sensors, ACC for the motion level.
DEFAULT_STREAMS: Final = (ECG, PPI, ACC)
ECG_SAMPLE_RATE: Final = 130  # Hz, the H10's only ECG rate (documentation/products/PolarH10.md)
_RESPONSE: Final = 0xF0  # control point: a response to our request
_MEASUREMENT_STOPPED: Final = 0x01  # control point: the sensor stopped streams by itself
_TYPE_MASK: Final = 0x3F  # measurement type in byte 0 of a frame (PmdMeasurementType.kt)


def _measurement(value: int) -> PmdMeasurementType | None:
    try:
        return PmdMeasurementType(value)
    except ValueError:
        return None


class PmdRequestError(StressTrackError):
    """A control-point request failed: the device's status code, or no or a bad answer."""

    def __init__(
        self, device: str, request: str, problem: str, status: PmdError | None = None
    ) -> None:
        self.device = device
        self.request = request
        self.status = status
        self.problem = problem
        super().__init__(f"{device}: PMD {request}: {problem}")


def choose_settings(
    measurement: PmdMeasurementType, offered: PmdSettings, *, sample_rate: int | None = None
) -> PmdSettings:
    """One value of every setting the sensor offers, for a start request.

    Sample rate: ``sample_rate`` if offered, else 130 Hz for ECG, else the lowest (a motion
    level needs no more). Resolution and channels: the highest. Range: the widest, so movement
    does not clip.

    >>> s = choose_settings(PmdMeasurementType.ACC, PmdSettings(sample_rates=(25, 50, 100, 200),
    ...     resolutions=(16,), ranges=(2, 4, 8)))
    >>> s.sample_rates, s.resolutions, s.ranges
    ((25,), (16,), (8,))
    """
    rates = offered.sample_rates
    if sample_rate is None and measurement is ECG and ECG_SAMPLE_RATE in rates:
        sample_rate = ECG_SAMPLE_RATE
    rate = sample_rate if sample_rate in rates else min(rates, default=None)

    def top(values: tuple[int, ...]) -> tuple[int, ...]:
        return (max(values),) if values else ()

    return PmdSettings(
        sample_rates=() if rate is None else (rate,),
        resolutions=top(offered.resolutions),
        ranges=top(offered.ranges),
        range_milliunits=top(offered.range_milliunits),
        channels=top(offered.channels),
    )


class PmdControl:
    """Requests over the PMD control point of one connected device, one at a time."""

    def __init__(
        self,
        client: BleakClient,
        *,
        device: str,
        timeout_s: float = 5.0,
        on_stopped: Callable[[frozenset[PmdMeasurementType]], None] | None = None,
    ) -> None:
        self.client = client
        self.device = device
        self.timeout_s = timeout_s
        self.on_stopped = on_stopped
        self._responses: asyncio.Queue[bytes] = asyncio.Queue()
        self._lock = asyncio.Lock()
        self.started: set[PmdMeasurementType] = set()

    def _on_indication(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        data = bytearray(data)
        if data and data[0] == _RESPONSE:
            self._responses.put_nowait(bytes(data))
        elif data and data[0] == _MEASUREMENT_STOPPED:
            types = frozenset(m for b in data[1:] if (m := _measurement(b)) is not None)
            log.warning("%s: the sensor stopped PMD streams %s", self.device, sorted(types))
            self.started -= types
            if self.on_stopped is not None:
                self.on_stopped(types)
        else:
            log.warning("%s: unexpected PMD control point indication %s", self.device, data.hex())

    async def open(self) -> frozenset[PmdMeasurementType]:
        """Enable the control point's indications and read which streams the sensor offers."""
        await self.client.start_notify(PMD_CONTROL_POINT_UUID, self._on_indication)
        data = await self.client.read_gatt_char(PMD_CONTROL_POINT_UUID)
        try:
            return decode_pmd_features(data)
        except DecodeError as exc:
            raise PmdRequestError(self.device, "feature read", str(exc)) from exc

    async def request(self, payload: bytes) -> PmdControlPointResponse:
        """Write one request and wait for its whole response (joining "more" parts)."""
        op = PmdOpCode(payload[0])
        what = f"{op.name.lower()} {PmdMeasurementType(payload[1]).name}"
        async with self._lock:
            while not self._responses.empty():  # answers to requests that timed out
                self._responses.get_nowait()
            await self.client.write_gatt_char(PMD_CONTROL_POINT_UUID, payload, response=True)
            first = await self._next(op, what)
            parameters, more = first.parameters, first.more
            while more:
                part = await self._next(op, what)
                parameters += part.parameters
                more = part.more
        return replace(first, more=False, parameters=parameters)

    async def _next(self, op: PmdOpCode, what: str) -> PmdControlPointResponse:
        while True:
            try:
                data = await asyncio.wait_for(self._responses.get(), self.timeout_s)
            except TimeoutError:
                raise PmdRequestError(
                    self.device, what, f"no response within {self.timeout_s:g} s"
                ) from None
            try:
                response = decode_pmd_response(data)
            except DecodeError as exc:
                raise PmdRequestError(self.device, what, str(exc)) from exc
            if response.op_code is op:
                return response
            log.info("%s: PMD response for %s ignored", self.device, response.op_code.name)

    def _check(self, response: PmdControlPointResponse, what: str) -> None:
        if response.status is not PmdError.SUCCESS:
            raise PmdRequestError(
                self.device, what, f"the sensor answered {response.status.name}", response.status
            )

    async def get_settings(self, m: PmdMeasurementType) -> PmdSettings:
        """The settings the sensor offers for stream ``m``."""
        response = await self.request(encode_get_settings(m))
        self._check(response, f"get settings {m.name}")
        try:
            return decode_pmd_settings(response.parameters)
        except DecodeError as exc:
            raise PmdRequestError(self.device, f"get settings {m.name}", str(exc)) from exc

    async def start(self, m: PmdMeasurementType, settings: PmdSettings) -> PmdSettings:
        """Start stream ``m``; returns the parameters of the start response (e.g. FACTOR)."""
        payload = bytes([PmdOpCode.REQUEST_MEASUREMENT_START, m]) + encode_pmd_settings(settings)
        response = await self.request(payload)
        if response.status is PmdError.ALREADY_IN_STATE:
            await self.stop(m)
            response = await self.request(payload)
        self._check(response, f"start {m.name}")
        self.started.add(m)
        try:
            return decode_pmd_settings(response.parameters)
        except DecodeError as exc:
            raise PmdRequestError(self.device, f"start {m.name}", str(exc)) from exc

    async def stop(self, m: PmdMeasurementType) -> None:
        """Stop stream ``m``; a stream that is not running counts as stopped."""
        response = await self.request(encode_stop_stream(m))
        self.started.discard(m)
        if response.status is not PmdError.ALREADY_IN_STATE:
            self._check(response, f"stop {m.name}")


def acc_motion_level(samples: Sequence[AccSample]) -> float:
    """Standard deviation of the acceleration magnitude over ``samples``, in mG.

    >>> acc_motion_level([AccSample(0, 0, 1000), AccSample(0, 0, 1000)])
    0.0
    """
    mags = [math.sqrt(s.x * s.x + s.y * s.y + s.z * s.z) for s in samples]
    mean = sum(mags) / len(mags)
    return math.sqrt(sum((m - mean) ** 2 for m in mags) / len(mags))


class MotionDetector:
    """Still or moving from successive motion levels, with hysteresis.

    At rest a chest strap or arm band sees a few mG (sensor noise, breathing); walking or
    gesturing gives hundreds. ``update(level)``; ``get()`` is None before the first level.
    """

    def __init__(self, *, enter_mg: float = 60.0, leave_mg: float = 30.0) -> None:
        self.enter_mg = enter_mg
        self.leave_mg = leave_mg
        self.level_mg: float | None = None
        self._moving: bool | None = None

    def update(self, level_mg: float) -> None:
        self.level_mg = level_mg
        if self._moving is None:
            self._moving = level_mg >= self.enter_mg
        elif self._moving and level_mg < self.leave_mg:
            self._moving = False
        elif not self._moving and level_mg >= self.enter_mg:
            self._moving = True

    def get(self) -> bool | None:
        return self._moving


def _ppi_unreliable(s: PpiSample) -> bool:
    """Polar: discard intervals with the blocker set or without skin contact (PPIData.md)."""
    return s.blocker or (s.contact_supported and not s.contact)


def _chain_back(last_ns: int, rr_ns: list[int], bad: list[bool]) -> list[int | None]:
    """Times of a frame's beats from the last one's, back through reliable intervals only."""
    times: list[int | None] = [None] * len(rr_ns)
    t = last_ns
    times[-1] = t
    for k in range(len(rr_ns) - 1, 0, -1):
        if bad[k]:
            break  # the interval ending at beat k is wrong: earlier beats cannot be placed
        t -= rr_ns[k]
        times[k - 1] = t
    return times


@dataclass(frozen=True, slots=True)
class _Stream:
    settings: PmdSettings
    factor: float


class PmdStreams:
    """Turns the PMD frames of one device into events (see the module docstring)."""

    def __init__(self, ids: EventIds, *, device_clock: DeviceClock | None = None) -> None:
        self.ids = ids
        self.device_clock = device_clock or DeviceClock()
        self.ppi_timer = BeatTimer()
        self.motion = MotionDetector()
        self.streams: dict[PmdMeasurementType, _Stream] = {}
        self.contact: Contact | None = None
        self.blocker = False
        self.discarded_beats = 0
        self.gaps = 0
        self._last_stamp: dict[PmdMeasurementType, int] = {}
        self._fallback: dict[PmdMeasurementType, ChunkTimer] = {}

    def new_connection(self) -> None:
        """Forget per-connection state; the device clock estimate is kept (the sensor's
        clock runs on; a reset is detected as a jump)."""
        self.streams.clear()
        self.ppi_timer.reset()
        self._last_stamp.clear()
        for timer in self._fallback.values():
            timer.reset()

    def started(self, m: PmdMeasurementType, settings: PmdSettings, response: PmdSettings) -> None:
        factor = response.factors[0] if response.factors else 1.0
        self.streams[m] = _Stream(settings, factor if math.isfinite(factor) else 1.0)

    def factor(self, data: bytes | bytearray) -> float:
        """The FACTOR to decode ``data`` with (from its stream's start response)."""
        m = _measurement(data[0] & _TYPE_MASK) if data else None
        stream = self.streams.get(m) if m is not None else None
        return stream.factor if stream is not None else 1.0

    def _rate(self, m: PmdMeasurementType, default: int) -> int:
        stream = self.streams.get(m)
        rates = stream.settings.sample_rates if stream is not None else ()
        return rates[0] if rates and rates[0] > 0 else default

    def events(self, frame: PmdFrame, recv_ns: int) -> list[Event]:
        """The events of one frame received at ``recv_ns``."""
        stamp = frame.timestamp_ns_polar
        if stamp:
            self.device_clock.update(stamp, recv_ns)
        if frame.measurement is ECG:
            return self._ecg(frame, recv_ns)
        if frame.measurement is PPI:
            return self._ppi(frame, recv_ns)
        if frame.measurement is ACC:
            return self._acc(frame, recv_ns)
        return []  # a stream we did not ask for

    def _status(
        self,
        time_ns: int,
        *,
        state: DeviceState = DeviceState.CONNECTED,
        contact: Contact | None = None,
        detail: str = "",
        gap_start_ns: int | None = None,
    ) -> DeviceStatus:
        return DeviceStatus(
            time_ns=time_ns,
            state=state,
            contact=contact,
            detail=detail,
            gap_start_ns=gap_start_ns,
            **self.ids,
        )

    def _sample_times(
        self, m: PmdMeasurementType, frame: PmdFrame, recv_ns: int, rate: int
    ) -> tuple[int, list[Event]]:
        """First sample's UTC time, and a GAP status if samples are missing before it."""
        n = len(frame.samples)
        period = NS / rate
        stamp = frame.timestamp_ns_polar
        if not stamp:  # no sensor time: the last sample was taken at or before receipt
            timer = self._fallback.setdefault(m, ChunkTimer(rate, counter_modulo=None))
            return timer.first_time(recv_ns, None, n), []
        first = stamp - round((n - 1) * period)
        out: list[Event] = []
        last = self._last_stamp.get(m)
        self._last_stamp[m] = stamp
        if last is not None and first - last > 1.5 * period:
            self.gaps += 1
            missing = round((first - last) / period) - 1
            out.append(
                self._status(
                    self.device_clock.to_utc(first),
                    state=DeviceState.GAP,
                    gap_start_ns=self.device_clock.to_utc(last + round(period)),
                    detail=f"{m.name}: {missing} samples missing",
                )
            )
        return self.device_clock.to_utc(first), out

    def _ecg(self, frame: PmdFrame, recv_ns: int) -> list[Event]:
        rate = self._rate(ECG, ECG_SAMPLE_RATE)
        first, out = self._sample_times(ECG, frame, recv_ns, rate)
        values = tuple(float(s.microvolts) for s in frame.samples if isinstance(s, EcgSample))
        out.append(
            Waveform(
                time_ns=first,
                kind=WaveformKind.ECG,
                sampling_rate=float(rate),
                values=values,
                **self.ids,
            )
        )
        return out

    def _acc(self, frame: PmdFrame, recv_ns: int) -> list[Event]:
        samples = [s for s in frame.samples if isinstance(s, AccSample)]
        before = self.motion.get()
        self.motion.update(acc_motion_level(samples))
        moving = self.motion.get()
        if moving == before:
            return []
        stamp = frame.timestamp_ns_polar
        t = self.device_clock.to_utc(stamp) if stamp else recv_ns
        level = self.motion.level_mg or 0.0
        state = "moving" if moving else "still"
        return [self._status(t, detail=f"motion={state} level_mg={level:.0f}")]

    def _ppi(self, frame: PmdFrame, recv_ns: int) -> list[Event]:
        samples = [s for s in frame.samples if isinstance(s, PpiSample)]
        rr_ns = [s.pp_ms * 1_000_000 for s in samples]
        bad = [_ppi_unreliable(s) for s in samples]
        stamp = frame.timestamp_ns_polar
        if stamp:
            times = _chain_back(self.device_clock.to_utc(stamp), rr_ns, bad)
        else:
            times = self._chain_unstamped(recv_ns, rr_ns, bad)
        out: list[Event] = []
        for t, s, unreliable in zip(times, samples, bad, strict=True):
            at = t if t is not None else recv_ns
            contact = (
                Contact.UNSUPPORTED
                if not s.contact_supported
                else Contact.DETECTED
                if s.contact
                else Contact.NOT_DETECTED
            )
            if contact is not self.contact:
                self.contact = contact
                out.append(self._status(at, contact=contact))
            if s.blocker != self.blocker:
                self.blocker = s.blocker
                out.append(self._status(at, detail=f"ppi-blocker={'on' if s.blocker else 'off'}"))
            if unreliable or t is None:
                self.discarded_beats += 1
                continue
            out.append(Beat(time_ns=t, rr_ms=float(s.pp_ms), source=BeatSource.PPI, **self.ids))
        return out

    def _chain_unstamped(self, recv_ns: int, rr_ns: list[int], bad: list[bool]) -> list[int | None]:
        """Beat times from receive times (:class:`BeatTimer`); an unreliable interval breaks
        the chain: beats before it follow the previous beat, beats after it are re-anchored
        on the receive time, beats between two unreliable intervals have no time."""
        if not any(bad):
            return list(self.ppi_timer.times(recv_ns, [r / 1e6 for r in rr_ns]))
        n = len(rr_ns)
        first_bad = bad.index(True)
        last_bad = n - 1 - bad[::-1].index(True)
        times: list[int | None] = [None] * n
        t = self.ppi_timer.last_ns
        if t is not None:
            for k in range(first_bad):
                t += rr_ns[k]
                times[k] = t
        self.ppi_timer.reset()
        if last_bad < n - 1:
            tail = self.ppi_timer.times(recv_ns, [r / 1e6 for r in rr_ns[last_bad + 1 :]])
            times[last_bad + 1 :] = tail
        return times
