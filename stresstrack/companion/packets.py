"""What a phone sends the companion: packets, checked, and the events each kind of packet makes.

A browser sends notifications of its strap (``gatt``: raw bytes, decoded by the bleak
collector's own handlers through :class:`BrowserDevice`), link changes (``link``), session
markers (``marker``) and prompt answers (``prompt``), each with the browser's receive time and
a sequence number (:class:`Packet`). The functions here turn one packet into events; the
:class:`~stresstrack.companion.runtime.Companion` stores them exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, cast

from bleak.backends.characteristic import BleakGATTCharacteristic

from stresstrack.companion.prompts import PROMPT_ACCEPTED, PROMPT_DEVICE, PROMPT_DISMISSED
from stresstrack.events import (
    DeviceState,
    DeviceStatus,
    Event,
    EventIds,
    EventSink,
    Marker,
    MarkerAction,
)
from stresstrack.sensors.collector import DeviceCollector
from stresstrack.sensors.profiles.battery import BATTERY_LEVEL_UUID
from stresstrack.sensors.profiles.heart_rate import HEART_RATE_MEASUREMENT_UUID
from stresstrack.session.markers import PROTOCOL_DEVICE

__all__ = [
    "NS_PER_MS",
    "BrowserDevice",
    "CompanionError",
    "Packet",
    "ReceiveClock",
    "gatt_notification",
    "link_events",
    "marker_event",
    "prompt_answer",
    "text_field",
]

NS_PER_MS: Final = 1_000_000
_MAX_TEXT: Final = 64
KINDS: Final = ("gatt", "link", "marker", "prompt")


class CompanionError(Exception):
    """A request the companion refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def full_uuid(uuid: str) -> str:
    """``2a37`` or a full 128-bit UUID → the full lower-case UUID.

    >>> full_uuid("2A37")
    '00002a37-0000-1000-8000-00805f9b34fb'
    """
    u = uuid.strip().lower()
    if len(u) == 4:
        return f"0000{u}-0000-1000-8000-00805f9b34fb"
    return u


def text_field(value: object, what: str, *, required: bool = False) -> str:
    """A short text a browser sent (stripped), or :class:`CompanionError` (400)."""
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
        if kind not in KINDS:
            raise CompanionError(400, f"packet {seq}: unknown kind {kind!r}")
        return cls(seq=seq, time_ns=round(float(t) * NS_PER_MS), kind=kind, body=raw)

    def device(self) -> str:
        """The device a ``gatt`` or ``link`` packet is about (``web:`` and the browser's id)."""
        return "web:" + text_field(self.body.get("device"), "device", required=True)


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

    def __init__(self, participant: str, study: str, device: str, sink: EventSink) -> None:
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


def gatt_notification(p: Packet) -> tuple[str, bytes]:
    """The characteristic (full UUID) and the bytes of a ``gatt`` packet."""
    data = p.body.get("data")
    try:
        if not isinstance(data, str):
            raise ValueError(data)
        raw = bytes.fromhex(data)
    except ValueError:
        raise CompanionError(400, f"packet {p.seq}: data must be hex") from None
    return full_uuid(text_field(p.body.get("uuid"), "uuid", required=True)), raw


def link_events(
    p: Packet, participant: str, study: str, last_data_ns: int | None
) -> list[DeviceStatus]:
    """A ``link`` packet's status events: a gap since the last data when it reconnects, then
    the connection state (as the bleak collector records them)."""
    device = p.device()
    up = p.body.get("state") == "connected"
    ids = EventIds(participant=participant, study=study, device=device)
    events: list[DeviceStatus] = []
    if up and last_data_ns is not None:
        gap = DeviceStatus(
            time_ns=p.time_ns,
            state=DeviceState.GAP,
            gap_start_ns=last_data_ns,
            detail="reconnected",
            **ids,
        )
        events.append(gap)
    state = DeviceState.CONNECTED if up else DeviceState.DISCONNECTED
    detail = "web bluetooth: heart-rate" if up else "link lost"
    events.append(DeviceStatus(time_ns=p.time_ns, state=state, detail=detail, **ids))
    return events


def marker_event(p: Packet, participant: str, study: str) -> Marker:
    """A ``marker`` packet's session start or stop."""
    body = p.body
    action = body.get("action")
    if action not in ("start", "stop"):
        raise CompanionError(400, f"packet {p.seq}: action must be start or stop")
    return Marker(
        time_ns=p.time_ns,
        action=MarkerAction(action),
        kind=text_field(body.get("session"), "session", required=True),
        mode=text_field(body.get("mode"), "mode"),
        label=text_field(body.get("label"), "label"),
        note=text_field(body.get("note"), "note"),
        participant=participant,
        study=study,
        # a guided protocol's phases are marked as collect --protocol marks them
        device=PROTOCOL_DEVICE if body.get("protocol") is True else PROMPT_DEVICE,
    )


def prompt_answer(p: Packet, participant: str, study: str) -> tuple[str, Event]:
    """A ``prompt`` packet: the prompt's id, and the marker of its acceptance or dismissal."""
    prompt_id = text_field(p.body.get("prompt_id"), "prompt_id", required=True)
    accepted = p.body.get("accepted") is True
    marker = Marker(
        time_ns=p.time_ns,
        action=MarkerAction.EVENT,
        kind=PROMPT_ACCEPTED if accepted else PROMPT_DISMISSED,
        note=json.dumps({"prompt_id": prompt_id}),
        participant=participant,
        study=study,
        device=PROMPT_DEVICE,
    )
    return prompt_id, marker
