"""Simulated BLE peripherals that notify the exact bytes real devices send.

A peripheral owns a GATT table (services → characteristics) and, while a client is connected
and subscribed, sends notifications on the event loop's clock. Physiology comes from the
participant model. Faults (disconnects, dropped notifications, contact loss) are injected
from a seeded :class:`Faults` plan, so a faulty run is reproducible.

Peripherals live in a :class:`SimulatedAir` (the radio environment); the bleak backend in
:mod:`stresstrack.simulators.bleak_backend` connects to them by address.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from stresstrack.clock import Clock
from stresstrack.events import RR_TICKS_PER_S, Contact
from stresstrack.sensors.profiles.eda import STRESSTRACK_EDA_V1, EdaProfile, encode_eda_packet
from stresstrack.sensors.profiles.heart_rate import (
    HEART_RATE_MEASUREMENT_UUID,
    HEART_RATE_SERVICE_UUID,
    HeartRateMeasurement,
    encode_heart_rate_measurement,
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

BATTERY_SERVICE_UUID: Final = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID: Final = "00002a19-0000-1000-8000-00805f9b34fb"
NS: Final = 1_000_000_000

Notify = Callable[[str, bytes], None]
PacketMaker = Callable[[], bytes | None]
Ticks = Iterator[tuple[float, list[tuple[str, PacketMaker]]]]


@dataclass(frozen=True, slots=True)
class Faults:
    """A reproducible fault plan for one peripheral."""

    disconnect_every_s: float | None = None  # mean time between link losses
    disconnect_for_s: float = 5.0  # how long the device stays unreachable
    drop_share: float = 0.0  # share of notifications lost in the air
    contact_loss_every_s: float | None = None
    contact_loss_for_s: float = 10.0
    seed: int = 0


@dataclass
class SimulatedPeripheral:
    """Base: a GATT table, readable values and a notification schedule."""

    address: str
    name: str
    clock: Clock
    start_ns: int
    faults: Faults = field(default_factory=Faults)
    rssi: int = -60
    battery_pct: float = 100.0
    battery_drain_per_h: float = 3.0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.faults.seed)
        self._unreachable_until_ns = 0
        self._link_lost: Callable[[], None] | None = None
        self.sent = 0
        self.dropped = 0

    # GATT table: service uuid -> {characteristic uuid: properties}
    def gatt(self) -> dict[str, dict[str, list[str]]]:
        return {BATTERY_SERVICE_UUID: {BATTERY_LEVEL_UUID: ["read", "notify"]}}

    def read(self, uuid: str) -> bytes:
        if uuid == BATTERY_LEVEL_UUID:
            return bytes([self.battery_level()])
        raise KeyError(uuid)

    def battery_level(self) -> int:
        hours = max(0, self.clock.now_ns() - self.start_ns) / NS / 3600
        return int(max(0.0, min(100.0, self.battery_pct - self.battery_drain_per_h * hours)))

    def reachable(self) -> bool:
        return self.clock.now_ns() >= self._unreachable_until_ns

    async def serve(
        self, notify: Notify, subscribed: set[str], link_lost: Callable[[], None]
    ) -> None:
        """Send notifications while connected; returns when the link is lost (fault)."""
        next_loss = self._next_interval(self.faults.disconnect_every_s)
        ticker = self.ticks()
        while True:
            delay, packets = next(ticker)
            await asyncio.sleep(delay)
            now = self.clock.now_ns()
            if next_loss is not None and now >= next_loss:
                self._unreachable_until_ns = now + int(self.faults.disconnect_for_s * NS)
                link_lost()
                return
            for uuid, make in packets:
                data = make()
                if data is None or uuid not in subscribed:
                    continue
                if self.faults.drop_share and self._rng.random() < self.faults.drop_share:
                    self.dropped += 1
                    continue
                self.sent += 1
                notify(uuid, data)

    def _next_interval(self, every_s: float | None) -> int | None:
        if every_s is None:
            return None
        return self.clock.now_ns() + int(self._rng.expovariate(1.0 / every_s) * NS)

    def ticks(self) -> Ticks:
        """Yield (seconds to wait, packets to send then) forever."""
        raise NotImplementedError


@dataclass
class SimulatedHeartRateStrap(SimulatedPeripheral):
    """A standard Heart Rate Service strap: one 0x2A37 notification per second with the RR
    intervals of the beats since the last one (as Polar H10, Garmin HRM and Wahoo TICKR do)."""

    model: ParticipantModel | None = None
    uint16: bool = False
    energy_every: int = 0  # include energy expended every N notifications (0 = never)
    period_s: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        assert self.model is not None, "a strap needs a participant model"
        t, rr = simulate_beats(self.model)
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

    def ticks(self) -> Ticks:
        self._sent_until_ns = self.clock.now_ns()
        while True:
            yield self.period_s, [(HEART_RATE_MEASUREMENT_UUID, self._measurement)]

    def _contact(self, now: int) -> Contact:
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
        contact = self._contact(now)
        ticks = tuple(int(x) for x in self._rr_ticks[lo:hi])
        if contact is Contact.NOT_DETECTED:
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


@dataclass
class SimulatedEdaBand(SimulatedPeripheral):
    """An EDA wristband speaking a declarative :class:`EdaProfile`."""

    model: ParticipantModel | None = None
    profile: EdaProfile = STRESSTRACK_EDA_V1
    samples_per_packet: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        assert self.model is not None, "an EDA band needs a participant model"
        _, values = simulate_eda(self.model, self.profile.sampling_rate)
        self._values = values
        self._counter = 0
        self._next_sample = 0

    def gatt(self) -> dict[str, dict[str, list[str]]]:
        table = super().gatt()
        table[self.profile.service_uuid] = {self.profile.characteristic_uuid: ["notify"]}
        return table

    def ticks(self) -> Ticks:
        fs = self.profile.sampling_rate
        # Resume at the sample that is due now: what happened while disconnected is lost.
        elapsed = (self.clock.now_ns() - self.start_ns) / NS
        self._next_sample = max(0, int(elapsed * fs))
        while True:
            yield self.samples_per_packet / fs, [(self.profile.characteristic_uuid, self._packet)]

    def _packet(self) -> bytes | None:
        i = self._next_sample
        if i >= len(self._values):
            return None
        chunk = self._values[i : i + self.samples_per_packet]
        self._next_sample += len(chunk)
        data = encode_eda_packet(self.profile, self._counter, tuple(float(v) for v in chunk))
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
