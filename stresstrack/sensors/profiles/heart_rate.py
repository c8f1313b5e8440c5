"""Heart Rate Service 0x180D, Heart Rate Measurement characteristic 0x2A37.

Layout verified against the Bluetooth SIG's Heart Rate Service specification 1.0
(section 3.1.1, "Heart Rate Measurement") and the GATT Specification Supplement
(section 3.113, "Heart Rate Measurement"):

    byte 0      flags
                bit 0    heart-rate value format: 0 = uint8, 1 = uint16 (little endian)
                bits 1-2 sensor contact status: 0b00/0b01 = not supported,
                         0b10 = supported, no contact, 0b11 = supported, contact detected
                bit 3    energy expended present (uint16, kilojoules)
                bit 4    one or more RR intervals present (uint16 each, 1/1024 s)
    then        heart rate (uint8 or uint16), energy expended (uint16) if bit 3,
                RR intervals (uint16 ...) if bit 4, filling the rest of the packet.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from stresstrack.errors import DecodeError
from stresstrack.events import RR_TICKS_PER_S, Contact

__all__ = [
    "HEART_RATE_MEASUREMENT_UUID",
    "HEART_RATE_SERVICE_UUID",
    "HeartRateMeasurement",
    "decode_heart_rate_measurement",
    "encode_heart_rate_measurement",
]

HEART_RATE_SERVICE_UUID: Final = "0000180d-0000-1000-8000-00805f9b34fb"
HEART_RATE_MEASUREMENT_UUID: Final = "00002a37-0000-1000-8000-00805f9b34fb"
BODY_SENSOR_LOCATION_UUID: Final = "00002a38-0000-1000-8000-00805f9b34fb"

_FLAG_HR_UINT16: Final = 0x01
_FLAG_CONTACT_SUPPORTED: Final = 0x04
_FLAG_CONTACT_DETECTED: Final = 0x02
_FLAG_ENERGY: Final = 0x08
_FLAG_RR: Final = 0x10
_WHAT: Final = "Heart Rate Measurement (0x2A37)"


@dataclass(frozen=True, slots=True)
class HeartRateMeasurement:
    """One decoded 0x2A37 notification."""

    bpm: int
    contact: Contact
    energy_kj: int | None
    rr_ticks: tuple[int, ...]  # raw RR intervals in 1/1024 s

    @property
    def rr_ms(self) -> tuple[float, ...]:
        return tuple(t * 1000.0 / RR_TICKS_PER_S for t in self.rr_ticks)


def decode_heart_rate_measurement(data: bytes | bytearray) -> HeartRateMeasurement:
    """Decode a Heart Rate Measurement notification.

    >>> m = decode_heart_rate_measurement(bytes.fromhex("1648f003"))
    >>> m.bpm, m.contact.value, m.energy_kj, m.rr_ticks
    (72, 'detected', None, (1008,))
    """
    data = bytes(data)
    if len(data) < 2:
        raise DecodeError(_WHAT, data, f"{len(data)} bytes, at least 2 needed")
    flags = data[0]
    if flags & 0xE0:
        raise DecodeError(_WHAT, data, f"reserved flag bits set (flags 0x{flags:02x})")
    offset = 1
    if flags & _FLAG_HR_UINT16:
        if len(data) < 3:
            raise DecodeError(_WHAT, data, "uint16 heart rate flagged but only 1 byte follows")
        (bpm,) = struct.unpack_from("<H", data, offset)
        offset += 2
    else:
        bpm = data[offset]
        offset += 1
    if flags & _FLAG_CONTACT_SUPPORTED:
        contact = Contact.DETECTED if flags & _FLAG_CONTACT_DETECTED else Contact.NOT_DETECTED
    else:
        contact = Contact.UNSUPPORTED
    energy: int | None = None
    if flags & _FLAG_ENERGY:
        if len(data) < offset + 2:
            raise DecodeError(_WHAT, data, "energy expended flagged but missing")
        (energy,) = struct.unpack_from("<H", data, offset)
        offset += 2
    rr: tuple[int, ...] = ()
    rest = len(data) - offset
    if flags & _FLAG_RR:
        if rest == 0 or rest % 2:
            raise DecodeError(
                _WHAT, data, f"RR intervals flagged but {rest} bytes follow (need 2 per interval)"
            )
        rr = struct.unpack_from(f"<{rest // 2}H", data, offset)
    elif rest:
        raise DecodeError(_WHAT, data, f"{rest} unexpected trailing bytes")
    return HeartRateMeasurement(bpm=bpm, contact=contact, energy_kj=energy, rr_ticks=rr)


def encode_heart_rate_measurement(m: HeartRateMeasurement, *, uint16: bool | None = None) -> bytes:
    """Encode as a device would (used by the simulated peripherals); inverse of decode."""
    wide = m.bpm > 255 if uint16 is None else uint16
    flags = _FLAG_HR_UINT16 if wide else 0
    if m.contact is not Contact.UNSUPPORTED:
        flags |= _FLAG_CONTACT_SUPPORTED
        if m.contact is Contact.DETECTED:
            flags |= _FLAG_CONTACT_DETECTED
    out = bytearray([0])
    out += struct.pack("<H", m.bpm) if wide else struct.pack("<B", m.bpm)
    if m.energy_kj is not None:
        flags |= _FLAG_ENERGY
        out += struct.pack("<H", m.energy_kj)
    if m.rr_ticks:
        flags |= _FLAG_RR
        out += struct.pack(f"<{len(m.rr_ticks)}H", *m.rr_ticks)
    out[0] = flags
    return bytes(out)
