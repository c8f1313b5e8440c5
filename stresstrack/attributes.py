"""Optional participant attributes for the fairness audit: sex, age band, Fitzpatrick skin type.

They live in the study file only, each participant's under a consent of its own::

    [attributes.P001]
    consent = true        # the participant agreed to these being recorded and audited
    sex = "female"        # free text (the study's own categories)
    age_band = "30-39"    # "30-39" or "65+"
    skin_type = "V"       # Fitzpatrick I-VI (Fitzpatrick 1988, Arch Dermatol 124:869)

They are read by ``stresstrack audit`` (and ``report --study``) when it runs; nothing else
reads them: they never enter the store, so no sink (InfluxDB, MQTT, LSL) and no export sees
them. The audit's outputs hold per-group aggregates, and per-participant attributes only with
``audit --participants``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from stresstrack.errors import ImportFormatError

__all__ = ["ATTRIBUTES", "SKIN_TYPES", "load_attributes", "parse_attributes"]

ATTRIBUTES: Final = ("sex", "age_band", "skin_type")
SKIN_TYPES: Final = ("I", "II", "III", "IV", "V", "VI")
_AGE_RE: Final = re.compile(r"\A(\d{1,3})(?:-(\d{1,3})|\+)\Z")
_TEXT_RE: Final = re.compile(r"\A[\w .+-]{1,32}\Z")


def _value(name: str, value: object) -> str:
    if not isinstance(value, str) or not _TEXT_RE.match(value.strip()):
        raise ValueError(f"{name} must be a short text, got {value!r}")
    text = value.strip()
    if name == "skin_type" and text.upper() not in SKIN_TYPES:
        raise ValueError(f"skin_type {text!r} is not a Fitzpatrick type ({', '.join(SKIN_TYPES)})")
    if name == "age_band":
        m = _AGE_RE.match(text)
        if m is None or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
            raise ValueError(f"age_band {text!r} must look like 30-39 or 65+")
    return text.upper() if name == "skin_type" else text


def _line(text: str, pid: str) -> int | None:
    """Line (1-based) of the ``[attributes.PID]`` header."""
    head = re.compile(rf"^\s*\[\s*attributes\.\"?{re.escape(pid)}\"?\s*\]")
    return next((i for i, ln in enumerate(text.splitlines(), 1) if head.match(ln)), None)


def parse_attributes(
    text: str, where: str, participants: Mapping[str, object]
) -> dict[str, dict[str, str]]:
    """Participant -> {attribute: value} of a study file's ``[attributes.ID]`` tables.

    >>> parse_attributes('[attributes.P1]\\nconsent = true\\nskin_type = "v"\\n', "s", {"P1": 0})
    {'P1': {'skin_type': 'V'}}
    """
    try:
        raw = tomllib.loads(text).get("attributes", {})
    except tomllib.TOMLDecodeError as exc:
        raise ImportFormatError(where, None, f"not valid TOML ({exc})") from exc
    if not isinstance(raw, dict):
        raise ImportFormatError(where, None, "[attributes] holds one [attributes.ID] per person")
    out: dict[str, dict[str, str]] = {}
    for pid, entry in raw.items():
        line = _line(text, pid)
        if pid not in participants:
            raise ImportFormatError(where, line, f"[attributes.{pid}]: not a listed participant")
        if not isinstance(entry, dict):
            raise ImportFormatError(where, line, f"[attributes.{pid}] must be a table")
        if entry.get("consent") is not True:
            raise ImportFormatError(
                where,
                line,
                f"[attributes.{pid}]: needs consent = true (the participant agreed to these "
                "attributes being recorded for the fairness audit); remove them otherwise",
            )
        unknown = sorted(set(entry) - {"consent", *ATTRIBUTES})
        if unknown:
            raise ImportFormatError(
                where,
                line,
                f"[attributes.{pid}]: unknown key(s) {', '.join(unknown)} "
                f"(known: consent, {', '.join(ATTRIBUTES)})",
            )
        try:
            out[pid] = {k: _value(k, entry[k]) for k in ATTRIBUTES if k in entry}
        except ValueError as exc:
            raise ImportFormatError(where, line, f"[attributes.{pid}]: {exc}") from None
    return out


def load_attributes(path: str | Path) -> dict[str, dict[str, str]]:
    """The consented attributes of a study file's participants."""
    from stresstrack.session.study import load_study, read_study_text

    study = load_study(path)
    return parse_attributes(read_study_text(path), str(path), study.participants)
