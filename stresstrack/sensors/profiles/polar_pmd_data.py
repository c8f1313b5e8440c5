"""Polar Measurement Data (PMD) data frames: ECG, accelerometer, PPG and PPI samples from Polar
sensors. The control point (settings, start and stop, features) is
:mod:`stresstrack.sensors.profiles.polar_pmd`; layouts are verified against the same sources
(Polar's open-source BLE SDK, github.com/polarofficial/polar-ble-sdk, Android sources under
``.../api/ble/model/gatt/client/pmd/`` and their unit tests).

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
from dataclasses import dataclass
from typing import Final

from stresstrack.errors import DecodeError
from stresstrack.sensors.profiles.polar_pmd import PmdMeasurementType, enum_of, polar_to_unix_ns

__all__ = [
    "AccSample",
    "EcgSample",
    "PmdFrame",
    "PmdSample",
    "PpgSample",
    "PpiSample",
    "decode_delta_frame",
    "decode_pmd_frame",
    "encode_acc_frame",
    "encode_delta_frame",
    "encode_ecg_frame",
    "encode_ppi_frame",
]


_PPI_BLOCKER, _PPI_CONTACT, _PPI_CONTACT_SUPPORTED = 0x01, 0x02, 0x04
_TYPE_MASK: Final = 0x3F  # PmdMeasurementType.MEASUREMENT_TYPE_BIT_MASK
_DELTA_FLAG: Final = 0x80
_FRAME_TYPE_MASK: Final = 0x7F
_HEADER: Final = struct.Struct("<BQB")  # measurement type, timestamp, frame type
_PPI_RECORD: Final = struct.Struct("<BHHB")  # HR, PP ms, PP error ms, flags
_WHAT_FRAME: Final = "Polar PMD data frame"


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
    measurement = enum_of(PmdMeasurementType, type_byte & _TYPE_MASK, _WHAT_FRAME, data)
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
