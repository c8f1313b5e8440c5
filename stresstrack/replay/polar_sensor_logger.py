"""Polar Sensor Logger exports (Android app by Jukka Happonen): one ``.txt`` file per stream.

Files are named ``<device>_<date>_<STREAM>.txt`` (``Polar_H10_12345678_20260620_031641_ECG.txt``)
and are semicolon-separated with one header line. Headers, verified against public parsers and
writers of real exports:

* ECG: ``Phone timestamp;sensor timestamp [ns];timestamp [ms];ecg [uV]`` (the exact header
  matched by the Rust parser found with the code search, and read by column name in
  github.com/tsteven4/ecg-analysis ``src/ecg_analysis/analyze_ecg.py``);
* RR: ``Phone timestamp;RR-interval [ms]``, one row per interval (same sources);
* HR: ``Phone timestamp;HR [bpm];HRV [ms];Breathing interval [rpm];`` with rows holding only
  the HR (``2026-03-31T19:43:21.715;64``) or HR and HRV; older versions wrote
  ``Phone timestamp;HR [bpm]`` followed by the RR intervals of the notification as extra
  columns ("the extra columns in HR data are RR-intervals in milliseconds", the app's FAQ);
* PPI (Verity Sense, OH1): two column orders exist in the wild,
  ``Phone timestamp;sensor timestamp [ns];HR [bpm];PP-interval [ms];error estimate [ms];blocker;
  skin contact;skin contact supported`` and ``Phone Data RX timestamp;PP-interval [ms];error
  estimate [ms];blocker;contact;contact;hr [bpm]``, so columns are found by name;
* PPG: ``Phone timestamp;sensor timestamp [ns];channel 0;channel 1;channel 2;ambient``;
* ACC/GYRO/MAG: ``Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]`` (and ``[dps]``,
  ``[G]``): no event type, skipped;
* markers: ``MARKER_<date>.txt`` with ``Phone timestamp;Marker start/stop`` and rows
  ``MARKER_START`` / ``MARKER_STOP`` (the layout public PSL-compatible tools read and write).

Times: ``Phone timestamp`` is the phone's local civil time without a zone
(``2026-07-26T21:56:26.765``): it is read in ``--timezone`` (default UTC). ``sensor timestamp
[ns]`` counts from 2000-01-01 on the sensor's own clock (Polar BLE SDK,
``documentation/TimeSystemExplained.md``), which the H10 resets when it powers down, so it
only spaces samples: a sample's time is the phone time of the file's first row plus the sensor
time elapsed since, re-anchored on the phone time when the two drift more than 5 s apart (a
reconnection). A waveform's sample rate is fitted to the whole file's sensor timestamps
(``--rate`` gives it instead). HR/RR/PPI rows carry no sensor time: rows with the same phone
timestamp are one notification, timed like live data by
:class:`~stresstrack.sensors.timing.BeatTimer`.
Decimal commas (``12,1``, written on some phone locales) are accepted.

What becomes what: ECG → ECG :class:`~stresstrack.events.Waveform` (µV), PPG channel 0 → PPG
waveform, RR → :class:`~stresstrack.events.Beat` (``FILE``), PPI → Beat (``PPI``), HR →
:class:`~stresstrack.events.HeartRate`, markers → start/stop
:class:`~stresstrack.events.Marker` of kind ``marked`` (or ``--tag-sessions KIND``).

Size (issue 17): over 400 lines because it is one file format with several kinds of file
(ECG and PPG waveforms, ACC, RR, PPI, HR, markers) that share its header and time parsing;
``_waveform`` is one pass over a waveform file: checked samples, the rate from the sensor
timestamps, then each sample timed on the phone clock and re-anchored at reconnections,
kept whole so the timing reads in one place.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Final

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
from stresstrack.replay.base import (
    NS,
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
    resolve_timezone,
    unix_seconds_to_ns,
)
from stresstrack.replay.chunks import SampleChunker, chunk_samples, waveform_maker
from stresstrack.sample_rate import MIN_FIT_SAMPLES, estimate_rate
from stresstrack.sensors.timing import BeatTimer

__all__ = ["FORMAT", "stream_kind"]

TIME_COLUMNS: Final = ("Phone timestamp", "Phone Data RX timestamp")
SENSOR_COLUMN: Final = "sensor timestamp [ns]"
ECG_COLUMN: Final = "ecg [uV]"
RR_COLUMN: Final = "RR-interval [ms]"
PPI_COLUMN: Final = "PP-interval [ms]"
HR_COLUMN: Final = "HR [bpm]"
PPG_COLUMN: Final = "channel 0"
MARKER_COLUMN: Final = "Marker start/stop"
SKIPPED_COLUMNS: Final = {"X [mg]": "ACC", "X [dps]": "GYRO", "X [G]": "MAG"}
REANCHOR_NS: Final = 5 * NS  # sensor and phone time further apart than this: re-anchor
RATE_ROWS: Final = 1000  # rows read before the rate is known (the rest streams)
MARKER_KIND: Final = "marked"
MARKER_DEVICE: Final = "polar-sensor-logger"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _header_line(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            return f.readline(4096).decode("utf-8").removeprefix("\ufeff").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _columns(header: str) -> list[str]:
    return [c.strip() for c in header.split(";")]


def stream_kind(columns: Sequence[str]) -> str | None:
    """``ecg``, ``rr``, ``ppi``, ``hr``, ``ppg``, ``marker``, ``skip`` or None (not PSL)."""
    if not columns or columns[0] not in TIME_COLUMNS:
        return None
    names = set(columns)
    if ECG_COLUMN in names:
        return "ecg"
    if PPI_COLUMN in names:
        return "ppi"
    if RR_COLUMN in names:
        return "rr"
    if HR_COLUMN in names:
        return "hr"
    if PPG_COLUMN in names:
        return "ppg"
    if MARKER_COLUMN in names:
        return "marker"
    if names & SKIPPED_COLUMNS.keys():
        return "skip"
    return None


def detect(path: Path) -> Detection | None:
    if path.is_dir():
        return "recording" if _parts([path]) else None
    if path.suffix.lower() == ".txt":
        header = _header_line(path)
        if header is not None and stream_kind(_columns(header)) is not None:
            return "part"
    return None


def _parts(paths: Sequence[Path]) -> list[Path]:
    return expand_parts(paths, lambda f: detect(f) == "part")


def participants(paths: Sequence[Path], options: ImportOptions) -> list[str]:
    return [folder_participant(paths, options)]


def _device(path: Path) -> str:
    """``Polar_H10_A1B2C3D4_20260105_090000`` of ``..._ECG.txt``; markers are the app's own."""
    stem = path.stem
    if stem.upper().startswith("MARKER"):
        return MARKER_DEVICE
    return stem.rsplit("_", 1)[0] if "_" in stem else stem


def read(paths: Sequence[Path], options: ImportOptions, stats: ImportStats) -> Iterator[Event]:
    pid = participants(paths, options)[0]
    zone = resolve_timezone(options.timezone)
    files = _parts(paths)
    if not files:
        raise ImportFormatError(str(paths[0]), None, "no Polar Sensor Logger files")
    note_unread(paths, files, "a Polar Sensor Logger file", stats)
    streams: list[Iterator[Event]] = []
    for path in files:
        file = DataFile(path)
        header = _header_line(path)
        kind = stream_kind(_columns(header)) if header else None
        if kind == "skip":
            stats.note(f"{path.name}: no event type for this signal, skipped")
            continue
        stats.bytes_total += file.size()
        ids = EventIds(participant=pid, study=options.study, device=_device(path))
        streams.append(_read_file(file, ids, zone, options, stats))
    return merge_by_time(streams)


def _phone_ns(text: str, zone: tzinfo) -> int:
    text = text.strip()
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"phone timestamp {text!r} is not a date and time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone)
    try:
        delta = dt - _EPOCH
    except OverflowError:
        raise ValueError(f"phone timestamp {text!r} is out of range") from None
    t = (delta.days * 86_400 + delta.seconds) * NS + delta.microseconds * 1000
    unix_seconds_to_ns(t / NS, "phone timestamp")  # range check
    return t


def _number(text: str, what: str) -> float:
    return parse_number(text.replace(",", "."), what)


def _read_file(
    file: DataFile, ids: EventIds, zone: tzinfo, options: ImportOptions, stats: ImportStats
) -> Iterator[Event]:
    lines = iter_lines(file, stats)
    first = next(lines, None)
    if first is None:
        raise ImportFormatError(file.label, None, "empty file")
    columns = _columns(first[1])
    kind = stream_kind(columns)
    if kind is None:
        raise ImportFormatError(
            file.label, 1, f"header {first[1]!r} is not a Polar Sensor Logger header"
        )
    rows = _rows(lines, file, zone, options, stats)
    if kind in ("ecg", "ppg"):
        column = columns.index(ECG_COLUMN if kind == "ecg" else PPG_COLUMN)
        sensor = columns.index(SENSOR_COLUMN) if SENSOR_COLUMN in columns else None
        if sensor is None:
            raise ImportFormatError(file.label, 1, f"no {SENSOR_COLUMN!r} column")
        yield from _waveform(rows, kind, column, sensor, file, ids, options, stats)
    elif kind in ("rr", "ppi"):
        column = columns.index(RR_COLUMN if kind == "rr" else PPI_COLUMN)
        yield from _intervals(rows, kind, column, file, ids, options, stats)
    elif kind == "hr":
        yield from _heart_rate(rows, columns, file, ids, options, stats)
    else:
        yield from _markers(rows, file, ids, options, stats)


Row = tuple[int, int, list[str]]  # line, phone time (ns), fields


def _rows(
    lines: Iterator[tuple[int, str]],
    file: DataFile,
    zone: tzinfo,
    options: ImportOptions,
    stats: ImportStats,
) -> Iterator[Row]:
    last = -1
    for number, text in lines:
        if not text.strip():
            continue
        fields = [f.strip() for f in text.split(";")]
        try:
            if len(fields) < 2 or not fields[1]:
                raise ValueError("no value after the timestamp (truncated row?)")
            t = _phone_ns(fields[0], zone)
            if t < last:
                raise ValueError("time goes backwards (rows must be in time order)")
        except ValueError as exc:
            bad_row(file.label, number, str(exc), options, stats)
            continue
        last = t
        yield number, t, fields


def _waveform(
    rows: Iterator[Row],
    kind: str,
    column: int,
    sensor: int,
    file: DataFile,
    ids: EventIds,
    options: ImportOptions,
    stats: ImportStats,
) -> Iterator[Event]:
    quantity = "ecg_uv" if kind == "ecg" else "ppg"

    def samples() -> Iterator[tuple[int, int, float]]:
        last_sensor = -1
        for number, phone, fields in rows:
            try:
                if len(fields) <= max(column, sensor):
                    raise ValueError(f"{len(fields)} fields, expected {max(column, sensor) + 1}")
                s = int(_number(fields[sensor], "sensor timestamp"))
                if not 0 < s < 2**63:
                    raise ValueError(f"sensor timestamp {fields[sensor]} is out of range")
                if s <= last_sensor:
                    raise ValueError("sensor time goes backwards")
                value = check_value(_number(fields[column], kind.upper()), quantity)
            except ValueError as exc:
                bad_row(file.label, number, str(exc), options, stats)
                continue
            last_sensor = s
            stats.rows += 1
            yield phone, s, value

    it = samples()
    head = []
    error: ImportFormatError | None = None
    try:
        for sample in it:
            head.append(sample)
            if len(head) >= RATE_ROWS:
                break
    except ImportFormatError as exc:
        error = exc  # hand on the samples read before it, then raise it
    if len(head) < 2:
        if error is not None:
            raise error
        if head:
            raise ImportFormatError(file.label, None, "a waveform needs at least 2 samples")
        return
    rate = options.rate or _sensor_rate(file, sensor, head)
    check_rate(rate, kind, f"{file.label} (from the sensor timestamps)")
    kind_enum = WaveformKind.ECG if kind == "ecg" else WaveformKind.PPG
    chunker = SampleChunker(waveform_maker(kind_enum, rate, ids), rate)
    anchor = (head[0][0], head[0][1])

    def timed(source: Iterator[tuple[int, int, float]]) -> Iterator[tuple[int, float]]:
        nonlocal anchor
        for phone, s, value in source:
            t = anchor[0] + (s - anchor[1])
            if abs(phone - t) > REANCHOR_NS:  # a reconnection: re-anchor on the phone time
                anchor, t = (phone, s), phone
            yield t, value

    yield from chunk_samples(chunker, timed(_chain(head, iter(()) if error else it)))
    if error is not None:
        raise error


def _sensor_rate(file: DataFile, sensor: int, head: list[tuple[int, int, float]]) -> float:
    """The effective sample rate: fitted to the whole file's sensor timestamps
    (:func:`~stresstrack.sample_rate.estimate_rate`, robust to rounded, jittered or batched
    times and to gaps), as the generic CSV reader does; a file too short for a fit (fewer
    than ``MIN_FIT_SAMPLES``) takes the median spacing of its samples, leaving out gaps."""
    times: list[int] = []
    for number, text in iter_lines(file, ImportStats()):  # a second pass, not counted
        fields = text.split(";")
        if number > 1 and len(fields) > sensor:
            with contextlib.suppress(ValueError):  # bad rows: reported by the reading pass
                times.append(int(fields[sensor].strip()))
    t = np.asarray(times, dtype=np.int64)
    if t.size:  # as the reading pass: a sensor time not above every earlier one is a bad row
        t = t[t > np.concatenate(([-1], np.maximum.accumulate(t)[:-1]))]
    if t.size >= MIN_FIT_SAMPLES:
        try:
            return estimate_rate(t - t[0]).rate_hz
        except ValueError as exc:
            raise ImportFormatError(file.label, None, f"sensor timestamps: {exc}") from None
    steps = np.diff(np.array([s for _, s, _ in head], dtype=np.int64))
    step = float(np.median(steps[steps <= 2 * steps.min()]))
    rate = round(NS / step, 3)
    if not rate > 0:
        raise ImportFormatError(file.label, None, f"samples {step / NS:g} s apart: not a signal")
    return rate


def _chain(
    head: list[tuple[int, int, float]], rest: Iterator[tuple[int, int, float]]
) -> Iterator[tuple[int, int, float]]:
    yield from head
    yield from rest


def _intervals(
    rows: Iterator[Row],
    kind: str,
    column: int,
    file: DataFile,
    ids: EventIds,
    options: ImportOptions,
    stats: ImportStats,
) -> Iterator[Event]:
    timer = BeatTimer()
    source = BeatSource.FILE if kind == "rr" else BeatSource.PPI
    group_t: int | None = None
    group: list[float] = []

    def emit() -> Iterator[Event]:
        assert group_t is not None
        for t, rr in zip(timer.times(group_t, group), group, strict=True):
            yield Beat(time_ns=t, rr_ms=rr, source=source, **ids)

    try:
        for number, phone, fields in rows:
            try:
                if len(fields) <= column or not fields[column]:
                    raise ValueError("no interval value (truncated row?)")
                rr = check_value(_number(fields[column], "interval"), "rr_ms", "interval (ms)")
            except ValueError as exc:
                bad_row(file.label, number, str(exc), options, stats)
                continue
            stats.rows += 1
            if group_t is not None and phone != group_t:
                yield from emit()
                group = []
            group_t = phone
            group.append(rr)
    except ImportFormatError:
        if group:  # hand on the intervals read before the error
            yield from emit()
        raise
    if group:
        yield from emit()


def _heart_rate(
    rows: Iterator[Row],
    columns: list[str],
    file: DataFile,
    ids: EventIds,
    options: ImportOptions,
    stats: ImportStats,
) -> Iterator[Event]:
    hr_col = columns.index(HR_COLUMN)
    named = [c for c in columns if c]
    rr_in_extra_columns = len(named) == 2  # "Phone timestamp;HR [bpm]" + RR columns (old)
    timer = BeatTimer()
    for number, phone, fields in rows:
        try:
            if hr_col >= len(fields):
                raise ValueError(f"no HR value (column {hr_col + 1} of the header)")
            bpm = check_value(_number(fields[hr_col], "HR"), "hr_bpm")
            rrs = (
                [
                    check_value(_number(f, "RR"), "rr_ms", "RR (ms)")
                    for f in fields[hr_col + 1 :]
                    if f
                ]
                if rr_in_extra_columns
                else []
            )
        except ValueError as exc:
            bad_row(file.label, number, str(exc), options, stats)
            continue
        stats.rows += 1
        # The beats end at or before the notification's receipt: they come first.
        for t, rr in zip(timer.times(phone, rrs), rrs, strict=True):
            yield Beat(time_ns=t, rr_ms=rr, source=BeatSource.FILE, **ids)
        yield HeartRate(time_ns=phone, bpm=bpm, **ids)


def _markers(
    rows: Iterator[Row],
    file: DataFile,
    ids: EventIds,
    options: ImportOptions,
    stats: ImportStats,
) -> Iterator[Event]:
    kind = options.tag_sessions or MARKER_KIND
    for number, phone, fields in rows:
        text = fields[1].upper()
        if text not in ("MARKER_START", "MARKER_STOP"):
            bad_row(
                file.label, number, f"marker {fields[1]!r} is not MARKER_START or MARKER_STOP",
                options, stats,
            )  # fmt: skip
            continue
        stats.rows += 1
        action = MarkerAction.START if text == "MARKER_START" else MarkerAction.STOP
        yield Marker(time_ns=phone, action=action, kind=kind, **ids)


FORMAT: Final = Format(
    name="polar",
    description="Polar Sensor Logger export (*_ECG.txt, *_RR.txt, *_HR.txt, *_PPI.txt, ...)",
    detect=detect,
    participants=participants,
    read=read,
)
