"""Battery Level (0x2A19) decoding.

Layout: Bluetooth SIG Battery Service 1.0, section 3.1 — one uint8, percent, 0-100 (101-255
reserved). Vectors 0x64 and 0x50 are the notifications in polar-ble-sdk's
``BleBattClientTest.kt``, which also shows the SDK ignoring 255.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stresstrack.errors import DecodeError
from stresstrack.sensors.profiles.battery import decode_battery_level, encode_battery_level


@pytest.mark.parametrize(
    ("hex_", "percent"),
    [
        ("64", 100),  # Polar SDK: 0x64 = 100 % (full)
        ("50", 80),  # Polar SDK: 0x50 = 80 %
        ("00", 0),  # empty battery is a valid reading, not an error
    ],
)
def test_battery_level(hex_: str, percent: int) -> None:
    """The single byte is the percentage itself."""
    assert decode_battery_level(bytes.fromhex(hex_)) == percent


@pytest.mark.parametrize(
    ("hex_", "problem"),
    [
        ("65", "above 100"),  # 101: reserved
        ("ff", "above 100"),  # 255: reserved; the Polar SDK drops it too
        ("", "0 bytes"),  # empty read
        ("6400", "2 bytes"),  # trailing byte: not this characteristic
    ],
)
def test_malformed_battery_level(hex_: str, problem: str) -> None:
    """Anything but one byte in 0-100 is a DecodeError naming the bytes."""
    with pytest.raises(DecodeError, match=problem) as info:
        decode_battery_level(bytes.fromhex(hex_))
    assert info.value.data == bytes.fromhex(hex_)


@given(st.binary(max_size=4))
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    """Any read decodes to 0-100 or raises DecodeError."""
    try:
        level = decode_battery_level(data)
    except DecodeError as e:
        assert e.data == data
    else:
        assert 0 <= level <= 100


@given(st.integers(0, 100))
def test_round_trip(percent: int) -> None:
    """encode → decode is the identity on 0-100."""
    assert decode_battery_level(encode_battery_level(percent)) == percent


@pytest.mark.parametrize("percent", [-1, 101, 256])
def test_encode_rejects_out_of_range(percent: int) -> None:
    """A simulator asking for an impossible level is a programming error."""
    with pytest.raises(ValueError, match="outside 0-100"):
        encode_battery_level(percent)
