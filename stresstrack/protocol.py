"""Study protocols: an ordered list of phases (baseline, stressor, self-care, recovery...).

A protocol describes a session identically for a real participant (the collector marks each
phase and shows its prompt) and for a simulated one (the simulator's stress level follows the
phases). A protocol file is TOML::

    name = "stress-selfcare-recovery"        # optional, default: the file name
    description = "Baseline, stressor, ..."   # optional, shown in reports

    [[phase]]
    kind = "self-care"          # baseline, stressor, self-care, recovery, rest, ...
    minutes = 5                 # or duration_s = 300
    mode = "solo"               # optional: solo or partner
    label = "serum-massage"     # optional: product or study arm
    prompt = "Apply the serum." # optional: what the participant is asked to do
    simulated_stress = 0.1      # optional, simulators only: the phase's true stress level

``simulated_stress`` (0-1) overrides the simulators' level for the phase's kind
(``stresstrack.simulators.physiology.PHASE_STRESS``); real collection ignores it. It lets a
protocol file describe a simulated study with a known effect, e.g. for power analyses.
"""

from __future__ import annotations

import asyncio
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from stresstrack.clock import Clock
from stresstrack.errors import ImportFormatError
from stresstrack.events import Marker, MarkerAction

if TYPE_CHECKING:
    from stresstrack.recorder import EventSink

__all__ = [
    "DEFAULT_PROTOCOL",
    "MODES",
    "PROTOCOL_DEVICE",
    "Phase",
    "Protocol",
    "load_protocol",
    "parse_protocol",
    "phase_marker",
    "protocol_markers",
    "run_protocol",
    "shipped_protocols",
    "table_lines",
]

NS: Final = 1_000_000_000
MODES: Final = ("solo", "partner")  # how a self-care session is done
PROTOCOL_DEVICE: Final = "protocol"  # the device field of markers a protocol writes
_PHASE_KEYS: Final = frozenset(
    {"kind", "minutes", "duration_s", "mode", "label", "prompt", "simulated_stress"}
)
_TOP_KEYS: Final = frozenset({"name", "description", "phase"})


@dataclass(frozen=True, slots=True)
class Phase:
    kind: str  # baseline, stressor, self-care, recovery, rest, ...
    duration_s: float
    mode: str = ""  # solo / partner, for self-care sessions
    label: str = ""  # product or arm label
    prompt: str = ""  # what the participant is asked to do
    simulated_stress: float | None = None  # simulators only: true stress level (0-1)


@dataclass(frozen=True, slots=True)
class Protocol:
    name: str
    phases: tuple[Phase, ...]
    description: str = ""

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


def table_lines(text: str, name: str) -> list[int]:
    """Line numbers (1-based) of every ``[[name]]`` header in a TOML text, in order.

    >>> table_lines('a = 1\\n[[phase]]\\nkind = "x"\\n\\n[[phase]]\\n', "phase")
    [2, 5]
    """
    pattern = re.compile(rf"^\s*\[\[\s*{re.escape(name)}\s*\]\]")
    return [i for i, line in enumerate(text.splitlines(), 1) if pattern.match(line)]


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {value!r}")
    return value.strip()


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return float(value)


def _phase(p: Mapping[str, Any]) -> Phase:
    unknown = sorted(set(p) - _PHASE_KEYS)
    if unknown:
        raise ValueError(
            f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_PHASE_KEYS))})"
        )
    if "kind" not in p:
        raise ValueError("needs a 'kind' (e.g. baseline, stressor, self-care, recovery)")
    kind = _text(p["kind"], "kind")
    if not kind:
        raise ValueError("'kind' is empty")
    if ("minutes" in p) == ("duration_s" in p):
        raise ValueError(f"phase {kind!r} needs exactly one of 'minutes' or 'duration_s'")
    duration = (
        60.0 * _number(p["minutes"], "minutes")
        if "minutes" in p
        else _number(p["duration_s"], "duration_s")
    )
    if duration <= 0:
        raise ValueError(f"phase {kind!r} has a non-positive duration")
    mode = _text(p.get("mode", ""), "mode")
    if mode and mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    level = None
    if "simulated_stress" in p:
        level = _number(p["simulated_stress"], "simulated_stress")
        if not 0.0 <= level <= 1.0:
            raise ValueError(f"simulated_stress must be within 0-1, got {level:g}")
    return Phase(
        kind=kind,
        duration_s=duration,
        mode=mode,
        label=_text(p.get("label", ""), "label"),
        prompt=_text(p.get("prompt", ""), "prompt"),
        simulated_stress=level,
    )


def parse_protocol(text: str, where: str) -> Protocol:
    """A protocol from TOML text; errors name ``where`` (file) and the phase's line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise ImportFormatError(where, line, f"not valid TOML ({exc})") from exc
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ImportFormatError(
            where, None, f"unknown key(s) {', '.join(unknown)} (known: name, description, phase)"
        )
    phases_raw = data.get("phase")
    if not isinstance(phases_raw, list) or not phases_raw:
        raise ImportFormatError(where, None, "needs at least one [[phase]] table")
    lines = table_lines(text, "phase")
    phases = []
    for i, p in enumerate(phases_raw):
        try:
            phases.append(_phase(p))
        except ValueError as exc:
            line = lines[i] if i < len(lines) else None
            raise ImportFormatError(where, line, f"phase {i + 1}: {exc}") from None
    try:
        name = _text(data.get("name", Path(where).stem), "name")
        description = _text(data.get("description", ""), "description")
    except ValueError as exc:
        raise ImportFormatError(where, None, str(exc)) from None
    return Protocol(name=name or Path(where).stem, phases=tuple(phases), description=description)


def shipped_protocols() -> list[str]:
    """Names of the protocols shipped with stresstrack (``stresstrack/protocols/*.toml``)."""
    folder = resources.files("stresstrack") / "protocols"
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def load_protocol(name_or_path: str | Path) -> Protocol:
    """Load a protocol from a TOML file, or one shipped with stresstrack by name."""
    path = Path(name_or_path)
    if path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ImportFormatError(str(path), None, f"cannot read ({exc})") from exc
        return parse_protocol(text, str(path))
    shipped = resources.files("stresstrack") / "protocols" / f"{name_or_path}.toml"
    if shipped.is_file():
        return parse_protocol(shipped.read_text(encoding="utf-8"), str(name_or_path))
    raise ValueError(
        f"protocol {str(name_or_path)!r}: no such file or shipped protocol "
        f"(shipped: {', '.join(shipped_protocols())})"
    )


# The shipped stress-selfcare-recovery.toml: one definition for demos, simulators and docs.
DEFAULT_PROTOCOL: Final = load_protocol("stress-selfcare-recovery")


def phase_marker(
    phase: Phase,
    action: MarkerAction,
    *,
    time_ns: int,
    participant: str,
    study: str,
    note: str = "",
) -> Marker:
    """The marker starting or stopping ``phase``, as a protocol writes it."""
    return Marker(
        time_ns=time_ns,
        participant=participant,
        study=study,
        device=PROTOCOL_DEVICE,
        action=action,
        kind=phase.kind,
        mode=phase.mode,
        label=phase.label,
        note=note,
    )


def protocol_markers(
    protocol: Protocol, *, participant: str, study: str, start_ns: int
) -> list[Marker]:
    """The start and stop markers of every phase of ``protocol`` run from ``start_ns``: what
    :func:`run_protocol` writes live, for recordings simulated or imported without markers."""
    out = []
    for start, end, phase in protocol.phase_bounds():
        for action, t in ((MarkerAction.START, start), (MarkerAction.STOP, end)):
            out.append(
                phase_marker(
                    phase,
                    action,
                    time_ns=start_ns + round(t * NS),
                    participant=participant,
                    study=study,
                )
            )
    return out


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
    ids = {"participant": participant, "study": study}
    for phase in protocol.phases:
        sink.emit([phase_marker(phase, MarkerAction.START, time_ns=clock.now_ns(), **ids)])
        if on_phase is not None:
            on_phase(phase)
        await asyncio.sleep(phase.duration_s)
        sink.emit([phase_marker(phase, MarkerAction.STOP, time_ns=clock.now_ns(), **ids)])
