"""The one event model every source yields and every consumer reads.

Every event is immutable, carries a UTC timestamp in integer nanoseconds since the Unix epoch
(``time_ns``), the study and the participant's pseudonymous ID, and the device it came from.
Sources (simulated BLE peripherals, real BLE devices, recorded files) produce these events;
the pipeline, the store and the sinks consume them. Nothing downstream knows the source.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Protocol, TypedDict

__all__ = [
    "Beat",
    "BeatSource",
    "Contact",
    "DeviceState",
    "DeviceStatus",
    "EdaSamples",
    "Event",
    "EventIds",
    "EventSink",
    "HeartRate",
    "LabSample",
    "Marker",
    "MarkerAction",
    "SelfReport",
    "Waveform",
    "WaveformKind",
    "validate_participant_id",
]

NS_PER_S: Final = 1_000_000_000
# RR intervals in the Heart Rate Measurement characteristic are in units of 1/1024 s
# (Bluetooth SIG, Heart Rate Service 1.0, section 3.1.1.5).
RR_TICKS_PER_S: Final = 1024

# Pseudonymous participant IDs: letters, digits, '-', '_' and '.', 1–64 characters, and not
# shaped like an e-mail address. Names with spaces cannot pass, which keeps real names out.
# ``\A...\Z``, not ``^...$``: ``$`` also matches before a final newline.
_PARTICIPANT_RE: Final = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")


def validate_participant_id(participant: str) -> str:
    """Return ``participant`` if it is a valid pseudonymous ID, else raise ``ValueError``."""
    if not isinstance(participant, str) or not _PARTICIPANT_RE.match(participant):
        raise ValueError(
            f"participant ID {participant!r} is not a pseudonym: use 1-64 letters, digits, "
            "'-', '_' or '.', starting with a letter or digit (no names, no e-mail addresses)"
        )
    return participant


class EventIds(TypedDict):
    """The identifying fields every event carries, to pass as ``**ids``."""

    participant: str
    study: str
    device: str


class Contact(StrEnum):
    """Skin-contact state as the device reports it."""

    UNSUPPORTED = "unsupported"
    NOT_DETECTED = "not_detected"
    DETECTED = "detected"


class BeatSource(StrEnum):
    """Where a beat-to-beat interval came from."""

    HRS = "hrs"  # Heart Rate Service RR interval (chest strap, watch)
    PPI = "ppi"  # pulse-to-pulse interval from an optical sensor (Polar PMD PPI)
    ECG = "ecg"  # R-peak detected from a streamed ECG
    PPG = "ppg"  # pulse detected from a streamed PPG
    FILE = "file"  # imported from a recording that already held intervals


class MarkerAction(StrEnum):
    START = "start"
    STOP = "stop"
    EVENT = "event"


class DeviceState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    GAP = "gap"  # data expected but none arrived (dropped notifications, out of range)
    BAD_PACKET = "bad_packet"


class WaveformKind(StrEnum):
    ECG = "ecg"  # microvolts
    PPG = "ppg"  # arbitrary units
    ACC = "acc"  # accelerometer magnitude, mG


@dataclass(frozen=True, slots=True, kw_only=True)
class _EventBase:
    time_ns: int
    participant: str
    study: str = "default"
    device: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Beat(_EventBase):
    """One beat-to-beat interval; ``time_ns`` is the time of the beat that ends it."""

    rr_ms: float
    rr_ticks: int | None = None  # raw 1/1024 s ticks when the source is the Heart Rate Service
    source: BeatSource = BeatSource.HRS


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartRate(_EventBase):
    """A heart-rate reading as the device computed it."""

    bpm: float
    contact: Contact = Contact.UNSUPPORTED
    energy_kj: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EdaSamples(_EventBase):
    """Consecutive skin-conductance samples in µS; ``time_ns`` is the first sample's time."""

    sampling_rate: float
    values_us: tuple[float, ...]

    def sample_time_ns(self, i: int) -> int:
        return self.time_ns + round(i * NS_PER_S / self.sampling_rate)


@dataclass(frozen=True, slots=True, kw_only=True)
class Waveform(_EventBase):
    """A chunk of a sampled waveform (ECG in µV, PPG in device units)."""

    kind: WaveformKind
    sampling_rate: float
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Marker(_EventBase):
    """A session boundary (start/stop) or a point event, e.g. a self-care session start."""

    action: MarkerAction
    kind: str  # e.g. "baseline", "stressor", "self-care", "recovery"
    mode: str = ""  # e.g. "solo", "partner"
    label: str = ""  # product or study arm
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceStatus(_EventBase):
    """Connection, battery and contact state of a device, and gaps in its data."""

    state: DeviceState
    battery_pct: int | None = None
    contact: Contact | None = None
    detail: str = ""
    gap_start_ns: int | None = None  # for state == GAP: when the missing data began


@dataclass(frozen=True, slots=True, kw_only=True)
class SelfReport(_EventBase):
    """A participant's answer to one self-report item (docs/endpoints.md); ``time_ns`` is
    when it was given, ``prompt_id`` the prompt it answered ("" when unprompted)."""

    item: str  # an item id of the study file, e.g. "stress" (VAS 0-100), "sam_valence" (1-9)
    value: float
    prompt_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class LabSample(_EventBase):
    """A lab value of a sample taken at ``time_ns``, e.g. salivary cortisol in nmol/L."""

    analyte: str  # e.g. "cortisol"
    value: float
    unit: str


Event = Beat | HeartRate | EdaSamples | Waveform | Marker | DeviceStatus | SelfReport | LabSample

EVENT_TYPES: Final[dict[str, type[Event]]] = {
    "beat": Beat,
    "hr": HeartRate,
    "eda": EdaSamples,
    "waveform": Waveform,
    "marker": Marker,
    "status": DeviceStatus,
    "selfreport": SelfReport,
    "lab": LabSample,
}
# Events that answer questions or report lab values: stored and shipped, never signal input.
ENDPOINT_TYPES: Final[tuple[type[Event], ...]] = (SelfReport, LabSample)
EVENT_TYPE_NAMES: Final[dict[type[Event], str]] = {v: k for k, v in EVENT_TYPES.items()}


class EventSink(Protocol):
    """Where a source hands its events (the runtime, a recorder, a test's list)."""

    def emit(self, events: Sequence[Event]) -> None: ...
