"""Kubios RR text files (``--format kubios``): see :mod:`stresstrack.kubios`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

from stresstrack.errors import ImportFormatError
from stresstrack.events import Event
from stresstrack.kubios import KUBIOS_HEADER, iter_beats, parse_rr_text
from stresstrack.replay.base import (
    PLAUSIBLE,
    Detection,
    Format,
    ImportOptions,
    ImportStats,
    bad_row,
    participant_from_name,
)

__all__ = ["FORMAT"]

_HEAD_BYTES: Final = 4096


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
            str(path), None, "the file has no date: give --start (when the first beat began)"
        )
    ids = {"participant": participants(paths, options)[0], "study": options.study,
           "device": f"kubios:{path.name}"}  # fmt: skip
    low, high = PLAUSIBLE["rr_ms"]
    for beat, line in zip(iter_beats(rr, start, ids), rr.lines, strict=True):
        stats.rows += 1
        if not low <= beat.rr_ms <= high:
            bad_row(str(path), line, f"RR {beat.rr_ms:g} ms outside {low:g}-{high:g}", options,
                    stats)  # fmt: skip
            continue
        yield beat
    stats.bytes_read += len(data)


FORMAT: Final = Format(
    name="kubios",
    description="Kubios HRV RR text file (one column of RR, or time and RR columns)",
    detect=detect,
    participants=participants,
    read=read,
)
