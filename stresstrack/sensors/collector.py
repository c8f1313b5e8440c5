"""The BLE collector: connects a device, decodes its notifications into events, reconnects.

The collector only uses bleak's public :class:`bleak.BleakClient` API. Real hardware and the
simulated peripherals differ only in the client factory (``backend=`` of ``BleakClient``),
and time comes from a :class:`~stresstrack.clock.Clock`, so a simulated study runs the very
same code faster than real time.
"""

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
from bleak.exc import BleakDeviceNotFoundError, BleakError

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
    HeartRate,
)
from stresstrack.recorder import EventSink
from stresstrack.sensors.profiles.eda import STRESSTRACK_EDA_V1, EdaProfile, decode_eda_packet
from stresstrack.sensors.profiles.heart_rate import (
    HEART_RATE_MEASUREMENT_UUID,
    decode_heart_rate_measurement,
)
from stresstrack.sensors.timing import BeatTimer, ChunkTimer

__all__ = ["Backoff", "ClientFactory", "CollectorStats", "DeviceCollector", "describe_ble_error"]

log = logging.getLogger(__name__)

BATTERY_LEVEL_UUID: Final = "00002a19-0000-1000-8000-00805f9b34fb"

ClientFactory = Callable[[str, Callable[[BleakClient], None]], BleakClient]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with jitter between reconnection attempts."""

    base_s: float = 1.0
    cap_s: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(attempt, 30))
        return rng.uniform(ceiling / 2, ceiling)


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


def describe_ble_error(exc: BaseException, device: str) -> str:
    """A clear, actionable message for a bleak or OS error."""
    text = str(exc)
    low = text.lower()
    if isinstance(exc, BleakDeviceNotFoundError):
        return (
            f"{device}: device not found "
            "(is it on, charged, in range, and not connected to a phone?)"
        )
    if "no bluetooth adapters" in low or ("adapter" in low and "not found" in low):
        return f"{device}: no Bluetooth adapter found (is Bluetooth enabled on this machine?)"
    if "permission" in low or "not authorized" in low or "notpermitted" in low:
        return f"{device}: permission denied by the OS Bluetooth service (see docs/devices.md)"
    if "slot" in low or "connection limit" in low or "too many" in low:
        return f"{device}: the adapter is out of connection slots (disconnect another device)"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return f"{device}: connection timed out"
    return f"{device}: {type(exc).__name__}: {text or 'no detail'}"


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
        backoff: Backoff = Backoff(),
        rng: random.Random | None = None,
    ) -> None:
        self.address = address
        self.participant = participant
        self.study = study
        self.sink = sink
        self.clock = clock
        self.client_factory = client_factory
        self.eda_profiles = {p.characteristic_uuid: p for p in eda_profiles}
        self.backoff = backoff
        self.rng = rng or random.Random()
        self.stats = CollectorStats()
        self._beats = BeatTimer()
        self._chunks: dict[str, ChunkTimer] = {}
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

    def _bad_packet(self, what: str, exc: DecodeError) -> None:
        self.stats.bad_packets += 1
        log.warning("%s: bad %s packet: %s", self.address, what, exc)
        self._status(DeviceState.BAD_PACKET, detail=str(exc)[:200])

    def on_heart_rate(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
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
        for t, ticks, ms in zip(self._beats.times(now, rr_ms), m.rr_ticks, rr_ms, strict=True):
            events.append(Beat(time_ns=t, rr_ms=ms, rr_ticks=ticks, source=BeatSource.HRS, **base))
        self._last_data_ns = now
        self._emit(events)

    def on_eda(self, char: BleakGATTCharacteristic, data: bytearray) -> None:
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
        self._last_data_ns = now
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

    def on_battery(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
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
                await self._sleep_or_stop(self.backoff.delay(attempt, self.rng), stop)
                attempt += 1
                continue
            attempt = 0
            self.stats.connects += 1
            self.stats.connected = True
            if self._last_data_ns is not None:
                # Record the hole in the data between the last packet and the reconnection.
                self._status(DeviceState.GAP, gap_start_ns=self._last_data_ns, detail="reconnected")
            self._status(DeviceState.CONNECTED, detail=",".join(self.stats.profiles))
            await self._wait_any(stop, lost)
            self.stats.connected = False
            if stop.is_set():
                with contextlib.suppress(BleakError, OSError, TimeoutError):
                    await client.disconnect()
                self._status(DeviceState.DISCONNECTED, detail="stopped")
                break
            self.stats.disconnects += 1
            self._beats.reset()
            for timer in self._chunks.values():
                timer.reset()
            self._status(DeviceState.DISCONNECTED, detail="link lost")
            with contextlib.suppress(BleakError, OSError, TimeoutError):
                await client.disconnect()
            await self._sleep_or_stop(self.backoff.delay(0, self.rng), stop)
        return self.stats

    async def _subscribe(self, client: BleakClient) -> None:
        profiles = []
        services = client.services
        if services.get_characteristic(HEART_RATE_MEASUREMENT_UUID) is not None:
            await client.start_notify(HEART_RATE_MEASUREMENT_UUID, self.on_heart_rate)
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
        if not profiles:
            raise BleakError("the device offers no supported profile (heart rate or EDA)")
        self.stats.profiles = profiles

    @staticmethod
    async def _sleep_or_stop(seconds: float, stop: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)

    @staticmethod
    async def _wait_any(*events: asyncio.Event) -> None:
        tasks = [asyncio.ensure_future(e.wait()) for e in events]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
