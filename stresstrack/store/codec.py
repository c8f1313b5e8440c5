"""Lossless conversion between events and JSON-ready payloads (store, MQTT, files)."""

from __future__ import annotations

import dataclasses
import json
from enum import StrEnum
from typing import Any, Final

from stresstrack.errors import EventError
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
from stresstrack.limits import check_event

__all__ = ["event_from_payload", "event_to_payload"]

_BASE_FIELDS: Final = ("time_ns", "participant", "study", "device")
_ENUM_FIELDS: Final[dict[str, type[StrEnum]]] = {
    "source": BeatSource,
    "contact": Contact,
    "state": DeviceState,
    "action": MarkerAction,
}


# The type-specific fields of each event class, in declaration order.
_BODY_FIELDS: Final[dict[type, tuple[str, ...]]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls) if f.name not in _BASE_FIELDS)
    for cls in EVENT_TYPE_NAMES
}


# json.dumps(body, separators=(",", ":")) builds an encoder per call; one made once encodes
# the same (tuples are JSON arrays, as the lists they used to be converted to).
_ENCODE: Final = json.JSONEncoder(separators=(",", ":")).encode


def event_to_payload(event: Event) -> tuple[str, str]:
    """Return ``(type name, JSON of the type-specific fields)``; base fields are stored apart.

    >>> from stresstrack.events import EdaSamples
    >>> event_to_payload(EdaSamples(time_ns=0, participant="p", sampling_rate=4.0,
    ...                             values_us=(1.5, 2.0)))
    ('eda', '{"sampling_rate":4.0,"values_us":[1.5,2.0]}')
    """
    body: dict[str, Any] = {name: getattr(event, name) for name in _BODY_FIELDS[type(event)]}
    return EVENT_TYPE_NAMES[type(event)], _ENCODE(body)


def event_from_payload(
    type_name: str,
    time_ns: int,
    participant: str,
    study: str,
    device: str,
    payload: str,
    *,
    now_ns: int | None = None,
) -> Event:
    """Rebuild an event from what :func:`event_to_payload` wrote, checked against the
    documented limits (:func:`stresstrack.limits.check_event`; ``now_ns`` for live data).

    Anything else raises :class:`~stresstrack.errors.EventError` naming the problem.
    """
    what = f"{type_name} of {participant!r} at {time_ns!r}"
    cls = EVENT_TYPES.get(type_name)
    if cls is None:
        raise EventError(what, "unknown event type")
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise EventError(what, f"body is not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise EventError(what, "body is not a JSON object")
    try:
        for key, value in list(body.items()):
            if isinstance(value, list):
                body[key] = tuple(value)
            elif value is not None and key in _ENUM_FIELDS:
                body[key] = _ENUM_FIELDS[key](value)
        if type_name == "waveform":
            body["kind"] = WaveformKind(body["kind"])
        event: Event = cls(
            time_ns=time_ns, participant=participant, study=study, device=device, **body
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise EventError(what, f"bad body ({exc})") from None
    return check_event(event, now_ns=now_ns)
