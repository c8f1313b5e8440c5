"""A simulated study: participants wearing a simulated strap and EDA band, collected by the
real collector through bleak, with the protocol's phases marked, in virtual time.

:func:`build_participant_air` places one participant's simulated devices (strap, EDA band,
Polar H10, Polar Verity Sense) for ``stresstrack collect --simulate`` and ``scan --simulate``,
which run them in real time.
"""

from __future__ import annotations

import asyncio
import random
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Final

import numpy as np
from bleak import BleakClient

from stresstrack.clock import Clock, VirtualClock, run_virtual
from stresstrack.events import EventSink
from stresstrack.sensors.collector import CollectorStats, DeviceCollector
from stresstrack.sensors.profiles.polar_pmd import PmdMeasurementType
from stresstrack.session.markers import run_protocol
from stresstrack.session.protocol import DEFAULT_PROTOCOL, Phase, Protocol
from stresstrack.simulators.bleak_backend import SimulatedBleakClient, SimulatedBleakScanner
from stresstrack.simulators.peripherals import (
    Faults,
    SimulatedAir,
    SimulatedEdaBand,
    SimulatedHeartRateStrap,
    SimulatedPeripheral,
)
from stresstrack.simulators.physiology import ParticipantModel, ParticipantParams
from stresstrack.simulators.polar import SimulatedPolarH10, SimulatedVeritySense

__all__ = [
    "DEFAULT_START",
    "SIMULATED_KINDS",
    "ParticipantAir",
    "SimulatedParticipant",
    "StudyPlan",
    "build_air",
    "build_participant_air",
    "protocol_with_rest",
    "run_simulated_study",
    "simulate_study",
    "simulated_client_factory",
    "simulated_scanner_kwargs",
]

# A fixed start so a seed gives the same study, timestamps included.
DEFAULT_START: Final = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NS: Final = 1_000_000_000


@dataclass
class SimulatedParticipant:
    participant: str
    model: ParticipantModel
    strap: SimulatedHeartRateStrap
    band: SimulatedEdaBand


@dataclass
class StudyPlan:
    participants: int = 3
    seed: int = 0
    protocol: Protocol = DEFAULT_PROTOCOL
    study: str = "demo"
    start: datetime = DEFAULT_START
    faults: Faults = field(default_factory=Faults)
    prefix: str = "sim"
    optical: bool = False  # hearts from an optical Verity Sense (PPI) instead of a strap
    # Participant -> faults of their heart sensor instead of ``faults`` (simulators/groups.py).
    heart_faults: Mapping[str, Faults] = field(default_factory=dict)

    def participant_ids(self) -> list[str]:
        return [f"{self.prefix}-{i + 1:03d}" for i in range(self.participants)]


def build_air(plan: StudyPlan, clock: Clock) -> tuple[SimulatedAir, list[SimulatedParticipant]]:
    """Place one strap and one EDA band per participant in a simulated radio environment."""
    air = SimulatedAir()
    rng = np.random.default_rng(plan.seed)
    start_ns = clock.now_ns()
    out = []
    for i, pid in enumerate(plan.participant_ids()):
        params = ParticipantParams.draw(rng)
        # A counterbalanced protocol gives each participant their order of blocks.
        protocol = plan.protocol.for_participant(i)
        model = ParticipantModel(protocol, params, seed=plan.seed * 10_000 + i)
        strap, band = _strap_and_band(pid, i, model, clock, start_ns, plan.faults, plan.seed)
        if plan.optical or pid in plan.heart_faults:
            strap = _heart(strap, plan, pid, i)
        air.add(strap)
        air.add(band)
        out.append(SimulatedParticipant(pid, model, strap, band))
    return air, out


def _strap_and_band(
    pid: str,
    i: int,
    model: ParticipantModel,
    clock: Clock,
    start_ns: int,
    faults: Faults,
    seed: int,
) -> tuple[SimulatedHeartRateStrap, SimulatedEdaBand]:
    """Participant ``i``'s generic strap and EDA band (addresses and names from ``i``)."""
    mac = f"F0:00:00:{seed % 256:02X}:{i // 256:02X}:{i % 256:02X}"
    strap = SimulatedHeartRateStrap(
        address=mac,
        name=f"Sim HR {pid}",
        clock=clock,
        start_ns=start_ns,
        model=model,
        faults=replace(faults, seed=seed * 10_000 + 2 * i),
        energy_every=10 if i % 2 else 0,
        uint16=i % 3 == 2,
    )
    band = SimulatedEdaBand(
        address=mac.replace("F0:", "E0:", 1),
        name=f"Sim EDA {pid}",
        clock=clock,
        start_ns=start_ns,
        model=model,
        faults=replace(faults, seed=seed * 10_000 + 2 * i + 1),
    )
    return strap, band


def _heart(
    strap: SimulatedHeartRateStrap, plan: StudyPlan, pid: str, i: int
) -> SimulatedHeartRateStrap:
    """Participant ``i``'s heart sensor with their own faults: the strap, or a Verity Sense
    (optical) at the same address when the plan is optical."""
    faults = replace(plan.heart_faults.get(pid, plan.faults), seed=plan.seed * 10_000 + 2 * i)
    kind = SimulatedVeritySense if plan.optical else SimulatedHeartRateStrap
    name = f"Polar Sense {zlib.crc32(pid.encode()):08X}" if plan.optical else strap.name
    assert strap.model is not None
    return kind(
        address=strap.address, name=name, clock=strap.clock, start_ns=strap.start_ns,
        model=strap.model, faults=faults,
    )  # fmt: skip


# Kinds of simulated device ``collect --simulate --device KIND`` accepts; the first two are the
# participant's default pair.
SIMULATED_KINDS: Final = ("strap", "eda-band", "polar-h10", "verity-sense")


@dataclass
class ParticipantAir:
    """One participant's simulated devices, by kind, in their radio environment."""

    air: SimulatedAir
    model: ParticipantModel
    devices: dict[str, SimulatedPeripheral]


def protocol_with_rest(protocol: Protocol | None, total_s: float) -> Protocol:
    """``protocol`` (or nothing) followed by rest up to ``total_s``: what a simulated
    participant lives through while a live collection runs."""
    phases = protocol.phases if protocol is not None else ()
    done = sum(p.duration_s for p in phases)
    rest = (Phase("rest", total_s - done),) if total_s > done else ()
    name = protocol.name if protocol is not None else "rest"
    return Protocol(name=name, phases=phases + rest)


def build_participant_air(
    participant: str,
    clock: Clock,
    *,
    protocol: Protocol,
    seed: int = 0,
    faults: Faults | None = None,
) -> ParticipantAir:
    """A strap, an EDA band, a Polar H10 and a Polar Verity Sense worn by ``participant``,
    following ``protocol`` from now; names are those of real devices of the kind (Polar
    sensors advertise "Polar H10 <device id>" and "Polar Sense <device id>")."""
    faults = faults or Faults()
    rng = np.random.default_rng(seed)
    model = ParticipantModel(protocol, ParticipantParams.draw(rng), seed=seed * 10_000)
    start_ns = clock.now_ns()
    strap, band = _strap_and_band(participant, 0, model, clock, start_ns, faults, seed)
    device_id = zlib.crc32(f"{participant}/{seed}".encode())
    polar_mac = ":".join(f"{b:02X}" for b in (0xA0, 0x9E, 0x1A, *device_id.to_bytes(4)[1:]))
    h10 = SimulatedPolarH10(
        address=polar_mac,
        name=f"Polar H10 {device_id:08X}",
        clock=clock,
        start_ns=start_ns,
        model=model,
        faults=replace(faults, seed=seed * 10_000 + 7),
        rssi=-55,
    )
    verity_id = (device_id + 1) & 0xFFFFFFFF
    verity = SimulatedVeritySense(
        address=":".join(f"{b:02X}" for b in (0xA0, 0x9E, 0x1A, *verity_id.to_bytes(4)[1:])),
        name=f"Polar Sense {verity_id:08X}",
        clock=clock,
        start_ns=start_ns,
        model=model,
        faults=replace(faults, seed=seed * 10_000 + 8),
        rssi=-70,
    )
    air = SimulatedAir()
    devices: dict[str, SimulatedPeripheral] = dict(
        zip(SIMULATED_KINDS, (strap, band, h10, verity), strict=True)
    )
    for device in devices.values():
        air.add(device)
    return ParticipantAir(air=air, model=model, devices=devices)


def simulated_scanner_kwargs(air: SimulatedAir) -> dict[str, object]:
    """Keyword arguments that make :class:`bleak.BleakScanner` scan ``air``."""
    return {"backend": SimulatedBleakScanner, "air": air}


def simulated_client_factory(
    air: SimulatedAir,
) -> Callable[[str, Callable[[BleakClient], None]], BleakClient]:
    def factory(address: str, on_disconnect: Callable[[BleakClient], None]) -> BleakClient:
        return BleakClient(address, on_disconnect, backend=SimulatedBleakClient, air=air)

    return factory


async def run_simulated_study(
    plan: StudyPlan,
    sink: EventSink,
    clock: Clock,
    *,
    on_progress: Callable[[float], None] | None = None,
) -> list[CollectorStats]:
    """Collect every simulated participant through the real collector until the protocol ends."""
    air, people = build_air(plan, clock)
    factory = simulated_client_factory(air)
    stop = asyncio.Event()
    collectors = []
    for k, person in enumerate(people):
        for device in (person.strap, person.band):
            collectors.append(
                DeviceCollector(
                    device.address,
                    participant=person.participant,
                    study=plan.study,
                    sink=sink,
                    clock=clock,
                    client_factory=factory,
                    rng=random.Random(plan.seed * 1000 + k),
                    # Optical hearts: pulse intervals only (the audit's cohorts run faster).
                    pmd_streams=(PmdMeasurementType.PPI,),
                )
            )
    tasks = [asyncio.create_task(c.run(stop)) for c in collectors]
    protocols = [
        run_protocol(
            plan.protocol.for_participant(i),
            participant=p.participant,
            study=plan.study,
            clock=clock,
            sink=sink,
        )
        for i, p in enumerate(people)
    ]
    progress = asyncio.create_task(_progress(plan.protocol.duration_s, on_progress))
    await asyncio.gather(*protocols)
    stop.set()
    progress.cancel()
    return list(await asyncio.gather(*tasks))


async def _progress(total_s: float, on_progress: Callable[[float], None] | None) -> None:
    if on_progress is None:
        return
    elapsed = 0.0
    while True:
        on_progress(min(1.0, elapsed / total_s))
        await asyncio.sleep(total_s / 50)
        elapsed += total_s / 50


def simulate_study(
    plan: StudyPlan, sink: EventSink, *, on_progress: Callable[[float], None] | None = None
) -> list[CollectorStats]:
    """Run :func:`run_simulated_study` as fast as the CPU allows (virtual time)."""
    clock = VirtualClock(int(plan.start.timestamp() * NS))
    return run_virtual(run_simulated_study(plan, sink, clock, on_progress=on_progress), clock)
