"""Simulated recordings as event lists, without the BLE layer: fast input for validation,
benchmarks and replay tests.

:func:`recording_events` turns a participant model into the events a strap (RR intervals)
and an EDA band would have produced, optionally with realistic artefacts: ectopic, missed and
extra beats, dropouts of both signals, and EDA motion jumps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from stresstrack.events import Beat, EdaSamples, Event, Waveform, WaveformKind
from stresstrack.session.markers import protocol_markers
from stresstrack.simulators.physiology import (
    ParticipantModel,
    simulate_acc,
    simulate_beats,
    simulate_eda,
)

__all__ = ["CLEAN", "REALISTIC", "Artefacts", "recording_events"]

NS: Final = 1_000_000_000


@dataclass(frozen=True)
class Artefacts:
    ectopic: float = 0.0
    missed: float = 0.0
    extra: float = 0.0
    dropout_every_s: float | None = None
    eda_jumps_per_min: float = 0.0


CLEAN = Artefacts()
REALISTIC = Artefacts(0.02, 0.01, 0.01, 240.0, 0.5)


def recording_events(
    pid: str,
    model: ParticipantModel,
    art: Artefacts,
    rng: np.random.Generator,
    *,
    start_ns: int,
    eda_hz: float = 8.0,
    acc_hz: float | None = None,
) -> list[Event]:
    """Events of one participant following ``model`` from ``start_ns``, sorted by time;
    with ``acc_hz``, also a chest accelerometer's magnitude (mG) as a Polar H10 would give."""
    bt, rr = simulate_beats(model)
    out_t, out_rr = _beat_artefacts(list(bt), list(rr), art, rng)
    et, eda = simulate_eda(model, eda_hz)
    eda = eda.copy()
    if art.eda_jumps_per_min:
        n_jumps = int(art.eda_jumps_per_min * model.protocol.duration_s / 60)
        for j in rng.integers(0, eda.size - 20, n_jumps):
            eda[j : j + int(rng.integers(2, 10))] += rng.choice([-1, 1]) * rng.uniform(1, 3)
    keep_beat = np.ones(len(out_t), dtype=bool)
    keep_eda = np.ones(eda.size, dtype=bool)
    if art.dropout_every_s:
        t = rng.exponential(art.dropout_every_s)
        bt_arr = np.asarray(out_t)
        while t < model.protocol.duration_s:
            length = rng.uniform(20, 40)
            keep_beat &= ~((bt_arr >= t) & (bt_arr < t + length))
            keep_eda &= ~((et >= t) & (et < t + length))
            t += length + rng.exponential(art.dropout_every_s)
    events: list[Event] = [
        Beat(time_ns=start_ns + int(t * NS), participant=pid, rr_ms=float(r))
        for t, r, k in zip(out_t, out_rr, keep_beat, strict=True)
        if k
    ]
    events += _eda_chunks(pid, et, eda, keep_eda, eda_hz, start_ns)
    if acc_hz:
        events += _acc_chunks(pid, model, acc_hz, start_ns)
    events.extend(
        protocol_markers(model.protocol, participant=pid, study="default", start_ns=start_ns)
    )
    events.sort(key=lambda e: e.time_ns)
    return events


def _beat_artefacts(
    times: list[float], rrs: list[float], art: Artefacts, rng: np.random.Generator
) -> tuple[list[float], list[float]]:
    """Beat times and RR intervals with ectopic, missed and extra beats drawn per beat."""
    i = 1
    out_t: list[float] = []
    out_rr: list[float] = []
    while i < len(times):
        u = rng.random()
        if u < art.ectopic and i + 1 < len(times):
            # premature beat: interval shortened by 30 %, the next lengthened to compensate
            short = rrs[i] * 0.7
            out_t.append(times[i - 1] + short / 1000)
            out_rr.append(short)
            out_t.append(times[i])
            out_rr.append(rrs[i] - short)
            i += 1
            continue
        if u < art.ectopic + art.missed and i + 1 < len(times):
            out_t.append(times[i + 1])  # beat i not detected: two intervals merge
            out_rr.append(rrs[i] + rrs[i + 1])
            i += 2
            continue
        if u < art.ectopic + art.missed + art.extra:
            half = rrs[i] * 0.45  # a spurious detection splits the interval
            out_t.append(times[i - 1] + half / 1000)
            out_rr.append(half)
            out_t.append(times[i])
            out_rr.append(rrs[i] - half)
            i += 1
            continue
        out_t.append(times[i])
        out_rr.append(rrs[i])
        i += 1
    return out_t, out_rr


def _eda_chunks(
    pid: str,
    et: npt.NDArray[np.float64],
    eda: npt.NDArray[np.float64],
    keep: npt.NDArray[np.bool_],
    eda_hz: float,
    start_ns: int,
) -> list[Event]:
    """EDA in 1 s chunks of consecutive kept samples."""
    events: list[Event] = []
    idx = np.flatnonzero(keep)
    breaks = np.flatnonzero(np.diff(idx) > 1) + 1
    for seg in np.split(idx, breaks):
        for k in range(0, seg.size, int(eda_hz)):
            part = seg[k : k + int(eda_hz)]
            events.append(
                EdaSamples(
                    time_ns=start_ns + round(et[part[0]] * NS),
                    participant=pid,
                    sampling_rate=eda_hz,
                    values_us=tuple(float(v) for v in eda[part]),
                )
            )
    return events


def _acc_chunks(pid: str, model: ParticipantModel, acc_hz: float, start_ns: int) -> list[Event]:
    """The accelerometer's magnitude (mG) in 1 s waveform chunks."""
    at, xyz = simulate_acc(model, acc_hz)
    mag = np.sqrt(np.sum(xyz * xyz, axis=1))
    step = int(acc_hz)
    return [
        Waveform(
            time_ns=start_ns + round(at[k] * NS),
            participant=pid,
            kind=WaveformKind.ACC,
            sampling_rate=acc_hz,
            values=tuple(float(v) for v in mag[k : k + step]),
        )
        for k in range(0, mag.size, step)
    ]
