"""A simulated study: participants wearing a simulated strap and EDA band, collected by the
real collector through bleak, with the protocol's phases marked, in virtual time."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Final

import numpy as np
from bleak import BleakClient

from stresstrack.clock import Clock, VirtualClock, run_virtual
from stresstrack.protocol import DEFAULT_PROTOCOL, Protocol, run_protocol
from stresstrack.recorder import EventSink
from stresstrack.sensors.collector import CollectorStats, DeviceCollector
from stresstrack.simulators.bleak_backend import SimulatedBleakClient
from stresstrack.simulators.peripherals import (
    Faults,
    SimulatedAir,
    SimulatedEdaBand,
    SimulatedHeartRateStrap,
)
from stresstrack.simulators.physiology import ParticipantModel, ParticipantParams

__all__ = [
    "DEFAULT_START",
    "SimulatedParticipant",
    "StudyPlan",
    "run_simulated_study",
    "simulate_study",
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
        model = ParticipantModel(plan.protocol, params, seed=plan.seed * 10_000 + i)
        mac = f"F0:00:00:{plan.seed % 256:02X}:{i // 256:02X}:{i % 256:02X}"
        faults = replace(plan.faults, seed=plan.seed * 10_000 + 2 * i)
        strap = SimulatedHeartRateStrap(
            address=mac,
            name=f"Sim HR {pid}",
            clock=clock,
            start_ns=start_ns,
            model=model,
            faults=faults,
            energy_every=10 if i % 2 else 0,
            uint16=i % 3 == 2,
        )
        band_faults = replace(plan.faults, seed=plan.seed * 10_000 + 2 * i + 1)
        band = SimulatedEdaBand(
            address=mac.replace("F0:", "E0:", 1),
            name=f"Sim EDA {pid}",
            clock=clock,
            start_ns=start_ns,
            model=model,
            faults=band_faults,
        )
        air.add(strap)
        air.add(band)
        out.append(SimulatedParticipant(pid, model, strap, band))
    return air, out


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
                )
            )
    tasks = [asyncio.create_task(c.run(stop)) for c in collectors]
    protocols = [
        run_protocol(
            plan.protocol, participant=p.participant, study=plan.study, clock=clock, sink=sink
        )
        for p in people
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
