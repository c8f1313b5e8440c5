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

Data frames (FB005C82 notifications) are :mod:`stresstrack.sensors.profiles.polar_pmd_data`.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Final, TypeVar

from stresstrack.errors import DecodeError

__all__ = [
    "PMD_CONTROL_POINT_UUID",
    "PMD_DATA_UUID",
    "PMD_SERVICE_UUID",
    "POLAR_EPOCH_OFFSET_NS",
    "PmdControlPointResponse",
    "PmdError",
    "PmdMeasurementType",
    "PmdOpCode",
    "PmdSettings",
    "decode_pmd_features",
    "decode_pmd_response",
    "decode_pmd_settings",
    "encode_get_settings",
    "encode_pmd_features",
    "encode_pmd_response",
    "encode_pmd_settings",
    "encode_start_stream",
    "encode_stop_stream",
    "enum_of",
    "polar_to_unix_ns",
]

PMD_SERVICE_UUID: Final = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL_POINT_UUID: Final = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID: Final = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

# 2000-01-01T00:00:00Z - 1970-01-01T00:00:00Z; the SDK's TimeSystemExplained.md gives this offset.
POLAR_EPOCH_OFFSET_NS: Final = 946_684_800_000_000_000

_CP_RESPONSE: Final = 0xF0
_FEATURE_READ: Final = 0x0F
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


def polar_to_unix_ns(timestamp_ns_polar: int) -> int:
    """Polar device time (ns since 2000-01-01 UTC) to Unix ns.

    Polar's SDK sets the sensor clock to the phone's *local* time (TimeSystemExplained.md), so
    a sensor set that way is off by the UTC offset; set it in UTC or correct downstream.
    """
    return timestamp_ns_polar + POLAR_EPOCH_OFFSET_NS


# --- control point ---------------------------------------------------------------------------


def enum_of(cls: type[_E], value: int, what: str, data: bytes) -> _E:
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
    op = enum_of(PmdOpCode, data[1], _WHAT_CP, data)
    measurement = enum_of(PmdMeasurementType, data[2], _WHAT_CP, data)
    status = enum_of(PmdError, data[3], _WHAT_CP, data)
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
