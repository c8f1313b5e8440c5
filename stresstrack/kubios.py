"""RR intervals in the text layout Kubios HRV reads, and Kubios RR text files read back.

Export (``stresstrack export STORE --kubios DIR``, one ``<participant>_rr.txt`` each): the RR
series stresstrack analysed, after its artefact correction (the Lipponen & Tarvainen 2019
method Kubios uses, ``pipeline/beats.py``), with a flag per interval::

    # stresstrack RR export for Kubios HRV
    # participant: P001
    # study: calm-2026
    # start: 2026-01-05T09:00:00.000000Z
    # Corrected: 1 = this interval was changed (moved, inserted, merged) by the correction;
    # Segment: 1 = first interval after a gap in the data
    Time (s)	RR (ms)	Corrected	Segment
    0.812	812.0	0	1

Kubios HRV opens it as a custom ASCII file (RR column 2, in ms; 7 header lines; tab
separated). ``Time`` is seconds since ``start``.

Import (``stresstrack replay FILE --format kubios``, :func:`read_rr_text`): Kubios's own RR
text exports and the common plain layouts: one column of RR intervals, or columns under a
header naming ``time`` and ``rr``/``ibi``; units from the header (``(s)``, ``(ms)``), else
seconds when the median is below 10. Lines starting with ``#`` or holding no number are
headers. Beat times come from the time column, else from the running sum of intervals; the
date from a ``# start:`` line, else ``replay --start``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from stresstrack.errors import ImportFormatError
from stresstrack.events import Beat
from stresstrack.export import iso_utc
from stresstrack.files import write_private
from stresstrack.pipeline.beats import CleanBeat, KubiosCorrector
from stresstrack.store.sqlite import Store

__all__ = ["KUBIOS_HEADER", "RrText", "export_kubios", "kubios_text", "parse_rr_text"]

NS: Final = 1_000_000_000
KUBIOS_HEADER: Final = "# stresstrack RR export for Kubios HRV"
COLUMNS: Final = ("Time (s)", "RR (ms)", "Corrected", "Segment")
_SPLIT: Final = re.compile(r"[\t,; ]+")
_START: Final = re.compile(r"^#\s*start:\s*(\S+)", re.IGNORECASE)


def corrected_beats(beats: Sequence[Beat]) -> list[CleanBeat]:
    """The beats after the pipeline's artefact correction, with their flags."""
    corrector = KubiosCorrector()
    out: list[CleanBeat] = []
    for b in beats:
        out.extend(corrector.add(b.time_ns, b.rr_ms))
    out.extend(corrector.flush())
    return out


def kubios_text(participant: str, study: str, beats: Sequence[CleanBeat]) -> str:
    """The export file's text (see the module's documentation)."""
    start = beats[0].time_ns - round(beats[0].rr_ms * 1e6) if beats else 0
    lines = [
        KUBIOS_HEADER,
        f"# participant: {participant}",
        f"# study: {study}",
        f"# start: {iso_utc(start)}",
        "# Corrected: 1 = this interval was changed (moved, inserted, merged) by the correction;",
        "# Segment: 1 = first interval after a gap in the data",
        "\t".join(COLUMNS),
    ]
    for b in beats:
        lines.append(
            f"{(b.time_ns - start) / NS:.3f}\t{b.rr_ms:.1f}\t{int(b.corrected)}\t"
            f"{int(b.segment_start)}"
        )
    return "\n".join(lines) + "\n"


def export_kubios(store: Store, out: Path, participant: str | None = None) -> list[Path]:
    """One ``<participant>_rr.txt`` per participant with beats; returns the files."""
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    files = []
    for pid in [participant] if participant else store.participants():
        beats = [e for e in store.iter_events(pid) if isinstance(e, Beat)]
        if not beats:
            continue
        beats.sort(key=lambda b: b.time_ns)
        study = beats[0].study
        path = out / f"{pid}_rr.txt"
        write_private(path, kubios_text(pid, study, corrected_beats(beats)))
        files.append(path)
    return files


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
    from stresstrack.replay.csv_generic import parse_time

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
    in_s = "(ms)" not in rr_head and ("(s)" in rr_head or float(np.median(rr)) < 10)
    rr_ms = rr * 1000.0 if in_s else rr
    if time_col is not None:
        times = [r[time_col] for r in rows]
        time_head = header[time_col] if time_col < len(header) else ""
        if "(ms)" in time_head:
            times = [t / 1000.0 for t in times]
    else:
        times = list(np.round(np.cumsum(rr_ms) / 1000.0, 6))
    return RrText([float(t) for t in times], [float(v) for v in rr_ms], start_ns, lines)


def iter_beats(rr: RrText, start_ns: int, ids: dict[str, str]) -> Iterator[Beat]:
    from stresstrack.events import BeatSource

    for t, v in zip(rr.times_s, rr.rr_ms, strict=True):
        yield Beat(
            time_ns=start_ns + round(t * NS),
            rr_ms=v,
            source=BeatSource.FILE,
            participant=ids["participant"],
            study=ids["study"],
            device=ids["device"],
        )
