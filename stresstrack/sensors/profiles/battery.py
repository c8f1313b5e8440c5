"""Battery Service 0x180F, Battery Level characteristic 0x2A19.

Layout verified against the Bluetooth SIG's Battery Service specification 1.0 (section 3.1,
"Battery Level") and the GATT Specification Supplement ("Battery Level": uint8, percent,
allowed range 0-100, 101-255 reserved). Polar's BLE SDK drops values above 100 the same way
(polar-ble-sdk, ``BleBattClientTest.kt``: notifications 255 and -1 are not emitted)::

    byte 0      battery level, uint8, percent of full charge (0-100)
"""

from __future__ import annotations

from typing import Final

from stresstrack.errors import DecodeError

__all__ = [
    "BATTERY_LEVEL_UUID",
    "BATTERY_SERVICE_UUID",
    "decode_battery_level",
    "encode_battery_level",
]

BATTERY_SERVICE_UUID: Final = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID: Final = "00002a19-0000-1000-8000-00805f9b34fb"

_LENGTH: Final = 1
_MAX_PERCENT: Final = 100  # 101-255 are reserved for future use by the GATT supplement
_WHAT: Final = "Battery Level (0x2A19)"


def decode_battery_level(data: bytes | bytearray) -> int:
    """Decode a Battery Level read or notification to a percentage.

    >>> decode_battery_level(bytes.fromhex("64"))
    100
    """
    data = bytes(data)
    if len(data) != _LENGTH:
        raise DecodeError(_WHAT, data, f"{len(data)} bytes, exactly {_LENGTH} expected")
    level = data[0]
    if level > _MAX_PERCENT:
        raise DecodeError(_WHAT, data, f"level {level} is above {_MAX_PERCENT} % (reserved)")
    return level


def encode_battery_level(percent: int) -> bytes:
    """Encode as a device would (used by the simulated peripherals); inverse of decode."""
    if not 0 <= percent <= _MAX_PERCENT:
        raise ValueError(f"battery level {percent} is outside 0-{_MAX_PERCENT} %")
    return bytes([percent])
