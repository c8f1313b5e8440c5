"""A seeded participant model: stress level over a protocol, and the RR intervals and skin
conductance it produces.

The true stress level ``s(t)`` in [0, 1] follows each phase's target (``PHASE_STRESS``)
through a first-order lag; physiology follows it:

* heart: mean RR = 60000 / (HR_rest + HR_gain·s); respiratory sinus arrhythmia and beat noise
  scale with vagal tone 1 - 0.75·s, so RMSSD falls under stress (Task Force 1996; Kim et al.
  2018, Psychiatry Investig. 15:235);
* skin: tonic level SCL_rest + SCL_gain·s (slower lag), and skin-conductance responses as a
  Poisson process whose rate rises with s (Boucsein 2012, Electrodermal Activity, ch. 3);
  responses are bi-exponential, like NeuroKit2's ``eda_simulate``. A non-responder has no
  responses and a flat tonic level (about one person in ten).

Everything is deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from stresstrack.protocol import Phase, Protocol

__all__ = [
    "PHASE_STRESS",
    "ParticipantModel",
    "ParticipantParams",
    "phase_level",
    "simulate_beats",
    "simulate_eda",
]

FloatArray = npt.NDArray[np.float64]

# Target stress level of each phase kind; anything else counts as rest. A protocol phase's
# ``simulated_stress`` or ParticipantModel(phase_stress=...) overrides it (phase_level).
PHASE_STRESS: Final[dict[str, float]] = {
    "baseline": 0.3,
    "rest": 0.3,
    "recovery": 0.3,
    "stressor": 0.9,
    "self-care": 0.05,
}
_STEP_S: Final = 0.25  # resolution of the stress-level trace


def phase_level(phase: Phase, overrides: Mapping[str, float] | None = None) -> float:
    """A phase's target stress level: the phase's own ``simulated_stress`` if the protocol
    sets one, else ``overrides[kind]``, else ``PHASE_STRESS[kind]``, else the rest level."""
    if phase.simulated_stress is not None:
        return phase.simulated_stress
    if overrides is not None and phase.kind in overrides:
        return float(overrides[phase.kind])
    return PHASE_STRESS.get(phase.kind, PHASE_STRESS["rest"])


@dataclass(frozen=True, slots=True)
class ParticipantParams:
    hr_rest: float = 68.0  # bpm at s = 0
    hr_gain: float = 26.0  # bpm added at s = 1
    rmssd_rest: float = 45.0  # ms, scale of beat-to-beat variability at s = 0
    resp_hz: float = 0.25  # breathing rate
    scl_rest: float = 4.0  # µS at s = 0
    scl_gain: float = 3.0  # µS added at s = 1
    scr_rest_per_min: float = 1.5
    scr_gain_per_min: float = 9.0
    scr_amplitude_us: float = 0.35
    eda_responder: bool = True
    tau_heart_s: float = 20.0
    tau_skin_s: float = 45.0

    @classmethod
    def draw(
        cls, rng: np.random.Generator, *, non_responder_share: float = 0.1
    ) -> ParticipantParams:
        """Draw a plausible participant (between-person differences)."""
        return cls(
            hr_rest=float(rng.normal(68, 7)),
            hr_gain=float(rng.normal(24, 4)),
            rmssd_rest=float(np.exp(rng.normal(np.log(42), 0.3))),
            resp_hz=float(rng.uniform(0.2, 0.3)),
            scl_rest=float(rng.uniform(2.0, 8.0)),
            scl_gain=float(rng.uniform(1.5, 4.0)),
            scr_rest_per_min=float(rng.uniform(0.5, 2.5)),
            scr_gain_per_min=float(rng.uniform(6.0, 12.0)),
            scr_amplitude_us=float(rng.uniform(0.2, 0.6)),
            eda_responder=bool(rng.random() >= non_responder_share),
        )


class ParticipantModel:
    """Stress trace of one participant following ``protocol``; time 0 = protocol start."""

    def __init__(
        self,
        protocol: Protocol,
        params: ParticipantParams,
        seed: int,
        *,
        phase_stress: Mapping[str, float] | None = None,
    ) -> None:
        self.protocol = protocol
        self.params = params
        self.seed = seed
        n = int(np.ceil(protocol.duration_s / _STEP_S)) + 1
        self.t = np.arange(n) * _STEP_S
        target = np.full(n, PHASE_STRESS["rest"])
        for start, end, phase in protocol.phase_bounds():
            sel = (self.t >= start) & (self.t < end)
            target[sel] = phase_level(phase, phase_stress)
        self.target = target
        self.heart = _lag(target, params.tau_heart_s)
        self.skin = _lag(target, params.tau_skin_s)

    def stress_at(self, t_s: float | FloatArray, *, which: str = "heart") -> FloatArray:
        trace = self.heart if which == "heart" else self.skin if which == "skin" else self.target
        return np.asarray(np.interp(t_s, self.t, trace), dtype=np.float64)


def _lag(target: FloatArray, tau_s: float) -> FloatArray:
    out = np.empty_like(target)
    a = _STEP_S / (tau_s + _STEP_S)
    level = target[0]
    for i, x in enumerate(target):
        level += a * (x - level)
        out[i] = level
    return out


def simulate_beats(model: ParticipantModel) -> tuple[FloatArray, FloatArray]:
    """Beat times (s from start) and the RR intervals (ms) ending at them."""
    p = model.params
    rng = np.random.default_rng([model.seed, 1])
    lf_phase = rng.uniform(0, 2 * np.pi)
    duration = model.protocol.duration_s
    times: list[float] = []
    rrs: list[float] = []
    t = 0.0
    while t < duration:
        s = float(model.stress_at(t))
        vagal = 1.0 - 0.75 * s
        mean_rr = 60000.0 / (p.hr_rest + p.hr_gain * s)
        rr = (
            mean_rr
            + 0.9 * p.rmssd_rest * vagal * np.sin(2 * np.pi * p.resp_hz * t)
            + 15.0 * np.sin(2 * np.pi * 0.1 * t + lf_phase)
            + rng.normal(0.0, 0.35 * p.rmssd_rest * vagal)
        )
        rr = float(np.clip(rr, 300.0, 2000.0))
        t += rr / 1000.0
        times.append(t)
        rrs.append(rr)
    return np.asarray(times), np.asarray(rrs)


def simulate_eda(model: ParticipantModel, sampling_rate: float) -> tuple[FloatArray, FloatArray]:
    """Sample times (s from start) and skin conductance (µS)."""
    p = model.params
    rng = np.random.default_rng([model.seed, 2])
    n = int(model.protocol.duration_s * sampling_rate)
    t = np.arange(n) / sampling_rate
    s = model.stress_at(t, which="skin")
    drift = 0.15 * np.sin(2 * np.pi * t / 900.0 + rng.uniform(0, 2 * np.pi))
    if p.eda_responder:
        tonic = p.scl_rest + p.scl_gain * s + drift
    else:
        tonic = np.full(n, 0.4) + 0.02 * drift
    signal = tonic.copy()
    if p.eda_responder:
        # Poisson responses: rate per sample from the instantaneous stress level.
        rate = (p.scr_rest_per_min + p.scr_gain_per_min * s) / 60.0 / sampling_rate
        onsets = np.flatnonzero(rng.random(n) < rate)
        k_t = np.arange(int(20 * sampling_rate)) / sampling_rate
        rise, decay = 0.75, 2.0
        kernel = np.exp(-k_t / decay) - np.exp(-k_t / rise)
        kernel /= kernel.max()
        for i in onsets:
            amp = p.scr_amplitude_us * float(rng.lognormal(0.0, 0.35)) * (0.6 + 0.8 * s[i])
            end = min(n, int(i) + kernel.size)
            signal[i:end] += amp * kernel[: end - i]
    signal += rng.normal(0.0, 0.003, n)
    return t, np.clip(signal, 0.0, None)
