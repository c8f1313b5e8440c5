"""Kubios RR text files (``--format kubios``): see :mod:`stresstrack.export.kubios`."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from stresstrack.errors import ImportFormatError
from stresstrack.events import Beat, BeatSource, Event
from stresstrack.limits import EARLIEST_NS, LATEST_NS
from stresstrack.replay.base import (
    PLAUSIBLE,
    Detection,
    Format,
    ImportOptions,
    ImportStats,
    bad_row,
    participant_from_name,
)
from stresstrack.replay.csv_generic import parse_time

__all__ = ["FORMAT", "KUBIOS_HEADER"]

KUBIOS_HEADER: Final = "# stresstrack RR export for Kubios HRV"  # export.kubios writes it
_HEAD_BYTES: Final = 4096
NS: Final = 1_000_000_000
_SPLIT: Final = re.compile(r"[\t,; ]+")
_START: Final = re.compile(r"^#\s*start:\s*(\S+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RrText:
    """What an RR text file holds: beat times (s from its start) and intervals (ms)."""

    times_s: list[float]
    rr_ms: list[float]
    start_ns: int | None  # from a "# start:" line
    lines: list[int]  # the file line of each beat


def _numbers(parts: Sequence[str]) -> list[float] | None:
    try:
        return [float(p) for p in parts]
    except ValueError:
        return None


def parse_rr_text(text: str, where: str) -> RrText:
    """Parse a Kubios-style RR text file (see the module's documentation).

    >>> r = parse_rr_text("Time (s)\\tRR (s)\\n0.8\\t0.8\\n1.62\\t0.82\\n", "x.txt")
    >>> r.times_s, r.rr_ms
    ([0.8, 1.62], [800.0, 820.0])
    >>> parse_rr_text("812\\n790\\n805\\n", "x.txt").times_s
    [0.812, 1.602, 2.407]
    """
    start_ns: int | None = None
    header: list[str] = []
    rows: list[list[float]] = []
    lines: list[int] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            m = _START.match(line)
            if m:
                try:
                    start_ns = parse_time(m.group(1))
                except ValueError:
                    raise ImportFormatError(
                        where, n, f"start {m.group(1)!r} is not a time"
                    ) from None
            continue
        parts = [p for p in _SPLIT.split(line) if p]
        values = _numbers(parts)
        if values is None:
            if rows:
                raise ImportFormatError(where, n, f"not a row of numbers: {line[:60]!r}")
            header = [h.strip().lower() for h in re.split(r"\t|,|;", line) if h.strip()]
            continue
        rows.append(values)
        lines.append(n)
    if not rows:
        raise ImportFormatError(where, None, "no RR intervals in the file")
    width = min(len(r) for r in rows)
    rr_col, time_col = (0, None) if width == 1 else (1, 0)
    if header and width > 1:
        named_rr = [i for i, h in enumerate(header) if re.search(r"\b(rr|ibi|nn)\b", h)]
        named_time = [i for i, h in enumerate(header) if "time" in h]
        rr_col = named_rr[0] if named_rr else rr_col
        time_col = named_time[0] if named_time else None
    rr = np.array([r[rr_col] for r in rows], dtype=float)
    rr_head = header[rr_col] if rr_col < len(header) else ""
    finite = rr[np.isfinite(rr)]  # a NaN or infinity is a bad row of its own, not the unit's
    typical = float(np.median(finite)) if finite.size else 0.0
    in_s = "(ms)" not in rr_head and ("(s)" in rr_head or typical < 10)
    rr_ms = rr * 1000.0 if in_s else rr
    if time_col is not None:
        times = [r[time_col] for r in rows]
        time_head = header[time_col] if time_col < len(header) else ""
        if "(ms)" in time_head:
            times = [t / 1000.0 for t in times]
    else:  # the running sum of the intervals; a bad interval does not shift those after it
        steps = np.where(np.isfinite(rr_ms), rr_ms, 0.0)
        times = list(np.round(np.cumsum(steps) / 1000.0, 6))
    return RrText([float(t) for t in times], [float(v) for v in rr_ms], start_ns, lines)


def beat_time_ns(start_ns: int, t: float) -> int | None:
    """The time of a beat ``t`` s after ``start_ns``; ``None`` unless it is a finite time
    within the calendar bounds of :mod:`stresstrack.limits` (an ``inf`` or ``1e300`` in the
    time column).

    >>> beat_time_ns(0, 1.5), beat_time_ns(0, float("inf")), beat_time_ns(0, 1e300)
    (1500000000, None, None)
    """
    if not math.isfinite(t) or not EARLIEST_NS <= start_ns + t * NS < LATEST_NS:
        return None
    return start_ns + round(t * NS)


def detect(path: Path) -> Detection | None:
    """Files that say they are Kubios RR files; others need ``--format kubios``."""
    if not path.is_file() or path.suffix.lower() != ".txt":
        return None
    try:
        with path.open("rb") as f:
            head = f.read(_HEAD_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None
    return "recording" if head.startswith(KUBIOS_HEADER) or "kubios" in head.lower() else None


def participants(paths: Sequence[Path], options: ImportOptions) -> list[str]:
    return [participant_from_name(options, paths[0], use_stem=True)]


def read(paths: Sequence[Path], options: ImportOptions, stats: ImportStats) -> Iterator[Event]:
    path = paths[0]
    try:
        data = path.read_bytes()
        text = data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFormatError(str(path), None, f"cannot read ({exc})") from exc
    stats.bytes_total += len(data)
    rr = parse_rr_text(text, str(path))
    start = options.start_ns if options.start_ns is not None else rr.start_ns
    if start is None:
        raise ImportFormatError(
            str(path),
            None,
            "the file has no date: give the start time of the first beat",
            setting="start time",
        )
    participant, device = participants(paths, options)[0], f"kubios:{path.name}"
    low, high = PLAUSIBLE["rr_ms"]
    for t, rr_ms, line in zip(rr.times_s, rr.rr_ms, rr.lines, strict=True):
        stats.rows += 1
        time_ns = beat_time_ns(start, t)
        if time_ns is None:
            bad_row(str(path), line, f"time {t:g} s from the start is not a time in 1970-2099",
                    options, stats)  # fmt: skip
            continue
        if not low <= rr_ms <= high:
            bad_row(str(path), line, f"RR {rr_ms:g} ms outside {low:g}-{high:g}", options,
                    stats)  # fmt: skip
            continue
        yield Beat(time_ns=time_ns, rr_ms=rr_ms, source=BeatSource.FILE,
                   participant=participant, study=options.study, device=device)  # fmt: skip
    stats.bytes_read += len(data)


FORMAT: Final = Format(
    name="kubios",
    description="Kubios HRV RR text file (one column of RR, or time and RR columns)",
    detect=detect,
    participants=participants,
    read=read,
)
