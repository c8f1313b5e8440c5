"""Lossless conversion between events and JSON-ready payloads (store, MQTT, files)."""

from __future__ import annotations

import dataclasses
import json
from enum import StrEnum
from typing import Any, Final

from stresstrack.events import (
    EVENT_TYPE_NAMES,
    EVENT_TYPES,
    BeatSource,
    Contact,
    DeviceState,
    Event,
    MarkerAction,
    WaveformKind,
)

__all__ = ["event_from_payload", "event_to_payload"]

_BASE_FIELDS: Final = ("time_ns", "participant", "study", "device")
_ENUM_FIELDS: Final[dict[str, type[StrEnum]]] = {
    "source": BeatSource,
    "contact": Contact,
    "state": DeviceState,
    "action": MarkerAction,
}


def event_to_payload(event: Event) -> tuple[str, str]:
    """Return ``(type name, JSON of the type-specific fields)``; base fields are stored apart."""
    body: dict[str, Any] = {}
    for f in dataclasses.fields(event):
        if f.name in _BASE_FIELDS:
            continue
        value = getattr(event, f.name)
        if isinstance(value, tuple):
            value = list(value)
        body[f.name] = value
    return EVENT_TYPE_NAMES[type(event)], json.dumps(body, separators=(",", ":"))


def event_from_payload(
    type_name: str, time_ns: int, participant: str, study: str, device: str, payload: str
) -> Event:
    """Rebuild an event from what :func:`event_to_payload` wrote."""
    cls = EVENT_TYPES[type_name]
    body: dict[str, Any] = json.loads(payload)
    for key, value in list(body.items()):
        if isinstance(value, list):
            body[key] = tuple(value)
        elif value is not None and key in _ENUM_FIELDS:
            body[key] = _ENUM_FIELDS[key](value)
    if type_name == "waveform":
        body["kind"] = WaveformKind(body["kind"])
    event: Event = cls(time_ns=time_ns, participant=participant, study=study, device=device, **body)
    return event
