"""The study file's endpoint tables: items, when they are asked, lab lags and the endpoints
the analysis tests (docs/endpoints.md).

::

    [[item]]                          # optional: items besides the built-in ones
    id = "pss_1"
    scale = "likert"                  # vas (0-100), sam (1-9), likert (1..points), numeric
    points = 5
    question = "In the last hour, how often have you felt nervous?"

    [ask]                             # prompts around sessions
    items = ["stress", "calm"]        # default: stress
    before = ["self-care", "rest"]    # session kinds asked just before they start ("*": all)
    after = ["self-care", "rest"]     # ... and just after they end
    phase_boundaries = false          # true: also at every boundary between two phases
    expires_minutes = 10              # an unanswered prompt lapses

    [ema]                             # ecological momentary assessment in everyday life
    items = ["stress", "sam_valence", "sam_arousal"]
    windows = ["09:00-12:00", "13:00-17:00", "18:00-21:00"]   # local time of `timezone`
    timezone = "Europe/Berlin"
    per_day = 4                       # at most this many prompts a day
    min_gap_minutes = 60
    expires_minutes = 30
    seed = 0

    [lab]
    lag_minutes = {cortisol = 20}     # analyte -> delay (min) of its response to a stressor

    [endpoints]
    primary = "stress_index"
    secondary = ["hr", "rmssd", "scl", "sr_stress", "cortisol"]
    window_minutes = 2                # physiology paired with an answer: the minutes before it
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stresstrack.endpoints.items import BUILTIN_ITEMS, Item, parse_item
from stresstrack.errors import ImportFormatError

__all__ = [
    "DEFAULT_LAG_MINUTES",
    "PHYSIOLOGY",
    "SR_PREFIX",
    "AskRule",
    "EmaRule",
    "EndpointConfig",
    "check_endpoint",
    "load_endpoints",
    "parse_endpoints",
]

# Salivary cortisol peaks 15-20 min after a stressor ends, 20-40 min after its onset
# (Kirschbaum & Hellhammer 1994; Dickerson & Kemeny 2004): the default delay.
DEFAULT_LAG_MINUTES: Final[Mapping[str, float]] = {"cortisol": 20.0}
# Physiological outcomes of the session analysis an endpoint may name (analysis.sessions).
PHYSIOLOGY: Final = ("stress_index", "hr", "rmssd", "scl", "scr_rate")
SR_PREFIX: Final = "sr_"
_WINDOW_RE: Final = re.compile(r"\A(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})\Z")


@dataclass(frozen=True, slots=True)
class AskRule:
    items: tuple[str, ...] = ("stress",)
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    phase_boundaries: bool = False
    expires_minutes: float = 10.0


@dataclass(frozen=True, slots=True)
class EmaRule:
    items: tuple[str, ...]
    windows: tuple[tuple[dt.time, dt.time], ...]
    timezone: str = "UTC"
    per_day: int = 4
    min_gap_minutes: float = 60.0
    expires_minutes: float = 30.0
    seed: int = 0


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    items: Mapping[str, Item] = field(default_factory=lambda: dict(BUILTIN_ITEMS))
    ask: AskRule | None = None
    ema: EmaRule | None = None
    lag_minutes: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_LAG_MINUTES))
    primary: str | None = None  # None: the protocol's [design] decides
    secondary: tuple[str, ...] | None = None
    window_minutes: float = 2.0

    def lag_ns(self, analyte: str) -> int:
        return round(self.lag_minutes.get(analyte, 0.0) * 60e9)


def _strings(raw: object, what: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise ValueError(f"{what} must be a list of strings")
    return tuple(raw)


def _positive(raw: Mapping[str, Any], key: str, default: float, what: str) -> float:
    v = raw.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
        raise ValueError(f"{what} {key} must be a number > 0, got {v!r}")
    return float(v)


def _known(raw: Mapping[str, Any], keys: set[str], what: str) -> None:
    unknown = sorted(set(raw) - keys)
    if unknown:
        raise ValueError(f"{what}: unknown key(s) {', '.join(unknown)}")


def _items_of(raw: Mapping[str, Any], items: Mapping[str, Item], what: str) -> tuple[str, ...]:
    names = _strings(raw.get("items", ["stress"]), f"{what} items")
    missing = [n for n in names if n not in items]
    if missing or not names:
        raise ValueError(f"{what} items: unknown item(s) {', '.join(missing) or '(none)'}")
    return names


def _ask(raw: Mapping[str, Any], items: Mapping[str, Item]) -> AskRule:
    _known(raw, {"items", "before", "after", "phase_boundaries", "expires_minutes"}, "[ask]")
    boundaries = raw.get("phase_boundaries", False)
    if not isinstance(boundaries, bool):
        raise ValueError("[ask] phase_boundaries must be true or false")
    return AskRule(
        items=_items_of(raw, items, "[ask]"),
        before=_strings(raw.get("before", []), "[ask] before"),
        after=_strings(raw.get("after", []), "[ask] after"),
        phase_boundaries=boundaries,
        expires_minutes=_positive(raw, "expires_minutes", 10.0, "[ask]"),
    )


def _window(text: object) -> tuple[dt.time, dt.time]:
    m = _WINDOW_RE.match(text) if isinstance(text, str) else None
    try:
        if m is None:
            raise ValueError
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        lo, hi = dt.time(h1, m1), dt.time(h2, m2)
    except ValueError:
        raise ValueError(f'[ema] window {text!r} is not "HH:MM-HH:MM"') from None
    if not lo < hi:
        raise ValueError(f"[ema] window {text!r} ends before it starts")
    return lo, hi


def _ema(raw: Mapping[str, Any], items: Mapping[str, Item]) -> EmaRule:
    keys = {"items", "windows", "timezone", "per_day", "min_gap_minutes", "expires_minutes", "seed"}
    _known(raw, keys, "[ema]")
    windows = tuple(sorted(_window(w) for w in raw.get("windows", [])))
    if not windows:
        raise ValueError('[ema] needs windows = ["HH:MM-HH:MM", ...]')
    zone = raw.get("timezone", "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"[ema] timezone {zone!r} is not a known time zone") from None
    per_day, seed = raw.get("per_day", 4), raw.get("seed", 0)
    if isinstance(per_day, bool) or not isinstance(per_day, int) or not 1 <= per_day <= 48:
        raise ValueError(f"[ema] per_day must be a whole number 1..48, got {per_day!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"[ema] seed must be a whole number, got {seed!r}")
    return EmaRule(
        items=_items_of(raw, items, "[ema]"),
        windows=windows,
        timezone=zone,
        per_day=per_day,
        min_gap_minutes=_positive(raw, "min_gap_minutes", 60.0, "[ema]"),
        expires_minutes=_positive(raw, "expires_minutes", 30.0, "[ema]"),
        seed=seed,
    )


def _lags(raw: Mapping[str, Any]) -> dict[str, float]:
    _known(raw, {"lag_minutes"}, "[lab]")
    lags = dict(DEFAULT_LAG_MINUTES)
    given = raw.get("lag_minutes", {})
    if not isinstance(given, dict):
        raise ValueError("[lab] lag_minutes is a table: {cortisol = 20}")
    for analyte, v in given.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 240:
            raise ValueError(f"[lab] lag_minutes.{analyte} must be 0..240 minutes, got {v!r}")
        lags[analyte] = float(v)
    return lags


def check_endpoint(name: str, items: Mapping[str, Item]) -> str:
    """``name`` if the analysis can compute it: a physiological measure, ``sr_<item>`` of a
    known item, or an analyte name (its level; any analyte imported with ``stresstrack lab``)."""
    if name.startswith(SR_PREFIX):
        if name[len(SR_PREFIX) :] not in items:
            raise ValueError(f"[endpoints] {name}: no item {name[len(SR_PREFIX) :]!r}")
        return name
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name):
        raise ValueError(f"[endpoints] {name!r} is not an endpoint name")
    return name


def _endpoints(raw: Mapping[str, Any], items: Mapping[str, Item]) -> dict[str, Any]:
    _known(raw, {"primary", "secondary", "window_minutes"}, "[endpoints]")
    out: dict[str, Any] = {"window_minutes": _positive(raw, "window_minutes", 2.0, "[endpoints]")}
    if "primary" in raw:
        if not isinstance(raw["primary"], str):
            raise ValueError("[endpoints] primary must be a string")
        out["primary"] = check_endpoint(raw["primary"], items)
    if "secondary" in raw:
        names = _strings(raw["secondary"], "[endpoints] secondary")
        out["secondary"] = tuple(check_endpoint(n, items) for n in names)
    return out


def parse_endpoints(text: str, where: str, lines: Sequence[int] = ()) -> EndpointConfig:
    """The endpoint tables of a study file's TOML text; errors name ``where`` (and the
    ``[[item]]``'s line)."""
    from stresstrack.session.protocol import table_lines

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ImportFormatError(where, None, f"not valid TOML ({exc})") from exc
    items: dict[str, Item] = dict(BUILTIN_ITEMS)
    item_lines = list(lines) or table_lines(text, "item")
    raw_items = data.get("item", [])
    if not isinstance(raw_items, list):
        raise ImportFormatError(where, None, "items are [[item]] tables")
    for i, raw in enumerate(raw_items):
        try:
            item = parse_item(raw)
        except ValueError as exc:
            line = item_lines[i] if i < len(item_lines) else None
            raise ImportFormatError(where, line, f"item {i + 1}: {exc}") from None
        items[item.id] = item
    try:
        ask = _ask(data["ask"], items) if "ask" in data else None
        ema = _ema(data["ema"], items) if "ema" in data else None
        lags = _lags(data.get("lab", {}))
        ends = _endpoints(data.get("endpoints", {}), items)
    except ValueError as exc:
        raise ImportFormatError(where, None, str(exc)) from None
    return EndpointConfig(items, ask, ema, lags, **ends)


def load_endpoints(path: str) -> EndpointConfig:
    """The endpoint tables of the study file at ``path``."""
    from stresstrack.session.study import read_study_text

    return parse_endpoints(read_study_text(path), path)
