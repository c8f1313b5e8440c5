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

from bleak.backends.characteristic import BleakGATTCharacteristic

from stresstrack.companion.prompts import (
    PROMPT_ACCEPTED,
    PROMPT_DEVICE,
    PROMPT_DISMISSED,
    Decision,
    PromptPolicy,
)
from stresstrack.companion.settings import CompanionSettings
from stresstrack.events import (
    DeviceState,
    DeviceStatus,
    Event,
    EventIds,
    HeartRate,
    Marker,
    MarkerAction,
    validate_participant_id,
)
from stresstrack.pipeline.engine import Output, Pipeline, PipelineConfig
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.runtime import Runtime
from stresstrack.sensors.collector import DeviceCollector
from stresstrack.sensors.profiles.battery import BATTERY_LEVEL_UUID
from stresstrack.sensors.profiles.heart_rate import HEART_RATE_MEASUREMENT_UUID
from stresstrack.session.markers import PROTOCOL_DEVICE
from stresstrack.session.study import ARM_META_PREFIX, participant_protocol, stamp_order
from stresstrack.store.sqlite import Store

__all__ = ["Companion", "CompanionError", "Packet", "ParticipantLive", "ReceiveClock"]

log = logging.getLogger(__name__)

NS_PER_MS: Final = 1_000_000
# Buffered packets may be days old, but none comes from the future: a phone whose clock is
# far ahead would put its data (and the pipeline's windows) there.
FUTURE_TOLERANCE_NS: Final = 600 * 1_000_000_000
_META: Final = "companion/"
_MAX_TEXT: Final = 64


class CompanionError(Exception):
    """A request the companion refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _short_uuid(uuid: str) -> str:
    """``2a37`` or a full 128-bit UUID → the full lower-case UUID."""
    u = uuid.strip().lower()
    if len(u) == 4:
        return f"0000{u}-0000-1000-8000-00805f9b34fb"
    return u


def _text(value: object, what: str, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > _MAX_TEXT or (required and not value.strip()):
        raise CompanionError(400, f"{what}: a text of at most {_MAX_TEXT} characters is needed")
    return value.strip()


@dataclass(frozen=True, slots=True)
class Packet:
    """One item a browser sends: a notification, a link change, a marker, a prompt answer."""

    seq: int
    time_ns: int  # the browser's clock when it received the bytes or the button was pressed
    kind: str  # "gatt" | "link" | "marker" | "prompt"
    body: dict[str, object]

    @classmethod
    def parse(cls, raw: object) -> Packet:
        if not isinstance(raw, dict):
            raise CompanionError(400, "a packet must be a JSON object")
        seq, t, kind = raw.get("seq"), raw.get("t"), raw.get("kind")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise CompanionError(400, "packet seq must be a whole number >= 1")
        if not isinstance(t, int | float) or isinstance(t, bool) or not 0 < t < 1e14:
            raise CompanionError(400, f"packet {seq}: t must be the receive time in ms (Unix)")
        if kind not in ("gatt", "link", "marker", "prompt"):
            raise CompanionError(400, f"packet {seq}: unknown kind {kind!r}")
        return cls(seq=seq, time_ns=round(float(t) * NS_PER_MS), kind=kind, body=raw)


class ReceiveClock:
    """The collector's clock for browser packets: the receive time of the packet at hand."""

    def __init__(self) -> None:
        self.time_ns = 0

    def now_ns(self) -> int:
        return self.time_ns


def _no_client(_address: str, _lost: Callable[[object], None]) -> object:
    raise RuntimeError("a browser-paired device is not connected by the server")


class BrowserDevice:
    """A strap paired in a browser; its notifications go through the collector's handlers."""

    def __init__(self, participant: str, study: str, device: str, sink: _Sink) -> None:
        self.clock = ReceiveClock()
        self.collector = DeviceCollector(
            device,
            participant=participant,
            study=study,
            sink=sink,
            clock=self.clock,
            client_factory=cast("object", _no_client),  # type: ignore[arg-type]
        )
        self.last_data_ns: int | None = None

    def notification(self, uuid: str, data: bytes, time_ns: int) -> None:
        self.clock.time_ns = time_ns
        char = cast(BleakGATTCharacteristic, None)  # the HR and battery handlers do not read it
        if uuid == HEART_RATE_MEASUREMENT_UUID:
            self.collector.on_heart_rate(char, bytearray(data))
            self.last_data_ns = self.collector.stats.last_data_ns
        elif uuid == BATTERY_LEVEL_UUID:
            self.collector.on_battery(char, bytearray(data))
        else:
            raise CompanionError(400, f"characteristic {uuid} is not collected by the companion")


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
        sender = _text(sender, "sender", required=True)
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
        body = p.body
        ids = EventIds(participant=participant, study=self.study, device=PROMPT_DEVICE)
        if p.kind == "gatt":
            device = "web:" + _text(body.get("device"), "device", required=True)
            data = body.get("data")
            if not isinstance(data, str):
                raise CompanionError(400, f"packet {p.seq}: data must be hex")
            try:
                raw = bytes.fromhex(data)
            except ValueError:
                raise CompanionError(400, f"packet {p.seq}: data must be hex") from None
            uuid = _short_uuid(_text(body.get("uuid"), "uuid", required=True))
            self._device(participant, state, device).notification(uuid, raw, p.time_ns)
        elif p.kind == "link":
            device = "web:" + _text(body.get("device"), "device", required=True)
            up = body.get("state") == "connected"
            dev = self._device(participant, state, device)
            live = self.live[participant]
            live.connected = up
            live.device_name = _text(body.get("name"), "name")
            events: list[Event] = []
            if up and dev.last_data_ns is not None:
                events.append(
                    DeviceStatus(
                        time_ns=p.time_ns,
                        state=DeviceState.GAP,
                        gap_start_ns=dev.last_data_ns,
                        detail="reconnected",
                        participant=participant,
                        study=self.study,
                        device=device,
                    )
                )
            events.append(
                DeviceStatus(
                    time_ns=p.time_ns,
                    state=DeviceState.CONNECTED if up else DeviceState.DISCONNECTED,
                    detail="web bluetooth: heart-rate" if up else "link lost",
                    participant=participant,
                    study=self.study,
                    device=device,
                )
            )
            if up:  # a new connection: a new timing chain, as the collector does
                last = dev.last_data_ns
                dev = BrowserDevice(participant, self.study, device, self._sink)
                dev.last_data_ns = last
                state.devices[device] = dev
            self._sink.emit(events)
        elif p.kind == "marker":
            action = body.get("action")
            if action not in ("start", "stop"):
                raise CompanionError(400, f"packet {p.seq}: action must be start or stop")
            self._sink.emit(
                [
                    Marker(
                        time_ns=p.time_ns,
                        action=MarkerAction(action),
                        kind=_text(body.get("session"), "session", required=True),
                        mode=_text(body.get("mode"), "mode"),
                        label=_text(body.get("label"), "label"),
                        note=_text(body.get("note"), "note"),
                        participant=participant,
                        study=self.study,
                        # a guided protocol's phases are marked as collect --protocol marks them
                        device=PROTOCOL_DEVICE if body.get("protocol") is True else PROMPT_DEVICE,
                    )
                ]
            )
        else:  # prompt answer
            prompt_id = _text(body.get("prompt_id"), "prompt_id", required=True)
            accepted = body.get("accepted") is True
            self._sink.emit(
                [
                    Marker(
                        time_ns=p.time_ns,
                        action=MarkerAction.EVENT,
                        kind=PROMPT_ACCEPTED if accepted else PROMPT_DISMISSED,
                        note=json.dumps({"prompt_id": prompt_id}),
                        **ids,
                    )
                ]
            )
            live = self.live[participant]
            if live.prompt is not None and live.prompt.get("prompt_id") == prompt_id:
                live.prompt = None

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
            if live is None:
                continue
            live.stored += 1
            if isinstance(e, HeartRate):
                live.hr_bpm = e.bpm
                live.contact = e.contact.value
                live.last_data_ns = e.time_ns
            elif isinstance(e, DeviceStatus) and e.battery_pct is not None:
                live.battery_pct = e.battery_pct

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
                live.rmssd_ms = o.values.get("rmssd_ms")
                live.scl_us = o.values.get("scl_us")
            elif isinstance(o, Session):
                if self.policy is not None:
                    self.policy.session(o)
                if o.end_ns is None:
                    live.session, live.session_start_ns = o.kind, o.start_ns
                elif live.session == o.kind:
                    live.session, live.session_start_ns = "", None

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
