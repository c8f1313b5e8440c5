"""XDF files recorded with Lab Streaming Layer's LabRecorder, read with pyxdf.

Format (XDF 1.0 specification, github.com/sccn/xdf wiki "Specifications"; LabRecorder's
``src/xdfwriter.cpp``): the magic ``XDF:``, then chunks ``[NumLengthBytes: 1, 4 or 8]
[Length: little-endian uint of that size][Tag: uint16][Content: Length - 2 bytes]`` with tags
FileHeader (1), StreamHeader (2, XML ``<info>``), Samples (3), ClockOffset (4: collection time
and offset, two float64), Boundary (5) and StreamFooter (6); tags 2, 3, 4 and 6 begin their
content with a uint32 stream id.

Reading: a quick pass checks the chunk framing (so a truncated or corrupt file is an error
naming the byte offset, where pyxdf would skip ahead silently), then
``pyxdf.load_xdf(synchronize_clocks=True)`` decodes the samples and applies the recorded
clock offsets, so streams recorded on different computers share one time axis.

Streams by type (or, when the type is unknown, by a word of the name):

============================ ====================================================
``ECG``                       ECG :class:`~stresstrack.events.Waveform` (µV; mV/V converted
                              from the channel's ``unit``)
``PPG``, ``BVP``              PPG waveform
``EDA``, ``GSR``              :class:`~stresstrack.events.EdaSamples` (µS)
``RR``, ``IBI``               :class:`~stresstrack.events.Beat` (``FILE``; ms, or s when the
                              unit says so or the values are below 10)
``HR``                        :class:`~stresstrack.events.HeartRate` (bpm)
``Markers`` (or any string    :class:`~stresstrack.events.Marker`: ``start <kind>`` /
stream)                       ``<kind> start`` (also begin) and ``stop <kind>`` /
                              ``<kind> stop`` (also end) delimit sessions; any other string is
                              a point event whose kind is the string
============================ ====================================================

Other streams (EEG, accelerometers...) are reported in the summary and ignored; of a
multi-channel stream the first channel is used.

Sample rates: a sampled stream's rate is fitted to its time stamps over the whole stream
(a device's "130 Hz" is its own crystal's, about 130.24 Hz of the recording computer's clock);
a stream of fewer than 100 samples keeps the header's ``nominal_srate``; ``--rate`` gives it.

Calendar time: LSL time stamps are seconds of the recording computer's monotonic clock and
carry no date. The earliest time stamp of the file is placed at ``--start`` if given, else at
the file header's ``<datetime>`` element when the writer added one; otherwise the file
cannot be placed in time and the error says to give ``--start``.

Size (issue 17): over 400 lines because it is one file format: the chunk scan that checks the
framing and stream headers (``_scan``: one loop over the chunk tags, each tag's check a few
lines), the stream headers' times and rates, and the mapping of each stream kind to events
(``_stream_events``: one branch per kind). Each part is too small for a module of its own
and all of them share the format's constants.
"""

from __future__ import annotations

import io
import logging
import re
import struct
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from xml.etree.ElementTree import ParseError, fromstring

import numpy as np

from stresstrack.errors import ImportFormatError
from stresstrack.events import (
    Beat,
    BeatSource,
    Event,
    EventIds,
    HeartRate,
    Marker,
    MarkerAction,
    WaveformKind,
)
from stresstrack.limits import EARLIEST_NS, LATEST_NS
from stresstrack.replay.base import (
    NS,
    PLAUSIBLE,
    Detection,
    Format,
    ImportOptions,
    ImportStats,
    bad_row,
    check_rate,
    merge_by_time,
    participant_from_name,
)
from stresstrack.replay.chunks import SampleChunker, chunk_samples, eda_maker, waveform_maker
from stresstrack.sample_rate import MIN_FIT_SAMPLES, estimate_rate

__all__ = ["FORMAT", "classify_stream", "parse_marker"]

MAGIC: Final = b"XDF:"
TAG_FILE_HEADER: Final = 1
TAG_STREAM_HEADER: Final = 2
TAG_SAMPLES: Final = 3
TAG_CLOCK_OFFSET: Final = 4
TAG_BOUNDARY: Final = 5
TAG_STREAM_FOOTER: Final = 6
_VALUE_BYTES: Final = {"int8": 1, "int16": 2, "int32": 4, "int64": 8, "float32": 4,
                       "double64": 8, "string": 2}  # fmt: skip
CHANNEL_FORMATS: Final = tuple(_VALUE_BYTES)
MAX_CHANNELS: Final = 65_536  # far beyond any LSL device; bounds what a corrupt header allocates
MAX_SPAN_S: Final = 366 * 86_400.0
CLOCK_OFFSET_LENGTH: Final = 2 + 4 + 8 + 8  # tag, stream id, collection time, offset value
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_TYPES: Final = {
    "ecg": "ecg",
    "ppg": "ppg",
    "bvp": "ppg",
    "eda": "eda",
    "gsr": "eda",
    "rr": "rr",
    "ibi": "rr",
    "hr": "hr",
    "heartrate": "hr",
    "markers": "markers",
    "marker": "markers",
    "events": "markers",
}
_UNIT_SCALE: Final = {
    "ecg": {"microvolts": 1.0, "uv": 1.0, "µv": 1.0, "millivolts": 1e3, "mv": 1e3,
            "volts": 1e6, "v": 1e6},
    "eda": {"microsiemens": 1.0, "us": 1.0, "µs": 1.0, "nanosiemens": 1e-3, "ns": 1e-3,
            "siemens": 1e6, "s": 1e6},
    "rr": {"ms": 1.0, "milliseconds": 1.0, "s": 1e3, "seconds": 1e3},
}  # fmt: skip
_START_WORDS: Final = ("start", "begin")
_STOP_WORDS: Final = ("stop", "end")
_MARKER_PREFIX: Final = re.compile(r"^(start|begin|stop|end)[\s:/]+(\S.*)$", re.IGNORECASE)
_MARKER_SUFFIX: Final = re.compile(r"^(.*\S)[\s:/]+(start|begin|stop|end)$", re.IGNORECASE)


def detect(path: Path) -> Detection | None:
    if not path.is_file():
        return None
    if path.suffix.lower() not in (".xdf",):
        try:
            with path.open("rb") as f:
                if f.read(4) != MAGIC:
                    return None
        except OSError:
            return None
    return "recording"


def participants(paths: Sequence[Path], options: ImportOptions) -> list[str]:
    return [participant_from_name(options, paths[0], use_stem=True)]


@dataclass(frozen=True, slots=True)
class _Scan:
    data: bytes  # the file, up to a chunk cut short by its end (with --skip-bad-rows)
    datetime_ns: int | None  # the file header's <datetime>, if any


def _varlen(data: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of a variable-length integer; ValueError if malformed."""
    if pos >= len(data):
        raise ValueError("end of file inside a chunk header")
    n = data[pos]
    fmt = {1: "<B", 4: "<I", 8: "<Q"}.get(n)
    if fmt is None:
        raise ValueError(f"invalid length-size byte {n} (must be 1, 4 or 8)")
    if pos + 1 + n > len(data):
        raise ValueError("end of file inside a chunk header")
    return int(struct.unpack_from(fmt, data, pos + 1)[0]), pos + 1 + n


def _xml(content: bytes, what: str) -> Any:
    if b"<!DOCTYPE" in content or b"<!ENTITY" in content:
        raise ValueError(f"{what}: XML with a DTD or entities is not accepted")
    try:
        return fromstring(content.decode("utf-8"))
    except (ParseError, UnicodeDecodeError) as exc:
        raise ValueError(f"{what}: not valid XML ({exc})") from None


def _scan(path: Path, options: ImportOptions, stats: ImportStats) -> _Scan:
    """Check the chunk framing and stream headers; read the header's datetime."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFormatError(str(path), None, f"cannot read ({exc.strerror})") from exc
    stats.bytes_total += len(data)
    if not data:
        raise ImportFormatError(str(path), None, "empty file")
    if data[:4] != MAGIC:
        raise ImportFormatError(str(path), None, "not an XDF file (no 'XDF:' magic code)")
    pos = 4
    index = 0
    streams: dict[int, int] = {}  # stream id -> least bytes per sample
    datetime_ns: int | None = None
    truncated_at: int | None = None
    while pos < len(data):
        index += 1
        start = pos
        where = f"chunk {index} at byte {start}"
        try:
            length, pos = _varlen(data, pos)
            if length < 2:
                raise ValueError(f"chunk length {length} is shorter than its tag")
            end = pos + length
            if end > len(data):
                truncated_at = start
                raise ValueError(
                    f"truncated: the chunk needs {length} bytes, the file ends after "
                    f"{len(data) - pos}"
                )
            (tag,) = struct.unpack_from("<H", data, pos)
            content = data[pos + 2 : end]
            if index == 1 and tag != TAG_FILE_HEADER:
                raise ValueError(f"the first chunk must be the file header (tag 1), not tag {tag}")
            if tag == TAG_FILE_HEADER:
                datetime_ns = _header_datetime(_xml(content, "file header"))
            elif tag in (TAG_STREAM_HEADER, TAG_SAMPLES, TAG_CLOCK_OFFSET, TAG_STREAM_FOOTER):
                if len(content) < 4:
                    raise ValueError(f"tag {tag} chunk without a stream id")
                (stream_id,) = struct.unpack_from("<I", content, 0)
                if tag == TAG_STREAM_HEADER:
                    streams[stream_id] = _check_stream_header(_xml(content[4:], "stream header"))
                elif stream_id not in streams:
                    raise ValueError(f"stream {stream_id} has data but no stream header before it")
                elif tag == TAG_SAMPLES:
                    count, first = _varlen(content, 4)
                    if count * streams[stream_id] > len(content) - first:
                        raise ValueError(
                            f"samples chunk claims {count} samples in {len(content)} bytes"
                        )
                elif tag == TAG_CLOCK_OFFSET and length != CLOCK_OFFSET_LENGTH:
                    raise ValueError(f"clock offset chunk of {length} bytes, not 22")
                elif tag == TAG_STREAM_FOOTER:
                    _xml(content[4:], "stream footer")
            elif tag != TAG_BOUNDARY:
                raise ValueError(f"unknown chunk tag {tag} (XDF 1.0 knows 1 to 6)")
        except ValueError as exc:
            if truncated_at is not None and options.skip_bad_rows:
                bad_row(str(path), None, f"{where}: {exc}", options, stats)
                break
            raise ImportFormatError(str(path), None, f"{where}: {exc}") from None
        pos = end
    if not streams:
        raise ImportFormatError(str(path), None, "no streams in the file")
    return _Scan(data if truncated_at is None else data[:truncated_at], datetime_ns)


def _header_datetime(info: Any) -> int | None:
    element = info.find("datetime")
    if element is None or not (element.text or "").strip():
        return None
    text = element.text.strip()
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"file header datetime {text!r} is not ISO 8601") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        delta = dt - _EPOCH
    except OverflowError:  # e.g. 9999-12-31T23:59:59-12:00
        raise ValueError(f"file header datetime {text!r} is out of range") from None
    t = (delta.days * 86_400 + delta.seconds) * NS + delta.microseconds * 1000
    if not EARLIEST_NS <= t < LATEST_NS:
        raise ValueError(f"file header datetime {text!r} is not in 1990-2099")
    return t


def _check_stream_header(info: Any) -> int:
    """The least bytes a sample of the stream takes; ValueError if the header is unusable."""

    def text(name: str) -> str:
        element = info.find(name)
        return "" if element is None or element.text is None else element.text.strip()

    try:
        channels = int(text("channel_count"))
        rate = float(text("nominal_srate") or "0")
    except ValueError:
        raise ValueError("stream header: channel_count or nominal_srate is not a number") from None
    if not 1 <= channels <= MAX_CHANNELS:
        raise ValueError(f"stream header: channel_count {channels} (must be 1 to {MAX_CHANNELS})")
    if not (rate >= 0 and np.isfinite(rate)):
        raise ValueError(f"stream header: nominal_srate {rate} is impossible")
    fmt = text("channel_format")
    if fmt not in CHANNEL_FORMATS:
        raise ValueError(f"stream header: unknown channel_format {fmt!r}")
    # A time-stamp flag byte, then each value: a number, or a string's length (>= 2 bytes).
    return 1 + channels * _VALUE_BYTES[fmt]


class _ErrorLog(logging.Handler):
    """Collects pyxdf's error messages (it logs corruption and skips ahead)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _load(
    path: Path, data: bytes, options: ImportOptions, stats: ImportStats
) -> tuple[list[Any], Any]:
    import pyxdf

    logger = logging.getLogger("pyxdf.pyxdf")
    handler = _ErrorLog()
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        with warnings.catch_warnings():
            # Degenerate clock-offset fits on very short files warn from numpy.
            warnings.simplefilter("ignore", RuntimeWarning)
            streams, header = pyxdf.load_xdf(
                io.BytesIO(data), synchronize_clocks=True, verbose=False
            )
    except Exception as exc:  # pyxdf raises whatever its parsing hits on a corrupt file
        raise ImportFormatError(str(path), None, f"unreadable XDF ({exc})") from exc
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
    for message in handler.messages:
        bad_row(str(path), None, f"pyxdf: {message}", options, stats)
    return list(streams), header


def classify_stream(stream_type: str, name: str, channel_format: str) -> str | None:
    """``ecg``, ``ppg``, ``eda``, ``rr``, ``hr``, ``markers`` or None (ignored)."""
    kind = _TYPES.get(stream_type.strip().lower())
    if kind is None:
        for word in re.split(r"[^a-z0-9]+", name.lower()):
            if word in _TYPES:
                kind = _TYPES[word]
                break
    if kind is None and channel_format == "string":
        kind = "markers"
    return kind


def parse_marker(text: str) -> tuple[MarkerAction, str] | None:
    """A marker string → (action, kind); None for an empty string."""
    text = " ".join(text.split())
    if not text:
        return None
    for pattern, word_group, kind_group in ((_MARKER_PREFIX, 1, 2), (_MARKER_SUFFIX, 2, 1)):
        match = pattern.match(text)
        if match:
            word = match.group(word_group).lower()
            action = MarkerAction.START if word in _START_WORDS else MarkerAction.STOP
            return action, match.group(kind_group).strip()
    return MarkerAction.EVENT, text


def _info(stream: dict[str, Any], key: str) -> str:
    value = stream.get("info", {}).get(key)
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return ""


def _unit(stream: dict[str, Any]) -> str:
    try:
        desc = stream["info"]["desc"][0]
        channel = desc["channels"][0]["channel"][0]
        return str(channel["unit"][0]).strip().lower()
    except (KeyError, IndexError, TypeError):
        return ""


def read(paths: Sequence[Path], options: ImportOptions, stats: ImportStats) -> Iterator[Event]:
    path = paths[0]
    pid = participants(paths, options)[0]
    scan = _scan(path, options, stats)
    streams, _header = _load(path, scan.data, options, stats)
    stamps_of: list[np.ndarray] = []
    for stream in streams:
        stamps = np.asarray(stream.get("time_stamps", ()), dtype=np.float64)
        if not np.all(np.isfinite(stamps)):
            name = _info(stream, "name")
            raise ImportFormatError(str(path), None, f"stream {name!r}: a time stamp is not finite")
        stamps_of.append(stamps)
    firsts = [float(s.min()) for s in stamps_of if s.size]
    if not firsts:
        stats.note(f"{path.name}: no samples in any stream")
        return iter(())
    anchor = options.start_ns if options.start_ns is not None else scan.datetime_ns
    if anchor is None:
        raise ImportFormatError(
            str(path),
            None,
            "LSL time stamps have no calendar date and the file header has no <datetime>: "
            "give the start time of the first sample",
            setting="start time",
        )
    t0 = min(firsts)
    if max(float(s.max()) for s in stamps_of if s.size) - t0 > MAX_SPAN_S:
        raise ImportFormatError(str(path), None, "time stamps span more than a year")
    out: list[Iterator[Event]] = []
    for stream, stamps in zip(streams, stamps_of, strict=True):
        name = _info(stream, "name") or f"stream {_info(stream, 'stream_id')}"
        kind = classify_stream(_info(stream, "type"), name, _info(stream, "channel_format"))
        if kind is None:
            stats.note(f"{path.name}: stream {name!r} (type {_info(stream, 'type')!r}) ignored")
            continue
        times = anchor + np.round((stamps - t0) * NS).astype(np.int64)
        ids = EventIds(participant=pid, study=options.study, device=name)
        out.append(_stream_events(stream, kind, times, ids, path, options, stats))
    stats.bytes_read = stats.bytes_total
    return merge_by_time(out)


def _channel0(stream: dict[str, Any], kind: str, name: str, stats: ImportStats) -> np.ndarray:
    series = stream["time_series"]
    if isinstance(series, list):
        return np.array([row[0] if row else "" for row in series], dtype=object)
    array = np.asarray(series)
    if array.ndim == 2 and array.shape[1] > 1:
        stats.note(f"stream {name!r}: {array.shape[1]} channels, the first one is used")
    return array[:, 0] if array.ndim == 2 else array


def _stream_events(
    stream: dict[str, Any],
    kind: str,
    times: np.ndarray,
    ids: EventIds,
    path: Path,
    options: ImportOptions,
    stats: ImportStats,
) -> Iterator[Event]:
    name = ids["device"]
    values = _channel0(stream, kind, name, stats)
    where = f"{path} (stream {name!r})"
    if kind == "markers":
        for t, value in zip(times, values, strict=True):
            parsed = parse_marker(str(value))
            if parsed is None:
                continue
            stats.rows += 1
            action, marker_kind = parsed
            yield Marker(time_ns=int(t), action=action, kind=marker_kind[:64], **ids)
        return
    try:
        numbers = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ImportFormatError(where, None, "a numeric stream holds non-numeric values") from None
    unit = _unit(stream)
    scale = _UNIT_SCALE.get(kind, {}).get(unit) if unit else None
    if kind == "rr" and scale is None:
        scale = 1e3 if numbers.size and float(np.nanmedian(numbers)) < 10 else 1.0
    if scale is None:
        scale = 1.0
        if unit and kind in _UNIT_SCALE:
            stats.note(f"stream {name!r}: unit {unit!r} unknown, values taken as "
                       f"{'µV' if kind == 'ecg' else 'µS'}")  # fmt: skip
    numbers = numbers * scale
    quantity = {"ecg": "ecg_uv", "ppg": "ppg", "eda": "eda_us", "rr": "rr_ms", "hr": "hr_bpm"}[kind]
    lo, hi = PLAUSIBLE[quantity]
    ok = np.isfinite(numbers) & (numbers >= lo) & (numbers <= hi)
    for i in np.flatnonzero(~ok):
        bad_row(where, None, f"sample {i + 1}: {quantity} value {numbers[i]:g} is impossible",
                options, stats)  # fmt: skip
    if times.size > 1 and np.any(np.diff(times) < 0):
        back = int(np.flatnonzero(np.diff(times) < 0)[0]) + 1
        raise ImportFormatError(where, None, f"sample {back + 1}: time goes backwards")
    if kind in ("rr", "hr"):
        for t, v in zip(times[ok], numbers[ok], strict=True):
            stats.rows += 1
            if kind == "rr":
                yield Beat(time_ns=int(t), rr_ms=float(v), source=BeatSource.FILE, **ids)
            else:
                yield HeartRate(time_ns=int(t), bpm=float(v), **ids)
        return
    rate = options.rate or _stream_rate(stream, times[ok], where)
    check_rate(rate, kind, where)
    if kind == "eda":
        make = eda_maker(rate, ids)
    else:
        make = waveform_maker(WaveformKind.ECG if kind == "ecg" else WaveformKind.PPG, rate, ids)
    stats.rows += int(ok.sum())
    pairs = ((int(t), float(v)) for t, v in zip(times[ok], numbers[ok], strict=True))
    yield from chunk_samples(SampleChunker(make, rate), pairs)


def _stream_rate(stream: dict[str, Any], times: np.ndarray, where: str) -> float:
    """The effective rate fitted to the stream's time stamps (as the generic CSV reader does:
    :func:`~stresstrack.sample_rate.estimate_rate`), or for a short stream the header's
    nominal rate (else pyxdf's effective rate)."""
    if times.size >= MIN_FIT_SAMPLES:
        try:
            return estimate_rate(times - times[0]).rate_hz
        except ValueError as exc:
            raise ImportFormatError(where, None, f"time stamps: {exc}") from None
    rate = float(_info(stream, "nominal_srate") or 0) or float(
        stream.get("info", {}).get("effective_srate") or 0
    )
    if not rate > 0:
        raise ImportFormatError(where, None, "a sampled stream without a sampling rate")
    return rate


FORMAT: Final = Format(
    name="xdf",
    description="XDF (Lab Streaming Layer / LabRecorder): ECG, PPG, EDA, RR, HR and marker streams",
    detect=detect,
    participants=participants,
    read=read,
)
