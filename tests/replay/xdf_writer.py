"""A small XDF 1.0 writer for test fixtures.

Layout from the XDF specification (github.com/sccn/xdf wiki, "Specifications") as LabRecorder
writes it (``src/xdfwriter.cpp``): the magic ``XDF:``; chunks
``[NumLengthBytes][Length][Tag uint16][StreamId uint32, tags 2/3/4/6][Content]`` where
Length counts the tag, the stream id and the content; Samples content is
``[NumSampleBytes][NumSamples]`` then per sample ``[TimeStampBytes 0|8][TimeStamp double]``
and the values (little-endian numbers, or ``[NumLengthBytes][Length][bytes]`` per string).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

MAGIC = b"XDF:"
FILE_HEADER, STREAM_HEADER, SAMPLES, CLOCK_OFFSET, BOUNDARY, STREAM_FOOTER = 1, 2, 3, 4, 5, 6
BOUNDARY_UUID = bytes.fromhex("43A546DCCBF5410FB30ED5467383CBE4")
_FORMATS = {"float32": "<f", "double64": "<d", "int16": "<h", "int32": "<i"}


def varlen(n: int) -> bytes:
    if n < 256:
        return b"\x01" + struct.pack("<B", n)
    if n < 2**32:
        return b"\x04" + struct.pack("<I", n)
    return b"\x08" + struct.pack("<Q", n)


def chunk(tag: int, content: bytes, stream_id: int | None = None) -> bytes:
    body = struct.pack("<H", tag)
    if stream_id is not None:
        body += struct.pack("<I", stream_id)
    body += content
    return varlen(len(body)) + body


def stream_header_xml(
    name: str, stream_type: str, channels: int, rate: float, fmt: str, unit: str = ""
) -> bytes:
    desc = (
        f"<desc><channels><channel><label>{name}</label><unit>{unit}</unit></channel>"
        "</channels></desc>"
        if unit
        else "<desc/>"
    )
    return (
        f'<?xml version="1.0"?><info><name>{name}</name><type>{stream_type}</type>'
        f"<channel_count>{channels}</channel_count><nominal_srate>{rate}</nominal_srate>"
        f"<channel_format>{fmt}</channel_format><created_at>100.0</created_at>{desc}"
        f"<uid>test-{name}</uid></info>"
    ).encode()


def samples(
    fmt: str, stamps: Sequence[float | None], values: Sequence[Sequence[float | str]]
) -> bytes:
    """Samples content; a ``None`` time stamp is left out (deduced from the rate)."""
    out = varlen(len(stamps))
    for stamp, row in zip(stamps, values, strict=True):
        out += b"\x00" if stamp is None else b"\x08" + struct.pack("<d", stamp)
        for v in row:
            if fmt == "string":
                raw = str(v).encode()
                out += varlen(len(raw)) + raw
            else:
                out += struct.pack(_FORMATS[fmt], v)
    return out


class XdfWriter:
    """Builds an XDF file chunk by chunk."""

    def __init__(self, header_datetime: str | None = "2026-01-05T09:00:00+00:00") -> None:
        info = '<?xml version="1.0"?><info><version>1.0</version>'
        if header_datetime:
            info += f"<datetime>{header_datetime}</datetime>"
        self.data = MAGIC + chunk(FILE_HEADER, (info + "</info>").encode())
        self.formats: dict[int, str] = {}

    def stream(
        self,
        stream_id: int,
        name: str,
        stream_type: str,
        rate: float,
        fmt: str,
        *,
        channels: int = 1,
        unit: str = "",
    ) -> XdfWriter:
        self.formats[stream_id] = fmt
        xml = stream_header_xml(name, stream_type, channels, rate, fmt, unit)
        self.data += chunk(STREAM_HEADER, xml, stream_id)
        return self

    def samples(
        self,
        stream_id: int,
        stamps: Sequence[float | None],
        values: Sequence[Sequence[float | str]],
    ) -> XdfWriter:
        content = samples(self.formats[stream_id], stamps, values)
        self.data += chunk(SAMPLES, content, stream_id)
        return self

    def clock_offset(self, stream_id: int, collection_time: float, offset: float) -> XdfWriter:
        self.data += chunk(CLOCK_OFFSET, struct.pack("<dd", collection_time, offset), stream_id)
        return self

    def boundary(self) -> XdfWriter:
        self.data += chunk(BOUNDARY, BOUNDARY_UUID)
        return self

    def footer(self, stream_id: int, first: float, last: float, count: int) -> XdfWriter:
        xml = (
            f'<?xml version="1.0"?><info><first_timestamp>{first}</first_timestamp>'
            f"<last_timestamp>{last}</last_timestamp><sample_count>{count}</sample_count>"
            "</info>"
        ).encode()
        self.data += chunk(STREAM_FOOTER, xml, stream_id)
        return self

    def write(self, path: Path) -> Path:
        path.write_bytes(self.data)
        return path
