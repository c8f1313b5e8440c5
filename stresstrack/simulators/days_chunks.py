"""The signals of a simulated week, one chunk at a time (:mod:`stresstrack.simulators.days`).

Each chunk runs the session model (:class:`ParticipantModel`) over its own phases, activity
and :class:`Modulation`, seeded by participant and chunk. Chunks join without a seam: beats
continue from the previous chunk's last beat (the new chunk's intervals kept, its times
shifted by less than one interval), and the skin conductance's first minute fades from the
previous chunk's last value (time constant 60 s), so no chunk boundary looks like a response.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from stresstrack.events import Beat, EdaSamples, Event, MarkerAction, Waveform, WaveformKind
from stresstrack.session.markers import phase_marker
from stresstrack.session.protocol import Phase, Protocol
from stresstrack.simulators.days import (
    BASELINE_PHASE,
    NS,
    SELF_CARE_PHASE,
    DaysPlan,
    DaysTruth,
    FloatArray,
    _clock_h,
    _Schedule,
    _sleep_share,
)
from stresstrack.simulators.physiology import (
    Episode,
    Modulation,
    ParticipantModel,
    _spontaneous_movements,
    simulate_acc,
    simulate_beats,
    simulate_eda,
)

__all__ = ["days_events"]

_MOD_STEP_S: Final = 10.0  # resolution of the rhythm and sleep modulation
_EDA_FADE_S: Final = 60.0
_AWAKE_MOVE_EVERY_S: Final = 600.0  # fidgeting and posture changes while awake
_ASLEEP_MOVE_EVERY_S: Final = 2400.0  # posture changes in bed


@dataclass
class _Carry:
    """What one chunk hands to the next: the last beat (s from start) and EDA value."""

    last_beat_s: float = 0.0
    last_eda: float | None = None
    movements: list[Episode] = field(default_factory=list)


def days_events(
    plan: DaysPlan, people: Sequence[tuple[DaysTruth, _Schedule]]
) -> Iterator[list[Event]]:
    """Every chunk's events of all participants, sorted by time."""
    carries = [_Carry(movements=_movements(plan, i, s)) for i, (_, s) in enumerate(people)]
    n = round(plan.duration_s / plan.chunk_s)
    for k in range(n):
        events: list[Event] = []
        for i, (truth, schedule) in enumerate(people):
            events.extend(_chunk(plan, i, k, truth, schedule, carries[i]))
        events.sort(key=lambda e: e.time_ns)
        yield events


def _movements(plan: DaysPlan, index: int, s: _Schedule) -> list[Episode]:
    """Spontaneous movements of the whole week: often awake, rarely asleep, never during a
    bout (which moves anyway)."""
    rng = np.random.default_rng([plan.seed, index, 21])
    awake = _spontaneous_movements(rng, plan.duration_s, _AWAKE_MOVE_EVERY_S)
    asleep = [
        Episode(e.start_s, min(e.end_s, e.start_s + 20.0), 0.3)
        for e in _spontaneous_movements(rng, plan.duration_s, _ASLEEP_MOVE_EVERY_S)
    ]

    def inside(e: Episode, spans: list[tuple[float, float]]) -> bool:
        return any(a <= e.start_s < b for a, b in spans)

    bouts = [(e.start_s, e.end_s) for e in s.bouts]
    keep = [e for e in awake if not inside(e, s.sleep) and not inside(e, bouts)]
    keep += [e for e in asleep if inside(e, s.sleep)]
    return sorted(keep, key=lambda e: e.start_s)


def _phases(c0: float, c1: float, s: _Schedule) -> tuple[Phase, ...]:
    """The chunk's phases: stressors, self-care and the baseline; rest in between."""
    marked = [(0.0, BASELINE_PHASE.duration_s, "baseline")]
    marked += [(a, b, "stressor") for a, b in s.stressors]
    marked += [(a, b, "self-care") for a, b in s.self_care]
    phases: list[Phase] = []
    t = c0
    for a, b, kind in sorted(marked):
        a, b = max(a, c0), min(b, c1)
        if b <= a:
            continue
        if a > t:
            phases.append(Phase("rest", a - t))
        phases.append(Phase(kind, b - a))
        t = b
    if t < c1:
        phases.append(Phase("rest", c1 - t))
    return tuple(phases)


def _modulation(plan: DaysPlan, truth: DaysTruth, s: _Schedule, c0: float) -> Modulation:
    r = truth.rhythm
    t = np.arange(0.0, plan.chunk_s + 2 * _MOD_STEP_S, _MOD_STEP_S)
    h = _clock_h(plan.start_ns, c0 + t)
    sleep = _sleep_share(c0 + t, s.sleep)
    wave = np.cos(2 * np.pi * (h - r.acrophase_h) / 24)
    return Modulation(
        t_s=t,
        hr_bpm=r.hr_amplitude_bpm * wave + r.sleep_hr_bpm * sleep,
        vagal=(1.0 - r.vagal_amplitude * wave) * (1.0 + (r.sleep_vagal - 1.0) * sleep),
        scl_us=r.scl_amplitude_us * np.cos(2 * np.pi * (h - r.scl_acrophase_h) / 24)
        + r.sleep_scl_us * sleep,
        scr_rate=1.0 + (r.sleep_scr_rate - 1.0) * sleep,
    )


def _in_chunk(episodes: Sequence[Episode], c0: float, c1: float) -> list[Episode]:
    return [
        Episode(max(e.start_s, c0) - c0, min(e.end_s, c1) - c0, e.value)
        for e in episodes
        if e.start_s < c1 and e.end_s > c0
    ]


def _chunk(
    plan: DaysPlan, index: int, k: int, truth: DaysTruth, s: _Schedule, carry: _Carry
) -> list[Event]:
    c0, c1 = k * plan.chunk_s, (k + 1) * plan.chunk_s
    model = ParticipantModel(
        Protocol(f"days-{k}", _phases(c0, c1, s)),
        truth.params,
        seed=plan.seed * 1_000_003 + index * 10_007 + k,
        activity=_in_chunk([*s.bouts, *carry.movements], c0, c1),
        modulation=_modulation(plan, truth, s, c0),
    )
    t0 = plan.start_ns
    ids = (truth.participant, plan.study)
    events: list[Event] = []
    _bt, rr = simulate_beats(model)
    times = carry.last_beat_s + np.cumsum(rr) / 1000.0
    keep = times < c1
    carry.last_beat_s = float(times[keep][-1]) if keep.any() else carry.last_beat_s
    events += [
        Beat(
            time_ns=t0 + round(t * NS),
            rr_ms=round(float(r), 3),
            device="strap",
            participant=truth.participant,
            study=plan.study,
        )
        for t, r in zip(times[keep], rr[keep], strict=True)
    ]
    et, eda = simulate_eda(model, plan.eda_hz)
    if carry.last_eda is not None:
        eda = eda + (carry.last_eda - eda[0]) * np.exp(-et / _EDA_FADE_S)
    carry.last_eda = float(eda[-1])
    events += _sampled(eda, plan.eda_hz, t0 + round(c0 * NS), ids, "eda")
    _, xyz = simulate_acc(model, plan.acc_hz)
    events += _sampled(np.sqrt(np.sum(xyz * xyz, axis=1)), plan.acc_hz, t0 + round(c0 * NS),
                       ids, "acc")  # fmt: skip
    events += _markers(plan, truth, s, c0, c1)
    return events


def _sampled(
    values: FloatArray, rate: float, start_ns: int, ids: tuple[str, str], kind: str
) -> list[Event]:
    """1 s chunks of a regularly sampled signal; ``ids``: participant and study."""
    pid, study = ids
    step = int(rate)
    rows = np.round(values[: values.size // step * step], 4).reshape(-1, step).tolist()
    out: list[Event] = []
    for j, row in enumerate(rows):
        t = start_ns + j * NS
        if kind == "eda":
            out.append(EdaSamples(time_ns=t, sampling_rate=rate, values_us=tuple(row),
                                  device="eda-band", participant=pid, study=study))  # fmt: skip
        else:
            out.append(Waveform(time_ns=t, kind=WaveformKind.ACC, sampling_rate=rate,
                                values=tuple(row), device="strap", participant=pid,
                                study=study))  # fmt: skip
    return out


def _markers(plan: DaysPlan, truth: DaysTruth, s: _Schedule, c0: float, c1: float) -> list[Event]:
    spans = [(0.0, BASELINE_PHASE.duration_s, BASELINE_PHASE)]
    spans += [(a, b, SELF_CARE_PHASE) for a, b in s.self_care]
    out: list[Event] = []
    for a, b, phase in spans:
        for action, t in ((MarkerAction.START, a), (MarkerAction.STOP, b)):
            if c0 <= t < c1:
                out.append(
                    phase_marker(
                        phase,
                        action,
                        time_ns=truth.start_ns + round(t * NS),
                        participant=truth.participant,
                        study=plan.study,
                    )
                )
    return out
