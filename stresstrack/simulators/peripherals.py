"""Simulated BLE peripherals that notify the exact bytes real devices send.

A peripheral owns a GATT table (services → characteristics) and, while a client is connected
and subscribed, sends notifications on the event loop's clock. Physiology comes from the
participant model. Faults (disconnects, dropped notifications, transport jitter, clock drift,
contact loss, ectopic and missed beats, motion) are injected from a seeded :class:`Faults`
plan, so a faulty run is reproducible.

Peripherals live in a :class:`SimulatedAir` (the radio environment); the bleak backend in
:mod:`stresstrack.simulators.bleak_backend` connects to them by address and scans for them.
The Polar devices are in :mod:`stresstrack.simulators.polar`.
"""

from __future__ import annotations

import asyncio
import random
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from stresstrack.clock import Clock
from stresstrack.events import RR_TICKS_PER_S, Contact
from stresstrack.sensors.profiles.battery import BATTERY_LEVEL_UUID, BATTERY_SERVICE_UUID
from stresstrack.sensors.profiles.device_info import (
    DEVICE_INFO_FIELDS,
    DEVICE_INFORMATION_SERVICE_UUID,
    DeviceInfo,
    encode_device_info,
)
from stresstrack.sensors.profiles.eda import STRESSTRACK_EDA_V1, EdaProfile, encode_eda_packet
from stresstrack.sensors.profiles.heart_rate import (
    HEART_RATE_MEASUREMENT_UUID,
    HEART_RATE_SERVICE_UUID,
    HeartRateMeasurement,
    encode_heart_rate_measurement,
)
from stresstrack.simulators.faults import (
    Faults,
    beats_with_ectopics,
    beats_with_missed,
    in_episodes,
    motion_episodes,
)
from stresstrack.simulators.physiology import ParticipantModel, simulate_beats, simulate_eda

__all__ = [
    "BATTERY_LEVEL_UUID",
    "BATTERY_SERVICE_UUID",
    "Faults",
    "SimulatedAir",
    "SimulatedEdaBand",
    "SimulatedHeartRateStrap",
    "SimulatedPeripheral",
]

NS: Final = 1_000_000_000
# Sleeping in real time overshoots by a little each time; above this the schedule catches up
# (in virtual time a sleep is exact, so nothing changes there).
_CATCH_UP_S: Final = 1e-4

Notify = Callable[[str, bytes], None]
PacketMaker = Callable[[], bytes | None]
Ticks = Iterator[tuple[float, list[tuple[str, PacketMaker]]]]


@dataclass
class SimulatedPeripheral(ABC):
    """Base: a GATT table, readable values, a notification schedule and a radio link."""

    address: str
    name: str
    clock: Clock
    start_ns: int
    faults: Faults = field(default_factory=Faults)
    rssi: int = -60
    battery_pct: float = 100.0
    battery_drain_per_h: float = 3.0
    info: DeviceInfo | None = None  # serves a Device Information Service when set
    mtu: int = 23  # ATT MTU the link ends up with (Polar sensors negotiate 232)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.faults.seed)
        self._jitter_rng = random.Random(self.faults.seed * 7919 + 1)
        self._unreachable_until_ns = 0
        self._notify: Notify | None = None
        self._subscribed: set[str] = set()
        self._last_delivery = 0.0
        self.connected = False
        self.sent = 0  # notifications delivered to a subscribed client
        self.dropped = 0
        self.sent_by_uuid: Counter[str] = Counter()

    # GATT table: service uuid -> {characteristic uuid: properties}
    def gatt(self) -> dict[str, dict[str, list[str]]]:
        table = {BATTERY_SERVICE_UUID: {BATTERY_LEVEL_UUID: ["read", "notify"]}}
        if self.info is not None:
            table[DEVICE_INFORMATION_SERVICE_UUID] = {
                uuid: ["read"] for uuid in encode_device_info(self.info)
            }
        return table

    def advertised_services(self) -> list[str]:
        """Service UUIDs in the advertisement (most devices advertise their main service)."""
        return []

    def read(self, uuid: str) -> bytes:
        if uuid == BATTERY_LEVEL_UUID:
            return bytes([self.battery_level()])
        if self.info is not None and uuid in DEVICE_INFO_FIELDS:
            values = encode_device_info(self.info)
            if uuid in values:
                return values[uuid]
        raise KeyError(uuid)

    def write(self, uuid: str, data: bytes) -> None:
        """A client wrote ``data`` to ``uuid``; raises ``KeyError`` if it is not writable."""
        raise KeyError(uuid)

    def battery_level(self) -> int:
        hours = max(0, self.clock.now_ns() - self.start_ns) / NS / 3600
        return int(max(0.0, min(100.0, self.battery_pct - self.battery_drain_per_h * hours)))

    def reachable(self) -> bool:
        return self.clock.now_ns() >= self._unreachable_until_ns

    # -- the radio link -----------------------------------------------------------------------
    def transmit(self, uuid: str, data: bytes, *, droppable: bool = True) -> None:
        """Send a notification (or, with ``droppable=False``, an acknowledged indication)."""
        if self._notify is None or uuid not in self._subscribed:
            return
        if droppable and self.faults.drop_share and self._rng.random() < self.faults.drop_share:
            self.dropped += 1
            return
        if self.faults.latency_s <= 0:
            self._deliver(self._notify, self._subscribed, uuid, data)
            return
        loop = asyncio.get_running_loop()
        delay = self._jitter_rng.expovariate(1.0 / self.faults.latency_s)
        # The link layer delivers in order: never before the previous packet.
        self._last_delivery = max(self._last_delivery, loop.time() + delay)
        loop.call_at(self._last_delivery, self._deliver, self._notify, self._subscribed, uuid, data)

    def _deliver(self, notify: Notify, subscribed: set[str], uuid: str, data: bytes) -> None:
        if uuid not in subscribed:
            return  # the link went down while the packet was in the air
        self.sent += 1
        self.sent_by_uuid[uuid] += 1
        notify(uuid, data)

    def link_up(self, notify: Notify, subscribed: set[str]) -> None:
        """A client connected; ``subscribed`` is the live set of characteristics it listens to."""
        self._notify, self._subscribed = notify, subscribed
        self.connected = True

    def link_down(self, notify: Notify | None = None) -> None:
        """The client disconnected or the link was lost (only that client's, if named)."""
        if notify is not None and notify != self._notify:
            return
        self._notify, self._subscribed = None, set()
        self.connected = False

    async def serve(
        self, notify: Notify, subscribed: set[str], link_lost: Callable[[], None]
    ) -> None:
        """Send notifications while connected; returns when the link is lost (fault)."""
        self.link_up(notify, subscribed)
        try:
            await self._serve(link_lost)
        finally:
            self.link_down()

    async def _serve(self, link_lost: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        next_loss = self._next_interval(self.faults.disconnect_every_s)
        ticker = self.ticks()
        behind = 0.0
        while True:
            delay, packets = next(ticker)
            due = loop.time() + delay
            await asyncio.sleep(max(0.0, delay - behind))
            late = loop.time() - due
            behind = late if late > _CATCH_UP_S else 0.0
            now = self.clock.now_ns()
            if next_loss is not None and now >= next_loss:
                self._unreachable_until_ns = now + int(self.faults.disconnect_for_s * NS)
                link_lost()
                return
            for uuid, make in packets:
                data = make()  # even when nobody listens: the device's state moves on
                if data is not None:
                    self.transmit(uuid, data)

    def _next_interval(self, every_s: float | None) -> int | None:
        if every_s is None:
            return None
        return self.clock.now_ns() + int(self._rng.expovariate(1.0 / every_s) * NS)

    @abstractmethod
    def ticks(self) -> Ticks:
        """Yield (seconds to wait, packets to send then) forever."""

    def seconds_since_start(self, now_ns: int | None = None) -> float:
        return ((self.clock.now_ns() if now_ns is None else now_ns) - self.start_ns) / NS


@dataclass
class SimulatedHeartRateStrap(SimulatedPeripheral):
    """A standard Heart Rate Service strap: one 0x2A37 notification per second with the RR
    intervals of the beats since the last one (as Polar H10, Garmin HRM and Wahoo TICKR do)."""

    model: ParticipantModel | None = None
    uint16: bool = False
    energy_every: int = 0  # include energy expended every N notifications (0 = never)
    period_s: float = 1.0
    send_rr: bool = True  # optical sensors (Verity Sense, OH1) send HR only

    def __post_init__(self) -> None:
        super().__post_init__()
        assert self.model is not None, "a strap needs a participant model"
        t, rr = simulate_beats(self.model)
        t, rr = beats_with_ectopics(
            t, rr, self.faults.ectopic_per_min, np.random.default_rng([self.faults.seed, 5])
        )
        # The true beats (what an ECG shows), in UTC ns.
        self.true_beat_ns = self.start_ns + np.round(t * NS).astype(np.int64)
        self.true_rr_ms = rr
        t, rr = beats_with_missed(
            t, rr, self.faults.missed_per_min, np.random.default_rng([self.faults.seed, 6])
        )
        if self.faults.drift:
            rr = rr * (1.0 + self.faults.drift)  # measured with the device's own crystal
        self.reported_rr_ms = rr
        # The beats the strap's detector reports, and their RR as it measures them.
        self._beat_ns = self.start_ns + np.round(t * NS).astype(np.int64)
        self._rr_ticks = np.round(rr * RR_TICKS_PER_S / 1000.0).astype(np.int64)
        self._sent_until_ns = 0
        self._count = 0
        self._contact_lost_until = 0
        self._next_contact_loss = None if self.faults.contact_loss_every_s is None else 0

    def gatt(self) -> dict[str, dict[str, list[str]]]:
        table = super().gatt()
        table[HEART_RATE_SERVICE_UUID] = {HEART_RATE_MEASUREMENT_UUID: ["notify"]}
        return table

    def advertised_services(self) -> list[str]:
        return [HEART_RATE_SERVICE_UUID]

    @property
    def reported_beats(self) -> tuple[np.ndarray, np.ndarray]:
        """Times (UTC ns) and RR (1/1024 s ticks) of the beats the strap reports."""
        return self._beat_ns, self._rr_ticks

    def ticks(self) -> Ticks:
        self._sent_until_ns = self.clock.now_ns()
        period = self.period_s / (1.0 + self.faults.drift)  # one second of the strap's clock
        while True:
            yield period, [(HEART_RATE_MEASUREMENT_UUID, self._measurement)]

    def contact(self, now: int) -> Contact:
        if self.faults.contact_loss_every_s is None:
            return Contact.DETECTED
        if self._next_contact_loss == 0:
            self._next_contact_loss = self._next_interval(self.faults.contact_loss_every_s)
        if self._next_contact_loss is not None and now >= self._next_contact_loss:
            self._contact_lost_until = now + int(self.faults.contact_loss_for_s * NS)
            self._next_contact_loss = self._next_interval(self.faults.contact_loss_every_s)
        return Contact.NOT_DETECTED if now < self._contact_lost_until else Contact.DETECTED

    def _measurement(self) -> bytes | None:
        now = self.clock.now_ns()
        lo = np.searchsorted(self._beat_ns, self._sent_until_ns, side="right")
        hi = np.searchsorted(self._beat_ns, now, side="right")
        self._sent_until_ns = now
        if lo >= len(self._beat_ns):
            return None  # the model's recording is over
        contact = self.contact(now)
        ticks = tuple(int(x) for x in self._rr_ticks[lo:hi])
        if contact is Contact.NOT_DETECTED or not self.send_rr:
            ticks = ()  # no skin contact: straps send no RR intervals
        recent = self._rr_ticks[max(0, hi - 4) : hi] if hi else self._rr_ticks[:1]
        bpm = round(60.0 * RR_TICKS_PER_S / float(np.mean(recent)))
        self._count += 1
        energy = None
        if self.energy_every and self._count % self.energy_every == 0:
            energy = self._count // self.energy_every
        # At most 9 RR values fit a 20-byte ATT payload with uint8 HR (Polar documents this).
        ticks = ticks[-9:]
        m = HeartRateMeasurement(bpm=bpm, contact=contact, energy_kj=energy, rr_ticks=ticks)
        return encode_heart_rate_measurement(m, uint16=self.uint16)


# Motion artefacts on EDA: electrodes shift on the skin, so the level jumps for the length of
# the movement and gets noisy (Boucsein 2012, Electrodermal Activity, ch. 2.3 on artefacts).
_EDA_MOTION_JUMP_US: Final = (0.3, 1.2)
_EDA_MOTION_NOISE_US: Final = 0.08


@dataclass
class SimulatedEdaBand(SimulatedPeripheral):
    """An EDA wristband speaking a declarative :class:`EdaProfile`."""

    model: ParticipantModel | None = None
    profile: EdaProfile = STRESSTRACK_EDA_V1
    samples_per_packet: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        assert self.model is not None, "an EDA band needs a participant model"
        t, values = simulate_eda(self.model, self.profile.sampling_rate)
        self.true_values_us = values  # the model's skin conductance
        self.motion = motion_episodes(
            self.faults.motion_every_s,
            self.faults.motion_for_s,
            self.model.protocol.duration_s,
            self.faults.seed,
        )
        if self.motion:
            values = values.copy()
            rng = np.random.default_rng([self.faults.seed, 8])
            for start, end in self.motion:
                sel = (t >= start) & (t < end)
                jump = float(rng.uniform(*_EDA_MOTION_JUMP_US)) * float(rng.choice([-1.0, 1.0]))
                values[sel] += jump + rng.normal(0.0, _EDA_MOTION_NOISE_US, int(sel.sum()))
            values = np.clip(values, 0.0, None)
        self.motion_mask = in_episodes(t, self.motion)
        self._values = values  # what the band measures, artefacts included
        self._counter = 0
        self._next_sample = 0

    def gatt(self) -> dict[str, dict[str, list[str]]]:
        table = super().gatt()
        table[self.profile.service_uuid] = {self.profile.characteristic_uuid: ["notify"]}
        return table

    def advertised_services(self) -> list[str]:
        return [self.profile.service_uuid]

    def ticks(self) -> Ticks:
        fs = self.profile.sampling_rate * (1.0 + self.faults.drift)  # true samples per second
        # Resume at the sample that is due now: what happened while disconnected is lost.
        elapsed = (self.clock.now_ns() - self.start_ns) / NS
        self._next_sample = max(0, int(elapsed * fs))
        while True:
            yield self.samples_per_packet / fs, [(self.profile.characteristic_uuid, self._packet)]

    def packet_values(self, first: int) -> tuple[float, ...]:
        """The samples of the packet starting at sample ``first``, as measured."""
        chunk = self._values[first : first + self.samples_per_packet]
        return tuple(float(v) for v in chunk)

    def _packet(self) -> bytes | None:
        i = self._next_sample
        if i >= len(self._values):
            return None
        chunk = self.packet_values(i)
        self._next_sample += len(chunk)
        data = encode_eda_packet(self.profile, self._counter, chunk)
        self._counter += 1
        return data


class SimulatedAir:
    """The radio environment: which simulated peripherals are advertising."""

    def __init__(self) -> None:
        self.peripherals: dict[str, SimulatedPeripheral] = {}

    def add(self, peripheral: SimulatedPeripheral) -> SimulatedPeripheral:
        self.peripherals[peripheral.address.upper()] = peripheral
        return peripheral

    def find(self, address_or_name: str) -> SimulatedPeripheral | None:
        key = address_or_name.upper()
        if key in self.peripherals:
            return self.peripherals[key]
        for p in self.peripherals.values():
            if p.name == address_or_name:
                return p
        return None
