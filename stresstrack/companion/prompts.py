"""Just-in-time prompts: the study's rule evaluated on the live stress index.

A participant is *eligible* while the stress index stays at or above the rule's threshold,
with at least its confidence, for at least ``sustained`` (consecutive windows; a window
below the threshold or without an index restarts the count). An eligible moment is a
*decision point* when the participant is also *available*: outside quiet hours, under the
day's prompt limit, ``min_gap`` after the previous decision point and not in a session.

At a decision point the participant is prompted with probability ``p`` (micro-randomisation,
Klasnja et al. 2015): the draw is a hash of the study, the participant and the decision
time, so the same data always gives the same decisions (a replay reproduces them) while the
draws are independent of anything the participant does. With ``p = 1`` every decision point
prompts. Decision points that were not prompted are the comparison moments of the proximal
effect analysis (:mod:`stresstrack.analysis.proximal`).

Every decision point, prompt, acceptance and dismissal is stored as a point marker
(``Marker(action=EVENT)``) with kind ``jit-decision``, ``jit-prompt``, ``jit-accepted`` or
``jit-dismissed``; the note is JSON.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Final

from stresstrack.companion.settings import PromptRule
from stresstrack.events import Marker, MarkerAction
from stresstrack.pipeline.results import Session, StressRow

__all__ = [
    "DECISION",
    "PROMPT",
    "PROMPT_ACCEPTED",
    "PROMPT_DISMISSED",
    "Decision",
    "PromptPolicy",
    "draw",
]

DECISION: Final = "jit-decision"
PROMPT: Final = "jit-prompt"
PROMPT_ACCEPTED: Final = "jit-accepted"
PROMPT_DISMISSED: Final = "jit-dismissed"
PROMPT_DEVICE: Final = "companion"
NS: Final = 1_000_000_000


def draw(study: str, participant: str, time_ns: int) -> float:
    """A uniform number in [0, 1) fixed by the decision point (reproducible randomisation).

    >>> draw("s", "P1", 0) == draw("s", "P1", 0), 0 <= draw("s", "P1", 5) < 1
    (True, True)
    """
    digest = hashlib.sha256(f"{study}\0{participant}\0{time_ns}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision point: the participant was eligible and available."""

    time_ns: int
    participant: str
    study: str
    prompted: bool
    probability: float
    index: float
    confidence: float

    @property
    def prompt_id(self) -> str:
        return f"{self.participant}-{self.time_ns}"

    def markers(self, rule: PromptRule) -> list[Marker]:
        """The decision point (and the prompt, when prompted) as stored events."""
        note = {
            "prompt_id": self.prompt_id,
            "prompted": self.prompted,
            "probability": self.probability,
            "index": round(self.index, 2),
            "confidence": round(self.confidence, 4),
        }
        ids = {"participant": self.participant, "study": self.study, "device": PROMPT_DEVICE}
        out = [
            Marker(
                time_ns=self.time_ns,
                action=MarkerAction.EVENT,
                kind=DECISION,
                note=json.dumps(note, sort_keys=True),
                **ids,
            )
        ]
        if self.prompted:
            out.append(
                Marker(
                    time_ns=self.time_ns,
                    action=MarkerAction.EVENT,
                    kind=PROMPT,
                    mode=rule.mode,
                    label=rule.label,
                    note=json.dumps({"prompt_id": self.prompt_id, "suggests": rule.kind}),
                    **ids,
                )
            )
        return out


@dataclass
class _State:
    high_since: int | None = None
    last_decision: int | None = None
    prompts_by_day: dict[str, int] = field(default_factory=dict)
    open_sessions: set[str] = field(default_factory=set)


class PromptPolicy:
    """Feeds on stress rows and sessions in event time; returns the decision points."""

    def __init__(self, rule: PromptRule) -> None:
        self.rule = rule
        self._state: dict[str, _State] = {}

    def session(self, s: Session) -> None:
        """A session opened or closed: nobody is prompted during a session."""
        st = self._state.setdefault(s.participant, _State())
        if s.end_ns is None:
            st.open_sessions.add(s.kind)
        else:
            st.open_sessions.discard(s.kind)

    def update(self, row: StressRow) -> Decision | None:
        r = self.rule
        st = self._state.setdefault(row.participant, _State())
        high = (
            row.index is not None
            and row.index >= r.threshold
            and row.confidence >= r.min_confidence
        )
        if not high:
            st.high_since = None
            return None
        if st.high_since is None:
            st.high_since = row.time_ns
        if row.time_ns - st.high_since < r.sustained_s * NS:
            return None
        if st.open_sessions or r.in_quiet_hours(row.time_ns):
            return None
        if st.last_decision is not None and row.time_ns - st.last_decision < r.min_gap_s * NS:
            return None
        day = r.local(row.time_ns).date().isoformat()
        if st.prompts_by_day.get(day, 0) >= r.max_per_day:
            return None
        st.last_decision = row.time_ns
        prompted = draw(row.study, row.participant, row.time_ns) < r.probability
        if prompted:
            st.prompts_by_day[day] = st.prompts_by_day.get(day, 0) + 1
        assert row.index is not None
        return Decision(
            time_ns=row.time_ns,
            participant=row.participant,
            study=row.study,
            prompted=prompted,
            probability=r.probability,
            index=row.index,
            confidence=row.confidence,
        )
