"""The LSL streams stresstrack publishes, described without liblsl (pure).

Naming follows the XDF meta-data conventions (github.com/sccn/xdf wiki "Meta-Data"): the
stream ``type`` is the content type (``RR``, ``HR``, ``EDA``, ``ECG``, ``PPG``, ``Markers``;
``StressIndex`` for ours), ``desc/channels/channel`` has ``label``, ``unit`` and ``type``,
``desc/acquisition`` the ``manufacturer`` and ``model``, ``desc/subject/id`` the participant's
pseudonym. ``source_id`` is built from the study, participant, device and signal only, so it
is the same after a restart and LabRecorder reconnects to the new outlet.

The stream types and units are those :mod:`stresstrack.replay.xdf` reads back, so a
LabRecorder recording of these streams replays with ``stresstrack replay --format xdf``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from stresstrack.events import (
    Beat,
    EdaSamples,
    Event,
    HeartRate,
    Marker,
    MarkerAction,
    Waveform,
    WaveformKind,
)
from stresstrack.pipeline.stress import COMPONENTS

__all__ = [
    "IRREGULAR",
    "STRESS_CHANNELS",
    "Channel",
    "StreamSpec",
    "marker_text",
    "source_id",
    "spec_for_event",
    "stress_spec",
]

IRREGULAR: Final = 0.0  # LSL's nominal rate of an irregular stream
MANUFACTURER: Final = "stresstrack"
STRESS_CHANNELS: Final = (
    ("stress_index", "percent"),  # 0-100, 50 = the participant's own baseline
    ("stress_confidence", "normalized"),  # 0-1
    *((f"z_{c.name}", "z") for c in COMPONENTS),
)
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_.:-]+")


@dataclass(frozen=True, slots=True)
class Channel:
    label: str
    unit: str
    type: str


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """Everything an LSL ``StreamInfo`` of ours holds."""

    name: str
    type: str
    channels: tuple[Channel, ...]
    nominal_srate: float
    channel_format: str  # "double64" or "string"
    source_id: str
    participant: str
    model: str  # the device the data came from, or "pipeline"


def source_id(study: str, participant: str, device: str, signal: str) -> str:
    """A stable LSL source id, e.g. ``stresstrack/calm-2026/P001/AA:BB:CC/rr``.

    >>> source_id("calm", "P001", "C6:05:04:03:02:01", "rr")
    'stresstrack/calm/P001/C6:05:04:03:02:01/rr'
    """
    parts = (study, participant, device or "-", signal)
    return "stresstrack/" + "/".join(_UNSAFE.sub("_", p) for p in parts)


def _spec(e: Event, signal: str, type_: str, channel: Channel, rate: float) -> StreamSpec:
    return StreamSpec(
        name=f"stresstrack {e.participant} {signal}",
        type=type_,
        channels=(channel,),
        nominal_srate=rate,
        channel_format="string" if type_ == "Markers" else "double64",
        source_id=source_id(e.study, e.participant, e.device, signal),
        participant=e.participant,
        model=e.device or "-",
    )


def spec_for_event(e: Event) -> StreamSpec | None:
    """The stream an event goes to, or None (device status is not published)."""
    if isinstance(e, Beat):
        return _spec(e, "rr", "RR", Channel("RR", "ms", "RR"), IRREGULAR)
    if isinstance(e, HeartRate):
        return _spec(e, "hr", "HR", Channel("HR", "bpm", "HR"), IRREGULAR)
    if isinstance(e, EdaSamples):
        return _spec(e, "eda", "EDA", Channel("EDA", "microsiemens", "EDA"), e.sampling_rate)
    if isinstance(e, Waveform):
        if e.kind is WaveformKind.ECG:
            return _spec(e, "ecg", "ECG", Channel("ECG", "microvolts", "ECG"), e.sampling_rate)
        return _spec(e, "ppg", "PPG", Channel("PPG", "au", "PPG"), e.sampling_rate)
    if isinstance(e, Marker):
        return _spec(e, "markers", "Markers", Channel("Marker", "", "Marker"), IRREGULAR)
    return None


def stress_spec(study: str, participant: str) -> StreamSpec:
    """The stress index stream of a participant: index, confidence, component z-scores."""
    return StreamSpec(
        name=f"stresstrack {participant} stress",
        type="StressIndex",
        channels=tuple(Channel(label, unit, "StressIndex") for label, unit in STRESS_CHANNELS),
        nominal_srate=IRREGULAR,
        channel_format="double64",
        source_id=source_id(study, participant, "pipeline", "stress"),
        participant=participant,
        model="pipeline",
    )


def marker_text(m: Marker) -> str:
    """A marker as the string :func:`stresstrack.replay.xdf.parse_marker` reads back.

    >>> from stresstrack.events import Marker, MarkerAction
    >>> marker_text(Marker(time_ns=0, participant="P1", action=MarkerAction.START,
    ...                    kind="self-care", mode="solo"))
    'start self-care'
    """
    if m.action is MarkerAction.EVENT:
        return m.kind
    return f"{m.action.value} {m.kind}"
