"""Polar Measurement Data (PMD) service: control point and data frames.

Vectors marked "SDK" are byte arrays from polar-ble-sdk's Android unit tests
(``sources/Android/android-communications/library/src/test/java/com/polar/androidcommunications/
api/ble/model/gatt/client/pmd/``): ``model/EcgDataTest.kt``, ``model/AccDataTest.kt``,
``model/PpgDataTest.kt``, ``model/PpiDataTest.kt``, ``BlePmdClientControlPointResponseTest.kt``
and ``PmdSettingTest.kt``. Their expected values are the SDK's; we re-derived the first samples
by hand and say so where we did. Everything else is hand-made from the layouts in the module
docstring of ``stresstrack/sensors/profiles/polar_pmd.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stresstrack.errors import DecodeError
from stresstrack.sensors.profiles.polar_pmd import (
    POLAR_EPOCH_OFFSET_NS,
    PmdControlPointResponse,
    PmdError,
    PmdMeasurementType,
    PmdOpCode,
    PmdSettings,
    decode_pmd_features,
    decode_pmd_response,
    decode_pmd_settings,
    encode_get_settings,
    encode_pmd_features,
    encode_pmd_response,
    encode_pmd_settings,
    encode_start_stream,
    encode_stop_stream,
    polar_to_unix_ns,
)
from stresstrack.sensors.profiles.polar_pmd_data import (
    AccSample,
    EcgSample,
    PmdFrame,
    PpgSample,
    PpiSample,
    decode_delta_frame,
    decode_pmd_frame,
    encode_acc_frame,
    encode_delta_frame,
    encode_ecg_frame,
    encode_ppi_frame,
)

ECG, PPG, ACC, PPI = (
    PmdMeasurementType.ECG,
    PmdMeasurementType.PPG,
    PmdMeasurementType.ACC,
    PmdMeasurementType.PPI,
)
T = TypeVar("T")
T_2S = 2_000_000_000  # the SDK tests' timestamp 00 94 35 77 00 00 00 00

# SDK AccDataTest `process acc compressed data type 0` (frame content after the 10-byte header).
ACC_COMPRESSED_TYPE_0 = bytes.fromhex(
    "7107f06a9e8d0a38be5cbeba2f96b3ee4be5adfb42b9ebbe4cfeba2f92bfee4be4b1fb12b9ecbd3c3ebb2f8fd3de"
    "4be3b5f7d2b8edbd307e7b2f8be3ce8be2baf7a2b8eebc20be7b2f88f3cecbe1bdef52f8efbc18fe3b2f8403bfcb"
    "e0c2ef32b8f0bb044ebc2e8113af0be0c6eff2f7f1b9fc7dbc2e7d279f4bdfcaebc2f7f2b8eccd7c2e7b378f4bde"
    "cee392f7f3b8e00dfd2d774b7fcbddd2df6237f5b7d44dbd2d745b6fcbdcd7d73237f6b5c88d7d2d716b4f4bdcdc"
    "d3f236f7b4bcddfd2c6f7b3f4bdbe0cfd236f8b2b02dbe2c6c8f1fcbdae3c7a276f9"
)
# SDK PpgDataTest `test compressed PPG frame type 0`.
PPG_COMPRESSED_TYPE_0 = bytes.fromhex(
    "2c2d00c27700d3d2ff3d88ff0a29b2f0ee3411b2ecee7411b1e8feb411b1e8feb411b1e0fe3412b0dc0e7512b0d8"
    "0eb512afd41ef512afd01e3513aecc2e7513aec82eb513adc43ef513adbc3e7514adbc3e7514acb84eb514acb44e"
    "f514abb05e3515aaac6e7515aaa86eb515aaa46ef515a9a07e3516a99c7e7516a8988eb516a7949ef516a7909e35"
    "17a78c9e7517a688aeb517a588beb517a580be3518a47cce7518a478ceb518a378deb518a270ee3519a26cee7519"
    "a26cee7519a168feb519a0600e361a9f601e361a9f5c1e761a9f581eb61a9d543ef61a"
)


def frame(measurement: int, timestamp: int, frame_type: int, body: str | bytes) -> bytes:
    """A data notification: type byte, uint64 LE timestamp, frame-type byte, body."""
    content = bytes.fromhex(body) if isinstance(body, str) else body
    return bytes([measurement]) + timestamp.to_bytes(8, "little") + bytes([frame_type]) + content


# --- time --------------------------------------------------------------------------------------


def test_polar_epoch() -> None:
    """TimeSystemExplained.md: an H10 that lost its clock restarts at 2019-01-01T00:00:00Z,
    which it reports as 599616000000000000 ns; the Unix/Polar offset is 946684800000000000 ns.
    """
    assert POLAR_EPOCH_OFFSET_NS == 946_684_800_000_000_000
    unix = polar_to_unix_ns(599_616_000_000_000_000)
    assert datetime.fromtimestamp(unix / 1e9, UTC) == datetime(2019, 1, 1, tzinfo=UTC)


# --- data frames: bytes from the SDK's tests ---------------------------------------------------


def test_ecg_frame_type_0_from_sdk() -> None:
    """SDK EcgDataTest `process raw ecg data type 0`: 00 | 0094357700000000 | 00 | 0280FF 028000.

    int24 LE µV: 0xFF8002 = -32766, 0x008002 = 32770; timestamp 2 s after the Polar epoch.
    """
    data = frame(0x00, T_2S, 0x00, "0280ff028000")
    assert decode_pmd_frame(data) == PmdFrame(
        measurement=ECG,
        timestamp_ns_polar=T_2S,
        unix_time_ns=POLAR_EPOCH_OFFSET_NS + T_2S,
        frame_type=0,
        compressed=False,
        samples=(EcgSample(-32766), EcgSample(32770)),
    )


def test_acc_frame_type_1_from_sdk() -> None:
    """SDK AccDataTest `process acc raw data frame type 1`, its first two samples.

    int16 LE mG: F7FF FFFF E703 = (-9, -1, 999); F8FF FEFF E503 = (-8, -2, 997).
    """
    data = frame(0x02, T_2S, 0x01, "f7ffffffe703f8fffeffe503")
    assert decode_pmd_frame(data) == PmdFrame(
        measurement=ACC,
        timestamp_ns_polar=T_2S,
        unix_time_ns=POLAR_EPOCH_OFFSET_NS + T_2S,
        frame_type=1,
        compressed=False,
        samples=(AccSample(-9, -1, 999), AccSample(-8, -2, 997)),
    )


def test_acc_compressed_type_1_from_sdk() -> None:
    """SDK AccDataTest `process acc compressed data type 1`: F1FF 1400 F003 | 06 01 | 7B 0F 08.

    Reference int16 x 3: -15, 20, 1008. One block: width 6 bits, 1 sample; the 18 bits of
    0x080F7B, LSB first, are 111011 (-5), 111101 (-3), 000000 (0) → (-20, 17, 1008).
    Timestamp 0x65 = 101 ns.
    """
    data = frame(0x02, 101, 0x81, "f1ff1400f00306017b0f08")
    assert decode_pmd_frame(data) == PmdFrame(
        measurement=ACC,
        timestamp_ns_polar=101,
        unix_time_ns=POLAR_EPOCH_OFFSET_NS + 101,
        frame_type=1,
        compressed=True,
        samples=(AccSample(-15, 20, 1008), AccSample(-20, 17, 1008)),
    )


def test_acc_compressed_type_1_applies_factor_truncating() -> None:
    """The same SDK frame with factor 0.5 from the start response: (v x 0.5) truncated toward 0,
    as AccData does with ``toInt()``: -7.5 → -7, 10, 504; then -10, 8.5 → 8, 504.
    """
    data = frame(0x02, 101, 0x81, "f1ff1400f00306017b0f08")
    assert decode_pmd_frame(data, factor=0.5).samples == (
        AccSample(-7, 10, 504),
        AccSample(-10, 8, 504),
    )


def test_acc_compressed_type_0_from_sdk() -> None:
    """SDK AccDataTest `process acc compressed data type 0` (218 bytes, factor 2.44e-4, in G).

    Reference 7107 F06A 9E8D = (1905, 27376, -29282); first block width 0x0A = 10 bits,
    0x38 = 56 samples, so 57 samples; sample 1 = reference + (190, -105, -85) (the SDK test's
    hand decoding). Scaled to mG: int(v x 2.44e-4 x 1000), e.g. 1905 → 464; all within ±8 G.
    """
    raw = decode_delta_frame(ACC_COMPRESSED_TYPE_0, 3, 16)
    assert len(raw) == 57
    assert raw[:2] == ((1905, 27376, -29282), (2095, 27271, -29367))
    decoded = decode_pmd_frame(frame(0x02, T_2S, 0x80, ACC_COMPRESSED_TYPE_0), factor=2.44e-4)
    assert dataclasses.replace(decoded, samples=()) == PmdFrame(
        measurement=ACC,
        timestamp_ns_polar=T_2S,
        unix_time_ns=POLAR_EPOCH_OFFSET_NS + T_2S,
        frame_type=0,
        compressed=True,
        samples=(),
    )
    assert decoded.samples == tuple(AccSample(*(int(v * 2.44e-4 * 1000) for v in r)) for r in raw)
    assert decoded.samples[:2] == (AccSample(464, 6679, -7144), AccSample(511, 6654, -7165))
    assert all(abs(v) <= 8000 for s in decoded.samples for v in (s.x, s.y, s.z))


def test_ppg_compressed_type_0_from_sdk() -> None:
    """SDK PpgDataTest `test compressed PPG frame type 0` (Verity Sense/OH1 layout).

    Reference int24 x 4: 2C2D00 = 11564, C27700 = 30658, D3D2FF = -11565, 3D88FF = -30659.
    Block: width 10, 0x29 = 41 samples → 42 in all; first deltas (178, -68, -178, 68).
    """
    decoded = decode_pmd_frame(frame(0x01, T_2S, 0x80, PPG_COMPRESSED_TYPE_0))
    assert dataclasses.replace(decoded, samples=()) == PmdFrame(
        measurement=PPG,
        timestamp_ns_polar=T_2S,
        unix_time_ns=POLAR_EPOCH_OFFSET_NS + T_2S,
        frame_type=0,
        compressed=True,
        samples=(),
    )
    assert len(decoded.samples) == 42
    assert decoded.samples[:2] == (
        PpgSample(11564, 30658, -11565, -30659),
        PpgSample(11742, 30590, -11743, -30591),
    )


def test_ppg_raw_type_0_from_sdk() -> None:
    """SDK PpgDataTest `test raw PPG frame type 0`: int24 LE ppg0, ppg1, ppg2, ambient.

    010203 = 197121, 040506 = 394500, FFFF7F = 8388607, 000000 = 0;
    FFFFFF = -1, 0FEFEF = -1052913, 000080 = -8388608, 0FEFEF = -1052913.
    """
    body = "010203040506ffff7f000000ffffff0fefef0000800fefef"
    assert decode_pmd_frame(frame(0x01, T_2S, 0x00, body)).samples == (
        PpgSample(197121, 394500, 8388607, 0),
        PpgSample(-1, -1052913, -8388608, -1052913),
    )


def test_ppi_frame_type_0_from_sdk() -> None:
    """SDK PpiDataTest `process ppi raw data type 0`, timestamp 0 (PPI frames carry none).

    80 | 8080 | 8080 | FF: HR 128, PP 32896 ms, error 32896 ms, flags all set;
    00 | 0100 | 0100 | 00: HR 0, PP 1 ms, error 1 ms, no flags.
    """
    data = frame(0x03, 0, 0x00, "80808080 80ff00010001 0000")
    assert decode_pmd_frame(data) == PmdFrame(
        measurement=PPI,
        timestamp_ns_polar=0,
        unix_time_ns=None,
        frame_type=0,
        compressed=False,
        samples=(
            PpiSample(
                hr=128,
                pp_ms=32896,
                error_ms=32896,
                blocker=True,
                contact=True,
                contact_supported=True,
            ),
            PpiSample(
                hr=0, pp_ms=1, error_ms=1, blocker=False, contact=False, contact_supported=False
            ),
        ),
    )


# --- data frames: hand-made --------------------------------------------------------------------


def test_acc_frame_types_0_and_2() -> None:
    """ACC type 0 is int8 x 3: FF 02 7F = (-1, 2, 127); type 2 is int24 x 3:
    FFFFFF 010000 00FF7F = (-1, 1, 8388352)."""
    assert decode_pmd_frame(frame(0x02, 5, 0x00, "ff027f")).samples == (AccSample(-1, 2, 127),)
    assert decode_pmd_frame(frame(0x02, 5, 0x02, "ffffff01000000ff7f")).samples == (
        AccSample(-1, 1, 8388352),
    )


def test_ppi_flag_bits_one_at_a_time() -> None:
    """Flags 01, 02, 04: blocker, skin contact, contact supported; HR 60, PP 1000 ms (E803),
    error 10 ms (0A00). Bits 3-7 are not defined by the SDK and ignored."""
    body = "3ce8030a00013ce8030a00023ce8030a00fc"
    assert decode_pmd_frame(frame(0x03, 0, 0x00, body)).samples == (
        PpiSample(
            hr=60, pp_ms=1000, error_ms=10, blocker=True, contact=False, contact_supported=False
        ),
        PpiSample(
            hr=60, pp_ms=1000, error_ms=10, blocker=False, contact=True, contact_supported=False
        ),
        PpiSample(
            hr=60, pp_ms=1000, error_ms=10, blocker=False, contact=False, contact_supported=True
        ),
    )


def test_delta_frame_two_blocks() -> None:
    """Hand-packed: 2 channels, 8-bit reference 0A FD = (10, -3).

    Block 1: width 3, 2 samples; deltas (1, -1), (-4, 3) = 001 111 100 011 LSB first
    = 0x739 → bytes 39 07 → (11, -4), (7, -1). Block 2: width 1, 1 sample; deltas (0, -1)
    = bits 0, 1 → 02 → (7, -2).
    """
    body = bytes.fromhex("0afd03023907010102")
    assert decode_delta_frame(body, 2, 8) == ((10, -3), (11, -4), (7, -1), (7, -2))
    assert encode_delta_frame([(10, -3), (11, -4), (7, -1)], 8) == bytes.fromhex("0afd03023907")


def test_delta_reference_narrower_than_its_bytes() -> None:
    """A 22-bit reference (Verity Sense PPG resolution) in 3 bytes: 0x3FFFFF is -1, 0x200000
    is -2097152, 0x1FFFFF is 2097151; a zero-sample block (width 1, count 0) adds nothing."""
    body = bytes.fromhex("ffff3f000020ffff1f0100")
    assert decode_delta_frame(body, 3, 22) == ((-1, -2097152, 2097151),)


@pytest.mark.parametrize(
    ("body", "channels", "problem"),
    [
        ("0afd", 3, "reference sample needs 3"),  # reference cut short
        ("0afd03", 2, "header cut short"),  # width byte without a count
        ("0afd0302 39", 2, "needs 4 bytes"),  # 12 bits of deltas need 2 bytes
        ("0afd0002", 2, "bit width 0"),  # a zero-width block cannot be decoded
    ],
)
def test_malformed_delta_frames(body: str, channels: int, problem: str) -> None:
    """Truncated or impossible compressed bodies are DecodeErrors naming the offset."""
    with pytest.raises(DecodeError, match=problem):
        decode_delta_frame(bytes.fromhex(body), channels, 8)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("", "0 bytes"),
        ("00 0094357700000000", "9 bytes"),  # header without frame type
        ("00 0094357700000000 00", "0 sample bytes"),  # no samples
        ("00 0094357700000000 00 0280", "2 sample bytes"),  # 2/3 of an ECG sample
        ("02 0094357700000000 01 f7ffffffe7", "5 sample bytes"),  # 5/6 of an ACC sample
        ("03 0000000000000000 00 3ce8030a00", "5 PPI bytes"),
        ("04 0094357700000000 00 00", "unknown PmdMeasurementType 4"),
        ("05 0094357700000000 00 000000000000", "GYRO frame type 0 is not supported"),
        ("00 0094357700000000 80 000000", "ECG frame type 0 compressed is not supported"),
        ("00 0094357700000000 03 000000", "ECG frame type 3 is not supported"),
        ("03 0000000000000000 80 3ce8030a0001", "PPI frame type 0 compressed"),
        ("02 0094357700000000 81 f1ff1400f003 06", "header cut short"),
    ],
)
def test_malformed_frames(data: str, problem: str) -> None:
    """Each notification breaks the frame layout once; the error carries the whole frame."""
    with pytest.raises(DecodeError, match=problem) as info:
        decode_pmd_frame(bytes.fromhex(data))
    assert info.value.data == bytes.fromhex(data)


# --- control point -----------------------------------------------------------------------------


def test_requests() -> None:
    """BlePMDClient: get settings = 01 <type>; stop = 03 <type>; start = 02 <type> then the
    selected settings as TLVs (PmdSetting.serializeSelected: type, count 1, LE value).

    H10 ECG at 130 Hz, 14 bits: 02 00 | 00 01 8200 | 01 01 0E00.
    H10 ACC at 200 Hz, 16 bits, ±8 G: 02 02 | 00 01 C800 | 01 01 1000 | 02 01 0800.
    Verity Sense PPG with 4 channels: ... | 04 01 04. PPI takes no settings: 02 03.
    """
    assert encode_get_settings(ECG) == bytes.fromhex("0100")
    assert encode_stop_stream(PPI) == bytes.fromhex("0303")
    assert encode_start_stream(ECG, sample_rate=130, resolution=14) == bytes.fromhex(
        "02000001820001010e00"
    )
    assert encode_start_stream(ACC, sample_rate=200, resolution=16, range_=8) == bytes.fromhex(
        "02020001c8000101100002010800"
    )
    assert encode_start_stream(PPG, sample_rate=55, resolution=22, channels=4) == bytes.fromhex(
        "02010001370001011600040104"
    )
    assert encode_start_stream(PPI) == bytes.fromhex("0203")


def test_settings_response_from_sdk() -> None:
    """SDK PmdSettingTest `testPmdSettingsWithRange`: 00 01 3400 | 01 01 1000 |
    02 04 F500 F401 E803 D007 | 04 01 03 → 52 Hz; 16 bits; ranges 245, 500, 1000, 2000; 3 channels.
    """
    data = bytes.fromhex("0001 34000101 10000204 f500f401e803d0070401 03")
    assert decode_pmd_settings(data) == PmdSettings(
        sample_rates=(52,), resolutions=(16,), ranges=(245, 500, 1000, 2000), channels=(3,)
    )


def test_settings_milliunit_range_and_factor() -> None:
    """SDK PmdSettingTest `testPmdSettingWithRangeMilliUnit`: 03 02 FFFFFFFF FF000000 | 01 01 0E00
    → milli-unit ranges int32 -1 and 255, resolution 14. Hand-made: a start response's
    factor 05 01 0000803E is float32 0.25."""
    data = bytes.fromhex("0302 ffffffff ff0000000101 0e00")
    assert decode_pmd_settings(data) == PmdSettings(range_milliunits=(-1, 255), resolutions=(14,))
    assert decode_pmd_settings(bytes.fromhex("0501 0000803e")) == PmdSettings(factors=(0.25,))


@pytest.mark.parametrize(
    ("hex_", "problem"),
    [
        ("0001 34", "cut short"),  # one byte of a uint16 sample rate
        ("00", None),  # a lone byte is "no settings" in the SDK
        ("0001 3400 01", "header cut short"),
        ("0601 00", "unknown setting type 6"),
        ("0001 3400 0001 1900", "repeated"),
        ("0501 0000c07f", "not a finite number"),  # NaN factor
    ],
)
def test_malformed_settings(hex_: str, problem: str | None) -> None:
    """Settings TLVs that cannot be parsed are DecodeErrors (a single byte is tolerated)."""
    if problem is None:
        assert decode_pmd_settings(bytes.fromhex(hex_)) == PmdSettings()
        return
    with pytest.raises(DecodeError, match=problem):
        decode_pmd_settings(bytes.fromhex(hex_))


def test_control_point_responses_from_sdk() -> None:
    """SDK BlePmdClientControlPointResponseTest.

    F0 01 02 00 00 FFFFFF: response to get-settings for ACC, success, no more, params FFFFFF.
    F0 01 06 07 00: get-settings for MAGNETOMETER failed with INVALID_RESOLUTION (7).
    """
    assert decode_pmd_response(bytes.fromhex("f001020000ffffff")) == (
        PmdControlPointResponse(
            op_code=PmdOpCode.GET_MEASUREMENT_SETTINGS,
            measurement=ACC,
            status=PmdError.SUCCESS,
            more=False,
            parameters=b"\xff\xff\xff",
        )
    )
    assert decode_pmd_response(bytes.fromhex("f001060700")) == PmdControlPointResponse(
        op_code=PmdOpCode.GET_MEASUREMENT_SETTINGS,
        measurement=PmdMeasurementType.MAGNETOMETER,
        status=PmdError.INVALID_RESOLUTION,
    )


def test_start_response_with_more_flag() -> None:
    """Hand-made: F0 02 02 00 01 | 05 01 0000803E → start ACC succeeded, more follows,
    parameters carry the factor TLV (float32 0.25)."""
    response = decode_pmd_response(bytes.fromhex("f00202000105010000803e"))
    assert response == PmdControlPointResponse(
        op_code=PmdOpCode.REQUEST_MEASUREMENT_START,
        measurement=ACC,
        status=PmdError.SUCCESS,
        more=True,
        parameters=bytes.fromhex("05010000803e"),
    )
    assert decode_pmd_settings(response.parameters) == PmdSettings(factors=(0.25,))


def test_error_codes_have_the_sdk_names() -> None:
    """PmdControlPointResponseCode numbering: 0 SUCCESS ... 13 DEVICE_IN_CHARGER, 14 DISK_FULL."""
    assert [e.name for e in PmdError] == [
        "SUCCESS",
        "INVALID_OP_CODE",
        "INVALID_MEASUREMENT_TYPE",
        "NOT_SUPPORTED",
        "INVALID_LENGTH",
        "INVALID_PARAMETER",
        "ALREADY_IN_STATE",
        "INVALID_RESOLUTION",
        "INVALID_SAMPLE_RATE",
        "INVALID_RANGE",
        "INVALID_MTU",
        "INVALID_NUMBER_OF_CHANNELS",
        "INVALID_STATE",
        "DEVICE_IN_CHARGER",
        "DISK_FULL",
    ]
    assert [e.value for e in PmdError] == list(range(15))


@pytest.mark.parametrize(
    ("hex_", "problem"),
    [
        ("f00102", "3 bytes"),
        ("01010200", "not a response"),  # 0x01 is the sensor's "measurement stopped" message
        ("f0090200", "unknown PmdOpCode 9"),
        ("f0010400", "unknown PmdMeasurementType 4"),
        ("f001020f", "unknown PmdError 15"),
    ],
)
def test_malformed_responses(hex_: str, problem: str) -> None:
    """Control-point indications that are not 0xF0 responses we know are DecodeErrors."""
    with pytest.raises(DecodeError, match=problem):
        decode_pmd_response(bytes.fromhex(hex_))


def test_features() -> None:
    """Hand-made from PmdMeasurementType.fromByteArray: byte 1 bit n = type n, byte 2 bit n =
    type 8 + n. 0F 05 00 = ECG + ACC (an H10); 0F 2E 02 = PPG, ACC, PPI, GYRO + SDK mode."""
    assert decode_pmd_features(bytes.fromhex("0f0500")) == {ECG, ACC}
    assert decode_pmd_features(bytes.fromhex("0f2e02")) == {
        PPG,
        ACC,
        PPI,
        PmdMeasurementType.GYRO,
        PmdMeasurementType.SDK_MODE,
    }
    with pytest.raises(DecodeError, match="1 bytes"):
        decode_pmd_features(b"\x0f")


# --- properties --------------------------------------------------------------------------------

supported_headers = st.sampled_from(
    [
        (0x00, 0x00),
        (0x02, 0x00),
        (0x02, 0x01),
        (0x02, 0x02),
        (0x02, 0x80),
        (0x02, 0x81),
        (0x01, 0x00),
        (0x01, 0x80),
        (0x03, 0x00),
    ]
)


@given(st.binary(max_size=64), st.floats(-10, 10))
def test_arbitrary_frames_raise_only_decode_error(data: bytes, factor: float) -> None:
    """Any notification decodes or raises DecodeError."""
    try:
        decode_pmd_frame(data, factor=factor)
    except DecodeError as e:
        assert e.data == data


@given(supported_headers, st.integers(0, 2**64 - 1), st.binary(max_size=80))
def test_supported_headers_with_arbitrary_bodies(
    header: tuple[int, int], timestamp: int, body: bytes
) -> None:
    """Valid headers of every supported frame kind with random bodies: only DecodeError."""
    data = frame(header[0], timestamp, header[1], body)
    try:
        decoded = decode_pmd_frame(data)
    except DecodeError as e:
        assert e.data == data
    else:
        assert decoded.timestamp_ns_polar == timestamp and decoded.samples


@given(st.binary(max_size=40), st.integers(1, 5), st.integers(1, 32))
def test_arbitrary_delta_bodies_raise_only_decode_error(
    data: bytes, channels: int, resolution: int
) -> None:
    """The generic delta decoder never fails with anything but DecodeError."""
    try:
        decode_delta_frame(data, channels, resolution)
    except DecodeError as e:
        assert e.data == data


@given(st.binary(max_size=40))
def test_arbitrary_control_point_bytes_raise_only_decode_error(data: bytes) -> None:
    """Responses, settings and feature reads: parsed or DecodeError."""
    for decode in (decode_pmd_response, decode_pmd_settings, decode_pmd_features):
        try:
            decode(data)
        except DecodeError as e:
            assert e.data == data


timestamps = st.integers(0, 2**64 - 1)


@given(timestamps, st.lists(st.integers(-(2**23), 2**23 - 1), min_size=1, max_size=73))
def test_ecg_round_trip(timestamp: int, microvolts: list[int]) -> None:
    """encode_ecg_frame → decode_pmd_frame gives back every int24 sample and the timestamp."""
    samples = tuple(EcgSample(v) for v in microvolts)
    assert decode_pmd_frame(encode_ecg_frame(timestamp, samples)) == PmdFrame(
        measurement=ECG,
        timestamp_ns_polar=timestamp,
        unix_time_ns=polar_to_unix_ns(timestamp) if timestamp else None,
        frame_type=0,
        compressed=False,
        samples=samples,
    )


int16 = st.integers(-(2**15), 2**15 - 1)


@given(timestamps, st.lists(st.builds(AccSample, int16, int16, int16), min_size=1, max_size=40))
def test_acc_round_trip(timestamp: int, samples: list[AccSample]) -> None:
    """encode_acc_frame (type 1, int16) → decode_pmd_frame is exact."""
    decoded = decode_pmd_frame(encode_acc_frame(timestamp, samples))
    assert (decoded.measurement, decoded.frame_type, decoded.compressed) == (ACC, 1, False)
    assert (decoded.timestamp_ns_polar, decoded.samples) == (timestamp, tuple(samples))


ppi_samples = st.builds(
    PpiSample,
    hr=st.integers(0, 255),
    pp_ms=st.integers(0, 0xFFFF),
    error_ms=st.integers(0, 0xFFFF),
    blocker=st.booleans(),
    contact=st.booleans(),
    contact_supported=st.booleans(),
)


@given(timestamps, st.lists(ppi_samples, min_size=1, max_size=30))
def test_ppi_round_trip(timestamp: int, samples: list[PpiSample]) -> None:
    """encode_ppi_frame → decode_pmd_frame is exact, flags included."""
    decoded = decode_pmd_frame(encode_ppi_frame(timestamp, samples))
    assert (decoded.measurement, decoded.frame_type, decoded.compressed) == (PPI, 0, False)
    assert (decoded.timestamp_ns_polar, decoded.samples) == (timestamp, tuple(samples))


@st.composite
def delta_streams(draw: st.DrawFn) -> tuple[int, list[tuple[int, ...]]]:
    resolution = draw(st.integers(2, 32))
    channels = draw(st.integers(1, 4))
    half = 1 << (resolution - 1)
    reference = tuple(
        draw(st.lists(st.integers(-half, half - 1), min_size=channels, max_size=channels))
    )
    step = draw(st.integers(0, 2**20))
    rest = draw(
        st.lists(
            st.lists(st.integers(-step, step), min_size=channels, max_size=channels).map(tuple),
            max_size=600,
        )
    )
    samples = [reference]
    for d in rest:
        samples.append(tuple(a + b for a, b in zip(samples[-1], d, strict=True)))
    return resolution, samples


@settings(deadline=None)
@given(delta_streams())
def test_delta_round_trip(stream: tuple[int, list[tuple[int, ...]]]) -> None:
    """encode_delta_frame → decode_delta_frame is exact, across 255-sample block boundaries."""
    resolution, samples = stream
    channels = len(samples[0])
    assert decode_delta_frame(encode_delta_frame(samples, resolution), channels, resolution) == (
        tuple(samples)
    )


@settings(deadline=None)
@given(timestamps, st.lists(st.builds(AccSample, int16, int16, int16), min_size=1, max_size=300))
def test_compressed_acc_frame_round_trip(timestamp: int, samples: list[AccSample]) -> None:
    """A delta-compressed ACC frame (type 0x81, factor 1) decodes to the samples it was built of."""
    body = encode_delta_frame([(s.x, s.y, s.z) for s in samples], 16)
    decoded = decode_pmd_frame(frame(0x02, timestamp, 0x81, body))
    assert (decoded.frame_type, decoded.compressed, decoded.samples) == (1, True, tuple(samples))


uint16 = st.integers(0, 0xFFFF)


def small_tuples(values: st.SearchStrategy[T]) -> st.SearchStrategy[tuple[T, ...]]:
    return st.lists(values, max_size=5).map(tuple)


settings_values = st.builds(
    PmdSettings,
    sample_rates=small_tuples(uint16),
    resolutions=small_tuples(uint16),
    ranges=small_tuples(uint16),
    range_milliunits=small_tuples(st.integers(-(2**31), 2**31 - 1)),
    channels=small_tuples(st.integers(0, 255)),
    factors=small_tuples(st.floats(width=32, allow_nan=False, allow_infinity=False)),
)


@given(settings_values)
def test_settings_round_trip(value: PmdSettings) -> None:
    """Settings TLVs round-trip exactly (factors are generated as float32 values)."""
    assert decode_pmd_settings(encode_pmd_settings(value)) == value


@given(st.sampled_from(PmdOpCode), st.sampled_from(PmdMeasurementType), st.booleans(), st.binary())
def test_success_response_round_trip(
    op: PmdOpCode, measurement: PmdMeasurementType, more: bool, parameters: bytes
) -> None:
    """A simulated sensor's success response decodes back to itself."""
    response = PmdControlPointResponse(
        op_code=op,
        measurement=measurement,
        status=PmdError.SUCCESS,
        more=more,
        parameters=parameters,
    )
    assert decode_pmd_response(encode_pmd_response(response)) == response


@given(
    st.sampled_from(PmdOpCode),
    st.sampled_from(PmdMeasurementType),
    st.sampled_from([e for e in PmdError if e is not PmdError.SUCCESS]),
)
def test_error_response_round_trip(
    op: PmdOpCode, measurement: PmdMeasurementType, status: PmdError
) -> None:
    """Error responses carry only op code, type and status, and round-trip."""
    response = PmdControlPointResponse(op_code=op, measurement=measurement, status=status)
    assert decode_pmd_response(encode_pmd_response(response)) == response


@given(st.frozensets(st.sampled_from(PmdMeasurementType)))
def test_features_round_trip(types: frozenset[PmdMeasurementType]) -> None:
    """The feature bitmap a simulated sensor serves decodes to the same set."""
    assert decode_pmd_features(encode_pmd_features(types)) == types


@pytest.mark.parametrize(
    "call",
    [
        lambda: encode_ecg_frame(0, []),
        lambda: encode_ecg_frame(0, [EcgSample(2**23)]),
        lambda: encode_acc_frame(0, [AccSample(0, 0, 2**15)]),
        lambda: encode_ppi_frame(
            0,
            [
                PpiSample(
                    hr=256,
                    pp_ms=0,
                    error_ms=0,
                    blocker=False,
                    contact=False,
                    contact_supported=False,
                )
            ],
        ),
        lambda: encode_ecg_frame(2**64, [EcgSample(0)]),
        lambda: encode_pmd_settings(PmdSettings(sample_rates=(70000,))),
        lambda: decode_pmd_frame(frame(0x02, 0, 0x81, "000000000000"), factor=float("nan")),
        lambda: encode_pmd_response(
            PmdControlPointResponse(
                op_code=PmdOpCode.STOP_MEASUREMENT,
                measurement=ECG,
                status=PmdError.NOT_SUPPORTED,
                parameters=b"\x00",
            )
        ),
    ],
)
def test_encoders_reject_values_the_layout_cannot_hold(call: Callable[[], object]) -> None:
    """Simulators asking for impossible frames get a ValueError, not corrupt bytes (and a NaN
    factor is a caller's mistake, not a malformed frame)."""
    with pytest.raises(ValueError):
        call()
