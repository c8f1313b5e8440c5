"""Polar Measurement Data (PMD) service: ECG, accelerometer, PPG and PPI streams from Polar sensors.

Layouts verified against Polar's open-source BLE SDK (github.com/polarofficial/polar-ble-sdk),
Android sources under ``sources/Android/android-communications/library/src/main/java/com/polar/
androidcommunications/api/ble/model/gatt/client/pmd/`` and their unit tests; the PDF
specification in ``technical_documentation`` is not stored as text where we could read it.

Control point FB005C81 (write requests, indications back)::

    request     op code (1 get settings, 2 start, 3 stop), measurement type,
                then for "start" the selected settings as TLVs       (BlePMDClient.kt)
    response    0xF0, op code, measurement type, status (PmdError),
                then on success: "more" byte, parameters             (PmdControlPointResponse.kt)
    settings    repeated: setting type, count, count values; value size by type:
                sample rate/resolution/range uint16, range in milli-units int32,
                channels uint8, factor float32 (IEEE 754)           (PmdSetting.kt)
    feature     a plain read: byte 0 (0x0F in third-party clients; the SDK ignores it), then
                a LE bitmap, bit n set = measurement type n supported (PmdMeasurementType.kt)

Data FB005C82 (notifications), one frame per notification::

    byte 0      measurement type (low 6 bits; bit 7 flags offline recordings)
    bytes 1-8   uint64 LE timestamp of the frame's LAST sample, ns since 2000-01-01T00:00:00Z
                (documentation/TimeSystemExplained.md; PmdTimeStampUtils.kt); 0 for PPI
    byte 9      frame type: bits 0-6 type, bit 7 delta-compressed    (PmdDataFrame.kt)
    then        samples, all little endian:
                ECG  type 0: int24 µV                                (EcgData.kt)
                ACC  type 0/1/2: int8/int16/int24 x, y, z in mG      (AccData.kt)
                PPG  type 0: int24 ppg0, ppg1, ppg2, ambient         (PpgData.kt)
                PPI  type 0: uint8 HR, uint16 PP ms, uint16 error ms, flags
                     (bit 0 blocker, bit 1 skin contact, bit 2 contact supported) (PpiData.kt)
    compressed  a reference sample (channels x ceil(resolution/8) bytes), then blocks of
                [delta bit width, sample count, count x channels signed deltas packed LSB
                first, padded to a byte]; each sample is the previous plus its delta
                (BlePMDClient.parseDeltaFramesAll). ACC type 0x81 is int16 x 3 scaled by the
                stream's factor, 0x80 the same in G (x factor x 1000); PPG 0x80 is int24 x 4.
"""

from __future__ import annotations

import itertools
import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Final, TypeVar

from stresstrack.errors import DecodeError

__all__ = [
    "PMD_CONTROL_POINT_UUID",
    "PMD_DATA_UUID",
    "PMD_SERVICE_UUID",
    "POLAR_EPOCH_OFFSET_NS",
    "AccSample",
    "EcgSample",
    "PmdControlPointResponse",
    "PmdError",
    "PmdFrame",
    "PmdMeasurementType",
    "PmdOpCode",
    "PmdSample",
    "PmdSettings",
    "PpgSample",
    "PpiSample",
    "decode_delta_frame",
    "decode_pmd_features",
    "decode_pmd_frame",
    "decode_pmd_response",
    "decode_pmd_settings",
    "encode_acc_frame",
    "encode_delta_frame",
    "encode_ecg_frame",
    "encode_get_settings",
    "encode_pmd_features",
    "encode_pmd_response",
    "encode_pmd_settings",
    "encode_ppi_frame",
    "encode_start_stream",
    "encode_stop_stream",
    "polar_to_unix_ns",
]

PMD_SERVICE_UUID: Final = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL_POINT_UUID: Final = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID: Final = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

# 2000-01-01T00:00:00Z - 1970-01-01T00:00:00Z; the SDK's TimeSystemExplained.md gives this offset.
POLAR_EPOCH_OFFSET_NS: Final = 946_684_800_000_000_000

_CP_RESPONSE: Final = 0xF0
_FEATURE_READ: Final = 0x0F
_TYPE_MASK: Final = 0x3F  # PmdMeasurementType.MEASUREMENT_TYPE_BIT_MASK
_DELTA_FLAG: Final = 0x80
_FRAME_TYPE_MASK: Final = 0x7F
_HEADER: Final = struct.Struct("<BQB")  # measurement type, timestamp, frame type
_PPI_RECORD: Final = struct.Struct("<BHHB")  # HR, PP ms, PP error ms, flags
_PPI_BLOCKER, _PPI_CONTACT, _PPI_CONTACT_SUPPORTED = 0x01, 0x02, 0x04
_WHAT_FRAME: Final = "Polar PMD data frame"
_WHAT_CP: Final = "Polar PMD control point"
_E = TypeVar("_E", bound=IntEnum)


class PmdMeasurementType(IntEnum):
    """Measurement type byte (PmdMeasurementType.kt); 4 and 8 are unassigned."""

    ECG = 0
    PPG = 1
    ACC = 2
    PPI = 3
    GYRO = 5
    MAGNETOMETER = 6
    SKIN_TEMP = 7
    SDK_MODE = 9
    LOCATION = 10
    PRESSURE = 11
    TEMPERATURE = 12
    OFFLINE_RECORDING = 13
    OFFLINE_HR = 14
    OFFLINE_TEMP = 15


class PmdOpCode(IntEnum):
    """Control-point requests for online streaming (PmdControlPointCommand.kt)."""

    GET_MEASUREMENT_SETTINGS = 1
    REQUEST_MEASUREMENT_START = 2
    STOP_MEASUREMENT = 3


class PmdError(IntEnum):
    """Status byte of a control-point response (PmdControlPointResponseCode)."""

    SUCCESS = 0
    INVALID_OP_CODE = 1
    INVALID_MEASUREMENT_TYPE = 2
    NOT_SUPPORTED = 3
    INVALID_LENGTH = 4
    INVALID_PARAMETER = 5
    ALREADY_IN_STATE = 6
    INVALID_RESOLUTION = 7
    INVALID_SAMPLE_RATE = 8
    INVALID_RANGE = 9
    INVALID_MTU = 10
    INVALID_NUMBER_OF_CHANNELS = 11
    INVALID_STATE = 12
    DEVICE_IN_CHARGER = 13
    DISK_FULL = 14


@dataclass(frozen=True, slots=True, kw_only=True)
class PmdSettings:
    """Settings TLVs: the choices a device offers, or (one value each) the ones requested."""

    sample_rates: tuple[int, ...] = ()  # Hz
    resolutions: tuple[int, ...] = ()  # bits
    ranges: tuple[int, ...] = ()  # G for ACC, deg/s for GYRO
    range_milliunits: tuple[int, ...] = ()
    channels: tuple[int, ...] = ()
    factors: tuple[float, ...] = ()  # scale of compressed samples, in start responses


# Setting type byte (PmdSetting.PmdSettingType) -> (PmdSettings field, value struct).
_SETTINGS: Final = {
    0: ("sample_rates", struct.Struct("<H")),
    1: ("resolutions", struct.Struct("<H")),
    2: ("ranges", struct.Struct("<H")),
    3: ("range_milliunits", struct.Struct("<i")),
    4: ("channels", struct.Struct("<B")),
    5: ("factors", struct.Struct("<f")),
}
_SETTING_OF_FIELD: Final = {name: (t, s) for t, (name, s) in _SETTINGS.items()}


@dataclass(frozen=True, slots=True, kw_only=True)
class PmdControlPointResponse:
    op_code: PmdOpCode
    measurement: PmdMeasurementType
    status: PmdError
    more: bool = False  # parameters continue in the next indication
    parameters: bytes = b""  # settings TLVs for "get settings" and "start"


@dataclass(frozen=True, slots=True)
class EcgSample:
    microvolts: int


@dataclass(frozen=True, slots=True)
class AccSample:
    x: int  # mG
    y: int
    z: int


@dataclass(frozen=True, slots=True)
class PpgSample:
    ppg0: int  # device units
    ppg1: int
    ppg2: int
    ambient: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PpiSample:
    hr: int  # bpm
    pp_ms: int
    error_ms: int
    blocker: bool  # movement during the interval: discard (documentation/PPIData.md)
    contact: bool
    contact_supported: bool


PmdSample = EcgSample | AccSample | PpgSample | PpiSample


@dataclass(frozen=True, slots=True, kw_only=True)
class PmdFrame:
    """One decoded data notification; the timestamp is that of the last sample."""

    measurement: PmdMeasurementType
    timestamp_ns_polar: int
    unix_time_ns: int | None  # None when the device sent no timestamp (0, e.g. PPI)
    frame_type: int
    compressed: bool
    samples: tuple[PmdSample, ...]


class _Malformed(Exception):
    """Internal: the reason a frame does not parse; re-raised as DecodeError with the bytes."""


def polar_to_unix_ns(timestamp_ns_polar: int) -> int:
    """Polar device time (ns since 2000-01-01 UTC) to Unix ns.

    Polar's SDK sets the sensor clock to the phone's *local* time (TimeSystemExplained.md), so
    a sensor set that way is off by the UTC offset; set it in UTC or correct downstream.
    """
    return timestamp_ns_polar + POLAR_EPOCH_OFFSET_NS


# --- control point ---------------------------------------------------------------------------


def _enum(cls: type[_E], value: int, what: str, data: bytes) -> _E:
    try:
        return cls(value)
    except ValueError:
        raise DecodeError(what, data, f"unknown {cls.__name__} {value}") from None


def decode_pmd_settings(data: bytes | bytearray) -> PmdSettings:
    """Decode settings TLVs (the parameters of a settings or start response).

    >>> decode_pmd_settings(bytes.fromhex("000182000101 0e00")).resolutions
    (14,)
    """
    data = bytes(data)
    values: dict[str, tuple[int | float, ...]] = {}
    if len(data) <= 1:  # PmdSetting.parsePmdSettingsData treats 0-1 bytes as "no settings"
        return PmdSettings()
    offset = 0
    while offset < len(data):
        if offset + 2 > len(data):
            raise DecodeError(_WHAT_CP, data, f"setting header cut short at byte {offset}")
        kind, count = data[offset], data[offset + 1]
        if kind not in _SETTINGS:
            raise DecodeError(_WHAT_CP, data, f"unknown setting type {kind} at byte {offset}")
        name, fmt = _SETTINGS[kind]
        if name in values:
            raise DecodeError(_WHAT_CP, data, f"setting type {kind} repeated")
        end = offset + 2 + count * fmt.size
        if end > len(data):
            raise DecodeError(_WHAT_CP, data, f"setting type {kind}: {count} values cut short")
        items = tuple(v for (v,) in fmt.iter_unpack(data[offset + 2 : end]))
        if any(not math.isfinite(v) for v in items):
            raise DecodeError(_WHAT_CP, data, "factor is not a finite number")
        values[name] = items
        offset = end
    return PmdSettings(**values)  # type: ignore[arg-type]


def encode_pmd_settings(settings: PmdSettings) -> bytes:
    """Encode settings TLVs; inverse of :func:`decode_pmd_settings` (factors are float32)."""
    out = bytearray()
    for f in fields(settings):
        items = getattr(settings, f.name)
        if not items:
            continue
        kind, fmt = _SETTING_OF_FIELD[f.name]
        if len(items) > 255:
            raise ValueError(f"{f.name}: at most 255 values per setting")
        try:
            out += bytes([kind, len(items)]) + b"".join(fmt.pack(v) for v in items)
        except (struct.error, OverflowError) as e:
            raise ValueError(f"{f.name} {items} do not fit the setting's field: {e}") from e
    return bytes(out)


def _one(value: int | None) -> tuple[int, ...]:
    return () if value is None else (value,)


def encode_get_settings(measurement: PmdMeasurementType) -> bytes:
    """Ask which settings a stream offers: ``01 <type>``."""
    return bytes([PmdOpCode.GET_MEASUREMENT_SETTINGS, measurement])


def encode_start_stream(
    measurement: PmdMeasurementType,
    *,
    sample_rate: int | None = None,
    resolution: int | None = None,
    range_: int | None = None,
    channels: int | None = None,
) -> bytes:
    """Start an online stream: ``02 <type> <settings TLVs>``, e.g. H10 ECG at 130 Hz, 14 bits."""
    settings = PmdSettings(
        sample_rates=_one(sample_rate),
        resolutions=_one(resolution),
        ranges=_one(range_),
        channels=_one(channels),
    )
    return bytes([PmdOpCode.REQUEST_MEASUREMENT_START, measurement]) + encode_pmd_settings(settings)


def encode_stop_stream(measurement: PmdMeasurementType) -> bytes:
    """Stop an online stream: ``03 <type>``."""
    return bytes([PmdOpCode.STOP_MEASUREMENT, measurement])


def decode_pmd_response(data: bytes | bytearray) -> PmdControlPointResponse:
    """Decode a control-point indication (0xF0 response).

    >>> decode_pmd_response(bytes.fromhex("f001060700")).status
    <PmdError.INVALID_RESOLUTION: 7>
    """
    data = bytes(data)
    if len(data) < 4:
        raise DecodeError(_WHAT_CP, data, f"{len(data)} bytes, a response has at least 4")
    if data[0] != _CP_RESPONSE:
        raise DecodeError(_WHAT_CP, data, f"first byte 0x{data[0]:02x} is not a response (0xf0)")
    op = _enum(PmdOpCode, data[1], _WHAT_CP, data)
    measurement = _enum(PmdMeasurementType, data[2], _WHAT_CP, data)
    status = _enum(PmdError, data[3], _WHAT_CP, data)
    if status is not PmdError.SUCCESS:  # as the SDK: no "more" flag or parameters on errors
        return PmdControlPointResponse(op_code=op, measurement=measurement, status=status)
    more = len(data) > 4 and data[4] != 0
    return PmdControlPointResponse(
        op_code=op, measurement=measurement, status=status, more=more, parameters=data[5:]
    )


def encode_pmd_response(response: PmdControlPointResponse) -> bytes:
    """Encode as a sensor does (used by the simulated Polar sensors); inverse of decode."""
    if response.status is not PmdError.SUCCESS and (response.more or response.parameters):
        raise ValueError("an error response carries no 'more' flag or parameters")
    head = bytes([_CP_RESPONSE, response.op_code, response.measurement, response.status])
    return head + bytes([int(response.more)]) + response.parameters


def decode_pmd_features(data: bytes | bytearray) -> frozenset[PmdMeasurementType]:
    """Decode the control point's read value: the measurement types the sensor offers.

    >>> sorted(decode_pmd_features(bytes.fromhex("0f0500")))
    [<PmdMeasurementType.ECG: 0>, <PmdMeasurementType.ACC: 2>]
    """
    data = bytes(data)
    if len(data) < 2:
        raise DecodeError(_WHAT_CP, data, f"{len(data)} bytes, a feature read has at least 2")
    bitmap = int.from_bytes(data[1:3], "little")
    return frozenset(t for t in PmdMeasurementType if bitmap >> t & 1)


def encode_pmd_features(types: frozenset[PmdMeasurementType]) -> bytes:
    """Encode the feature read value; inverse of :func:`decode_pmd_features`."""
    return bytes([_FEATURE_READ]) + sum(1 << t for t in types).to_bytes(2, "little")


# --- data frames -----------------------------------------------------------------------------


def _delta(data: bytes, channels: int, resolution: int) -> list[tuple[int, ...]]:
    size = (resolution + 7) // 8
    head = channels * size
    if len(data) < head:
        raise _Malformed(f"{len(data)} bytes, the reference sample needs {head}")
    mask = (1 << resolution) - 1
    prev = [
        _signed(int.from_bytes(data[i : i + size], "little") & mask, resolution)
        for i in range(0, head, size)
    ]
    samples = [tuple(prev)]
    offset = head
    while offset < len(data):
        if offset + 2 > len(data):
            raise _Malformed(f"delta block header cut short at byte {offset}")
        width, count = data[offset], data[offset + 1]
        if width == 0:
            raise _Malformed(f"delta block at byte {offset} has bit width 0")
        end = offset + 2 + (width * count * channels + 7) // 8
        if end > len(data):
            raise _Malformed(f"delta block at byte {offset} needs {end - offset} bytes")
        bits = int.from_bytes(data[offset + 2 : end], "little")  # LSB-first packing
        for _ in range(count):
            for ch in range(channels):
                prev[ch] += _signed(bits & ((1 << width) - 1), width)
                bits >>= width
            samples.append(tuple(prev))
        offset = end
    return samples


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) & 1 else value


def decode_delta_frame(
    data: bytes | bytearray, channels: int, resolution: int
) -> tuple[tuple[int, ...], ...]:
    """Decode a delta-compressed frame body to samples of ``channels`` signed integers."""
    if channels < 1 or resolution < 1:
        raise ValueError("channels and resolution must be at least 1")
    try:
        return tuple(_delta(bytes(data), channels, resolution))
    except _Malformed as e:
        raise DecodeError(_WHAT_FRAME, bytes(data), str(e)) from None


def encode_delta_frame(samples: Sequence[Sequence[int]], resolution: int) -> bytes:
    """Delta-compress samples as a sensor does: one block per 255 samples, minimal bit width."""
    if not samples or any(len(s) != len(samples[0]) for s in samples):
        raise ValueError("need at least one sample, all with the same number of channels")
    size = (resolution + 7) // 8
    if any(not -(1 << (resolution - 1)) <= v < 1 << (resolution - 1) for v in samples[0]):
        raise ValueError(f"reference sample {samples[0]} does not fit {resolution} bits")
    out = bytearray(b"".join(v.to_bytes(size, "little", signed=True) for v in samples[0]))
    deltas = [[b - a for a, b in zip(p, q, strict=True)] for p, q in itertools.pairwise(samples)]
    for start in range(0, len(deltas), 255):
        block = deltas[start : start + 255]
        width = max((d if d >= 0 else ~d).bit_length() + 1 for row in block for d in row)
        if width > 255:
            raise ValueError("a delta needs more than 255 bits")
        bits = nbits = 0
        for d in (d for row in block for d in row):
            bits |= (d & ((1 << width) - 1)) << nbits
            nbits += width
        out += bytes([width, len(block)]) + bits.to_bytes((nbits + 7) // 8, "little")
    return bytes(out)


def _fixed(body: bytes, size: int, count: int) -> list[tuple[int, ...]]:
    step = size * count
    if not body or len(body) % step:
        raise _Malformed(f"{len(body)} sample bytes is not a positive multiple of {step}")
    return [
        tuple(
            int.from_bytes(body[i + j : i + j + size], "little", signed=True)
            for j in range(0, step, size)
        )
        for i in range(0, len(body), step)
    ]


def _scaled(rows: list[tuple[int, ...]], factor: float) -> list[tuple[int, ...]]:
    # AccData/PpgData: (sample * factor).toInt(), truncating toward zero. The SDK multiplies in
    # float32, so a product landing exactly on an integer boundary can differ by 1.
    return rows if factor == 1.0 else [tuple(int(v * factor) for v in r) for r in rows]


def _ppi(body: bytes) -> list[PpiSample]:
    if not body or len(body) % _PPI_RECORD.size:
        raise _Malformed(f"{len(body)} PPI bytes is not a positive multiple of 6")
    return [
        PpiSample(
            hr=hr,
            pp_ms=pp,
            error_ms=err,
            blocker=bool(flags & _PPI_BLOCKER),
            contact=bool(flags & _PPI_CONTACT),
            contact_supported=bool(flags & _PPI_CONTACT_SUPPORTED),
        )
        for hr, pp, err, flags in _PPI_RECORD.iter_unpack(body)
    ]


_T = PmdMeasurementType
# (measurement, frame type, compressed) -> body, factor -> samples. Compressed ACC type 0
# arrives in G (AccData.dataFromCompressedType0): x 1000 to mG.
_PARSERS: Final[
    dict[tuple[PmdMeasurementType, int, bool], Callable[[bytes, float], Sequence[PmdSample]]]
] = {
    (_T.ECG, 0, False): lambda b, f: [EcgSample(*r) for r in _fixed(b, 3, 1)],
    (_T.ACC, 0, False): lambda b, f: [AccSample(*r) for r in _fixed(b, 1, 3)],
    (_T.ACC, 1, False): lambda b, f: [AccSample(*r) for r in _fixed(b, 2, 3)],
    (_T.ACC, 2, False): lambda b, f: [AccSample(*r) for r in _fixed(b, 3, 3)],
    (_T.ACC, 0, True): lambda b, f: [AccSample(*r) for r in _scaled(_delta(b, 3, 16), f * 1000)],
    (_T.ACC, 1, True): lambda b, f: [AccSample(*r) for r in _scaled(_delta(b, 3, 16), f)],
    (_T.PPG, 0, False): lambda b, f: [PpgSample(*r) for r in _fixed(b, 3, 4)],
    (_T.PPG, 0, True): lambda b, f: [PpgSample(*r) for r in _scaled(_delta(b, 4, 24), f)],
    (_T.PPI, 0, False): lambda b, f: _ppi(b),
}


def decode_pmd_frame(data: bytes | bytearray, *, factor: float = 1.0) -> PmdFrame:
    """Decode one PMD data notification.

    ``factor`` is the stream's scale from the start response (FACTOR setting); it only applies
    to compressed ACC and PPG frames.

    >>> decode_pmd_frame(bytes.fromhex("00 0094357700000000 00 0280ff")).samples
    (EcgSample(microvolts=-32766),)
    """
    if not math.isfinite(factor):
        raise ValueError(f"factor {factor} is not a finite number")
    data = bytes(data)
    if len(data) < _HEADER.size:
        raise DecodeError(_WHAT_FRAME, data, f"{len(data)} bytes, the header alone is 10")
    type_byte, timestamp, frame_byte = _HEADER.unpack_from(data)
    measurement = _enum(PmdMeasurementType, type_byte & _TYPE_MASK, _WHAT_FRAME, data)
    frame_type, compressed = frame_byte & _FRAME_TYPE_MASK, bool(frame_byte & _DELTA_FLAG)
    parse = _PARSERS.get((measurement, frame_type, compressed))
    if parse is None:
        kind = f"{measurement.name} frame type {frame_type}{' compressed' if compressed else ''}"
        raise DecodeError(_WHAT_FRAME, data, f"{kind} is not supported")
    try:
        samples = parse(data[_HEADER.size :], factor)
    except _Malformed as e:
        raise DecodeError(_WHAT_FRAME, data, str(e)) from None
    return PmdFrame(
        measurement=measurement,
        timestamp_ns_polar=timestamp,
        unix_time_ns=polar_to_unix_ns(timestamp) if timestamp else None,
        frame_type=frame_type,
        compressed=compressed,
        samples=tuple(samples),
    )


def _frame(measurement: PmdMeasurementType, timestamp: int, frame_type: int, body: bytes) -> bytes:
    if not body:
        raise ValueError("a frame needs at least one sample")
    try:
        return _HEADER.pack(measurement, timestamp, frame_type) + body
    except struct.error as e:
        raise ValueError(f"timestamp {timestamp} does not fit uint64: {e}") from e


def _ints(values: Sequence[int], size: int) -> bytes:
    try:
        return b"".join(v.to_bytes(size, "little", signed=True) for v in values)
    except OverflowError as e:
        raise ValueError(f"a value does not fit int{size * 8}: {e}") from e


def encode_ecg_frame(timestamp_ns_polar: int, samples: Sequence[EcgSample]) -> bytes:
    """Encode an ECG frame type 0 as an H10 sends it (used by the simulated H10)."""
    body = _ints([s.microvolts for s in samples], 3)
    return _frame(PmdMeasurementType.ECG, timestamp_ns_polar, 0, body)


def encode_acc_frame(timestamp_ns_polar: int, samples: Sequence[AccSample]) -> bytes:
    """Encode an ACC frame type 1 (int16 x, y, z in mG)."""
    body = _ints([v for s in samples for v in (s.x, s.y, s.z)], 2)
    return _frame(PmdMeasurementType.ACC, timestamp_ns_polar, 1, body)


def encode_ppi_frame(timestamp_ns_polar: int, samples: Sequence[PpiSample]) -> bytes:
    """Encode a PPI frame type 0 as a Verity Sense sends it (timestamp usually 0)."""
    try:
        body = b"".join(
            _PPI_RECORD.pack(
                s.hr,
                s.pp_ms,
                s.error_ms,
                s.blocker * _PPI_BLOCKER
                | s.contact * _PPI_CONTACT
                | s.contact_supported * _PPI_CONTACT_SUPPORTED,
            )
            for s in samples
        )
    except struct.error as e:
        raise ValueError(f"PPI sample out of range: {e}") from e
    return _frame(PmdMeasurementType.PPI, timestamp_ns_polar, 0, body)
