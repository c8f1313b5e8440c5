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

A crossover study adds a design and groups phases into blocks whose order is counterbalanced
across participants::

    [design]
    conditions = ["self-care", "rest"]  # session kinds compared; one per block
    control = "rest"                    # optional: the comparison condition
    primary = "stress_index"            # optional (default): the primary outcome
    secondary = ["hr", "rmssd", "scl", "scr_rate"]   # optional (default)
    smallest_effect = 5.0               # optional: smallest effect of interest (TOST)
    counterbalance = true               # optional (default): Williams orders of the blocks
    multiplicity = "holm"               # optional (default): or "bh" (Benjamini-Hochberg)

    [[phase]]
    block = "A"                 # consecutive phases with the same block move together
    kind = "stressor"
    ...

Participant ``i`` (0-based, in the study's order) follows ``protocol.for_participant(i)``: the
blocks in the ``i``-th order of a Williams design (AB/BA for two conditions; Williams 1949,
*Aust. J. Sci. Res.* 2:149), other phases in place.

``simulated_stress`` (0-1) overrides the simulators' level for the phase's kind
(``stresstrack.simulators.physiology.PHASE_STRESS``); real collection ignores it. It lets a
protocol file describe a simulated study with a known effect, e.g. for power analyses.

The protocol as data (:class:`Protocol`, :class:`Phase`, :class:`Design`, the Williams orders)
is in :mod:`stresstrack.session.phases`; this module reads and checks the file, and
re-exports those names.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Final

from stresstrack.errors import ImportFormatError
from stresstrack.session.phases import (
    DEFAULT_SECONDARY,
    MODES,
    MULTIPLICITY,
    OUTCOMES,
    Design,
    Phase,
    Protocol,
    williams_orders,
)

__all__ = [
    "DEFAULT_PROTOCOL",
    "MODES",
    "OUTCOMES",
    "Design",
    "Phase",
    "Protocol",
    "check_keys",
    "load_protocol",
    "parse_protocol",
    "shipped_protocols",
    "table_lines",
    "williams_orders",
]

_PHASE_KEYS: Final = frozenset(
    {"kind", "minutes", "duration_s", "mode", "label", "prompt", "simulated_stress", "block"}
)
_TOP_KEYS: Final = frozenset({"name", "description", "phase", "design"})
_DESIGN_KEYS: Final = frozenset(
    {
        "conditions", "control", "primary", "secondary", "smallest_effect", "counterbalance",
        "multiplicity",
    }
)  # fmt: skip


def table_lines(text: str, name: str) -> list[int]:
    """Line numbers (1-based) of every ``[[name]]`` header in a TOML text, in order.

    >>> table_lines('a = 1\\n[[phase]]\\nkind = "x"\\n\\n[[phase]]\\n', "phase")
    [2, 5]
    """
    pattern = re.compile(rf"^\s*\[\[\s*{re.escape(name)}\s*\]\]")
    return [i for i, line in enumerate(text.splitlines(), 1) if pattern.match(line)]


def check_keys(table: Mapping[str, Any], known: frozenset[str], where: str = "") -> None:
    """``ValueError`` naming the keys of a TOML table that are not ``known``, and the known ones.

    >>> check_keys({"kind": "rest", "minuts": 5}, frozenset({"kind", "minutes"}), "[[phase]]: ")
    Traceback (most recent call last):
    ValueError: [[phase]]: unknown key(s) minuts (known: kind, minutes)
    """
    unknown = sorted(set(table) - known)
    if unknown:
        raise ValueError(
            f"{where}unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )


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
    check_keys(p, _PHASE_KEYS)
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
        block=str(p.get("block", "")).strip(),
    )


def _strings(value: object, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(x, str) and x.strip() for x in value):
        raise ValueError(f"{what} must be a list of non-empty strings, got {value!r}")
    return tuple(x.strip() for x in value)


def _outcome(name: str, what: str) -> str:
    if name not in OUTCOMES:
        raise ValueError(f"{what} {name!r} is not an outcome (known: {', '.join(OUTCOMES)})")
    return name


def _design(d: Mapping[str, Any]) -> Design:
    check_keys(d, _DESIGN_KEYS, "[design]: ")
    if "conditions" not in d:
        raise ValueError('[design] needs conditions = ["self-care", "rest"] (session kinds)')
    conditions = _strings(d["conditions"], "[design] conditions")
    if len(set(conditions)) != len(conditions):
        raise ValueError(f"[design] conditions are listed twice: {list(conditions)}")
    control = _text(d["control"], "[design] control") if "control" in d else None
    if control is not None and control not in conditions:
        raise ValueError(f"[design] control {control!r} is not one of the conditions")
    primary = _outcome(_text(d.get("primary", "stress_index"), "primary"), "[design] primary")
    secondary = tuple(
        _outcome(x, "[design] secondary")
        for x in _strings(d.get("secondary", list(DEFAULT_SECONDARY)), "[design] secondary")
        if x != primary
    )
    sesoi = None
    if "smallest_effect" in d:
        sesoi = _number(d["smallest_effect"], "[design] smallest_effect")
        if sesoi <= 0:
            raise ValueError(f"[design] smallest_effect must be > 0, got {sesoi:g}")
    counterbalance = d.get("counterbalance", True)
    if not isinstance(counterbalance, bool):
        raise ValueError(f"[design] counterbalance must be true or false, got {counterbalance!r}")
    multiplicity = d.get("multiplicity", "holm")
    if multiplicity not in MULTIPLICITY:
        raise ValueError(
            f"[design] multiplicity must be one of {', '.join(MULTIPLICITY)}, got {multiplicity!r}"
        )
    return Design(conditions, control, primary, secondary, sesoi, counterbalance, multiplicity)


def _check_blocks(protocol: Protocol) -> None:
    """Blocks are contiguous and, with a design, hold exactly one condition each."""
    names = [b for b, _ in protocol.blocks()]
    if len(names) != len(set(names)):
        raise ValueError(f"a block's phases must be consecutive (blocks in order: {names})")
    design = protocol.design
    if design is None:
        if names:
            raise ValueError("phases have a block but the protocol has no [design]")
        return
    for name, phases in protocol.blocks():
        held = [p.kind for p in phases if p.kind in design.conditions]
        if len(held) != 1:
            raise ValueError(
                f"block {name!r} must hold exactly one phase of a condition "
                f"({', '.join(design.conditions)}), holds {held or 'none'}"
            )
    if names:
        held = sorted(protocol.block_condition(ph) for _, ph in protocol.blocks())
        if len(set(held)) != len(held):
            raise ValueError(f"two blocks hold the same condition ({held})")


def parse_protocol(text: str, where: str) -> Protocol:
    """A protocol from TOML text; errors name ``where`` (file) and the phase's line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise ImportFormatError(where, line, f"not valid TOML ({exc})") from exc
    try:
        check_keys(data, _TOP_KEYS)
    except ValueError as exc:
        raise ImportFormatError(where, None, str(exc)) from None
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
        raw_design = data.get("design")
        if raw_design is not None and not isinstance(raw_design, dict):
            raise ValueError("[design] must be a table")
        design = _design(raw_design) if raw_design is not None else None
        protocol = Protocol(name or Path(where).stem, tuple(phases), description, design)
        _check_blocks(protocol)
    except ValueError as exc:
        raise ImportFormatError(where, None, str(exc)) from None
    return protocol


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
