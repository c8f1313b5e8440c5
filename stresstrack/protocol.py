"""Study protocols: an ordered list of phases (baseline, stressor, self-care, recovery...).

A protocol describes a session identically for a real participant (the collector marks each
phase) and for a simulated one (the simulator's stress level follows the phases).
"""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Final

from stresstrack.clock import Clock
from stresstrack.events import Marker, MarkerAction

if TYPE_CHECKING:
    from stresstrack.recorder import EventSink

__all__ = ["DEFAULT_PROTOCOL", "Phase", "Protocol", "load_protocol", "run_protocol"]


@dataclass(frozen=True, slots=True)
class Phase:
    kind: str  # baseline, stressor, self-care, recovery, rest, ...
    duration_s: float
    mode: str = ""  # solo / partner, for self-care sessions
    label: str = ""  # product or arm label
    prompt: str = ""  # what the participant is asked to do


@dataclass(frozen=True, slots=True)
class Protocol:
    name: str
    phases: tuple[Phase, ...]

    @property
    def duration_s(self) -> float:
        return sum(p.duration_s for p in self.phases)

    def phase_bounds(self) -> list[tuple[float, float, Phase]]:
        """``(start_s, end_s, phase)`` for every phase, from the protocol's start."""
        out = []
        t = 0.0
        for p in self.phases:
            out.append((t, t + p.duration_s, p))
            t += p.duration_s
        return out


def _parse(text: str, where: str) -> Protocol:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{where}: not valid TOML ({exc})") from exc
    phases_raw = data.get("phase")
    if not isinstance(phases_raw, list) or not phases_raw:
        raise ValueError(f"{where}: needs at least one [[phase]] table")
    phases = []
    for i, p in enumerate(phases_raw, 1):
        try:
            duration = float(p["duration_s"]) if "duration_s" in p else 60.0 * float(p["minutes"])
            kind = str(p["kind"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"{where}: phase {i} needs 'kind' and 'minutes' (or 'duration_s')"
            ) from exc
        if duration <= 0:
            raise ValueError(f"{where}: phase {i} ({kind}) has a non-positive duration")
        phases.append(
            Phase(
                kind=kind,
                duration_s=duration,
                mode=str(p.get("mode", "")),
                label=str(p.get("label", "")),
                prompt=str(p.get("prompt", "")),
            )
        )
    return Protocol(name=str(data.get("name", Path(where).stem)), phases=tuple(phases))


def load_protocol(name_or_path: str | Path) -> Protocol:
    """Load a protocol from a TOML file, or one shipped with stresstrack by name."""
    path = Path(name_or_path)
    if path.exists():
        return _parse(path.read_text(encoding="utf-8"), str(path))
    shipped = resources.files("stresstrack") / "protocols" / f"{name_or_path}.toml"
    if shipped.is_file():
        return _parse(shipped.read_text(encoding="utf-8"), str(name_or_path))
    raise ValueError(f"protocol {str(name_or_path)!r}: no such file or shipped protocol")


DEFAULT_PROTOCOL: Final = Protocol(
    name="stress-selfcare-recovery",
    phases=(
        Phase("baseline", 300.0, prompt="Sit quietly and breathe normally."),
        Phase("stressor", 240.0, prompt="Mental arithmetic: count down from 1022 in steps of 13."),
        Phase(
            "self-care",
            300.0,
            mode="solo",
            label="serum-massage",
            prompt="Apply the serum with the massage technique you were shown.",
        ),
        Phase("recovery", 240.0, prompt="Sit quietly."),
    ),
)


async def run_protocol(
    protocol: Protocol,
    *,
    participant: str,
    study: str,
    clock: Clock,
    sink: EventSink,
    on_phase: Callable[[Phase], None] | None = None,
) -> None:
    """Mark every phase of ``protocol`` as a session (start and stop markers) in real (or
    virtual) time, calling ``on_phase`` as each begins so the participant can be prompted."""
    for phase in protocol.phases:
        common = {
            "participant": participant,
            "study": study,
            "device": "protocol",
            "kind": phase.kind,
            "mode": phase.mode,
            "label": phase.label,
        }
        sink.emit([Marker(time_ns=clock.now_ns(), action=MarkerAction.START, **common)])
        if on_phase is not None:
            on_phase(phase)
        await asyncio.sleep(phase.duration_s)
        sink.emit([Marker(time_ns=clock.now_ns(), action=MarkerAction.STOP, **common)])
