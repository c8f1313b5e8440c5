"""Simulated self-report answers and salivary cortisol samples for a participant model
(docs/simulators.md, "Self-report and cortisol"; docs/endpoints.md).

**Self-report.** Before the first phase and at the end of every phase the participant
answers, ``answer_delay_s`` later (default 0: at the boundary, before the next phase begins,
as an "after" question is answered before moving on). The answer on the ``stress`` VAS (0-100) is

    stress = offset + scale·s(t) + b + e − placebo,    e ~ N(0, noise_sd²),

rounded to a whole number and clipped to 0-100 (offset 10, scale 80: the latent range
0.2-0.9 maps to 26-82, leaving room for people's offsets), with s(t) the model's latent
(heart) stress level at the answer (:meth:`ParticipantModel.stress_at`), b the person's offset
(``bias`` drawn N(0, bias_sd²) once per person: some report more stress than others at the
same physiology), and ``placebo`` subtracted from the answers that follow a session of
``placebo_kind`` (expectation: feeling calmer after a product without a body change). The
``calm`` VAS is 100 − stress with its own noise. Nothing of this reaches the physiology.

**Cortisol.** Samples at ``every_min`` minutes over the protocol (and ``tail_min`` after it)
follow the latent stress delayed by ``lag_min`` (Kirschbaum & Hellhammer 1994: the salivary
peak comes 15-20 min after a stressor ends):

    c(t) = c_rest · (1 + gain · max(0, s(t − lag) − 0.3) / 0.6) · exp(N(0, cv²)),

nmol/L, with c_rest, gain and cv per :class:`CortisolParams`. Before the protocol started
the level is c_rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from stresstrack.events import LabSample, SelfReport
from stresstrack.simulators.physiology import REST_LEVEL, STRESSOR_DELTA, ParticipantModel

__all__ = ["CortisolParams", "SelfReportParams", "simulate_cortisol", "simulate_selfreport"]

NS: Final = 1_000_000_000
DEVICE: Final = "simulated-companion"


@dataclass(frozen=True, slots=True)
class SelfReportParams:
    offset: float = 10.0  # VAS points at s = 0
    scale: float = 80.0  # VAS points per unit of latent stress
    noise_sd: float = 8.0  # VAS points, per answer
    bias_sd: float = 10.0  # VAS points, between people
    placebo: float = 0.0  # VAS points of felt calm after a placebo_kind session
    placebo_kind: str = "self-care"
    answer_delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class CortisolParams:
    rest_nmol_l: float = 8.0
    gain: float = 0.8  # relative rise at a stressor's full level (Δs = 0.6)
    cv: float = 0.05  # assay and sampling noise (log scale SD)
    lag_min: float = 20.0
    every_min: float = 10.0
    tail_min: float = 30.0  # sampling continues after the protocol


def simulate_selfreport(
    pid: str,
    model: ParticipantModel,
    params: SelfReportParams,
    rng: np.random.Generator,
    *,
    start_ns: int,
    study: str = "default",
) -> list[SelfReport]:
    """The ``stress`` and ``calm`` answers at every phase boundary (see the module)."""
    bias = float(rng.normal(0.0, params.bias_sd))
    bounds = model.protocol.phase_bounds()
    out: list[SelfReport] = []
    for k, (_start, end, phase) in enumerate(bounds):
        if k == 0:  # the first answer: before the first phase
            out += _answers(
                pid, model, params, rng, 0.0, bias, 0.0, f"start:{phase.kind}", start_ns, study
            )
        placebo = params.placebo if phase.kind == params.placebo_kind else 0.0
        prompt = f"after:{phase.kind}:{k}"
        out += _answers(pid, model, params, rng, end, bias, placebo, prompt, start_ns, study)
    return out


def _answers(
    pid: str,
    model: ParticipantModel,
    params: SelfReportParams,
    rng: np.random.Generator,
    t_s: float,
    bias: float,
    placebo: float,
    prompt: str,
    start_ns: int,
    study: str,
) -> list[SelfReport]:
    t = t_s + params.answer_delay_s
    latent = float(model.stress_at(t))
    noise = rng.normal(0, params.noise_sd)
    stress = float(
        np.clip(round(params.offset + params.scale * latent + bias + noise - placebo), 0, 100)
    )
    calm = float(np.clip(round(100 - stress + rng.normal(0, params.noise_sd / 2)), 0, 100))
    when = start_ns + round(t * NS)
    return [
        SelfReport(
            time_ns=when,
            participant=pid,
            study=study,
            device=DEVICE,
            item=item,
            value=value,
            prompt_id=prompt,
        )
        for item, value in (("stress", stress), ("calm", calm))
    ]


def simulate_cortisol(
    pid: str,
    model: ParticipantModel,
    params: CortisolParams,
    rng: np.random.Generator,
    *,
    start_ns: int,
    study: str = "default",
) -> list[LabSample]:
    """Salivary cortisol samples every ``every_min`` minutes (see the module)."""
    total = model.protocol.duration_s + params.tail_min * 60
    times = np.arange(0.0, total + 1e-9, params.every_min * 60)
    source = times - params.lag_min * 60
    latent = np.where(source >= 0, model.stress_at(np.clip(source, 0, None)), REST_LEVEL)
    rise = np.clip(latent - REST_LEVEL, 0, None) / STRESSOR_DELTA
    level = (
        params.rest_nmol_l * (1 + params.gain * rise) * np.exp(rng.normal(0, params.cv, len(times)))
    )
    return [
        LabSample(
            time_ns=start_ns + round(t * NS),
            participant=pid,
            study=study,
            device="simulated-lab",
            analyte="cortisol",
            value=round(float(v), 2),
            unit="nmol/L",
        )
        for t, v in zip(times, level, strict=True)
    ]
