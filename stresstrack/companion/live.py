"""The live view of one participant: what the researcher page and the participant's phone show.

:class:`ParticipantLive` takes the events as they are stored and the pipeline's outputs as
they come (:meth:`ParticipantLive.take_event`, :meth:`ParticipantLive.take_session`, ...);
:meth:`ParticipantLive.view` is the JSON a page gets (the stress index only where the study
shows it).
"""

from __future__ import annotations

from dataclasses import dataclass

from stresstrack.companion.packets import NS_PER_MS
from stresstrack.events import DeviceStatus, Event, HeartRate
from stresstrack.pipeline.results import FeatureRow, Session

__all__ = ["ParticipantLive"]


@dataclass
class ParticipantLive:
    """What the researcher page and the participant's live view show."""

    connected: bool = False
    device_name: str = ""
    battery_pct: int | None = None
    contact: str = ""
    last_data_ns: int | None = None
    hr_bpm: float | None = None
    rmssd_ms: float | None = None
    scl_us: float | None = None
    stress: float | None = None
    stress_confidence: float = 0.0
    session: str = ""
    session_start_ns: int | None = None
    prompt: dict[str, object] | None = None
    stored: int = 0

    def take_event(self, e: Event) -> None:
        """An event of the participant, as it is stored."""
        self.stored += 1
        if isinstance(e, HeartRate):
            self.hr_bpm = e.bpm
            self.contact = e.contact.value
            self.last_data_ns = e.time_ns
        elif isinstance(e, DeviceStatus) and e.battery_pct is not None:
            self.battery_pct = e.battery_pct

    def take_features(self, row: FeatureRow) -> None:
        self.rmssd_ms = row.values.get("rmssd_ms")
        self.scl_us = row.values.get("scl_us")

    def take_session(self, s: Session) -> None:
        """A session the pipeline opened or closed: the one shown as running."""
        if s.end_ns is None:
            self.session, self.session_start_ns = s.kind, s.start_ns
        elif self.session == s.kind:
            self.session, self.session_start_ns = "", None

    def answered(self, prompt_id: str) -> None:
        """The participant answered a prompt: it is no longer shown."""
        if self.prompt is not None and self.prompt.get("prompt_id") == prompt_id:
            self.prompt = None

    def view(self, *, stress: bool) -> dict[str, object]:
        out: dict[str, object] = {
            "connected": self.connected,
            "device_name": self.device_name,
            "battery_pct": self.battery_pct,
            "contact": self.contact,
            "last_data_ms": None if self.last_data_ns is None else self.last_data_ns // NS_PER_MS,
            "hr_bpm": self.hr_bpm,
            "session": self.session,
            "session_start_ms": None
            if self.session_start_ns is None
            else self.session_start_ns // NS_PER_MS,
            "prompt": self.prompt,
            "stored": self.stored,
        }
        if stress:
            out["stress"] = None if self.stress is None else round(self.stress, 1)
            out["stress_confidence"] = self.stress_confidence
            out["rmssd_ms"] = self.rmssd_ms
            out["scl_us"] = self.scl_us
        return out
