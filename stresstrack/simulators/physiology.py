"""A seeded participant model: stress level, breathing and movement over a protocol, and the
RR intervals, skin conductance and chest acceleration they produce.

The true stress level ``s(t)`` in [0, 1] follows each phase's target (``PHASE_STRESS``)
through a first-order lag; the body answers the change from the resting level
``Δs = s - REST_LEVEL``. Values, their spread across people and their sources are in
docs/simulators.md (checked by ``tests/simulators/test_physiology_norms.py``):

* **heart**: RR = 60000 / HR(t) plus four rhythms built on a 4 Hz grid and read at each beat:
  respiratory sinus arrhythmia at the breathing rate of the moment (its amplitude grows as
  breathing slows, Grossman & Taylor 2007, *Biol. Psychol.* 74:263), Mayer waves near 0.1 Hz
  (LF), a 1/f background (VLF and the scaling DFA α1 ≈ 1 reports), and beat noise. Stress
  raises HR and lowers the vagal (RSA) amplitude, each by a person's own gain;
* **breathing**: a person's spontaneous rate (12-18/min) wanders slowly and rises a little
  under stress; ``breathing=`` sets paced-breathing episodes (e.g. 6/min);
* **movement**: ``activity=`` episodes and, for drawn people, spontaneous posture changes and
  fidgeting; activity raises HR, lowers RSA, raises tonic skin conductance and the SCR rate,
  and moves the chest accelerometer (:func:`simulate_acc`);
* **skin**: tonic level SCL_rest + gain·Δs + a slow drift (electrode hydration), and
  non-specific SCRs as a Poisson process whose rate rises with Δs; bi-exponential responses
  like NeuroKit2's ``eda_simulate``. A non-responder has a low flat level and no responses;
* **slow modulation** (``modulation=``): a resting level that changes over hours (circadian
  rhythm, sleep; :mod:`stresstrack.simulators.days`) adds to resting HR and tonic skin
  conductance and scales the RSA amplitude and the SCR rate;
* **orienting responses** (``orienting=`` onsets): a brief HR deceleration with an SCR, what
  a novel picture or sound produces without any stress (Bradley 2009, *Psychophysiology*
  46:1).

Everything is deterministic for a seed.

Size (issue 17): just over 400 lines because the participant model and the three signals it
drives (beats, skin conductance, acceleration) share its parameters and stress course;
the values and their sources are documented in docs/simulators.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from stresstrack.session.protocol import Phase, Protocol

__all__ = [
    "PHASE_STRESS",
    "REST_LEVEL",
    "STRESSOR_DELTA",
    "Episode",
    "Modulation",
    "ParticipantModel",
    "ParticipantParams",
    "phase_level",
    "simulate_acc",
    "simulate_beats",
    "simulate_eda",
]

FloatArray = npt.NDArray[np.float64]

# Target stress level of each phase kind; anything else counts as rest. A protocol phase's
# ``simulated_stress`` or ParticipantModel(phase_stress=...) overrides it (phase_level).
# Effects are per unit of change from REST_LEVEL: a stressor is Δs = +0.6; self-care
# Δs = -0.08 gives the small effects (dz 0.3-0.6) self-care studies report.
PHASE_STRESS: Final[dict[str, float]] = {
    "baseline": 0.3,
    "rest": 0.3,
    "recovery": 0.3,
    "stressor": 0.9,
    "self-care": 0.22,
}
REST_LEVEL: Final = 0.3
STRESSOR_DELTA: Final = 0.6  # a stressor's change of level; gains are given for it
_STRESSOR_DS: Final = STRESSOR_DELTA
_STEP_S: Final = 0.25  # resolution of the stress-level trace
_GRID_HZ: Final = 4.0  # resolution of the heart-rhythm grid
ACC_GRAVITY_MG: Final = 1000.0


@dataclass(frozen=True, slots=True)
class Episode:
    """A span of the recording with a value: breaths per minute, or activity (0-1)."""

    start_s: float
    end_s: float
    value: float


@dataclass(frozen=True, slots=True)
class Modulation:
    """Slow changes of the resting state, sampled at ``t_s`` (s from the model's start):
    bpm added to resting HR, a factor on the RSA amplitude, µS added to the tonic skin
    conductance and a factor on the SCR rate."""

    t_s: FloatArray
    hr_bpm: FloatArray
    vagal: FloatArray
    scl_us: FloatArray
    scr_rate: FloatArray

    def at(self, t_s: FloatArray, name: str) -> FloatArray:
        values: FloatArray = getattr(self, name)
        return np.asarray(np.interp(t_s, self.t_s, values), dtype=np.float64)


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
    """One person. Gains are the change a stressor (Δs = 0.6) brings."""

    hr_rest: float = 66.0  # bpm at rest
    hr_gain: float = 9.0  # bpm added by a stressor
    rsa_ms: float = 32.0  # RSA amplitude (ms) at rest, at 15 breaths/min
    vagal_drop: float = 0.25  # share of the RSA amplitude a stressor removes
    lf_ms: float = 24.0  # SD (ms) of the Mayer-wave rhythm
    pink_ms: float = 30.0  # SD (ms) of the 1/f background
    beat_noise_ms: float = 10.0
    hr_wander_bpm: float = 3.0  # SD of the slow wandering of resting HR
    resp_hz: float = 0.25  # spontaneous breathing rate at rest
    scl_rest: float = 4.0  # µS
    scl_gain: float = 1.5  # µS added by a stressor
    scr_rest_per_min: float = 2.0
    scr_gain_per_min: float = 3.0  # SCRs per minute added by a stressor
    scr_amplitude_us: float = 0.25
    eda_drift_us_per_min: float = 0.0
    eda_responder: bool = True
    movement_every_s: float | None = None  # mean time between spontaneous movements
    tau_heart_s: float = 20.0
    tau_skin_s: float = 45.0

    @classmethod
    def draw(
        cls, rng: np.random.Generator, *, non_responder_share: float = 0.1
    ) -> ParticipantParams:
        """Draw a plausible participant (between-person differences, docs/simulators.md).

        ``specificity`` shares a person's reactivity between heart and skin (individual
        response specificity, Lacey 1967; Marwitz & Stemmler 1998): some react mostly in HR,
        some mostly in skin conductance.
        """
        specificity = float(rng.beta(2.0, 2.0))  # 0: skin reactor, 1: heart reactor
        reactivity = float(rng.lognormal(0.0, 0.25))
        return cls(
            hr_rest=float(np.clip(rng.normal(66, 7), 50, 90)),
            hr_gain=float(np.clip(reactivity * (4.0 + 10.0 * specificity), 5.0, 15.0)),
            rsa_ms=float(np.exp(rng.normal(np.log(18), 0.35))),
            vagal_drop=float(np.clip(reactivity * (0.08 + 0.25 * specificity), 0.1, 0.33)),
            lf_ms=float(np.exp(rng.normal(np.log(18), 0.3))),
            pink_ms=float(np.exp(rng.normal(np.log(32), 0.25))),
            beat_noise_ms=float(rng.uniform(12.0, 20.0)),
            hr_wander_bpm=float(rng.uniform(2.0, 4.0)),
            resp_hz=float(rng.uniform(12.0, 18.0) / 60.0),
            scl_rest=float(np.clip(np.exp(rng.normal(np.log(4.0), 0.45)), 1.5, 15.0)),
            scl_gain=float(np.clip(reactivity * (0.5 + 2.5 * (1 - specificity)), 0.5, 3.0)),
            scr_rest_per_min=float(rng.uniform(1.2, 2.8)),
            scr_gain_per_min=float(reactivity * (1.0 + 5.0 * (1 - specificity))),
            scr_amplitude_us=float(rng.uniform(0.12, 0.4)),
            eda_drift_us_per_min=float(rng.normal(0.03, 0.03)),
            eda_responder=bool(rng.random() >= non_responder_share),
            movement_every_s=600.0,
        )


class ParticipantModel:
    """Stress, breathing and activity traces of one participant following ``protocol``;
    time 0 = protocol start.

    ``breathing`` sets paced breathing (breaths per minute) over spans; ``activity`` adds
    movement episodes (0-1: 0.2 fidgeting, 0.5 a massage, 1 walking); ``orienting`` lists the
    onsets (s) of orienting responses.
    """

    def __init__(
        self,
        protocol: Protocol,
        params: ParticipantParams,
        seed: int,
        *,
        phase_stress: Mapping[str, float] | None = None,
        breathing: Sequence[Episode] = (),
        activity: Sequence[Episode] = (),
        orienting: Sequence[float] = (),
        modulation: Modulation | None = None,
    ) -> None:
        self.protocol = protocol
        self.modulation = modulation
        self.params = params
        self.seed = seed
        self.orienting = tuple(orienting)
        n = int(np.ceil(protocol.duration_s / _STEP_S)) + 1
        self.t = np.arange(n) * _STEP_S
        target = np.full(n, PHASE_STRESS["rest"])
        for start, end, phase in protocol.phase_bounds():
            sel = (self.t >= start) & (self.t < end)
            target[sel] = phase_level(phase, phase_stress)
        self.target = target
        self.heart = _lag(target, params.tau_heart_s)
        self.skin = _lag(target, params.tau_skin_s)
        rng = np.random.default_rng([seed, 3])
        episodes = list(activity)
        if params.movement_every_s:
            episodes += _spontaneous_movements(rng, protocol.duration_s, params.movement_every_s)
        self.activity_episodes = tuple(episodes)
        act = np.zeros(n)
        for e in episodes:
            act[(self.t >= e.start_s) & (self.t < e.end_s)] += e.value
        self.activity = np.clip(act, 0.0, 1.5)
        self.activity_heart = _lag(self.activity, 8.0)
        self.activity_skin = _lag(self.activity, 30.0)
        # Breathing: the person's rate wandering slowly (±1 breath/min), a little faster under
        # stress (+2/min for a stressor), replaced by paced rates where set.
        wander = _smooth_noise(rng, n, _STEP_S, 60.0) * (1.0 / 60.0)
        rate = params.resp_hz + wander + (2.0 / 60.0) * (self.heart - REST_LEVEL) / _STRESSOR_DS
        for e in breathing:
            rate[(self.t >= e.start_s) & (self.t < e.end_s)] = e.value / 60.0
        self.breathing_hz = np.clip(_lag(rate, 4.0), 0.05, 0.6)

    def stress_at(self, t_s: float | FloatArray, *, which: str = "heart") -> FloatArray:
        trace = self.heart if which == "heart" else self.skin if which == "skin" else self.target
        return np.asarray(np.interp(t_s, self.t, trace), dtype=np.float64)

    def activity_at(self, t_s: float | FloatArray) -> FloatArray:
        """Movement intensity (0-1) at ``t_s``."""
        return np.asarray(np.interp(t_s, self.t, self.activity), dtype=np.float64)

    def breathing_hz_at(self, t_s: float | FloatArray) -> FloatArray:
        return np.asarray(np.interp(t_s, self.t, self.breathing_hz), dtype=np.float64)


def _lag(target: FloatArray, tau_s: float) -> FloatArray:
    out = np.empty_like(target)
    a = _STEP_S / (tau_s + _STEP_S)
    level = target[0]
    for i, x in enumerate(target):
        level += a * (x - level)
        out[i] = level
    return out


def _smooth_noise(rng: np.random.Generator, n: int, step_s: float, tau_s: float) -> FloatArray:
    """Unit-SD noise varying on a time scale of ``tau_s`` (an AR(1) process)."""
    a = float(np.exp(-step_s / tau_s))
    e = rng.normal(0.0, np.sqrt(1 - a * a), n)
    out = np.empty(n)
    level = float(rng.normal())
    for i in range(n):
        level = a * level + e[i]
        out[i] = level
    return out


def _spontaneous_movements(
    rng: np.random.Generator, duration_s: float, every_s: float
) -> list[Episode]:
    """Posture changes and fidgeting: 15-60 s of light activity about every ``every_s``."""
    out = []
    t = float(rng.exponential(every_s))
    while t < duration_s:
        length = float(rng.uniform(15.0, 60.0))
        out.append(Episode(t, t + length, float(rng.uniform(0.1, 0.4))))
        t += length + float(rng.exponential(every_s))
    return out


def _pink(rng: np.random.Generator, n: int, fs: float) -> FloatArray:
    """Unit-SD noise with a 1/f spectrum between 0.003 and 0.5 Hz."""
    spec = rng.normal(size=n // 2 + 1) + 1j * rng.normal(size=n // 2 + 1)
    f = np.fft.rfftfreq(n, 1.0 / fs)
    shape = np.zeros_like(f)
    band = (f >= 0.003) & (f <= 0.5)
    shape[band] = 1.0 / np.sqrt(f[band])
    x = np.fft.irfft(spec * shape, n)
    return np.asarray(x / (x.std() or 1.0), dtype=np.float64)


def _mayer(rng: np.random.Generator, n: int, fs: float) -> FloatArray:
    """Unit-SD narrow-band noise around 0.1 Hz (an AR(2) resonator)."""
    r, f0 = 0.985, 0.095
    a1, a2 = 2 * r * np.cos(2 * np.pi * f0 / fs), -r * r
    e = rng.normal(size=n + 400)
    x = np.zeros(n + 400)
    for i in range(2, n + 400):
        x[i] = a1 * x[i - 1] + a2 * x[i - 2] + e[i]
    out = x[400:]
    return np.asarray(out / (out.std() or 1.0), dtype=np.float64)


def _rsa_gain(resp_hz: FloatArray) -> FloatArray:
    """RSA amplitude relative to breathing at 15/min: slower breathing gives larger RSA,
    about 2.5x at 6/min (Grossman & Taylor 2007; Lehrer & Gevirtz 2014, resonance)."""
    return np.asarray(np.clip((0.25 / resp_hz) ** 1.0, 0.6, 3.0), dtype=np.float64)


def simulate_beats(model: ParticipantModel) -> tuple[FloatArray, FloatArray]:
    """Beat times (s from start) and the RR intervals (ms) ending at them."""
    p = model.params
    rng = np.random.default_rng([model.seed, 1])
    duration = model.protocol.duration_s
    n = int(duration * _GRID_HZ) + 8
    grid = np.arange(n) / _GRID_HZ
    s = model.stress_at(grid) - REST_LEVEL
    act = np.interp(grid, model.t, model.activity_heart)
    # Slow wandering of the resting level (thoughts, posture, digestion): 5-min means of a
    # person at rest differ by a few bpm.
    wander = p.hr_wander_bpm * _smooth_noise(rng, n, 1.0 / _GRID_HZ, 150.0)
    hr = p.hr_rest + p.hr_gain * s / _STRESSOR_DS + 25.0 * act + wander
    for onset in model.orienting:  # a 2-5 bpm deceleration for a few seconds
        d = grid - onset - 1.0
        hr -= 4.0 * np.exp(-0.5 * (d / 2.5) ** 2)
    vagal = np.clip(1.0 - p.vagal_drop * s / _STRESSOR_DS - 0.5 * act, 0.15, 1.6)
    if model.modulation is not None:
        hr = hr + model.modulation.at(grid, "hr_bpm")
        vagal = vagal * model.modulation.at(grid, "vagal")
    resp = model.breathing_hz_at(grid)
    phase = 2 * np.pi * np.cumsum(resp) / _GRID_HZ + rng.uniform(0, 2 * np.pi)
    scale = (60000.0 / hr) / (60000.0 / p.hr_rest)  # variability shrinks as HR rises
    rhythm = scale * (
        p.rsa_ms * vagal * _rsa_gain(resp) * np.sin(phase)
        + p.lf_ms * _mayer(rng, n, _GRID_HZ)
        + p.pink_ms * _pink(rng, n, _GRID_HZ)
    )
    rr_grid = 60000.0 / hr + rhythm
    times: list[float] = []
    rrs: list[float] = []
    t = 0.0
    noise = rng.normal(0.0, p.beat_noise_ms, int(duration * 4) + 16)
    k = 0
    while t < duration:
        rr = float(np.interp(t, grid, rr_grid)) + noise[k]
        rr = min(max(rr, 300.0), 2000.0)
        t += rr / 1000.0
        times.append(t)
        rrs.append(rr)
        k += 1
    return np.asarray(times), np.asarray(rrs)


def simulate_eda(model: ParticipantModel, sampling_rate: float) -> tuple[FloatArray, FloatArray]:
    """Sample times (s from start) and skin conductance (µS)."""
    p = model.params
    rng = np.random.default_rng([model.seed, 2])
    n = int(model.protocol.duration_s * sampling_rate)
    t = np.arange(n) / sampling_rate
    s = model.stress_at(t, which="skin") - REST_LEVEL
    act = np.interp(t, model.t, model.activity_skin)
    # Drift: a steady trend (electrode hydration) and a slow wander, smooth on a 10 s grid so
    # that it never looks like a response.
    coarse = np.arange(0.0, model.protocol.duration_s + 20.0, 10.0)
    wander = np.interp(t, coarse, _smooth_noise(rng, coarse.size, 10.0, 180.0))
    drift = p.eda_drift_us_per_min * t / 60.0 + 0.35 * wander
    if not p.eda_responder:
        signal = np.full(n, 0.4) + 0.02 * drift
        signal += rng.normal(0.0, 0.003, n)
        return t, np.clip(signal, 0.0, None)
    tonic = p.scl_rest + p.scl_gain * s / _STRESSOR_DS + 0.6 * act + drift
    rate = np.clip(p.scr_rest_per_min + p.scr_gain_per_min * s / _STRESSOR_DS + 4.0 * act, 0, None)
    if model.modulation is not None:
        tonic = tonic + model.modulation.at(t, "scl_us")
        rate = rate * model.modulation.at(t, "scr_rate")
    signal = np.asarray(tonic, dtype=np.float64).copy()
    onsets = [int(i) for i in np.flatnonzero(rng.random(n) < rate / 60.0 / sampling_rate)]
    onsets += [int((o + 1.5) * sampling_rate) for o in model.orienting if o + 1.5 < t[-1]]
    k_t = np.arange(int(20 * sampling_rate)) / sampling_rate
    rise, decay = 0.75, 2.0
    kernel = np.exp(-k_t / decay) - np.exp(-k_t / rise)
    kernel /= kernel.max()
    for i in onsets:
        level = 0.6 + 0.8 * (s[i] + REST_LEVEL)
        amp = p.scr_amplitude_us * float(rng.lognormal(0.0, 0.35)) * level
        end = min(n, int(i) + kernel.size)
        signal[i:end] += amp * kernel[: end - i]
    signal += rng.normal(0.0, 0.003, n)
    return t, np.clip(signal, 0.0, None)


def simulate_acc(
    model: ParticipantModel, sampling_rate: float = 25.0
) -> tuple[FloatArray, FloatArray]:
    """Sample times (s) and chest acceleration x, y, z (mG, shape n×3) as a Polar H10 sees
    it: gravity, breathing sway at the breathing rate, sensor noise, and movement bursts
    (RMS about 300 mG per unit of activity) with posture shifts."""
    rng = np.random.default_rng([model.seed, 4])
    n = int(model.protocol.duration_s * sampling_rate)
    t = np.arange(n) / sampling_rate
    resp = model.breathing_hz_at(t)
    phase = 2 * np.pi * np.cumsum(resp) / sampling_rate
    act = model.activity_at(t)
    out = np.zeros((n, 3))
    out[:, 2] = ACC_GRAVITY_MG + 8.0 * np.sin(phase)
    out[:, 0] = 4.0 * np.sin(phase + 0.4)
    out += rng.normal(0.0, 3.0, (n, 3))
    moving = act > 0
    if moving.any():
        hz = rng.uniform(0.8, 2.5, 3)
        burst = np.sin(2 * np.pi * hz * t[:, None] + rng.uniform(0, 2 * np.pi, 3))
        burst = 0.7 * burst + 0.7 * rng.normal(size=(n, 3))
        out += 300.0 * act[:, None] * burst * moving[:, None]
    return t, out
