"""Self-report items: what is asked and on which scale (docs/endpoints.md, "Items").

Built in: visual analogue scales 0-100 (``stress``, ``calm``, ``mood``; Wewers & Lowe 1990)
and the Self-Assessment Manikin's valence and arousal on 1-9 (Bradley & Lang 1994). A study
file adds its own items (Likert items, the licensed instruments a researcher holds) as
``[[item]]`` tables; an item of the same id replaces the built-in one.

>>> BUILTIN_ITEMS["sam_valence"].check(7)
7.0
>>> BUILTIN_ITEMS["stress"].check(101)
Traceback (most recent call last):
...
ValueError: stress: 101 is outside 0..100 (visual analogue scale)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["BUILTIN_ITEMS", "SCALES", "Item", "parse_item"]

# Scale kinds: their range, whether answers are whole numbers, and a name for messages.
SCALES: Final[dict[str, tuple[float | None, float | None, bool, str]]] = {
    "vas": (0.0, 100.0, False, "visual analogue scale"),
    "sam": (1.0, 9.0, True, "Self-Assessment Manikin"),
    "likert": (1.0, None, True, "Likert item"),  # 1..points
    "numeric": (None, None, False, "number"),  # min and max from the item
}
_ID_RE: Final = re.compile(r"\A[a-z][a-z0-9_]{0,63}\Z")
_KEYS: Final = frozenset({"id", "scale", "question", "points", "min", "max", "anchors"})


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    scale: str
    question: str
    low: float
    high: float
    integer: bool
    anchors: tuple[str, str] = ("", "")

    def check(self, value: float) -> float:
        """``value`` as a float if it is a valid answer, else ``ValueError`` naming the item."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{self.id}: {value!r} is not a number")
        v = float(value)
        kind = SCALES[self.scale][3]
        if not (math.isfinite(v) and self.low <= v <= self.high):
            raise ValueError(
                f"{self.id}: {value:g} is outside {self.low:g}..{self.high:g} ({kind})"
            )
        if self.integer and v != int(v):
            raise ValueError(f"{self.id}: {value:g} is not a whole number ({kind})")
        return v

    @property
    def range_text(self) -> str:
        return f"{self.low:g}-{self.high:g}"


def _builtin(id: str, scale: str, question: str, anchors: tuple[str, str]) -> Item:
    low, high, integer, _ = SCALES[scale]
    assert low is not None and high is not None
    return Item(id, scale, question, low, high, integer, anchors)


BUILTIN_ITEMS: Final[Mapping[str, Item]] = {
    i.id: i
    for i in (
        _builtin(
            "stress", "vas", "How stressed do you feel right now?", ("not at all", "extremely")
        ),
        _builtin("calm", "vas", "How calm do you feel right now?", ("not at all", "completely")),
        _builtin("mood", "vas", "How is your mood right now?", ("very bad", "very good")),
        _builtin("sam_valence", "sam", "How do you feel? (SAM valence)", ("unhappy", "happy")),
        _builtin("sam_arousal", "sam", "How do you feel? (SAM arousal)", ("calm", "excited")),
    )
}


def _num(raw: Mapping[str, Any], key: str) -> float:
    v = raw[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ValueError(f"{key} must be a number, got {v!r}")
    return float(v)


def parse_item(raw: Mapping[str, Any]) -> Item:
    """An ``[[item]]`` table; ``ValueError`` naming the problem."""
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})")
    item_id = raw.get("id")
    if not isinstance(item_id, str) or not _ID_RE.match(item_id):
        raise ValueError(f"id {item_id!r}: lower-case letters, digits and '_' (e.g. \"pss_1\")")
    scale = raw.get("scale", "numeric")
    if scale not in SCALES:
        raise ValueError(f"{item_id}: scale {scale!r} is not one of {', '.join(SCALES)}")
    question = raw.get("question", "")
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f'{item_id}: needs a question = "..."')
    low, high, integer, _ = SCALES[scale]
    if scale == "likert":
        points = raw.get("points")
        if isinstance(points, bool) or not isinstance(points, int) or not 2 <= points <= 11:
            raise ValueError(f"{item_id}: a Likert item needs points = 2..11, got {points!r}")
        high = float(points)
    elif scale == "numeric":
        if "min" not in raw or "max" not in raw:
            raise ValueError(f"{item_id}: a numeric item needs min and max")
        low, high = _num(raw, "min"), _num(raw, "max")
        if not low < high:
            raise ValueError(f"{item_id}: min {low:g} must be below max {high:g}")
    anchors = raw.get("anchors", ["", ""])
    if not (
        isinstance(anchors, list) and len(anchors) == 2 and all(isinstance(a, str) for a in anchors)
    ):
        raise ValueError(f"{item_id}: anchors must be two strings (low end, high end)")
    assert low is not None and high is not None
    return Item(item_id, scale, question.strip(), low, high, integer, (anchors[0], anchors[1]))
