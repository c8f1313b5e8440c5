"""The companion's runtime: browser packets in, the collector's decoders, store and pipeline.

One :class:`Companion` serves a study. Phones send what their strap notified, as raw bytes
with the browser's receive time and a sequence number (:class:`Packet`); each packet goes
through the very handlers of the bleak collector (:class:`~stresstrack.sensors.collector.
DeviceCollector`, with a clock that reads the browser's receive time), so a strap paired
from a phone and a strap read by ``collect`` give the same events. Events go to a
:class:`~stresstrack.runtime.Runtime`: stored first, then through the pipeline.

Exactly once: a sender (one browser) numbers its packets; the last stored number is written
in the same transaction as the events (store meta ``companion/seq/<participant>/<sender>``),
so a packet resent after an outage or a crash is recognised and skipped, never stored twice.

After a restart the pipeline is rebuilt by replaying the store (its results are deleted and
recomputed), so live results always equal a replay of the store.

What each kind of packet is and makes: :mod:`stresstrack.companion.packets`; the live view
the pages show: :mod:`stresstrack.companion.live`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, cast

from stresstrack.companion.live import ParticipantLive
from stresstrack.companion.packets import (
    NS_PER_MS,
    BrowserDevice,
    CompanionError,
    Packet,
    ReceiveClock,
    gatt_notification,
    link_events,
    marker_event,
    prompt_answer,
    text_field,
)
from stresstrack.companion.prompts import Decision, PromptPolicy
from stresstrack.companion.settings import CompanionSettings
from stresstrack.events import DeviceState, Event, validate_participant_id
from stresstrack.pipeline.engine import Output, Pipeline, PipelineConfig
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.runtime import Runtime
from stresstrack.session.study import ARM_META_PREFIX, participant_protocol, stamp_order
from stresstrack.store.sqlite import Store

# CompanionError, Packet, ParticipantLive and ReceiveClock are re-exported: their home is
# stresstrack.companion.packets and stresstrack.companion.live.
__all__ = ["Companion", "CompanionError", "Packet", "ParticipantLive", "ReceiveClock"]

log = logging.getLogger(__name__)

# Buffered packets may be days old, but none comes from the future: a phone whose clock is
# far ahead would put its data (and the pipeline's windows) there.
FUTURE_TOLERANCE_NS: Final = 600 * 1_000_000_000
_META: Final = "companion/"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class _Sink:
    """The collector handlers' sink: to the runtime, and the live view on the way."""

    def __init__(self, companion: Companion) -> None:
        self.companion = companion

    def emit(self, events: Sequence[Event]) -> None:
        self.companion._observe_events(events)
        self.companion.runtime.emit(events)


@dataclass
class _Sender:
    last_seq: int
    devices: dict[str, BrowserDevice] = field(default_factory=dict)


class Companion:
    """Enrolment, consent, data intake and prompts of one study on one store."""

    def __init__(
        self,
        store: Store,
        settings: CompanionSettings,
        *,
        config: PipelineConfig | None = None,
        researcher_token: str,
    ) -> None:
        self.store = store
        self.settings = settings
        self.study = settings.study.name
        self._researcher_digest = _digest(researcher_token)
        self.live: dict[str, ParticipantLive] = {p: ParticipantLive() for p in self.participants}
        self.policy = PromptPolicy(settings.prompt) if settings.prompt else None
        self._replaying = True
        self._listeners: list[Callable[[str, dict[str, object]], None]] = []
        self.decisions: list[Decision] = []
        self.pipeline = Pipeline(config or PipelineConfig())
        self.pipeline.observe(outputs=self._observe_outputs)
        current = store.meta("study")
        if current is not None and current != self.study:
            raise CompanionError(
                500, f"{store.path} holds study {current!r}, not {self.study!r}: one store a study"
            )
        if current is None:
            store.set_meta("study", self.study)
        for p in settings.study.participants.values():
            if p.arm:
                store.set_meta(ARM_META_PREFIX + p.id, p.arm)
            if settings.protocol is not None and settings.protocol.blocks():
                _, order = participant_protocol(settings.protocol, settings.study, p.id)
                stamp_order(store, p.id, order)
        self._rebuild()
        self._replaying = False
        self.runtime = Runtime(store, self.pipeline, batch=1 << 30, participants=self.live)
        self._senders: dict[tuple[str, str], _Sender] = {}
        self._sink = _Sink(self)

    @property
    def participants(self) -> list[str]:
        return sorted(self.settings.study.participants)

    # -- start-up ----------------------------------------------------------------------------
    def _rebuild(self) -> None:
        """Recompute the pipeline's results from the stored events (after a restart)."""
        mine = [p for p in self.store.participants() if p in self.live]
        if not mine:
            return
        self.store.delete_results(mine)
        warm = Runtime(self.store, self.pipeline, store_raw=False, batch=5000)
        for event in self.store.iter_events():
            if event.participant in self.live:
                self._observe_events([event])
                warm.emit([event])
        warm.flush()

    # -- secrets -----------------------------------------------------------------------------
    def check_researcher(self, token: str | None) -> None:
        if not token or not hmac.compare_digest(_digest(token), self._researcher_digest):
            raise CompanionError(401, "researcher token missing or wrong")

    def new_code(self, participant: str) -> str:
        """A one-time enrolment code for a participant of the study (shown to the researcher)."""
        if participant not in self.live:
            raise CompanionError(404, "not a participant of this study")
        code = "-".join(secrets.token_hex(2) for _ in range(3))
        self.store.set_meta(f"{_META}code/{_digest(code)}", participant)
        return code

    def enrol(self, code: str) -> tuple[str, str]:
        """Trade a one-time code for the participant's pseudonym and access token."""
        key = f"{_META}code/{_digest(code.strip().lower())}"
        participant = self.store.meta(key)
        if not participant or participant.startswith("used:"):
            raise CompanionError(403, "this enrolment code is not valid (ask the study team)")
        token = secrets.token_urlsafe(32)
        self.store.set_meta(key, "used:" + participant)
        self.store.set_meta(f"{_META}token/{_digest(token)}", participant)
        return participant, token

    def participant_of(self, token: str | None) -> str:
        if not token:
            raise CompanionError(401, "not enrolled on this device")
        participant = self.store.meta(f"{_META}token/{_digest(token)}")
        if participant is None or participant not in self.live:
            raise CompanionError(401, "not enrolled on this device")
        return participant

    # -- consent -----------------------------------------------------------------------------
    def consent(self, participant: str) -> dict[str, object] | None:
        raw = self.store.meta(f"{_META}consent/{participant}")
        return None if raw is None else cast(dict[str, object], json.loads(raw))

    def give_consent(self, participant: str, version: str, time_ns: int) -> None:
        expected = self.settings.consent_version
        if version != expected:
            raise CompanionError(409, f"consent form {version!r} is not the study's {expected!r}")
        # In the store's meta, not as an event: the pipeline's default baseline is the first
        # minutes after a participant's first event, which must be data, not the enrolment.
        record = json.dumps({"version": version, "time_ns": time_ns})
        self.store.set_meta(f"{_META}consent/{participant}", record)

    def recording(self, participant: str) -> bool:
        return self.store.meta(f"{_META}recording/{participant}") != "off"

    def set_recording(self, participant: str, on: bool) -> None:
        if participant not in self.live:
            raise CompanionError(404, "not a participant of this study")
        self.store.set_meta(f"{_META}recording/{participant}", "on" if on else "off")
        self._notify(participant, {"type": "recording", "on": on})

    # -- data --------------------------------------------------------------------------------
    def last_seq(self, participant: str, sender: str) -> int:
        key = (participant, sender)
        if key not in self._senders:
            raw = self.store.meta(f"{_META}seq/{participant}/{sender}")
            self._senders[key] = _Sender(last_seq=int(raw) if raw else 0)
        return self._senders[key].last_seq

    def receive(self, participant: str, sender: str, packets: Sequence[Packet]) -> int:
        """Store (once) and process a sender's packets; returns the last sequence number stored,
        to acknowledge."""
        if self.consent(participant) is None:
            raise CompanionError(403, "no consent recorded: data is not accepted")
        if not self.recording(participant):
            raise CompanionError(409, "recording is paused by the study team")
        sender = text_field(sender, "sender", required=True)
        limit = time.time_ns() + FUTURE_TOLERANCE_NS
        if any(p.time_ns > limit for p in packets):
            raise CompanionError(400, "packet times are in the future: check the phone's clock")
        last = self.last_seq(participant, sender)
        state = self._senders[(participant, sender)]
        for p in packets:
            if p.seq <= last:
                continue  # already stored (a resend after an outage)
            if p.seq != last + 1:
                log.warning("a sender skipped %d packet numbers", p.seq - last - 1)
            self._packet(participant, state, p)
            last = p.seq
        if last != state.last_seq:
            state.last_seq = last
            self.runtime.flush(meta={f"{_META}seq/{participant}/{sender}": str(last)})
            self._prompts()
        return last

    def _device(self, participant: str, state: _Sender, device: str) -> BrowserDevice:
        dev = state.devices.get(device)
        if dev is None:
            dev = BrowserDevice(participant, self.study, device, self._sink)
            state.devices[device] = dev
        return dev

    def _packet(self, participant: str, state: _Sender, p: Packet) -> None:
        """Store and process one packet (through the collector's handlers for ``gatt``)."""
        if p.kind == "gatt":
            device = p.device()
            uuid, data = gatt_notification(p)
            self._device(participant, state, device).notification(uuid, data, p.time_ns)
        elif p.kind == "link":
            self._link(participant, state, p)
        elif p.kind == "marker":
            self._sink.emit([marker_event(p, participant, self.study)])
        else:  # prompt answer
            prompt_id, answer = prompt_answer(p, participant, self.study)
            self._sink.emit([answer])
            self.live[participant].answered(prompt_id)

    def _link(self, participant: str, state: _Sender, p: Packet) -> None:
        """A strap connected or lost in the browser: its status events and the live view."""
        device = p.device()
        dev = self._device(participant, state, device)
        events = link_events(p, participant, self.study, dev.last_data_ns)
        live = self.live[participant]
        live.connected = events[-1].state is DeviceState.CONNECTED
        live.device_name = text_field(p.body.get("name"), "name")
        if live.connected:  # a new connection: a new timing chain, as the collector does
            fresh = BrowserDevice(participant, self.study, device, self._sink)
            fresh.last_data_ns = dev.last_data_ns
            state.devices[device] = fresh
        self._sink.emit(events)

    def poll_external(self) -> None:
        """Feed the pipeline what other processes stored (``stresstrack mark``); once a second."""
        self.runtime.poll_external()
        self._prompts()

    def close(self) -> None:
        self.runtime.close()

    # -- live view and prompts ---------------------------------------------------------------
    def listen(self, callback: Callable[[str, dict[str, object]], None]) -> None:
        """``callback(participant, message)`` for prompts and live updates."""
        self._listeners.append(callback)

    def _notify(self, participant: str, message: dict[str, object]) -> None:
        for callback in self._listeners:
            callback(participant, message)

    def _observe_events(self, events: Sequence[Event]) -> None:
        for e in events:
            live = self.live.get(e.participant)
            if live is not None:
                live.take_event(e)

    def _observe_outputs(self, outputs: list[Output]) -> None:
        for o in outputs:
            live = self.live.get(o.participant)
            if live is None:
                continue
            if isinstance(o, StressRow):
                live.stress, live.stress_confidence = o.index, o.confidence
                if self.policy is not None:
                    decision = self.policy.update(o)
                    if decision is not None and not self._replaying:
                        self.decisions.append(decision)
            elif isinstance(o, FeatureRow):
                live.take_features(o)
            elif isinstance(o, Session):
                if self.policy is not None:
                    self.policy.session(o)
                live.take_session(o)

    def _prompts(self) -> None:
        """Store the decision points the last outputs made, and send the prompts."""
        decisions, self.decisions = self.decisions, []
        rule = self.settings.prompt
        if not decisions or rule is None:
            return
        self.runtime.emit([m for d in decisions for m in d.markers(rule)])
        self.runtime.flush()
        for d in decisions:
            if d.prompted:
                prompt: dict[str, object] = {
                    "type": "prompt",
                    "prompt_id": d.prompt_id,
                    "message": rule.message,
                    "session": rule.kind,
                    "mode": rule.mode,
                    "label": rule.label,
                    "time_ms": d.time_ns // NS_PER_MS,
                }
                self.live[d.participant].prompt = prompt
                self._notify(d.participant, prompt)

    def validate_participant(self, participant: str) -> str:
        try:
            validate_participant_id(participant)
        except ValueError:
            raise CompanionError(404, "not a participant of this study") from None
        if participant not in self.live:
            raise CompanionError(404, "not a participant of this study")
        return participant
