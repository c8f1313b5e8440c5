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
========== ============================================ ==========================

A markers file has ``time``, ``action`` (``start``/``stop``/``event``) and ``kind``, and
optionally ``mode``, ``label`` and ``note``. Sampled signals are cut into chunks at gaps;
their rate is the median sample spacing.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Final

import numpy as np

from stresstrack.errors import ImportFormatError
from stresstrack.events import (
    Beat,
    BeatSource,
    EdaSamples,
    Event,
    EventIds,
    HeartRate,
    Marker,
    MarkerAction,
    Waveform,
    WaveformKind,
)

__all__ = ["VALUE_COLUMNS", "CsvOptions", "read_csv_file"]

NS: Final = 1_000_000_000
VALUE_COLUMNS: Final = ("rr_ms", "hr_bpm", "eda_us", "ecg_uv", "ppg")
MARKER_COLUMNS: Final = ("action", "kind")
# Plausible ranges: a value outside is an error in the file, not physiology.
_RANGES: Final = {
    "rr_ms": (200.0, 3000.0),
    "hr_bpm": (20.0, 250.0),
    "eda_us": (0.0, 100.0),
    "ecg_uv": (-50_000.0, 50_000.0),
    "ppg": (-math.inf, math.inf),
}
CHUNK_S: Final = 1.0


@dataclass(frozen=True, slots=True)
class CsvOptions:
    participant: str
    study: str = "default"
    skip_bad_rows: bool = False


@dataclass
class CsvStats:
    rows: int = 0
    skipped: int = 0


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
    if not seconds.is_finite():
        raise ValueError(f"time {text!r} is not finite")
    return int((seconds * NS).to_integral_value(ROUND_HALF_EVEN))


def read_csv_file(path: Path, options: CsvOptions, stats: CsvStats | None = None) -> list[Event]:
    """Read one generic CSV file into events (sorted by time)."""
    stats = stats or CsvStats()
    rows = list(_rows(path, options, stats))
    if not rows:
        raise ImportFormatError(str(path), None, "no data rows")
    column = rows[0][2]
    if column == "markers":
        return [r[3] for r in rows]  # type: ignore[misc]
    times = np.array([r[1] for r in rows], dtype=np.int64)
    values = np.array([r[3] for r in rows], dtype=float)
    base = EventIds(participant=options.participant, study=options.study, device=path.name)
    if column == "rr_ms":
        return [
            Beat(time_ns=int(t), rr_ms=float(v), source=BeatSource.FILE, **base)
            for t, v in zip(times, values, strict=True)
        ]
    if column == "hr_bpm":
        return [
            HeartRate(time_ns=int(t), bpm=float(v), **base)
            for t, v in zip(times, values, strict=True)
        ]
    return list(_chunks(path, column, times, values, base))


def _chunks(
    path: Path, column: str, times: np.ndarray, values: np.ndarray, base: EventIds
) -> Iterator[Event]:
    if times.size < 2:
        raise ImportFormatError(str(path), None, "a sampled signal needs at least 2 rows")
    step = float(np.median(np.diff(times)))
    rate = round(NS / step, 3)
    per_chunk = max(1, round(rate * CHUNK_S))
    # Cut at gaps longer than 1.5 sample spacings, then into ~1 s chunks.
    breaks = np.flatnonzero(np.diff(times) > 1.5 * step) + 1
    for seg_t, seg_v in zip(np.split(times, breaks), np.split(values, breaks), strict=True):
        for i in range(0, seg_t.size, per_chunk):
            vals = tuple(float(x) for x in seg_v[i : i + per_chunk])
            if column == "eda_us":
                yield EdaSamples(time_ns=int(seg_t[i]), sampling_rate=rate, values_us=vals, **base)
            else:
                kind = WaveformKind.ECG if column == "ecg_uv" else WaveformKind.PPG
                yield Waveform(
                    time_ns=int(seg_t[i]), kind=kind, sampling_rate=rate, values=vals, **base
                )


def _rows(
    path: Path, options: CsvOptions, stats: CsvStats
) -> Iterator[tuple[int, int, str, object]]:
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise ImportFormatError(str(path), None, f"cannot open ({exc.strerror})") from exc
    with handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ImportFormatError(str(path), None, "empty file (no header)") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ImportFormatError(str(path), 1, f"not a CSV file ({exc})") from exc
        if "time" not in header:
            raise ImportFormatError(str(path), 1, f"no 'time' column in header {header}")
        value_cols = [c for c in header if c in VALUE_COLUMNS]
        is_markers = all(c in header for c in MARKER_COLUMNS)
        if is_markers:
            column = "markers"
        elif len(value_cols) == 1:
            column = value_cols[0]
        else:
            raise ImportFormatError(
                str(path),
                1,
                f"header {header} needs 'time' and exactly one of {list(VALUE_COLUMNS)}, "
                "or 'time', 'action' and 'kind' for markers",
            )
        idx = {c: header.index(c) for c in header}
        last_t: int | None = None
        line = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except (csv.Error, UnicodeDecodeError) as exc:
                raise ImportFormatError(str(path), line + 1, f"unreadable row ({exc})") from exc
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            try:
                if len(row) < len(header):
                    raise ValueError(
                        f"{len(row)} fields, header has {len(header)} (truncated row?)"
                    )
                t = _time(row[idx["time"]])
                if last_t is not None and t < last_t:
                    raise ValueError("time goes backwards (rows must be in time order)")
                item: object
                if column == "markers":
                    item = _marker(row, idx, t, options, path)
                else:
                    item = _value(row[idx[column]], column)
            except ValueError as exc:
                if options.skip_bad_rows:
                    stats.skipped += 1
                    continue
                raise ImportFormatError(str(path), line, str(exc)) from None
            last_t = t
            stats.rows += 1
            yield line, t, column, item


def _time(text: str) -> int:
    try:
        return parse_time(text)
    except ValueError:
        raise ValueError(f"time {text!r} is neither Unix seconds nor ISO 8601") from None


def _value(text: str, column: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"{column} value {text!r} is not a number") from None
    lo, hi = _RANGES[column]
    if not (lo <= v <= hi) or math.isnan(v):
        raise ValueError(f"{column} value {v} is outside the plausible range {lo}..{hi}")
    return v


def _marker(row: list[str], idx: dict[str, int], t: int, options: CsvOptions, path: Path) -> Marker:
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

    return Marker(
        time_ns=t,
        participant=options.participant,
        study=options.study,
        device=path.name,
        action=action,
        kind=kind,
        mode=opt("mode"),
        label=opt("label"),
        note=opt("note"),
    )
