"""What every importer shares: options, statistics, line reading and value checks (chunking
sampled signals into events: :mod:`stresstrack.replay.chunks`).

An importer turns one recording (a folder, an archive or a few files) into the events of
:mod:`stresstrack.events`, in time order per file. Errors name the file, the line and the
problem (:class:`~stresstrack.errors.ImportFormatError`); with ``skip_bad_rows`` a bad row is
counted and skipped instead. Files are read line by line and events are yielded as they are
decoded, so whatever was read before an error has already been handed on.
"""

from __future__ import annotations

import heapq
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

from stresstrack.errors import ImportFormatError, SettingError
from stresstrack.events import (
    Event,
    validate_participant_id,
)
from stresstrack.limits import PLAUSIBLE, RATE_HZ

__all__ = [
    "NS",
    "PLAUSIBLE",
    "DataFile",
    "Detection",
    "Format",
    "ImportOptions",
    "ImportStats",
    "bad_row",
    "check_rate",
    "check_value",
    "iter_lines",
    "merge_by_time",
    "note_unread",
    "parse_number",
    "parse_unix_ns",
    "participant_from_name",
    "resolve_timezone",
    "unix_seconds_to_ns",
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
        raise SettingError(
            "time zone", f"unknown time zone {name!r} (use an IANA name, e.g. Europe/Paris)"
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
            str(source), None, f"{exc}; name the participant", setting="participant"
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
