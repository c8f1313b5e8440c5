"""The generic CSV layout: one file per signal, plus an optional markers file.

Each file has a ``time`` column (Unix seconds as a float, or ISO 8601; naive ISO times are
UTC) and one value column named for the signal and its unit:

========== ============================================ ==========================
column     meaning                                      becomes
========== ============================================ ==========================
``rr_ms``  one row per beat: the interval ending then   :class:`~stresstrack.events.Beat`
``hr_bpm`` heart rate readings                          :class:`~stresstrack.events.HeartRate`
``eda_us`` skin conductance samples, regular rate       :class:`~stresstrack.events.EdaSamples`
``ecg_uv`` ECG samples, regular rate                    :class:`~stresstrack.events.Waveform`
``ppg``    PPG samples, regular rate                    :class:`~stresstrack.events.Waveform`
``acc_mg`` accelerometer magnitude (mG), regular rate   :class:`~stresstrack.events.Waveform`
========== ============================================ ==========================

A markers file has ``time``, ``action`` (``start``/``stop``/``event``) and ``kind``, and
optionally ``mode``, ``label`` and ``note``. Sampled signals are cut into chunks at gaps;
their rate is fitted to the whole file's timestamps (:func:`~stresstrack.replay.chunks.file_rate`)
unless ``--rate`` gives it, and samples are timed on that rate's grid between gaps
(:class:`~stresstrack.replay.chunks.GridChunker`), so rounded or jittered timestamps neither
change the rate nor cut the signal. Clean files are read in blocks (pandas); from the first
block with a bad row on, row by row, so errors name their line.

Size (issue 17): over 400 lines because it is one file format, read two ways that must agree:
a fast block reader for the common case and a row-by-row reader that names the bad line;
both share the header, time and marker parsing.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, DecimalException, InvalidOperation
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

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
    DataFile,
    Detection,
    Format,
    ImportOptions,
    ImportStats,
    bad_row,
    check_rate,
    check_value,
    expand_parts,
    folder_participant,
    iter_lines,
    merge_by_time,
    note_unread,
    parse_number,
)
from stresstrack.replay.chunks import GridChunker, eda_maker, file_rate, waveform_maker

__all__ = ["FORMAT", "VALUE_COLUMNS", "iter_csv_file", "parse_time", "read_csv_file"]

VALUE_COLUMNS: Final = ("rr_ms", "hr_bpm", "eda_us", "ecg_uv", "ppg", "acc_mg")
MARKER_COLUMNS: Final = ("action", "kind")
SAMPLED: Final = ("eda_us", "ecg_uv", "ppg", "acc_mg")
_KINDS: Final = {"ecg_uv": WaveformKind.ECG, "ppg": WaveformKind.PPG, "acc_mg": WaveformKind.ACC}
FAST_ROWS: Final = 100_000  # rows per block of the fast reader of sampled signals
ROW_BLOCK: Final = 4096  # rows per block when read row by row
CHUNK_S: Final = 1.0
MAX_DIGITS: Final = 12  # Unix seconds have 10 digits before the point
SUFFIXES: Final = (".csv", ".txt")


def parse_time(text: str) -> int:
    """Unix seconds (float) or ISO 8601 → ns since the epoch (UTC)."""
    text = text.strip()
    try:
        # Decimal, not float: 1767603601.3125 must give ...601312500000 ns exactly.
        seconds = Decimal(text)
    except InvalidOperation:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * NS + delta.microseconds * 1000
    if not seconds.is_finite() or seconds.adjusted() > MAX_DIGITS:
        raise ValueError(f"time {text!r} is not finite or out of range")
    try:
        return int((seconds * NS).to_integral_value(ROUND_HALF_EVEN))
    except DecimalException:
        raise ValueError(f"time {text!r} is out of range") from None


def _time(text: str) -> int:
    try:
        t = parse_time(text)
    except (ValueError, OverflowError):
        raise ValueError(f"time {text.strip()!r} is neither Unix seconds nor ISO 8601") from None
    if not EARLIEST_NS <= t < LATEST_NS:  # the calendar bounds of every event (limits)
        raise ValueError(f"time {text.strip()!r} is outside 1970-2099")
    return t


def _column(header: list[str]) -> str | None:
    """The signal a header announces: a value column, ``markers``, or None."""
    if "time" not in header:
        return None
    if all(c in header for c in MARKER_COLUMNS):
        return "markers"
    value_cols = [c for c in header if c in VALUE_COLUMNS]
    return value_cols[0] if len(value_cols) == 1 else None


def _header(path: Path) -> list[str] | None:
    try:
        with path.open("rb") as f:
            first = f.readline(4096).decode("utf-8").removeprefix("\ufeff")
    except (OSError, UnicodeDecodeError):
        return None
    return [h.strip() for h in next(csv.reader([first]), [])]


def detect(path: Path) -> Detection | None:
    if path.is_dir():
        return "recording" if _parts([path]) else None
    if path.suffix.lower() in SUFFIXES:
        header = _header(path)
        if header is not None and _column(header) is not None:
            return "part"
    return None


def _parts(paths: Sequence[Path]) -> list[Path]:
    return expand_parts(paths, lambda f: f.suffix.lower() in SUFFIXES and detect(f) == "part")


def participants(paths: Sequence[Path], options: ImportOptions) -> list[str]:
    return [folder_participant(paths, options)]


def read(paths: Sequence[Path], options: ImportOptions, stats: ImportStats) -> Iterator[Event]:
    """Every file's events, merged by time; ties keep the order of the files."""
    pid = participants(paths, options)[0]
    files = [DataFile(p) for p in _parts(paths)]
    if not files:
        raise ImportFormatError(str(paths[0]), None, "no generic CSV files (see docs/formats.md)")
    note_unread(paths, [f.path for f in files], "a generic CSV file", stats)
    stats.bytes_total += sum(f.size() for f in files)
    return merge_by_time([iter_csv_file(f, pid, options, stats) for f in files])


def read_csv_file(
    path: Path, options: ImportOptions, stats: ImportStats | None = None
) -> list[Event]:
    """All events of one generic CSV file (``options.participant`` must be set)."""
    if options.participant is None:
        raise ValueError("read_csv_file needs options.participant")
    return list(iter_csv_file(DataFile(path), options.participant, options, stats or ImportStats()))


@dataclass(frozen=True, slots=True)
class _MarkerFields:
    action: MarkerAction
    kind: str
    mode: str
    label: str
    note: str


def iter_csv_file(
    file: DataFile, participant: str, options: ImportOptions, stats: ImportStats
) -> Iterator[Event]:
    """Events of one generic CSV file, in time order, as the rows are read."""
    ids = EventIds(participant=participant, study=options.study, device=file.name)
    read_before, rows_before = stats.bytes_read, stats.rows
    lines = iter_lines(file, stats, keep_newline=True)
    reader = csv.reader(text for _n, text in lines)
    column, idx = _header_of(reader, file)
    rows = _rows(reader, file, column, idx, options, stats)
    first = next(rows, None)
    if first is None:
        raise ImportFormatError(file.label, None, "no data rows")
    if column in SAMPLED:  # read again, in blocks
        lines.close()
        stats.bytes_read, stats.rows = read_before, rows_before
        yield from _sampled(file, column, idx, ids, options, stats)
        return
    rows = itertools.chain([first], rows)
    if column == "markers":
        for t, m in rows:
            assert isinstance(m, _MarkerFields)
            yield Marker(
                time_ns=t,
                action=m.action,
                kind=m.kind,
                mode=m.mode,
                label=m.label,
                note=m.note,
                **ids,
            )
    elif column == "rr_ms":
        for t, v in rows:
            assert isinstance(v, float)
            yield Beat(time_ns=t, rr_ms=v, source=BeatSource.FILE, **ids)
    elif column == "hr_bpm":
        for t, v in rows:
            assert isinstance(v, float)
            yield HeartRate(time_ns=t, bpm=v, **ids)


def _sampled(
    file: DataFile,
    column: str,
    idx: dict[str, int],
    ids: EventIds,
    options: ImportOptions,
    stats: ImportStats,
) -> Iterator[Event]:
    """A sampled signal's events: a fast block reader while the rows are clean, row by row
    (exact errors, ``--skip-bad-rows``) from the first block that is not."""
    rate = options.rate
    if rate is None:
        try:
            rate = file_rate(file, "time").rate_hz
        except ValueError as exc:
            raise ImportFormatError(file.label, None, f"sampled signal: {exc}") from None
    signal = {"eda_us": "eda", "ecg_uv": "ecg"}.get(column, "ppg")  # ACC: PPG's rate limits
    check_rate(rate, signal, f"{file.label} (from the spacing of its times)")
    make = eda_maker(rate, ids) if column == "eda_us" else waveform_maker(_KINDS[column], rate, ids)
    chunker = GridChunker(make, rate, chunk_s=CHUNK_S)
    last: list[int] = []  # time of the last row read
    read_before = stats.bytes_read
    resume = yield from _fast_blocks(file, column, idx, chunker, stats, last)
    if resume is not None:
        stats.bytes_read = read_before  # counted again, line by line
        yield from _row_blocks(file, column, idx, chunker, options, stats, resume, last)
    yield from chunker.flush()


def _fast_blocks(
    file: DataFile,
    column: str,
    idx: dict[str, int],
    chunker: GridChunker,
    stats: ImportStats,
    last: list[int],
) -> Generator[Event, None, int | None]:
    """Events of the file's clean blocks; None at the end, or the first line of a block
    that needs reading row by row."""
    lo, hi = PLAUSIBLE[column]
    time_first = idx["time"] < idx[column]
    read_before = stats.bytes_read
    line = 2
    try:
        with file.open() as handle:
            blocks = pd.read_csv(
                handle, header=0, usecols=[idx["time"], idx[column]], dtype=np.float64,
                chunksize=FAST_ROWS, skip_blank_lines=False, engine="c", encoding="utf-8-sig",
            )  # fmt: skip
            for block in blocks:
                data = block.to_numpy(dtype=np.float64)
                secs, values = (data[:, 0], data[:, 1]) if time_first else (data[:, 1], data[:, 0])
                if not (np.isfinite(secs).all() and np.isfinite(values).all()):
                    return line
                whole = np.floor(secs)
                times = whole.astype(np.int64) * NS + np.round((secs - whole) * NS).astype(np.int64)
                if (
                    times[0] < (last[0] if last else 0)
                    or times[-1] > LATEST_NS
                    or np.any(np.diff(times) < 0)
                    or not ((values >= lo) & (values <= hi)).all()
                ):
                    return line
                yield from chunker.add(times, values)
                last[:] = [int(times[-1])]
                line += len(block)
                stats.rows += len(block)
                with contextlib.suppress(OSError, ValueError):
                    stats.bytes_read = read_before + handle.tell()
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError, OSError, ImportFormatError):
        return line
    stats.bytes_read = read_before + file.size()
    return None


def _row_blocks(
    file: DataFile,
    column: str,
    idx: dict[str, int],
    chunker: GridChunker,
    options: ImportOptions,
    stats: ImportStats,
    start_line: int,
    last: list[int],
) -> Iterator[Event]:
    """Events of the rows from ``start_line`` on, read and checked one by one."""
    lines = iter_lines(file, stats, keep_newline=True)
    reader = csv.reader(text for n, text in lines if n >= start_line)
    previous = last[0] if last else None
    rows = _rows(reader, file, column, idx, options, stats, start_line - 1, previous)
    times: list[int] = []
    values: list[float] = []
    try:
        for t, v in rows:
            assert isinstance(v, float)
            times.append(t)
            values.append(v)
            if len(times) >= ROW_BLOCK:
                yield from chunker.add(np.array(times, dtype=np.int64), np.array(values))
                times, values = [], []
    except ImportFormatError:
        yield from chunker.add(np.array(times, dtype=np.int64), np.array(values))
        yield from chunker.flush()  # hand on the samples read before the error
        raise
    yield from chunker.add(np.array(times, dtype=np.int64), np.array(values))


def _header_of(reader: Iterator[list[str]], file: DataFile) -> tuple[str, dict[str, int]]:
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ImportFormatError(file.label, None, "empty file (no header)") from None
    except csv.Error as exc:
        raise ImportFormatError(file.label, 1, f"not a CSV file ({exc})") from exc
    if "time" not in header:
        raise ImportFormatError(file.label, 1, f"no 'time' column in header {header}")
    column = _column(header)
    if column is None:
        raise ImportFormatError(
            file.label,
            1,
            f"header {header} needs 'time' and exactly one of {list(VALUE_COLUMNS)}, "
            "or 'time', 'action' and 'kind' for markers",
        )
    return column, {c: header.index(c) for c in header}


def _rows(
    reader: Any,
    file: DataFile,
    column: str,
    idx: dict[str, int],
    options: ImportOptions,
    stats: ImportStats,
    line_offset: int = 0,
    last_t: int | None = None,
) -> Iterator[tuple[int, float | _MarkerFields]]:
    """``(time_ns, value or marker fields)`` of every good row; ``line_offset`` lines and a
    row at ``last_t`` came before what ``reader`` reads (0 and None: from the header on)."""
    line = 1 + line_offset
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ImportFormatError(file.label, line + 1, f"unreadable row ({exc})") from exc
        line = reader.line_num + line_offset
        if not row or all(not c.strip() for c in row):
            continue
        try:
            if len(row) < len(idx):
                raise ValueError(f"{len(row)} fields, header has {len(idx)} (truncated row?)")
            t = _time(row[idx["time"]])
            if last_t is not None and t < last_t:
                raise ValueError("time goes backwards (rows must be in time order)")
            item: float | _MarkerFields
            if column == "markers":
                item = _marker(row, idx)
            else:
                item = check_value(parse_number(row[idx[column]], column), column)
        except ValueError as exc:
            bad_row(file.label, line, str(exc), options, stats)
            continue
        last_t = t
        stats.rows += 1
        yield t, item


def _marker(row: list[str], idx: dict[str, int]) -> _MarkerFields:
    action_text = row[idx["action"]].strip().lower()
    try:
        action = MarkerAction(action_text)
    except ValueError:
        raise ValueError(f"action {action_text!r} is not start, stop or event") from None
    kind = row[idx["kind"]].strip()
    if not kind:
        raise ValueError("empty marker kind")

    def opt(name: str) -> str:
        return row[idx[name]].strip() if name in idx and idx[name] < len(row) else ""

    return _MarkerFields(action, kind, opt("mode"), opt("label"), opt("note"))


FORMAT: Final = Format(
    name="csv",
    description="generic CSV: one file per signal (time + rr_ms/hr_bpm/eda_us/ecg_uv/ppg/acc_mg), "
    "markers",
    detect=detect,
    participants=participants,
    read=read,
)
