"""Documented limits every event must respect, whatever its source (docs/formats.md, "Limits").

Checked at each boundary where events enter: MQTT payloads and stored rows
(:func:`stresstrack.store.codec.event_from_payload`), live and file sources before they are
stored (:class:`stresstrack.session.recorder.Recorder`), markers typed on the command line. An event
outside them is refused with :class:`~stresstrack.errors.EventError` naming the field and the
bound; live sources and the MQTT worker keep it in the store's ``quarantine`` table and go on.

The bounds are wide physical limits (a value outside cannot come from a body or a device we
support), not the tighter plausible ranges importers apply to recordings (``PLAUSIBLE``).
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime
from typing import Final

from stresstrack.errors import EventError
from stresstrack.events import (
    Beat,
    DeviceStatus,
    EdaSamples,
    Event,
    HeartRate,
    LabSample,
    Marker,
    SelfReport,
    Waveform,
    WaveformKind,
    validate_participant_id,
)

__all__ = [
    "EARLIEST_NS",
    "LATEST_NS",
    "MAX_FUTURE_NS",
    "MAX_SAMPLES",
    "PLAUSIBLE",
    "RATE_HZ",
    "TEXT_LIMITS",
    "check_event",
    "check_text",
]

NS: Final = 1_000_000_000
# Calendar bounds of any event time: from 2100 on a time is a misread column or a broken
# clock, not a recording (and windows over it would be walked for centuries). Generic CSV
# files may count from 0 (synthetic data); device formats check 1990-2099 themselves.
EARLIEST_NS: Final = 0
LATEST_NS: Final = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp()) * NS
# Live and MQTT events may run ahead of the receiver's clock by clock drift, not more.
MAX_FUTURE_NS: Final = 3600 * NS
# Sampling rates (Hz) of the devices and formats we read: E4 EDA 4 Hz, EmotiBit 15 Hz, WESAD
# chest 700 Hz; Polar H10 ECG 130 Hz, biosignalsplux up to 4000 Hz; E4 BVP 64 Hz, Verity PPG
# 55-176 Hz. Below 1 Hz NeuroKit2's EDA filters cannot be designed (issue 16, item 1); a
# waveform below 1 Hz cannot show a heartbeat.
RATE_HZ: Final[dict[str, tuple[float, float]]] = {
    "eda": (1.0, 4000.0),
    "ecg": (1.0, 10_000.0),
    "ppg": (1.0, 4000.0),
    "hr": (0.01, 100.0),  # heart-rate readings: E4 HR.csv 1 Hz
}
# Samples in one event: live chunks hold about 1 s, importers cut at 1 s; 60 s at the highest
# rate is far more than any source sends, and bounds what one message can make us allocate.
MAX_SAMPLES: Final = 240_000
# Physical limits of event values.
_VALUES: Final[dict[str, tuple[float, float]]] = {
    "rr_ms": (1.0, 60_000.0),  # an interval of a minute is a dropout, still a number
    "bpm": (0.0, 400.0),  # 0: the device's "no reading"
    "eda_us": (-1_000.0, 1_000.0),  # 0-100 µS physiological; offsets of uncalibrated devices
    "ecg": (-1_000_000.0, 1_000_000.0),  # µV: ±1 V, far beyond any ECG front end
    "ppg": (-1e12, 1e12),  # device units (24-bit ADCs and their sums)
}
# Plausible ranges of recorded values: a value outside is an error in the file (docs/formats.md).
PLAUSIBLE: Final[dict[str, tuple[float, float]]] = {
    "rr_ms": (200.0, 3000.0),
    "hr_bpm": (20.0, 250.0),
    "eda_us": (0.0, 100.0),
    "ecg_uv": (-50_000.0, 50_000.0),
    "ppg": (-1e12, 1e12),  # device units: any, within the physical limit below
    "acc_mg": (0.0, 50_000.0),  # magnitude: 1000 at rest, ±16 g the widest wearable range
}
# Longest text of each field, in characters.
TEXT_LIMITS: Final[dict[str, int]] = {
    "study": 128,
    "device": 128,
    "kind": 64,
    "mode": 64,
    "label": 128,
    "note": 2000,
    "detail": 2000,
    "item": 64,
    "prompt_id": 128,
    "analyte": 64,
    "unit": 32,
}
# Self-report answers and lab values: any finite number (items check their own scales).
_ENDPOINT_VALUE: Final = (-1e12, 1e12)


def check_text(value: object, field: str, what: str = "event") -> str:
    """``value`` if it is text that UTF-8 can encode (no lone surrogates), without control
    characters other than tab and newline, and within :data:`TEXT_LIMITS`.

    >>> check_text("self-care", "kind")
    'self-care'
    >>> check_text("self-care \\udce9", "kind")
    Traceback (most recent call last):
    ...
    stresstrack.errors.EventError: event: kind is not valid Unicode text (U+DCE9 at 10)
    """
    if not isinstance(value, str):
        raise EventError(what, f"{field} is not text")
    limit = TEXT_LIMITS.get(field, 2000)
    if len(value) > limit:
        raise EventError(what, f"{field} is {len(value)} characters long (at most {limit})")
    for i, ch in enumerate(value):
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            raise EventError(what, f"{field} is not valid Unicode text (U+{code:04X} at {i})")
        if (code < 0x20 and ch not in "\t\n") or 0x7F <= code <= 0x9F:
            raise EventError(what, f"{field} holds a control character (U+{code:04X} at {i})")
    return value


def _number(value: object, field: str, what: str, bounds: tuple[float, float]) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EventError(what, f"{field} is not a number")
    lo, hi = bounds
    if not (math.isfinite(value) and lo <= value <= hi):
        raise EventError(what, f"{field} {value!r} is outside {lo:g}..{hi:g}")


def _integer(value: object, field: str, what: str, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise EventError(what, f"{field} {value!r} is not an integer in {lo}..{hi}")


def _time(value: object, field: str, what: str, latest: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise EventError(what, f"{field} is not an integer (ns since 1970)")
    if not EARLIEST_NS <= value < latest:
        when = "in the future" if value >= latest and latest < LATEST_NS else "not in 1970-2099"
        raise EventError(what, f"{field} {value} is {when}")


def _samples(values: object, rate: object, field: str, kind: str, what: str) -> None:
    _number(rate, "sampling_rate", what, RATE_HZ[kind])
    if not isinstance(values, tuple) or not values:
        raise EventError(what, f"{field} is not a non-empty list of samples")
    if len(values) > MAX_SAMPLES:
        raise EventError(what, f"{len(values)} samples in one event (at most {MAX_SAMPLES})")
    lo, hi = _VALUES["eda_us" if kind == "eda" else kind]
    try:  # min/max in C; a NaN anywhere makes the sum NaN, which is not equal to itself
        total = sum(values)
        fine = lo <= min(values) and max(values) <= hi and total == total
    except TypeError:
        fine = False
    if not fine:
        for i, v in enumerate(values):
            _number(v, f"{field}[{i}]", what, (lo, hi))


def _check_ids(participant: str, study: str, device: str, before: str, what: str) -> None:
    try:
        validate_participant_id(participant)
    except ValueError as exc:
        raise EventError(before, str(exc)) from None
    check_text(study, "study", what)
    check_text(device, "device", what)


@functools.lru_cache(maxsize=4096)
def _ids_cached(participant: str, study: str, device: str) -> bool:
    try:
        _check_ids(participant, study, device, "", "")
    except EventError:
        return False
    return True


def _ids_fine(participant: object, study: object, device: object) -> bool:
    """Whether the identifying texts pass (remembered: a recording repeats the same few for
    every event, and checking them character by character cost more than the rest)."""
    if type(participant) is str and type(study) is str and type(device) is str:
        return _ids_cached(participant, study, device)
    return False


def check_event(event: Event, *, now_ns: int | None = None) -> Event:
    """``event`` if every field is within the documented limits, else :class:`EventError`.

    ``now_ns``: the receiver's clock, for live and MQTT events (at most
    :data:`MAX_FUTURE_NS` ahead of it); files are only held to the calendar bounds.

    >>> from stresstrack.events import Beat
    >>> b = Beat(time_ns=1_767_603_600 * NS, participant="p-1", rr_ms=812.5)
    >>> check_event(b) is b
    True
    >>> check_event(Beat(time_ns=1_767_603_600 * NS, participant="p-1", rr_ms=float("nan")))
    Traceback (most recent call last):
    ...
    stresstrack.errors.EventError: beat of p-1 at 1767603600000000000: rr_ms nan is outside 1..60000
    """
    name = type(event).__name__.lower()
    participant = event.participant
    what = f"{name} of {participant} at {event.time_ns!r}"
    if not _ids_fine(participant, event.study, event.device):
        _check_ids(participant, event.study, event.device, f"{name} at {event.time_ns!r}", what)
    latest = LATEST_NS if now_ns is None else min(LATEST_NS, now_ns + MAX_FUTURE_NS)
    _time(event.time_ns, "time_ns", what, latest)
    if isinstance(event, Beat):
        _number(event.rr_ms, "rr_ms", what, _VALUES["rr_ms"])
        if event.rr_ticks is not None:
            _integer(event.rr_ticks, "rr_ticks", what, 0, 0xFFFF)
    elif isinstance(event, HeartRate):
        _number(event.bpm, "bpm", what, _VALUES["bpm"])
        if event.energy_kj is not None:
            _integer(event.energy_kj, "energy_kj", what, 0, 0xFFFF)
    elif isinstance(event, EdaSamples):
        _samples(event.values_us, event.sampling_rate, "values_us", "eda", what)
    elif isinstance(event, Waveform):
        kind = "ecg" if event.kind is WaveformKind.ECG else "ppg"
        _samples(event.values, event.sampling_rate, "values", kind, what)
    elif isinstance(event, Marker):
        for field in ("kind", "mode", "label", "note"):
            check_text(getattr(event, field), field, what)
        if not event.kind.strip():
            raise EventError(what, "kind is empty")
    elif isinstance(event, SelfReport | LabSample):
        _endpoint(event, what)
    elif isinstance(event, DeviceStatus):
        check_text(event.detail, "detail", what)
        if event.battery_pct is not None:
            _integer(event.battery_pct, "battery_pct", what, 0, 100)
        if event.gap_start_ns is not None:
            _time(event.gap_start_ns, "gap_start_ns", what, LATEST_NS)
    return event


def _endpoint(event: SelfReport | LabSample, what: str) -> None:
    names = ("item", "prompt_id") if isinstance(event, SelfReport) else ("analyte", "unit")
    for name in names:
        check_text(getattr(event, name), name, what)
    if not getattr(event, names[0]).strip():
        raise EventError(what, f"{names[0]} is empty")
    _number(event.value, "value", what, _ENDPOINT_VALUE)
