"""The BLE collector: connects a device, decodes its notifications into events, reconnects.

The collector only uses bleak's public :class:`bleak.BleakClient` API. Real hardware and the
simulated peripherals differ only in the client factory (``backend=`` of ``BleakClient``),
and time comes from a :class:`~stresstrack.clock.Clock`, so a simulated study runs the very
same code faster than real time.

On each connection it reads the Device Information Service once (stored as a status "for
the record"), subscribes to whatever the device offers among the Heart Rate Service, the
configured EDA profiles, the Battery Service and Polar's PMD service (streams started
through :class:`~stresstrack.sensors.pmd_session.PmdControl`), and then waits. A lost link
(bleak's disconnect callback, a BleakError while setting up, or no data for
``stall_timeout_s`` with the adapter gone quiet) ends the connection; it reconnects with
capped exponential backoff and records the hole in the data as a ``GAP`` status. A packet
that does not decode is counted, logged and stored as a ``BAD_PACKET`` status; collection
goes on.
"""

# Size (issue 17): over 400 lines because DeviceCollector is one class of ~350 lines whose
# connection loop, notification handlers and per-connection state share private fields;
# splitting it would cut the class, not move code. Discovery and error messages moved out
# (stresstrack/sensors/discovery.py).

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakError

from stresstrack.backoff import Backoff
from stresstrack.clock import Clock
from stresstrack.errors import DecodeError
from stresstrack.events import (
    Beat,
    BeatSource,
    Contact,
    DeviceState,
    DeviceStatus,
    EdaSamples,
    Event,
    EventIds,
    EventSink,
    HeartRate,
)
from stresstrack.sensors.discovery import describe_ble_error, describe_device_info
from stresstrack.sensors.pmd_session import (
    DEFAULT_STREAMS,
    PmdControl,
    PmdRequestError,
    PmdStreams,
    choose_settings,
)
from stresstrack.sensors.profiles.battery import BATTERY_LEVEL_UUID
from stresstrack.sensors.profiles.device_info import (
    DEVICE_INFO_FIELDS,
    DEVICE_INFORMATION_SERVICE_UUID,
    decode_device_info,
)
from stresstrack.sensors.profiles.eda import STRESSTRACK_EDA_V1, EdaProfile, decode_eda_packet
from stresstrack.sensors.profiles.heart_rate import (
    HEART_RATE_MEASUREMENT_UUID,
    decode_heart_rate_measurement,
)
from stresstrack.sensors.profiles.polar_pmd import (
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PmdMeasurementType,
)
from stresstrack.sensors.profiles.polar_pmd_data import decode_pmd_frame
from stresstrack.sensors.timing import BeatTimer, ChunkTimer

__all__ = [
    "ClientFactory",
    "CollectorStats",
    "DeviceCollector",
]

RECONNECT_BACKOFF: Final = Backoff(first_s=1.0, max_s=60.0)

log = logging.getLogger(__name__)

NS: Final = 1_000_000_000

ClientFactory = Callable[[str, Callable[[BleakClient], None]], BleakClient]


@dataclass
class CollectorStats:
    connects: int = 0
    disconnects: int = 0
    notifications: int = 0
    bad_packets: int = 0
    events: int = 0
    last_error: str = ""
    connected: bool = False
    battery_pct: int | None = None
    contact: Contact = Contact.UNSUPPORTED
    profiles: list[str] = field(default_factory=list)
    last_data_ns: int | None = None  # receive time of the last good packet
    device_info: str = ""
    moving: bool | None = None  # from the accelerometer, when streamed
    discarded_beats: int = 0  # PPI beats flagged by the blocker or without contact

    @property
    def reconnects(self) -> int:
        return max(0, self.connects - 1)


def _setter(event: asyncio.Event) -> Callable[[BleakClient], None]:
    """A disconnect callback that sets ``event`` (bound now, not at call time)."""
    return lambda _client: event.set()


class DeviceCollector:
    """Collects one device for one participant until ``stop`` is set."""

    def __init__(
        self,
        address: str,
        *,
        participant: str,
        sink: EventSink,
        clock: Clock,
        client_factory: ClientFactory,
        study: str = "default",
        eda_profiles: Sequence[EdaProfile] = (STRESSTRACK_EDA_V1,),
        pmd_streams: Sequence[PmdMeasurementType] = DEFAULT_STREAMS,
        backoff: Backoff = RECONNECT_BACKOFF,
        rng: random.Random | None = None,
        stall_timeout_s: float | None = 30.0,
        pmd_timeout_s: float = 5.0,
    ) -> None:
        self.address = address
        self.participant = participant
        self.study = study
        self.sink = sink
        self.clock = clock
        self.client_factory = client_factory
        self.eda_profiles = {p.characteristic_uuid: p for p in eda_profiles}
        self.pmd_streams = tuple(pmd_streams)
        self.backoff = backoff
        self.rng = rng or random.Random()
        self.stall_timeout_s = stall_timeout_s
        self.pmd_timeout_s = pmd_timeout_s
        self.stats = CollectorStats()
        self._ids = EventIds(participant=participant, study=study, device=address)
        self._beats = BeatTimer()
        self._chunks: dict[str, ChunkTimer] = {}
        self._pmd = PmdStreams(self._ids)
        self._pmd_control: PmdControl | None = None
        self._notifying: set[str] = set()
        self._notes: list[str] = []  # details to store once the connection is up
        self._last_data_ns: int | None = None

    # -- events ------------------------------------------------------------------------------
    def _emit(self, events: Sequence[Event]) -> None:
        self.stats.events += len(events)
        self.sink.emit(events)

    def _status(self, state: DeviceState, **kw: object) -> None:
        self._emit(
            [
                DeviceStatus(
                    time_ns=self.clock.now_ns(),
                    participant=self.participant,
                    study=self.study,
                    device=self.address,
                    state=state,
                    **kw,  # type: ignore[arg-type]
                )
            ]
        )

    def _bad_packet(self, what: str, exc: Exception) -> None:
        self.stats.bad_packets += 1
        if isinstance(exc, DecodeError):
            log.warning("%s: bad %s packet: %s", self.address, what, exc)
            detail = str(exc)
        else:  # a bug in our handling: keep collecting, but say so loudly
            log.error("%s: %s packet not handled", self.address, what, exc_info=exc)
            detail = f"internal error handling {what} packet: {type(exc).__name__}: {exc}"
        self._status(DeviceState.BAD_PACKET, detail=detail[:200])

    def _got_data(self, now: int) -> None:
        self._last_data_ns = now
        self.stats.last_data_ns = now

    def _guarded(
        self,
        what: str,
        handler: Callable[[BleakGATTCharacteristic, bytearray], None],
        char: BleakGATTCharacteristic,
        data: bytearray,
    ) -> None:
        """Run a notification handler; a bug in it costs the packet, never the collection."""
        try:
            handler(char, data)
        except Exception as exc:
            self._bad_packet(what, exc)

    def on_heart_rate(self, char: BleakGATTCharacteristic, data: bytearray) -> None:
        self._guarded("heart rate", self._on_heart_rate, char, data)

    def on_eda(self, char: BleakGATTCharacteristic, data: bytearray) -> None:
        self._guarded("EDA", self._on_eda, char, data)

    def on_battery(self, char: BleakGATTCharacteristic, data: bytearray) -> None:
        self._guarded("battery", self._on_battery, char, data)

    def _on_heart_rate(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        now = self.clock.now_ns()
        self.stats.notifications += 1
        try:
            m = decode_heart_rate_measurement(data)
        except DecodeError as exc:
            self._bad_packet("heart rate", exc)
            return
        base = EventIds(participant=self.participant, study=self.study, device=self.address)
        events: list[Event] = []
        if m.contact is not self.stats.contact:
            self.stats.contact = m.contact
            events.append(
                DeviceStatus(time_ns=now, state=DeviceState.CONNECTED, contact=m.contact, **base)
            )
        events.append(
            HeartRate(
                time_ns=now, bpm=float(m.bpm), contact=m.contact, energy_kj=m.energy_kj, **base
            )
        )
        rr_ms = m.rr_ms
        times = self._beats.times(now, rr_ms)
        if self._beats.gap_from_ns is not None:  # beats went missing (lost packets, no contact)
            events.append(
                DeviceStatus(
                    time_ns=times[0],
                    state=DeviceState.GAP,
                    gap_start_ns=self._beats.gap_from_ns,
                    detail="RR: beats missing",
                    **base,
                )
            )
        for t, ticks, ms in zip(times, m.rr_ticks, rr_ms, strict=True):
            events.append(Beat(time_ns=t, rr_ms=ms, rr_ticks=ticks, source=BeatSource.HRS, **base))
        self._got_data(now)
        self._emit(events)

    def _on_eda(self, char: BleakGATTCharacteristic, data: bytearray) -> None:
        now = self.clock.now_ns()
        self.stats.notifications += 1
        profile = self.eda_profiles[char.uuid]
        try:
            packet = decode_eda_packet(profile, data)
        except DecodeError as exc:
            self._bad_packet("EDA", exc)
            return
        timer = self._chunks.setdefault(char.uuid, ChunkTimer(profile.sampling_rate))
        first = timer.first_time(now, packet.counter, len(packet.values_us))
        self._got_data(now)
        if timer.gap_from_ns is not None:  # packets went missing
            self._status(
                DeviceState.GAP, gap_start_ns=timer.gap_from_ns, detail="EDA: packets missing"
            )
        self._emit(
            [
                EdaSamples(
                    time_ns=first,
                    participant=self.participant,
                    study=self.study,
                    device=self.address,
                    sampling_rate=profile.sampling_rate,
                    values_us=packet.values_us,
                )
            ]
        )

    def on_pmd_data(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        now = self.clock.now_ns()
        self.stats.notifications += 1
        try:
            frame = decode_pmd_frame(data, factor=self._pmd.factor(data))
            events = self._pmd.events(frame, now)
        except Exception as exc:  # DecodeError, or a bug: never stop collecting
            self._bad_packet("PMD", exc)
            return
        self._got_data(now)
        self.stats.moving = self._pmd.motion.get()
        self.stats.discarded_beats = self._pmd.discarded_beats
        if self._pmd.contact is not None and HEART_RATE_MEASUREMENT_UUID not in self._notifying:
            self.stats.contact = self._pmd.contact
        self._emit(events)

    def _on_battery(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        if len(data) != 1 or data[0] > 100:
            self._bad_packet(
                "battery", DecodeError("Battery Level (0x2A19)", bytes(data), "not a uint8 0-100")
            )
            return
        self.stats.battery_pct = data[0]
        self._status(DeviceState.CONNECTED, battery_pct=data[0])

    # -- connection loop ---------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> CollectorStats:
        """Connect, collect and reconnect until ``stop`` is set; never raises for BLE errors."""
        attempt = 0
        while not stop.is_set():
            lost = asyncio.Event()
            self._new_connection()
            self._status(DeviceState.CONNECTING)
            client = self.client_factory(self.address, _setter(lost))
            try:
                await client.connect()
                await self._subscribe(client)
            except (BleakError, TimeoutError, OSError) as exc:
                self.stats.last_error = describe_ble_error(exc, self.address)
                log.warning("%s", self.stats.last_error)
                self._status(DeviceState.DISCONNECTED, detail=self.stats.last_error)
                with contextlib.suppress(BleakError, OSError, TimeoutError):
                    await client.disconnect()
                await self._sleep_or_stop(self.backoff.delay(attempt + 1, rng=self.rng), stop)
                attempt += 1
                continue
            attempt = 0
            self.stats.connects += 1
            self.stats.connected = True
            if self._last_data_ns is not None:
                # Record the hole in the data between the last packet and the reconnection.
                self._status(DeviceState.GAP, gap_start_ns=self._last_data_ns, detail="reconnected")
            self._status(DeviceState.CONNECTED, detail=",".join(self.stats.profiles))
            for note in self._notes:
                self._status(DeviceState.CONNECTED, detail=note)
            why = await self._supervise(client, stop, lost)
            self.stats.connected = False
            if stop.is_set():
                await self._stop_streams()
                with contextlib.suppress(BleakError, OSError, TimeoutError):
                    await client.disconnect()
                self._status(DeviceState.DISCONNECTED, detail="stopped")
                break
            self.stats.disconnects += 1
            self._status(DeviceState.DISCONNECTED, detail=why)
            with contextlib.suppress(BleakError, OSError, TimeoutError):
                await client.disconnect()
            await self._sleep_or_stop(self.backoff.delay(1, rng=self.rng), stop)
        return self.stats

    def _new_connection(self) -> None:
        """Forget what only held for the previous connection (timing chains, PMD streams)."""
        self._beats.reset()
        for timer in self._chunks.values():
            timer.reset()
        self._pmd.new_connection()
        self._pmd_control = None

    async def _supervise(
        self, client: BleakClient, stop: asyncio.Event, lost: asyncio.Event
    ) -> str:
        """Wait while connected; return why the connection ended (or "" when stopped)."""
        if self.stall_timeout_s is None:
            await self._wait_any(stop, lost)
            return "link lost"
        connected_ns = self.clock.now_ns()
        limit_ns = int(self.stall_timeout_s * NS)
        while True:
            await self._wait_any(stop, lost, timeout=self.stall_timeout_s / 3)
            if stop.is_set():
                return ""
            if lost.is_set() or not client.is_connected:
                return "link lost"
            since = max(connected_ns, self._last_data_ns or connected_ns)
            if self.clock.now_ns() - since > limit_ns:
                # The adapter may have restarted without telling bleak: start over.
                log.warning(
                    "%s: no data for %g s, reconnecting", self.address, self.stall_timeout_s
                )
                return f"no data for {self.stall_timeout_s:g} s"

    async def _subscribe(self, client: BleakClient) -> None:
        profiles = []
        self._notes = []
        self._notifying = set()
        services = client.services
        if services.get_service(DEVICE_INFORMATION_SERVICE_UUID) is not None:
            await self._read_device_info(client)
        if services.get_characteristic(HEART_RATE_MEASUREMENT_UUID) is not None:
            await client.start_notify(HEART_RATE_MEASUREMENT_UUID, self.on_heart_rate)
            self._notifying.add(HEART_RATE_MEASUREMENT_UUID)
            profiles.append("heart-rate")
        for uuid, profile in self.eda_profiles.items():
            if services.get_characteristic(uuid) is not None:
                await client.start_notify(uuid, self.on_eda)
                profiles.append(f"eda:{profile.name}")
        battery = services.get_characteristic(BATTERY_LEVEL_UUID)
        if battery is not None:
            self.on_battery(battery, await client.read_gatt_char(battery))
            if "notify" in battery.properties:
                await client.start_notify(battery, self.on_battery)
        if self.pmd_streams and services.get_characteristic(PMD_CONTROL_POINT_UUID) is not None:
            profiles += await self._start_pmd(client)
        if not profiles:
            raise BleakError("the device offers no supported profile (heart rate, EDA or PMD)")
        self.stats.profiles = profiles

    async def _read_device_info(self, client: BleakClient) -> None:
        reads = {}
        for uuid in DEVICE_INFO_FIELDS:
            char = client.services.get_characteristic(uuid)
            if char is not None and "read" in char.properties:
                reads[uuid] = bytes(await client.read_gatt_char(char))
        try:
            info = decode_device_info(reads)
        except DecodeError as exc:
            self._notes.append(f"device information unreadable: {exc}"[:200])
            return
        self.stats.device_info = describe_device_info(info)
        self._notes.append(self.stats.device_info)

    async def _start_pmd(self, client: BleakClient) -> list[str]:
        """Start the wanted PMD streams the sensor offers; a refusal is noted, not fatal."""
        control = PmdControl(client, device=self.address, timeout_s=self.pmd_timeout_s)
        self._pmd_control = control
        started = []
        try:
            offered = await control.open()
            await client.start_notify(PMD_DATA_UUID, self.on_pmd_data)
            for m in self.pmd_streams:
                if m not in offered:
                    continue
                try:
                    settings = choose_settings(m, await control.get_settings(m))
                    self._pmd.started(m, settings, await control.start(m, settings))
                    started.append(f"pmd:{m.name.lower()}")
                except PmdRequestError as exc:
                    log.warning("%s", exc)
                    self._notes.append(f"pmd: {m.name} not started: {exc.problem}"[:200])
        except PmdRequestError as exc:
            log.warning("%s", exc)
            self._notes.append(f"pmd: {exc.problem}"[:200])
        return started

    async def _stop_streams(self) -> None:
        """Ask the sensor to stop its PMD streams (politeness; it stops on disconnect too)."""
        control, self._pmd_control = self._pmd_control, None
        if control is None:
            return
        control.timeout_s = min(control.timeout_s, 1.0)
        for m in sorted(control.started):
            with contextlib.suppress(PmdRequestError, BleakError, OSError, TimeoutError):
                await control.stop(m)

    @staticmethod
    async def _sleep_or_stop(seconds: float, stop: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)

    @staticmethod
    async def _wait_any(*events: asyncio.Event, timeout: float | None = None) -> None:
        tasks = [asyncio.ensure_future(e.wait()) for e in events]
        try:
            await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
