"""The companion's part of a study file: consent text, session buttons, the prompt rule.

Besides ``[study]`` and ``[[participant]]`` (:mod:`stresstrack.session.study`), a study file
may hold::

    [consent]
    version = "v2"                    # recorded with the participant's consent
    text = \"\"\"What the study records, why, who sees it, how to withdraw ...\"\"\"

    [companion]
    show_stress = false               # participants see their stress trend only if true
    grafana_url = "https://grafana.example.org/d/stresstrack-participant"
    protocol = "stress-selfcare-recovery"   # guided multi-phase session (optional): a shipped
                                      # protocol's name or a file relative to the study file

    [[companion.session]]             # one start/stop button each
    kind = "self-care"
    mode = "solo"                     # "solo" or "partner" (optional)
    label = "serum"                   # study arm or product (optional)
    minutes = 10                      # guided timer (optional)
    title = "Serum ritual"            # the button's text (optional)

    [prompt]                          # just-in-time self-care prompts (optional)
    threshold = 70                    # stress index at or above ...
    min_confidence = 0.7              # ... with at least this confidence ...
    sustained_min = 5                 # ... for at least this long
    max_per_day = 4                   # prompts per local day
    min_gap_min = 60                  # between decision points
    quiet_hours = ["22:00", "08:00"]  # local time without prompts
    timezone = "Europe/Paris"
    probability = 0.5                 # micro-randomisation: prompt with this probability
    kind = "self-care"                # the session a prompt suggests
    mode = "solo"
    message = "Your body seems busy. A few calm minutes for yourself?"

Everything is checked when the file is read; errors name the file, the table and the key.
"""

from __future__ import annotations

import datetime as dt
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from stresstrack.errors import ImportFormatError
from stresstrack.session.protocol import MODES, Protocol, check_keys, load_protocol
from stresstrack.session.study import Study, parse_study, participant_protocol, read_study_text

__all__ = [
    "CompanionSettings",
    "PromptRule",
    "SessionButton",
    "guided_protocol",
    "load_companion",
    "parse_companion",
]

DEFAULT_SESSIONS: Final = (
    ("self-care", "solo", "", 10.0, "Self-care (on my own)"),
    ("self-care", "partner", "", 10.0, "Self-care (with my partner)"),
    ("rest", "", "", 5.0, "Rest"),
    ("breathing", "", "", 5.0, "Slow breathing"),
)


DEFAULT_MESSAGE: Final = (
    "Your body seems busy right now. Would a few calm minutes for yourself help?"
)


@dataclass(frozen=True, slots=True)
class SessionButton:
    kind: str
    mode: str = ""
    label: str = ""
    minutes: float | None = None
    title: str = ""


@dataclass(frozen=True, slots=True)
class PromptRule:
    """When to consider prompting: the index stays high, the participant is available."""

    threshold: float = 70.0
    min_confidence: float = 0.7
    sustained_s: float = 300.0
    max_per_day: int = 4
    min_gap_s: float = 3600.0
    quiet_start: dt.time | None = None
    quiet_end: dt.time | None = None
    timezone: str = "UTC"
    probability: float = 1.0
    kind: str = "self-care"
    mode: str = ""
    label: str = ""
    message: str = DEFAULT_MESSAGE

    def in_quiet_hours(self, time_ns: int) -> bool:
        """Whether local time at ``time_ns`` falls in the quiet hours (which may span midnight).

        >>> r = PromptRule(quiet_start=dt.time(22), quiet_end=dt.time(8))
        >>> r.in_quiet_hours(0), r.in_quiet_hours(12 * 3600 * 10**9)
        (True, False)
        """
        if self.quiet_start is None or self.quiet_end is None:
            return False
        local = self.local(time_ns).time()
        if self.quiet_start <= self.quiet_end:
            return self.quiet_start <= local < self.quiet_end
        return local >= self.quiet_start or local < self.quiet_end

    def local(self, time_ns: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(time_ns / 1e9, zoneinfo.ZoneInfo(self.timezone))


@dataclass(frozen=True, slots=True)
class CompanionSettings:
    study: Study
    consent_version: str = ""
    consent_text: str = ""
    show_stress: bool = False
    grafana_url: str = ""
    sessions: tuple[SessionButton, ...] = field(
        default_factory=lambda: tuple(SessionButton(*s) for s in DEFAULT_SESSIONS)
    )
    prompt: PromptRule | None = None
    protocol: Protocol | None = None  # the guided multi-phase session, if the study has one


def _table(data: Mapping[str, Any], name: str, keys: frozenset[str], where: str) -> dict[str, Any]:
    raw = data.get(name, {})
    if not isinstance(raw, dict):
        raise ImportFormatError(where, None, f"[{name}] must be a table")
    try:
        check_keys(raw, keys, f"[{name}]: ")
    except ValueError as exc:
        raise ImportFormatError(where, None, str(exc)) from None
    return dict(raw)


def _number(raw: Mapping[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise ValueError(f"{key} must be a number from {lo:g} to {hi:g}, got {value!r}")
    return float(value)


def _clock(text: object, key: str) -> dt.time:
    try:
        return dt.time.fromisoformat(str(text))
    except ValueError:
        raise ValueError(f"{key}: {text!r} is not a time such as 22:00") from None


def _prompt(raw: Mapping[str, Any]) -> PromptRule:
    quiet = raw.get("quiet_hours")
    start = end = None
    if quiet is not None:
        if not isinstance(quiet, list) or len(quiet) != 2:
            raise ValueError('quiet_hours must be two times, e.g. ["22:00", "08:00"]')
        start, end = _clock(quiet[0], "quiet_hours"), _clock(quiet[1], "quiet_hours")
    tz = str(raw.get("timezone", "UTC"))
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone {tz!r} is not a known time zone (e.g. Europe/Paris)") from None
    mode = str(raw.get("mode", ""))
    if mode and mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    max_per_day = raw.get("max_per_day", 4)
    if not isinstance(max_per_day, int) or isinstance(max_per_day, bool) or max_per_day < 0:
        raise ValueError(f"max_per_day must be a whole number >= 0, got {max_per_day!r}")
    return PromptRule(
        threshold=_number(raw, "threshold", 70.0, 0.0, 100.0),
        min_confidence=_number(raw, "min_confidence", 0.7, 0.0, 1.0),
        sustained_s=60.0 * _number(raw, "sustained_min", 5.0, 0.0, 24 * 60.0),
        max_per_day=max_per_day,
        min_gap_s=60.0 * _number(raw, "min_gap_min", 60.0, 0.0, 24 * 60.0),
        quiet_start=start,
        quiet_end=end,
        timezone=tz,
        probability=_number(raw, "probability", 1.0, 0.0, 1.0),
        kind=str(raw.get("kind", "self-care")).strip() or "self-care",
        mode=mode,
        label=str(raw.get("label", "")).strip(),
        message=str(raw.get("message", DEFAULT_MESSAGE)).strip() or DEFAULT_MESSAGE,
    )


def _session(raw: object, i: int) -> SessionButton:
    if not isinstance(raw, dict):
        raise ValueError(f"session {i + 1} must be a table")
    unknown = sorted(set(raw) - {"kind", "mode", "label", "minutes", "title"})
    if unknown:
        raise ValueError(f"session {i + 1}: unknown key(s) {', '.join(unknown)}")
    kind = str(raw.get("kind", "")).strip()
    if not kind:
        raise ValueError(f"session {i + 1} needs a kind (e.g. self-care, rest, breathing)")
    mode = str(raw.get("mode", "")).strip()
    if mode and mode not in MODES:
        raise ValueError(f"session {i + 1}: mode {mode!r} is not one of {', '.join(MODES)}")
    minutes = _number(raw, "minutes", 0.0, 0.0, 24 * 60.0) if "minutes" in raw else None
    label = str(raw.get("label", "")).strip()
    title = str(raw.get("title", "")).strip() or " · ".join(x for x in (kind, mode, label) if x)
    return SessionButton(kind=kind, mode=mode, label=label, minutes=minutes or None, title=title)


def parse_companion(text: str, where: str, *, today: dt.date | None = None) -> CompanionSettings:
    """The study and its companion settings from a study file's TOML text."""
    study = parse_study(text, where, today=today)
    data = tomllib.loads(text)  # parse_study has checked it is valid TOML
    consent = _table(data, "consent", frozenset({"version", "text"}), where)
    companion = _table(
        data, "companion", frozenset({"show_stress", "grafana_url", "session", "protocol"}), where
    )
    try:
        sessions = tuple(SessionButton(*s) for s in DEFAULT_SESSIONS)
        raw_sessions = companion.get("session")
        if raw_sessions is not None:
            if not isinstance(raw_sessions, list) or not raw_sessions:
                raise ValueError("sessions are one or more [[companion.session]] tables")
            sessions = tuple(_session(r, i) for i, r in enumerate(raw_sessions))
        show = companion.get("show_stress", False)
        if not isinstance(show, bool):
            raise ValueError(f"show_stress must be true or false, got {show!r}")
    except ValueError as exc:
        raise ImportFormatError(where, None, f"[companion]: {exc}") from None
    prompt = None
    if "prompt" in data:
        raw = _table(data, "prompt", frozenset(PROMPT_KEYS), where)
        try:
            prompt = _prompt(raw)
        except ValueError as exc:
            raise ImportFormatError(where, None, f"[prompt]: {exc}") from None
    return CompanionSettings(
        study=study,
        consent_version=str(consent.get("version", "")).strip(),
        consent_text=str(consent.get("text", "")).strip(),
        show_stress=show,
        grafana_url=str(companion.get("grafana_url", "")).strip(),
        sessions=sessions,
        prompt=prompt,
        protocol=_protocol(companion.get("protocol"), where),
    )


def _protocol(value: object, where: str) -> Protocol | None:
    """``[companion] protocol``: a file relative to the study file, or a shipped protocol."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ImportFormatError(where, None, "[companion] protocol must be a protocol's name")
    beside = Path(where).parent / value.strip()
    try:
        return load_protocol(beside if beside.is_file() else value.strip())
    except ValueError as exc:
        raise ImportFormatError(where, None, f"[companion] {exc}") from None


PROMPT_KEYS: Final = (
    "threshold", "min_confidence", "sustained_min", "max_per_day", "min_gap_min", "quiet_hours",
    "timezone", "probability", "kind", "mode", "label", "message",
)  # fmt: skip


def load_companion(path: str | Path) -> CompanionSettings:
    """Read a study file with its companion tables."""
    return parse_companion(read_study_text(path), str(Path(path)))


def guided_protocol(settings: CompanionSettings, participant: str) -> dict[str, object] | None:
    """The guided session the participant page runs: the study's protocol in the participant's
    order (a counterbalanced protocol's, by their place in the study file), each phase with its
    instruction and duration.

    >>> text = '[study]\\nname = "s"\\n[[participant]]\\nid = "P1"\\n'
    >>> text += '[companion]\\nprotocol = "baseline-selfcare"\\n'
    >>> g = guided_protocol(parse_companion(text, "study.toml"), "P1")
    >>> [(p["kind"], p["seconds"]) for p in g["phases"]]
    [('baseline', 300.0), ('self-care', 600.0), ('rest', 300.0)]
    >>> g["phases"][0]["instruction"]
    'Sit quietly and breathe normally.'
    """
    if settings.protocol is None:
        return None
    protocol, order = participant_protocol(settings.protocol, settings.study, participant)
    return {
        "name": protocol.name,
        "description": protocol.description,
        "order": list(order),
        "phases": [
            {
                "kind": p.kind,
                "mode": p.mode,
                "label": p.label,
                "instruction": p.prompt,
                "seconds": p.duration_s,
            }
            for p in protocol.phases
        ],
    }
