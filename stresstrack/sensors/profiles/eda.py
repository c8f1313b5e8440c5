"""Skin conductance (EDA) over BLE: a declarative profile, so DIY and lab sensors need no code.

There is no Bluetooth SIG profile for electrodermal activity. A device's layout is described
by an :class:`EdaProfile` (in the study config or in code): the characteristic to subscribe
to, an optional packet counter at the start of each notification, then consecutive samples
of one numeric type, converted to microsiemens by ``value * scale + offset``.

``STRESSTRACK_EDA_V1`` is the layout of stresstrack's reference EDA firmware and of the
simulated EDA band: a uint16 little-endian packet counter, then uint16 little-endian samples
in units of 0.001 µS (0-65.535 µS), 32 samples per second.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from stresstrack.errors import DecodeError

__all__ = [
    "STRESSTRACK_EDA_V1",
    "EdaPacket",
    "EdaProfile",
    "decode_eda_packet",
    "encode_eda_packet",
]

_SAMPLE_FORMATS: Final = {"B", "b", "H", "h", "I", "i", "f"}


@dataclass(frozen=True, slots=True)
class EdaProfile:
    """How one EDA device lays out its notifications."""

    name: str
    service_uuid: str
    characteristic_uuid: str
    sampling_rate: float
    sample_format: str = "H"  # struct code of one sample
    byte_order: str = "<"  # "<" little endian, ">" big endian
    counter_format: str | None = "H"  # struct code of the packet counter, None if absent
    scale: float = 0.001  # µS per raw unit
    offset: float = 0.0  # µS added after scaling

    def __post_init__(self) -> None:
        if self.sample_format not in _SAMPLE_FORMATS:
            raise ValueError(
                f"EDA profile {self.name!r}: sample_format {self.sample_format!r} "
                f"is not one of {sorted(_SAMPLE_FORMATS)}"
            )
        if self.counter_format is not None and self.counter_format not in {"B", "H", "I"}:
            raise ValueError(f"EDA profile {self.name!r}: counter_format must be B, H, I or none")
        if self.byte_order not in {"<", ">"}:
            raise ValueError(f"EDA profile {self.name!r}: byte_order must be '<' or '>'")
        if not self.sampling_rate > 0:
            raise ValueError(f"EDA profile {self.name!r}: sampling_rate must be > 0")

    @property
    def sample_size(self) -> int:
        return struct.calcsize(self.byte_order + self.sample_format)

    @property
    def counter_size(self) -> int:
        return 0 if self.counter_format is None else struct.calcsize("<" + self.counter_format)

    @classmethod
    def from_mapping(cls, m: Mapping[str, object]) -> EdaProfile:
        """Build from a study-config table, e.g. ``[devices.eda]`` in TOML."""
        known = {
            "name",
            "service_uuid",
            "characteristic_uuid",
            "sampling_rate",
            "sample_format",
            "byte_order",
            "counter_format",
            "scale",
            "offset",
        }
        unknown = set(m) - known
        if unknown:
            raise ValueError(f"EDA profile: unknown keys {sorted(unknown)}")
        counter = m.get("counter_format", "H")
        return cls(
            name=str(m["name"]),
            service_uuid=str(m["service_uuid"]).lower(),
            characteristic_uuid=str(m["characteristic_uuid"]).lower(),
            sampling_rate=float(m["sampling_rate"]),  # type: ignore[arg-type]
            sample_format=str(m.get("sample_format", "H")),
            byte_order=str(m.get("byte_order", "<")),
            counter_format=None if counter in (None, "", "none") else str(counter),
            scale=float(m.get("scale", 0.001)),  # type: ignore[arg-type]
            offset=float(m.get("offset", 0.0)),  # type: ignore[arg-type]
        )


STRESSTRACK_EDA_V1: Final = EdaProfile(
    name="stresstrack-eda-v1",
    service_uuid="5e1d0001-8f3c-4d3a-9b61-7a3c0e2d4b10",
    characteristic_uuid="5e1d0002-8f3c-4d3a-9b61-7a3c0e2d4b10",
    sampling_rate=32.0,
)


@dataclass(frozen=True, slots=True)
class EdaPacket:
    counter: int | None
    values_us: tuple[float, ...]


def decode_eda_packet(profile: EdaProfile, data: bytes | bytearray) -> EdaPacket:
    """Decode one notification with ``profile``.

    >>> decode_eda_packet(STRESSTRACK_EDA_V1, bytes.fromhex("0700e803d007"))
    EdaPacket(counter=7, values_us=(1.0, 2.0))
    """
    data = bytes(data)
    what = f"EDA ({profile.name})"
    head = profile.counter_size
    body = len(data) - head
    if body <= 0:
        raise DecodeError(what, data, f"{len(data)} bytes: no samples after the {head}-byte header")
    if body % profile.sample_size:
        raise DecodeError(
            what, data, f"{body} sample bytes is not a multiple of {profile.sample_size}"
        )
    counter: int | None = None
    if profile.counter_format is not None:
        (counter,) = struct.unpack_from(profile.byte_order + profile.counter_format, data, 0)
    n = body // profile.sample_size
    raw = struct.unpack_from(f"{profile.byte_order}{n}{profile.sample_format}", data, head)
    values = tuple(float(r) * profile.scale + profile.offset for r in raw)
    if any(v != v or v in (float("inf"), float("-inf")) for v in values):
        raise DecodeError(what, data, "sample is not a finite number")
    return EdaPacket(counter=counter, values_us=values)


def encode_eda_packet(profile: EdaProfile, counter: int, values_us: tuple[float, ...]) -> bytes:
    """Encode as the device does (used by the simulated EDA band)."""
    out = b""
    if profile.counter_format is not None:
        limit = 1 << (8 * profile.counter_size)
        out = struct.pack(profile.byte_order + profile.counter_format, counter % limit)
    if profile.sample_format == "f":
        raw: list[float | int] = [(v - profile.offset) / profile.scale for v in values_us]
    else:
        hi = (1 << (8 * profile.sample_size - (profile.sample_format.islower()))) - 1
        lo = -hi - 1 if profile.sample_format.islower() else 0
        raw = [max(lo, min(hi, round((v - profile.offset) / profile.scale))) for v in values_us]
    return out + struct.pack(f"{profile.byte_order}{len(raw)}{profile.sample_format}", *raw)
