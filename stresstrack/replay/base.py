"""What every importer shares: options, statistics, line reading, value checks and chunking.

An importer turns one recording (a folder, an archive or a few files) into the events of
:mod:`stresstrack.events`, in time order per file. Errors name the file, the line and the
problem (:class:`~stresstrack.errors.ImportFormatError`); with ``skip_bad_rows`` a bad row is
counted and skipped instead. Files are read line by line and events are yielded as they are
decoded, so whatever was read before an error has already been handed on.
"""

from __future__ import annotations

import heapq
import itertools
import lzma
import math
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.signal import lfilter

from stresstrack.errors import ImportFormatError
from stresstrack.events import (
    EdaSamples,
    Event,
    EventIds,
    Waveform,
    WaveformKind,
    validate_participant_id,
)
from stresstrack.limits import PLAUSIBLE, RATE_HZ
from stresstrack.sample_rate import RateEstimate, estimate_rate, gap_threshold_s

__all__ = [
    "NS",
    "PLAUSIBLE",
    "DataFile",
    "Detection",
    "Format",
    "GridChunker",
    "ImportOptions",
    "ImportStats",
    "SampleChunker",
    "bad_row",
    "check_rate",
    "check_value",
    "chunk_samples",
    "eda_maker",
    "file_rate",
    "grid_chunks",
    "iter_lines",
    "merge_by_time",
    "note_unread",
    "parse_number",
    "parse_unix_ns",
    "participant_from_name",
    "resolve_timezone",
    "unix_seconds_to_ns",
    "waveform_maker",
]

NS: Final = 1_000_000_000
# Unix times outside these years are a misread column, not a recording.
_EARLIEST_S: Final = datetime(1990, 1, 1, tzinfo=UTC).timestamp()
_LATEST_S: Final = datetime(2100, 1, 1, tzinfo=UTC).timestamp()
_MAX_SKIP_MESSAGES: Final = 5
# Allocation caps of every importer (docs/formats.md, "Limits"): a recording's line is a few
# dozen bytes; a zip member is refused when it expands beyond these (a decompression bomb).
MAX_LINE_BYTES: Final = 1 << 20
MAX_MEMBER_BYTES: Final = 4 << 30  # a day of E4 BVP at 64 Hz is ~60 MB
MAX_COMPRESSION_RATIO: Final = 200  # recorded text compresses 3-20x; bombs 1000x


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """How to read recordings; the command line fills it in."""

    participant: str | None = None  # --participant; else derived from the file or folder name
    study: str = "default"
    skip_bad_rows: bool = False
    start_ns: int | None = None  # calendar time of the first sample, for files that carry none
    timezone: str = "UTC"  # zone of local times written without an offset
    tag_sessions: str | None = None  # device tags pair up as start/stop of sessions of this kind
    rate: float | None = None  # --rate: sampling rate (Hz) of sampled signals, else fitted


@dataclass
class ImportStats:
    """What an importer read: rows, skipped rows, bytes (for progress) and notes."""

    rows: int = 0
    skipped: int = 0
    bytes_read: int = 0
    bytes_total: int = 0
    notes: list[str] = field(default_factory=list)
    skipped_examples: list[str] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        """Share of the input read so far, in [0, 1]."""
        if self.bytes_total <= 0:
            return 0.0
        return min(1.0, self.bytes_read / self.bytes_total)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


Detection = Literal["recording", "part"]
"""``recording``: the path alone is a whole recording (a folder, an archive, an XDF file);
``part``: a file that forms a recording with the other files named alongside it."""


@dataclass(frozen=True, slots=True)
class Format:
    """One recording format: how to recognise it, who the participants are, how to read it."""

    name: str
    description: str = field(repr=False)
    detect: Callable[[Path], Detection | None] = field(repr=False)
    participants: Callable[[Sequence[Path], ImportOptions], list[str]] = field(repr=False)
    read: Callable[[Sequence[Path], ImportOptions, ImportStats], Iterator[Event]] = field(
        repr=False
    )


def bad_row(
    where: str, line: int | None, problem: str, options: ImportOptions, stats: ImportStats
) -> None:
    """Count and skip a bad row with ``--skip-bad-rows``; otherwise raise the import error."""
    if not options.skip_bad_rows:
        raise ImportFormatError(where, line, problem)
    stats.skipped += 1
    if len(stats.skipped_examples) < _MAX_SKIP_MESSAGES:
        stats.skipped_examples.append(str(ImportFormatError(where, line, problem)))


@dataclass(frozen=True, slots=True)
class DataFile:
    """One file of a recording: on disk, or a member of a zip archive."""

    path: Path  # the file, or the archive holding it
    member: str | None = None  # name inside the archive

    @property
    def label(self) -> str:
        """How errors name the file."""
        return str(self.path) if self.member is None else f"{self.path}:{self.member}"

    @property
    def name(self) -> str:
        return self.path.name if self.member is None else self.member.rsplit("/", 1)[-1]

    def size(self) -> int:
        try:
            if self.member is None:
                return self.path.stat().st_size
            with zipfile.ZipFile(self.path) as archive:
                return archive.getinfo(self.member).file_size
        except (OSError, KeyError, zipfile.BadZipFile):
            return 0

    def open(self) -> IO[bytes]:
        try:
            if self.member is None:
                return self.path.open("rb")
            archive = zipfile.ZipFile(self.path)
            info = archive.getinfo(self.member)
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > MAX_MEMBER_BYTES or (
                info.file_size > MAX_LINE_BYTES and ratio > MAX_COMPRESSION_RATIO
            ):
                archive.close()
                raise ImportFormatError(
                    self.label,
                    None,
                    f"expands to {info.file_size} bytes ({ratio:.0f}x its compressed size): "
                    f"refused (at most {MAX_MEMBER_BYTES} bytes and {MAX_COMPRESSION_RATIO}x)",
                )
            return archive.open(self.member)
        except (OSError, KeyError, zipfile.BadZipFile, RuntimeError, NotImplementedError) as exc:
            raise ImportFormatError(self.label, None, f"cannot open ({exc})") from exc


def iter_lines(
    file: DataFile, stats: ImportStats, *, keep_newline: bool = False
) -> Generator[tuple[int, str], None, None]:
    """``(line number, text)`` of every line, decoded as UTF-8; counts the bytes read."""
    handle = file.open()
    with handle:
        number = 0
        while True:
            try:
                raw = handle.readline(MAX_LINE_BYTES + 1)
            except (
                OSError,
                EOFError,
                zipfile.BadZipFile,
                zlib.error,
                lzma.LZMAError,
                NotImplementedError,  # a zip compression method Python lacks
            ) as exc:
                raise ImportFormatError(file.label, number + 1, f"cannot read ({exc})") from exc
            if not raw:
                return
            if len(raw) > MAX_LINE_BYTES:
                raise ImportFormatError(
                    file.label, number + 1, f"a line longer than {MAX_LINE_BYTES} bytes"
                )
            number += 1
            stats.bytes_read += len(raw)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ImportFormatError(file.label, number, "not UTF-8 text") from None
            if number == 1:
                text = text.removeprefix("\ufeff")  # byte-order mark written by spreadsheet tools
            if "\x00" in text:
                raise ImportFormatError(file.label, number, "binary data (NUL byte) in a text file")
            yield number, text if keep_newline else text.rstrip("\r\n")


def parse_number(text: str, what: str) -> float:
    """A finite number, else ``ValueError`` naming ``what``."""
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"{what} value {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} value {text.strip()!r} is not a finite number")
    return value


def check_value(value: float, quantity: str, what: str | None = None) -> float:
    """``value`` if it lies in the plausible range of ``quantity`` (a key of ``PLAUSIBLE``)."""
    lo, hi = PLAUSIBLE[quantity]
    if not lo <= value <= hi:
        raise ValueError(
            f"{what or quantity} value {value:g} is outside the plausible range {lo:g}..{hi:g}"
        )
    return value


def check_rate(rate: float, signal: str, where: str, line: int | None = None) -> float:
    """``rate`` (Hz) if a device of ``signal`` (a key of ``RATE_HZ``) can sample at it, else
    :class:`ImportFormatError`: an absurd rate would spread a few samples over centuries."""
    lo, hi = RATE_HZ[signal]
    if not lo <= rate <= hi:
        raise ImportFormatError(
            where, line, f"{signal.upper()} sample rate {rate:g} Hz is outside {lo:g}-{hi:g} Hz"
        )
    return rate


def unix_seconds_to_ns(seconds: float, what: str = "time") -> int:
    """Unix seconds → ns, refusing times that cannot belong to a recording."""
    if not _EARLIEST_S <= seconds <= _LATEST_S:
        raise ValueError(f"{what} {seconds:g} is not a Unix time between 1990 and 2100")
    return round(seconds * NS)


def parse_unix_ns(text: str, what: str = "time") -> int:
    """Unix seconds as written (read exactly with decimal arithmetic) → ns."""
    try:
        seconds = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{what} {text.strip()!r} is not a Unix time") from None
    if not seconds.is_finite():
        raise ValueError(f"{what} {text.strip()!r} is not a Unix time")
    unix_seconds_to_ns(float(seconds), what)  # range check
    return int((seconds * NS).to_integral_value(ROUND_HALF_EVEN))


def resolve_timezone(name: str) -> tzinfo:
    """An IANA zone (``Europe/Paris``) or ``UTC``; a clear error otherwise."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ImportFormatError(
            "--timezone", None, f"unknown time zone {name!r} (use an IANA name, e.g. Europe/Paris)"
        ) from exc


def participant_from_name(options: ImportOptions, source: Path, *, use_stem: bool) -> str:
    """``--participant``, else the file stem or folder name when it is a valid pseudonym."""
    if options.participant is not None:
        return options.participant
    name = source.stem if use_stem else source.resolve().name
    try:
        return validate_participant_id(name)
    except ValueError as exc:
        raise ImportFormatError(
            str(source), None, f"{exc}; name the participant with --participant"
        ) from exc


def folder_participant(paths: Sequence[Path], options: ImportOptions) -> str:
    """The participant of a recording made of files in a folder: ``--participant``, else the
    folder's name (the folder given, or the one holding the first file)."""
    first = paths[0]
    return participant_from_name(
        options, first if first.is_dir() else first.resolve().parent, use_stem=False
    )


def expand_parts(paths: Sequence[Path], is_part: Callable[[Path], bool]) -> list[Path]:
    """The files given, with every folder replaced by its files that ``is_part`` accepts."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(f for f in sorted(p.iterdir()) if f.is_file() and is_part(f))
        else:
            out.append(p)
    return out


def note_unread(
    paths: Sequence[Path], parts: Sequence[Path], what: str, stats: ImportStats
) -> None:
    """Note every data file (``.csv``, ``.txt``) of the folders given that is not one of the
    recording's ``parts``: an empty, binary or UTF-16 file must not vanish without a word."""
    taken = {p.resolve() for p in parts}
    for folder in paths:
        if not folder.is_dir():
            continue
        for f in sorted(folder.iterdir()):
            if f.is_file() and f.suffix.lower() in (".csv", ".txt") and f.resolve() not in taken:
                why = "empty" if f.stat().st_size == 0 else "not UTF-8 text or an unknown header"
                stats.note(f"{f.name}: not {what} ({why}), skipped")


def merge_by_time(streams: Sequence[Iterable[Event]]) -> Iterator[Event]:
    """Merge per-file event streams by time; ties keep the order of ``streams``."""
    return heapq.merge(*streams, key=lambda e: e.time_ns)


def samples_per_chunk(rate: float, chunk_s: float) -> int:
    """Samples per event of a signal at ``rate`` (Hz) cut into ``chunk_s`` chunks."""
    if not rate > 0:
        raise ValueError("sampling rate must be > 0")
    return max(1, round(rate * chunk_s))


class SampleChunker:
    """Cuts a regularly sampled signal into events of about ``chunk_s`` seconds.

    A new event starts after ``round(rate * chunk_s)`` samples and wherever a sample comes more
    than 1.5 sample periods after the previous one (a gap), like the live collector's
    notifications: the event's time is its first sample's time and the rest follow at ``rate``.
    """

    def __init__(
        self,
        make: Callable[[int, tuple[float, ...]], Event],
        rate: float,
        *,
        chunk_s: float = 1.0,
    ) -> None:
        self.make = make
        self.rate = rate
        self.per_chunk = samples_per_chunk(rate, chunk_s)
        self._gap_ns = 1.5 * NS / rate
        self._first_ns: int | None = None
        self._last_ns = 0
        self._values: list[float] = []

    def add(self, t_ns: int, value: float) -> list[Event]:
        out: list[Event] = []
        if self._first_ns is not None and (
            t_ns - self._last_ns > self._gap_ns or len(self._values) >= self.per_chunk
        ):
            out.append(self._emit())
        if self._first_ns is None:
            self._first_ns = t_ns
        self._values.append(value)
        self._last_ns = t_ns
        return out

    def flush(self) -> list[Event]:
        return [self._emit()] if self._first_ns is not None else []

    def _emit(self) -> Event:
        assert self._first_ns is not None
        event = self.make(self._first_ns, tuple(self._values))
        self._first_ns = None
        self._values = []
        return event


def eda_maker(rate: float, ids: EventIds) -> Callable[[int, tuple[float, ...]], Event]:
    def make(t: int, values: tuple[float, ...]) -> Event:
        return EdaSamples(time_ns=t, sampling_rate=rate, values_us=values, **ids)

    return make


def waveform_maker(
    kind: WaveformKind, rate: float, ids: EventIds
) -> Callable[[int, tuple[float, ...]], Event]:
    def make(t: int, values: tuple[float, ...]) -> Event:
        return Waveform(time_ns=t, kind=kind, sampling_rate=rate, values=values, **ids)

    return make


def _float_times(file: DataFile, column: str, chunk_rows: int) -> list[np.ndarray]:
    """Times (ns, float) of a column of Unix seconds; ValueError if any is not a number."""
    parts: list[np.ndarray] = []
    with file.open() as handle:
        reader = pd.read_csv(
            handle, usecols=lambda c: c.strip() == column, dtype=np.float64, chunksize=chunk_rows,
            encoding="utf-8-sig", engine="c",
        )  # fmt: skip
        for chunk in reader:
            with np.errstate(over="ignore", invalid="ignore"):  # absurd times become inf: dropped
                ns = np.round(chunk.to_numpy(dtype=np.float64)[:, 0] * NS)
            parts.append(ns[np.isfinite(ns)])
    return parts


def _text_times(file: DataFile, column: str, chunk_rows: int) -> list[np.ndarray]:
    """Times (ns, float) of a column of Unix seconds or ISO 8601 times; bad ones left out."""
    parts: list[np.ndarray] = []
    with file.open() as handle:
        reader = pd.read_csv(
            handle, usecols=lambda c: c.strip() == column, dtype=str, chunksize=chunk_rows,
            encoding="utf-8-sig", on_bad_lines="skip", engine="c",
        )  # fmt: skip
        for chunk in reader:
            text = chunk.iloc[:, 0].str.strip()
            seconds = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
            with np.errstate(over="ignore", invalid="ignore"):  # absurd times become inf: dropped
                ns = np.round(seconds * NS)
            iso = np.isnan(ns) & text.notna().to_numpy()
            if iso.any():
                when = pd.to_datetime(text[iso], format="ISO8601", errors="coerce", utc=True)
                ns[iso] = (
                    when.astype("datetime64[ns, UTC]")
                    .to_numpy(dtype="datetime64[ns]", na_value=np.datetime64("NaT"))
                    .astype(np.int64)
                )
                ns[iso & (ns == np.iinfo(np.int64).min)] = np.nan
            parts.append(ns[np.isfinite(ns)])
    return parts


def grid_chunks(
    make: Callable[[int, tuple[float, ...]], Event],
    start_ns: int,
    rate: float,
    values: Iterable[tuple[int, float]],
    *,
    chunk_s: float = 1.0,
) -> Iterator[Event]:
    """Events for ``(sample index, value)`` pairs on the grid ``start + index / rate``.

    Indices must increase; a skipped index (a bad row left out) starts a new event.
    """
    per_chunk = samples_per_chunk(rate, chunk_s)
    first: int | None = None
    last = -1
    chunk: list[float] = []
    try:
        for index, value in values:
            if first is not None and (index != last + 1 or len(chunk) >= per_chunk):
                yield make(start_ns + round(first * NS / rate), tuple(chunk))
                first, chunk = None, []
            if first is None:
                first = index
            chunk.append(value)
            last = index
    except ImportFormatError:
        if first is not None:  # hand on the samples read before the error
            yield make(start_ns + round(first * NS / rate), tuple(chunk))
        raise
    if first is not None:
        yield make(start_ns + round(first * NS / rate), tuple(chunk))


def file_rate(file: DataFile, column: str, *, chunk_rows: int = 500_000) -> RateEstimate:
    """A sampled signal's effective rate, fitted to the timestamps of the whole file.

    ``column`` holds Unix seconds or ISO 8601 times (naive = UTC). Rows whose time does not
    parse are left out here (the row-by-row reading reports them). Raises ValueError.
    """
    parts: list[np.ndarray] = []
    try:
        parts = _float_times(file, column, chunk_rows)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError, OSError):
        parts = []  # not all Unix seconds: text, parsed as numbers or ISO 8601 times
    if not parts:
        try:
            parts = _text_times(file, column, chunk_rows)
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
            raise ValueError(f"cannot read the {column!r} column ({exc})") from None
    times = np.concatenate(parts) if parts else np.zeros(0)
    return estimate_rate(times)


@dataclass
class GridChunker:
    """A sampled signal's rows → events, with samples re-timed on the grid of ``rate`` (Hz).

    Rounded, batched or jittered timestamps become regular: each segment is anchored on its
    first sample and the anchor follows the timestamps slowly (an exponential average over
    ~10 s of data, so jitter averages out and a slowly wandering clock is followed). A
    timestamp off the grid by more than :func:`~stresstrack.sample_rate.gap_threshold_s`
    starts a new segment (a gap). Events hold ``round(rate * chunk_s)`` samples and end at
    gaps, like the live collector's notifications. Rows come in blocks (numpy arrays), so
    long files cost little per sample.

    >>> from stresstrack.events import EventIds
    >>> g = GridChunker(eda_maker(1e8, EventIds(participant="p-01")), 1e8, chunk_s=3e-8)
    >>> [e.time_ns for e in g.add(np.array([0, 9, 21, 30, 10**9]), np.ones(5)) + g.flush()]
    [0, 30, 1000000000]
    """

    make: Callable[[int, tuple[float, ...]], Event]
    rate: float
    chunk_s: float = 1.0
    per_chunk: int = field(init=False)
    _period: float = field(init=False)
    _gap: float = field(init=False)
    _gain: float = field(init=False)
    _origin: int = 0  # ns: the segment's first sample
    _anchor: float = 0.0  # ns after _origin: the grid's offset, following the timestamps
    _k: int = -1  # grid index of the last sample; -1: no open segment
    _last: int | None = None  # re-timed time of the last sample
    _first: int = 0  # time of the open event's first sample
    _values: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.per_chunk = samples_per_chunk(self.rate, self.chunk_s)
        self._period = NS / self.rate
        self._gap = gap_threshold_s(self.rate) * NS
        self._gain = min(1.0, 1.0 / (10.0 * self.rate))

    def add(self, times_ns: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> list[Event]:
        """Events completed by these samples (times must not decrease)."""
        if times_ns.size == 0:
            return []
        return self._chunks(self._grid(times_ns), values)

    def flush(self) -> list[Event]:
        """The open event, at the end of the data."""
        return [self._emit()] if self._values else []

    def _grid(self, times: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        n, g = times.size, self._gain
        out = np.empty(n, dtype=np.int64)
        i = 0
        while i < n:
            if self._k < 0:  # a new segment starts here
                self._origin, self._anchor, self._k = int(times[i]), 0.0, 0
                out[i] = times[i]
                i += 1
                continue
            ks = self._k + 1 + np.arange(n - i, dtype=np.float64)
            u = (times[i:] - self._origin).astype(np.float64) - ks * self._period
            # anchor_j = (1 - g) anchor_(j-1) + g u_j, checked against the previous anchor
            a = lfilter([g], [1.0, g - 1.0], u, zi=[(1.0 - g) * self._anchor])[0]
            before = np.concatenate(([self._anchor], a[:-1]))
            off = np.flatnonzero(np.abs(u - before) > self._gap)
            m = int(off[0]) if off.size else u.size
            if m:
                out[i : i + m] = self._origin + np.round(a[:m] + ks[:m] * self._period)
                self._anchor, self._k = float(a[m - 1]), int(ks[m - 1])
            i += m
            if off.size:
                self._k = -1
        return out

    def _chunks(self, times: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> list[Event]:
        out: list[Event] = []
        limit = 1.5 * self._period
        if self._values and self._last is not None and times[0] - self._last > limit:
            out.append(self._emit())
        cuts = [0, *(np.flatnonzero(np.diff(times) > limit) + 1).tolist(), times.size]
        vals = values.tolist()
        for r, (s, e) in enumerate(itertools.pairwise(cuts)):
            j = s
            if self._values:  # the open event continues (no gap before this run)
                take = min(self.per_chunk - len(self._values), e - s)
                self._values.extend(vals[s : s + take])
                j += take
                if len(self._values) >= self.per_chunk:
                    out.append(self._emit())
            while j < e:
                take = min(self.per_chunk, e - j)
                if take == self.per_chunk:
                    out.append(self.make(int(times[j]), tuple(vals[j : j + take])))
                else:
                    self._first, self._values = int(times[j]), vals[j : j + take]
                j += take
            if r < len(cuts) - 2 and self._values:  # a gap follows
                out.append(self._emit())
        self._last = int(times[-1])
        return out

    def _emit(self) -> Event:
        event = self.make(self._first, tuple(self._values))
        self._values = []
        return event


def chunk_samples(chunker: SampleChunker, samples: Iterable[tuple[int, float]]) -> Iterator[Event]:
    """Feed ``(time_ns, value)`` samples to ``chunker``; on an import error, hand on the
    samples read before it, then raise it."""
    try:
        for t, v in samples:
            yield from chunker.add(t, v)
    except ImportFormatError:
        yield from chunker.flush()
        raise
    yield from chunker.flush()
