"""The publisher's flow control: per participant, at most one message in flight at a time.

A message the broker refuses (no worker subscribed yet, not authorised, too large) is sent
again, after a growing delay, before anything newer of that participant, so a participant's
events reach the workers in order whatever fails; meanwhile new events accumulate into the
next, larger message. :class:`ParticipantQueue` holds one participant's events read from the
store and not yet acknowledged; :class:`~stresstrack.transport.publisher.Publisher` owns one
per participant and publishes what :meth:`ParticipantQueue.next_message` gives.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final

from stresstrack.store.sqlite import EventRow

__all__ = ["ACK_TIMEOUT_S", "MAX_EVENTS", "ParticipantQueue"]

# MQTT 5 PUBACK reason codes (MQTT 5.0, section 3.4.2.1).
SUCCESS: Final = 0x00
NO_MATCHING_SUBSCRIBERS: Final = 0x10
PACKET_TOO_LARGE: Final = 0x95
MAX_EVENTS: Final = 500  # per message; an EDA chunk of 8 samples is ~150 bytes
ACK_TIMEOUT_S: Final = 60.0  # connected but no PUBACK for this long: publish again
MAX_RETRY_S: Final = 30.0


@dataclass(slots=True)
class ParticipantQueue:
    """One participant's queue: rows read, the message in flight, its retry time."""

    study: str
    participant: str
    prev: int = 0  # sequence number of the last event acknowledged before ``inflight``
    rows: deque[EventRow] = field(default_factory=deque)
    inflight: list[EventRow] = field(default_factory=list)
    mid: int | None = None
    sent_at: float = 0.0
    retry_at: float = 0.0
    failures: int = 0
    waiting: str = ""  # why the message in flight was refused, until it goes through
    max_events: int = MAX_EVENTS
    newest_ns: int = 0  # newest event time seen (status events are stamped with it)
    active: bool = False  # new data since the last periodic status

    def oldest(self) -> EventRow | None:
        """The oldest event not acknowledged yet."""
        if self.inflight:
            return self.inflight[0]
        return self.rows[0] if self.rows else None

    def timed_out(self, now: float) -> bool:
        """A message is in flight and the broker has not answered for ``ACK_TIMEOUT_S``."""
        return self.mid is not None and now - self.sent_at >= ACK_TIMEOUT_S

    def next_message(self, now: float) -> list[EventRow]:
        """The events to publish now (those refused first), or none while a message is in
        flight or a retry waits."""
        if self.mid is not None or now < self.retry_at:
            return []
        while self.rows and len(self.inflight) < self.max_events:
            self.inflight.append(self.rows.popleft())
        return self.inflight

    def sent(self, mid: int, now: float) -> None:
        self.mid = mid
        self.sent_at = now

    def answered(self, reason: int, text: str, now: float, retry_s: float) -> int:
        """The broker's answer to the message in flight: how many events it acknowledged; 0
        when refused (the same events go again after a delay, ``waiting`` says why)."""
        self.mid = None
        if reason == SUCCESS:
            acknowledged = len(self.inflight)
            self.prev = self.inflight[-1][0]
            self.inflight = []
            self.failures = 0
            self.waiting = ""
            return acknowledged
        self.failures += 1
        if reason == PACKET_TOO_LARGE and len(self.inflight) > 1:
            half = len(self.inflight) // 2
            self.rows.extendleft(reversed(self.inflight[half:]))
            self.inflight = self.inflight[:half]
            self.max_events = half
        self.retry_at = now + min(MAX_RETRY_S, retry_s * 2 ** (self.failures - 1))
        self.waiting = (
            f"no worker subscribed to {self.participant}'s topic yet"
            if reason == NO_MATCHING_SUBSCRIBERS
            else f"the broker refused {self.participant}'s events: {text}"
        )
        return 0
