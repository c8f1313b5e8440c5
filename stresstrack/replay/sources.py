"""Replay sources: what ``stresstrack replay`` reads, as one ordered stream of events."""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from pathlib import Path

from stresstrack.errors import ImportFormatError
from stresstrack.events import Event, validate_participant_id
from stresstrack.replay.csv_generic import CsvOptions, CsvStats, read_csv_file
from stresstrack.store.sqlite import Store, StoreError

__all__ = ["detect_format", "iter_source_events"]

SQLITE_MAGIC = b"SQLite format 3\x00"


def detect_format(path: Path) -> str:
    """``store`` for a stresstrack SQLite store, ``csv`` for the generic CSV layout."""
    if not path.exists():
        raise ImportFormatError(str(path), None, "no such file")
    if path.is_dir():
        raise ImportFormatError(str(path), None, "a folder: name the files to replay")
    with path.open("rb") as f:
        head = f.read(16)
    if head == SQLITE_MAGIC:
        return "store"
    if path.suffix.lower() in {".csv", ".txt"}:
        return "csv"
    raise ImportFormatError(str(path), None, "unknown format (expected a stresstrack store or CSV)")


def iter_source_events(
    sources: Sequence[Path],
    *,
    participant: str | None = None,
    study: str = "default",
    skip_bad_rows: bool = False,
    stats: CsvStats | None = None,
) -> Iterator[Event]:
    """Events of every source. Stores keep their stored order; CSV files are merged by time."""
    csv_paths: list[Path] = []
    for path in sources:
        fmt = detect_format(path)
        if fmt == "store":
            try:
                store = Store(path, readonly=True)
            except StoreError as exc:
                raise ImportFormatError(str(path), None, str(exc)) from exc
            with store:
                yield from store.iter_events(participant)
        else:
            csv_paths.append(path)
    if csv_paths:
        pid = participant or csv_paths[0].resolve().parent.name
        try:
            validate_participant_id(pid)
        except ValueError as exc:
            raise ImportFormatError(
                str(csv_paths[0]), None, f"{exc}; name the participant with --participant"
            ) from exc
        options = CsvOptions(participant=pid, study=study, skip_bad_rows=skip_bad_rows)
        per_file = [read_csv_file(p, options, stats) for p in csv_paths]
        # Stable merge by time; ties keep the order of the files given.
        yield from heapq.merge(*per_file, key=lambda e: e.time_ns)
