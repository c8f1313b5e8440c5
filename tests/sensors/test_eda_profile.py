"""Declarative EDA profiles (stresstrack/sensors/profiles/eda.py).

There is no SIG layout for skin conductance: the layouts below are the ones the profile
declares (``STRESSTRACK_EDA_V1`` is stresstrack's reference firmware, documented in the module
docstring), so the vectors are hand-made and hand-decoded.
"""

from __future__ import annotations

import math
import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stresstrack.errors import DecodeError
from stresstrack.sensors.profiles.eda import (
    STRESSTRACK_EDA_V1,
    EdaPacket,
    EdaProfile,
    decode_eda_packet,
    encode_eda_packet,
)

SERVICE = "5e1d0001-8f3c-4d3a-9b61-7a3c0e2d4b10"
CHAR = "5e1d0002-8f3c-4d3a-9b61-7a3c0e2d4b10"


def test_reference_firmware_packet() -> None:
    """07 00 | E8 03 | D0 07 with STRESSTRACK_EDA_V1.

    uint16 LE counter 7; uint16 LE samples 1000 and 2000 x 0.001 µS = 1.0 and 2.0 µS.
    """
    assert decode_eda_packet(STRESSTRACK_EDA_V1, bytes.fromhex("0700e803d007")) == EdaPacket(
        counter=7, values_us=(1.0, 2.0)
    )


def test_big_endian_layout() -> None:
    """00 07 | 03 E8 | 07 D0 with byte_order ">": the same values as the V1 example."""
    profile = EdaProfile(
        name="be",
        service_uuid=SERVICE,
        characteristic_uuid=CHAR,
        sampling_rate=4.0,
        byte_order=">",
    )
    assert decode_eda_packet(profile, bytes.fromhex("000703e807d0")) == EdaPacket(
        counter=7, values_us=(1.0, 2.0)
    )


def test_signed_samples_with_offset_and_no_counter() -> None:
    """9C FF | 64 00 with int16 LE samples, scale 0.25, offset 1.0, no counter.

    0xFF9C = -100 → -100 x 0.25 + 1 = -24.0; 0x0064 = 100 → 26.0.
    """
    profile = EdaProfile(
        name="signed",
        service_uuid=SERVICE,
        characteristic_uuid=CHAR,
        sampling_rate=8.0,
        sample_format="h",
        counter_format=None,
        scale=0.25,
        offset=1.0,
    )
    assert decode_eda_packet(profile, bytes.fromhex("9cff6400")) == EdaPacket(
        counter=None, values_us=(-24.0, 26.0)
    )


@pytest.mark.parametrize(
    ("byte_order", "hex_"),
    [("<", "01 0000803f 00002040"), (">", "01 3f800000 40200000")],
)
def test_float_samples(byte_order: str, hex_: str) -> None:
    """uint8 counter 1, then IEEE 754 float32 samples 1.0 (0x3F800000) and 2.5 (0x40200000)."""
    profile = EdaProfile(
        name="float",
        service_uuid=SERVICE,
        characteristic_uuid=CHAR,
        sampling_rate=4.0,
        sample_format="f",
        byte_order=byte_order,
        counter_format="B",
        scale=1.0,
    )
    assert decode_eda_packet(profile, bytes.fromhex(hex_)) == EdaPacket(
        counter=1, values_us=(1.0, 2.5)
    )


@pytest.mark.parametrize(
    ("hex_", "problem"),
    [
        ("", "no samples"),  # nothing at all
        ("0700", "no samples"),  # counter only
        ("0700e803d0", "not a multiple of 2"),  # half a sample
    ],
)
def test_malformed_v1_packets(hex_: str, problem: str) -> None:
    """V1 needs the 2-byte counter and whole 2-byte samples."""
    with pytest.raises(DecodeError, match=problem):
        decode_eda_packet(STRESSTRACK_EDA_V1, bytes.fromhex(hex_))


def test_non_finite_float_sample_is_a_decode_error() -> None:
    """0000C07F is a float32 NaN: a sensor fault, not a conductance."""
    profile = EdaProfile(
        name="float",
        service_uuid=SERVICE,
        characteristic_uuid=CHAR,
        sampling_rate=4.0,
        sample_format="f",
        counter_format=None,
        scale=1.0,
    )
    with pytest.raises(DecodeError, match="not a finite number"):
        decode_eda_packet(profile, bytes.fromhex("0000c07f"))


def test_from_mapping_full() -> None:
    """Every key, UUIDs in upper case (normalised), counter "none" meaning no counter."""
    profile = EdaProfile.from_mapping(
        {
            "name": "lab-gsr",
            "service_uuid": SERVICE.upper(),
            "characteristic_uuid": CHAR.upper(),
            "sampling_rate": 16,
            "sample_format": "i",
            "byte_order": ">",
            "counter_format": "none",
            "scale": 1e-6,
            "offset": -0.5,
        }
    )
    assert profile == EdaProfile(
        name="lab-gsr",
        service_uuid=SERVICE,
        characteristic_uuid=CHAR,
        sampling_rate=16.0,
        sample_format="i",
        byte_order=">",
        counter_format=None,
        scale=1e-6,
        offset=-0.5,
    )


def test_from_mapping_defaults_match_v1() -> None:
    """Only the required keys: the defaults are the V1 layout."""
    profile = EdaProfile.from_mapping(
        {
            "name": "stresstrack-eda-v1",
            "service_uuid": SERVICE,
            "characteristic_uuid": CHAR,
            "sampling_rate": 32,
        }
    )
    assert profile == STRESSTRACK_EDA_V1


def test_from_mapping_reads_the_documented_toml_example() -> None:
    """The worked example in docs/devices.md ("How to add a device profile") parses as shown."""
    doc = """
[devices.eda]
name = "diy-gsr-band"
service_uuid = "0000ffe0-0000-1000-8000-00805f9b34fb"
characteristic_uuid = "0000ffe1-0000-1000-8000-00805f9b34fb"
sampling_rate = 10.0
sample_format = "H"
byte_order = ">"
counter_format = "B"
scale = 0.01
offset = 0.0
"""
    profile = EdaProfile.from_mapping(tomllib.loads(doc)["devices"]["eda"])
    assert profile == EdaProfile(
        name="diy-gsr-band",
        service_uuid="0000ffe0-0000-1000-8000-00805f9b34fb",
        characteristic_uuid="0000ffe1-0000-1000-8000-00805f9b34fb",
        sampling_rate=10.0,
        sample_format="H",
        byte_order=">",
        counter_format="B",
        scale=0.01,
        offset=0.0,
    )
    # counter 3, samples 0x01F4 = 500 and 0x03E8 = 1000 x 0.01 µS = 5.0 and 10.0 µS
    assert decode_eda_packet(profile, bytes.fromhex("03 01f4 03e8")) == EdaPacket(
        counter=3, values_us=(5.0, 10.0)
    )


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"colour": "red"}, "unknown keys"),
        ({"sample_format": "d"}, "sample_format"),
        ({"byte_order": "!"}, "byte_order"),
        ({"counter_format": "h"}, "counter_format"),
        ({"sampling_rate": 0}, "sampling_rate"),
    ],
)
def test_from_mapping_rejects_bad_config(changes: dict[str, object], problem: str) -> None:
    """Config mistakes are ValueErrors naming the key, raised when the study config loads."""
    base: dict[str, object] = {
        "name": "x",
        "service_uuid": SERVICE,
        "characteristic_uuid": CHAR,
        "sampling_rate": 4,
    }
    with pytest.raises(ValueError, match=problem):
        EdaProfile.from_mapping(base | changes)


profiles = st.builds(
    EdaProfile,
    name=st.just("generated"),
    service_uuid=st.just(SERVICE),
    characteristic_uuid=st.just(CHAR),
    sampling_rate=st.floats(0.1, 1000.0),
    sample_format=st.sampled_from(["B", "b", "H", "h", "I", "i", "f"]),
    byte_order=st.sampled_from(["<", ">"]),
    counter_format=st.sampled_from([None, "B", "H", "I"]),
    scale=st.floats(-1e6, 1e6, allow_nan=False),
    offset=st.floats(-1e6, 1e6, allow_nan=False),
)


@given(profiles, st.binary(max_size=40))
def test_arbitrary_bytes_raise_only_decode_error(profile: EdaProfile, data: bytes) -> None:
    """Any declared layout and any bytes: a packet of finite values, or DecodeError."""
    try:
        packet = decode_eda_packet(profile, data)
    except DecodeError as e:
        assert e.data == data
    else:
        assert all(math.isfinite(v) for v in packet.values_us)


@given(
    st.integers(0, 10**6),
    st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=20),
)
def test_v1_round_trip_on_the_grid(counter: int, raw: list[int]) -> None:
    """Values on the 0.001 µS grid survive encode → decode exactly; the counter wraps at 2^16."""
    values = tuple(r * 0.001 for r in raw)
    packet = decode_eda_packet(
        STRESSTRACK_EDA_V1, encode_eda_packet(STRESSTRACK_EDA_V1, counter, values)
    )
    assert packet == EdaPacket(counter=counter % 0x10000, values_us=values)


@given(st.lists(st.floats(0.0, 65.535), min_size=1, max_size=20))
def test_v1_round_trip_within_quantisation(values: list[float]) -> None:
    """Any conductance in range comes back within half a raw step (0.0005 µS)."""
    packet = decode_eda_packet(
        STRESSTRACK_EDA_V1, encode_eda_packet(STRESSTRACK_EDA_V1, 0, tuple(values))
    )
    assert len(packet.values_us) == len(values)
    assert all(abs(a - b) <= 0.0005 + 1e-12 for a, b in zip(packet.values_us, values, strict=True))


float_profiles = st.builds(
    EdaProfile,
    name=st.just("float"),
    service_uuid=st.just(SERVICE),
    characteristic_uuid=st.just(CHAR),
    sampling_rate=st.just(4.0),
    sample_format=st.just("f"),
    byte_order=st.sampled_from(["<", ">"]),
    counter_format=st.sampled_from([None, "B", "H", "I"]),
    scale=st.floats(1e-3, 1e3) | st.floats(-1e3, -1e-3),
    offset=st.floats(-1e3, 1e3),
)


@given(float_profiles, st.data())
def test_float_layout_round_trip_within_float32(profile: EdaProfile, data: st.DataObject) -> None:
    """Float layouts keep float32 precision: relative error about 6e-8 of the raw value."""
    raw = data.draw(st.lists(st.floats(-1e6, 1e6, width=32), min_size=1, max_size=10))
    values = tuple(r * profile.scale + profile.offset for r in raw)
    packet = decode_eda_packet(profile, encode_eda_packet(profile, 5, values))
    for got, want, r in zip(packet.values_us, values, raw, strict=True):
        tolerance = 1e-6 * (abs(r * profile.scale) + abs(profile.offset)) + 1e-9
        assert got == pytest.approx(want, abs=tolerance)
