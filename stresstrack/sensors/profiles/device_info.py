"""Device Information Service 0x180A: the read-only strings naming a device.

Layout verified against the Bluetooth SIG's Device Information Service specification 1.1
(section 3, characteristics 0x2A24-0x2A29) and the GATT Specification Supplement, where each
of these characteristics is a ``utf8s`` (a UTF-8 string filling the whole value, without a
length byte or terminator). Some firmwares still pad with or append NUL bytes, so trailing
NULs are stripped. Polar's BLE SDK reads the same six UUIDs (polar-ble-sdk, ``BleDisClient``
and ``BleDisClientTest.kt``, e.g. model number ``"H10"``, manufacturer ``"Polar"``).

    0x2A24  Model Number String         0x2A27  Hardware Revision String
    0x2A25  Serial Number String        0x2A28  Software Revision String
    0x2A26  Firmware Revision String    0x2A29  Manufacturer Name String
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Final

from stresstrack.errors import DecodeError

__all__ = [
    "DEVICE_INFORMATION_SERVICE_UUID",
    "DEVICE_INFO_FIELDS",
    "FIRMWARE_REVISION_UUID",
    "HARDWARE_REVISION_UUID",
    "MANUFACTURER_NAME_UUID",
    "MODEL_NUMBER_UUID",
    "SERIAL_NUMBER_UUID",
    "SOFTWARE_REVISION_UUID",
    "DeviceInfo",
    "decode_device_info",
    "decode_device_info_string",
    "encode_device_info",
    "encode_device_info_string",
]

DEVICE_INFORMATION_SERVICE_UUID: Final = "0000180a-0000-1000-8000-00805f9b34fb"
MODEL_NUMBER_UUID: Final = "00002a24-0000-1000-8000-00805f9b34fb"
SERIAL_NUMBER_UUID: Final = "00002a25-0000-1000-8000-00805f9b34fb"
FIRMWARE_REVISION_UUID: Final = "00002a26-0000-1000-8000-00805f9b34fb"
HARDWARE_REVISION_UUID: Final = "00002a27-0000-1000-8000-00805f9b34fb"
SOFTWARE_REVISION_UUID: Final = "00002a28-0000-1000-8000-00805f9b34fb"
MANUFACTURER_NAME_UUID: Final = "00002a29-0000-1000-8000-00805f9b34fb"

# Characteristic UUID -> DeviceInfo field it fills.
DEVICE_INFO_FIELDS: Final[Mapping[str, str]] = {
    MODEL_NUMBER_UUID: "model_number",
    SERIAL_NUMBER_UUID: "serial_number",
    FIRMWARE_REVISION_UUID: "firmware_revision",
    HARDWARE_REVISION_UUID: "hardware_revision",
    SOFTWARE_REVISION_UUID: "software_revision",
    MANUFACTURER_NAME_UUID: "manufacturer_name",
}
_UUID_OF_FIELD: Final = {name: uuid for uuid, name in DEVICE_INFO_FIELDS.items()}
_WHAT: Final = "Device Information string"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceInfo:
    """What a device says about itself; ``None`` where it does not have the characteristic."""

    manufacturer_name: str | None = None
    model_number: str | None = None
    serial_number: str | None = None
    hardware_revision: str | None = None
    firmware_revision: str | None = None
    software_revision: str | None = None


def decode_device_info_string(data: bytes | bytearray) -> str:
    """Decode one of the 0x2A24-0x2A29 strings.

    >>> decode_device_info_string(bytes.fromhex("48313000"))
    'H10'
    """
    data = bytes(data)
    try:
        return data.rstrip(b"\x00").decode("utf-8")
    except UnicodeDecodeError as e:
        raise DecodeError(_WHAT, data, f"not UTF-8 ({e.reason} at byte {e.start})") from e


def encode_device_info_string(value: str) -> bytes:
    """Encode as a device would (used by the simulated peripherals); inverse of decode."""
    if value.endswith("\x00"):
        raise ValueError("a Device Information string cannot end in NUL (decoders strip it)")
    return value.encode("utf-8")


def decode_device_info(reads: Mapping[str, bytes | bytearray]) -> DeviceInfo:
    """Build a :class:`DeviceInfo` from characteristic reads keyed by UUID.

    UUIDs are matched case-insensitively; characteristics outside the table (System ID,
    PnP ID, ...) are ignored.
    """
    values: dict[str, str] = {}
    for uuid, data in reads.items():
        name = DEVICE_INFO_FIELDS.get(uuid.lower())
        if name is not None:
            values[name] = decode_device_info_string(data)
    return DeviceInfo(**values)


def encode_device_info(info: DeviceInfo) -> dict[str, bytes]:
    """Characteristic values a simulated device serves; inverse of :func:`decode_device_info`."""
    out: dict[str, bytes] = {}
    for f in fields(info):
        value = getattr(info, f.name)
        if value is not None:
            out[_UUID_OF_FIELD[f.name]] = encode_device_info_string(value)
    return out
