"""Heart Rate Measurement (0x2A37) decoding.

Layout: Bluetooth SIG Heart Rate Service 1.0, section 3.1.1. Vectors marked "Polar SDK" are the
notifications in polar-ble-sdk's ``BleHrClientTest.kt`` (Android, gatt/client), whose expected
values we re-derived by hand from the flags byte.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stresstrack.errors import DecodeError
from stresstrack.events import Contact
from stresstrack.sensors.profiles.heart_rate import (
    HeartRateMeasurement,
    decode_heart_rate_measurement,
    encode_heart_rate_measurement,
)


def test_uint8_heart_rate() -> None:
    """Polar SDK `hr format uint8`: 00 FF.

    flags 0x00: uint8 HR, no contact support, no energy, no RR; HR 0xFF = 255 bpm.
    """
    assert decode_heart_rate_measurement(bytes.fromhex("00ff")) == HeartRateMeasurement(
        bpm=255, contact=Contact.UNSUPPORTED, energy_kj=None, rr_ticks=()
    )


def test_uint16_heart_rate() -> None:
    """Polar SDK `hr format uint16`: 01 80 80.

    flags 0x01: uint16 HR; HR 0x8080 = 32896 (the field is uint16, so the decoder must not
    clip it to a plausible range).
    """
    assert decode_heart_rate_measurement(bytes.fromhex("018080")) == HeartRateMeasurement(
        bpm=32896, contact=Contact.UNSUPPORTED, energy_kj=None, rr_ticks=()
    )


@pytest.mark.parametrize(
    ("hex_", "contact"),
    [
        ("0048", Contact.UNSUPPORTED),  # bits 2-1 = 00: not supported
        ("0248", Contact.UNSUPPORTED),  # 01: status bit without support bit = not supported
        ("0448", Contact.NOT_DETECTED),  # 10: supported, no contact
        ("0648", Contact.DETECTED),  # 11: supported, contact
    ],
)
def test_contact_bits(hex_: str, contact: Contact) -> None:
    """Flags bits 1-2 (Heart Rate Service 1.0, 3.1.1.3); HR 0x48 = 72 bpm in every case.

    The Polar SDK's `sensor contact supported`/`not supported` tests use the same four flags.
    """
    assert decode_heart_rate_measurement(bytes.fromhex(hex_)) == HeartRateMeasurement(
        bpm=72, contact=contact, energy_kj=None, rr_ticks=()
    )


@pytest.mark.parametrize(
    ("hex_", "expected"),
    [
        # Polar SDK `energy expended`: flags 0x09 = uint16 HR + energy; HR 0, energy 0xFFFF.
        (
            "090000ffff",
            HeartRateMeasurement(bpm=0, contact=Contact.UNSUPPORTED, energy_kj=65535, rr_ticks=()),
        ),
        # Polar SDK: flags 0x08 = uint8 HR + energy; HR 0, energy 0x807F = 32895 kJ.
        (
            "08007f80",
            HeartRateMeasurement(bpm=0, contact=Contact.UNSUPPORTED, energy_kj=32895, rr_ticks=()),
        ),
    ],
)
def test_energy_expended(hex_: str, expected: HeartRateMeasurement) -> None:
    """Energy expended (flags bit 3) is a uint16 in kJ right after the heart rate."""
    assert decode_heart_rate_measurement(bytes.fromhex(hex_)) == expected


def test_several_rr_intervals() -> None:
    """Polar SDK `rr interval`: 11 00 00 FF FF 7F 80.

    flags 0x11 = uint16 HR + RR; HR 0; RR 0xFFFF = 65535 and 0x807F = 32895 ticks of 1/1024 s,
    i.e. 63999.02 ms and 32124.02 ms (the SDK floors these to 63999 and 32124).
    """
    m = decode_heart_rate_measurement(bytes.fromhex("110000ffff7f80"))
    assert m == HeartRateMeasurement(
        bpm=0, contact=Contact.UNSUPPORTED, energy_kj=None, rr_ticks=(65535, 32895)
    )
    assert m.rr_ms == (65535 * 1000 / 1024, 32895 * 1000 / 1024)


def test_everything_present() -> None:
    """1E 48 2C01 F003 0004 E803, hand-made from the specification.

    flags 0x1E: uint8 HR, contact supported and detected, energy, RR; HR 72 bpm; energy
    0x012C = 300 kJ; RR 1008, 1024, 1000 ticks (984.4 ms, 1000 ms, 976.6 ms).
    """
    assert decode_heart_rate_measurement(
        bytes.fromhex("1e482c01f0030004e803")
    ) == HeartRateMeasurement(
        bpm=72, contact=Contact.DETECTED, energy_kj=300, rr_ticks=(1008, 1024, 1000)
    )


@pytest.mark.parametrize(
    ("hex_", "problem"),
    [
        ("", "0 bytes"),  # empty notification
        ("00", "1 bytes"),  # flags without a heart rate
        ("0148", "uint16 heart rate flagged"),  # uint16 HR cut to one byte
        ("1048f0", "1 bytes follow"),  # a single RR byte
        ("1048f003e8", "3 bytes follow"),  # one RR and a half
        ("1048", "0 bytes follow"),  # RR flagged, none present
        ("08482c", "energy expended flagged"),  # energy cut short
        ("004800", "trailing"),  # a byte nobody flagged
        ("2048", "reserved flag bits"),  # bit 5 is reserved
        ("8048", "reserved flag bits"),  # bit 7 is reserved
    ],
)
def test_malformed_packets_raise_decode_error(hex_: str, problem: str) -> None:
    """Each packet breaks the 3.1.1 layout in one way; the error names the problem and the bytes."""
    with pytest.raises(DecodeError, match=problem) as info:
        decode_heart_rate_measurement(bytes.fromhex(hex_))
    assert info.value.data == bytes.fromhex(hex_)


@given(st.binary(max_size=40))
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    """Whatever arrives over the air, the decoder returns a measurement or raises DecodeError."""
    try:
        m = decode_heart_rate_measurement(data)
    except DecodeError as e:
        assert e.data == data
    else:
        assert isinstance(m, HeartRateMeasurement)


measurements = st.builds(
    HeartRateMeasurement,
    bpm=st.integers(0, 0xFFFF),
    contact=st.sampled_from(Contact),
    energy_kj=st.none() | st.integers(0, 0xFFFF),
    rr_ticks=st.lists(st.integers(0, 0xFFFF), max_size=9).map(tuple),
)


@given(measurements, st.booleans())
def test_encode_decode_round_trip(m: HeartRateMeasurement, force_uint16: bool) -> None:
    """Every value the characteristic can carry survives encode → decode exactly."""
    uint16 = True if force_uint16 or m.bpm > 255 else None
    assert decode_heart_rate_measurement(encode_heart_rate_measurement(m, uint16=uint16)) == m
