"""Device Information Service (0x180A) strings.

Layout: Bluetooth SIG Device Information Service 1.1, section 3 — each of 0x2A24-0x2A29 is a
``utf8s`` filling the value. "H10" and "Polar" are the model and manufacturer values in
polar-ble-sdk's ``BleDisClientTest.kt``; the trailing NUL is the padding some firmwares add.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stresstrack.errors import DecodeError
from stresstrack.sensors.profiles.device_info import (
    DEVICE_INFO_FIELDS,
    FIRMWARE_REVISION_UUID,
    MANUFACTURER_NAME_UUID,
    MODEL_NUMBER_UUID,
    SERIAL_NUMBER_UUID,
    DeviceInfo,
    decode_device_info,
    decode_device_info_string,
    encode_device_info,
    encode_device_info_string,
)


@pytest.mark.parametrize(
    ("hex_", "text"),
    [
        ("483130", "H10"),  # 'H' '1' '0'
        ("48313000", "H10"),  # same with one trailing NUL
        ("483130000000", "H10"),  # several NULs
        ("506f6c6172", "Polar"),
        ("332e302e3335", "3.0.35"),  # firmware revision of an H10 (README of polar-ble-sdk)
        ("506f6c617220c3a9", "Polar é"),  # two-byte UTF-8 sequence C3 A9
        ("", ""),  # an empty string is valid
    ],
)
def test_device_info_string(hex_: str, text: str) -> None:
    """UTF-8 decode after stripping trailing NULs; nothing else is trimmed."""
    assert decode_device_info_string(bytes.fromhex(hex_)) == text


@pytest.mark.parametrize(
    "hex_",
    [
        "ff",  # never valid in UTF-8
        "48c3",  # multi-byte sequence cut short
        "c328",  # invalid continuation byte
    ],
)
def test_invalid_utf8_is_a_decode_error(hex_: str) -> None:
    """Bytes that are not UTF-8 raise DecodeError carrying the bytes."""
    with pytest.raises(DecodeError, match="not UTF-8") as info:
        decode_device_info_string(bytes.fromhex(hex_))
    assert info.value.data == bytes.fromhex(hex_)


def test_decode_device_info_from_reads() -> None:
    """Reads keyed by UUID (any case) fill the matching fields; System ID 0x2A23 is ignored.

    model "H10", manufacturer "Polar" (NUL-padded), firmware "3.0.35", serial "C8A1B2C3".
    """
    reads = {
        MODEL_NUMBER_UUID.upper(): bytes.fromhex("483130"),
        MANUFACTURER_NAME_UUID: bytes.fromhex("506f6c617200"),
        FIRMWARE_REVISION_UUID: bytes.fromhex("332e302e3335"),
        SERIAL_NUMBER_UUID: bytes.fromhex("4338413142324333"),
        "00002a23-0000-1000-8000-00805f9b34fb": bytes.fromhex("0102030405060708"),
    }
    assert decode_device_info(reads) == DeviceInfo(
        manufacturer_name="Polar",
        model_number="H10",
        serial_number="C8A1B2C3",
        firmware_revision="3.0.35",
    )


def test_uuid_table_covers_every_field() -> None:
    """The UUID table maps the six 0x2A24-0x2A29 characteristics onto the six fields."""
    assert sorted(DEVICE_INFO_FIELDS.values()) == sorted(DeviceInfo.__dataclass_fields__)
    assert sorted(u[4:8] for u in DEVICE_INFO_FIELDS) == [
        "2a24",
        "2a25",
        "2a26",
        "2a27",
        "2a28",
        "2a29",
    ]


def test_encode_rejects_trailing_nul() -> None:
    """A trailing NUL would be stripped on decode, so encoding one is refused."""
    with pytest.raises(ValueError, match="NUL"):
        encode_device_info_string("H10\x00")


@given(st.binary(max_size=64))
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    """Any read decodes to a string or raises DecodeError."""
    try:
        text = decode_device_info_string(data)
    except DecodeError as e:
        assert e.data == data
    else:
        assert not text.endswith("\x00")


texts = st.text(max_size=40).filter(lambda t: not t.endswith("\x00"))


@given(texts)
def test_string_round_trip(text: str) -> None:
    """encode → decode is the identity on every string without a trailing NUL."""
    assert decode_device_info_string(encode_device_info_string(text)) == text


@given(
    st.builds(
        DeviceInfo,
        manufacturer_name=st.none() | texts,
        model_number=st.none() | texts,
        serial_number=st.none() | texts,
        hardware_revision=st.none() | texts,
        firmware_revision=st.none() | texts,
        software_revision=st.none() | texts,
    )
)
def test_device_info_round_trip(info: DeviceInfo) -> None:
    """What a simulated device serves decodes back to the same DeviceInfo."""
    assert decode_device_info(encode_device_info(info)) == info
