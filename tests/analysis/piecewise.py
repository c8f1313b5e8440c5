"""A participant whose stress index is constant within given pieces of time, so each session
period's mean is known exactly (shared by the controlled-estimate tests)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stresstrack.pipeline.results import FeatureRow, Session, StressRow

NS = 1_000_000_000
T0 = 1_767_603_600 * NS
SESSION_MIN = 5


def piecewise_participant(
    pid: str,
    sessions: Sequence[tuple[str, str, int]],
    pieces: Sequence[tuple[float, float, float]],
    minutes: int,
) -> tuple[Any, ...]:
    """``(pid, sessions, stress, features)``: rows every 5 s for ``minutes``, the index
    ``value`` in each piece ``(lo, hi, value)`` (minutes after T0, (lo, hi]), 50 elsewhere;
    a 5 min session ``(kind, mode, start_min)`` each."""
    stress, features = [], []
    for k in range(1, minutes * 12 + 1):
        t_min = k / 12
        x = next((v for lo, hi, v in pieces if lo < t_min <= hi), 50.0)
        t = T0 + k * 5 * NS
        stress.append(
            StressRow(
                time_ns=t,
                participant=pid,
                study="s",
                index=x,
                confidence=0.9,
                components={},
                version="1",
            )
        )
        features.append(FeatureRow(time_ns=t, participant=pid, study="s", values={}))
    marked = [
        Session(participant=pid, study="s", kind=kind, start_ns=T0 + start * 60 * NS,
                end_ns=T0 + (start + SESSION_MIN) * 60 * NS, mode=mode)
        for kind, mode, start in sessions
    ]  # fmt: skip
    return pid, marked, stress, features
