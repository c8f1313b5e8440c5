"""Physiological models and simulated BLE peripherals that send the bytes real devices send."""

from stresstrack.simulators.physiology import (
    PHASE_STRESS,
    ParticipantModel,
    ParticipantParams,
    simulate_beats,
    simulate_eda,
)

__all__ = [
    "PHASE_STRESS",
    "ParticipantModel",
    "ParticipantParams",
    "simulate_beats",
    "simulate_eda",
]
