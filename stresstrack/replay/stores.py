"""stresstrack stores: the raw events of a ``.db`` file, in the order they were stored.

Replaying a store feeds the pipeline the events in arrival order, exactly as the recorder
did live, so the features, stress index and sessions come out identical.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

from stresstrack.errors import ImportFormatError
from stresstrack.events import Event
from stresstrack.replay.base import Detection, Format, ImportOptions, ImportStats
from stresstrack.store.sqlite import Store, StoreError

__all__ = ["FORMAT", "SQLITE_MAGIC"]

# The first 16 bytes of every SQLite 3 database (https://www.sqlite.org/fileformat.html, 1.3).
SQLITE_MAGIC: Final = b"SQLite format 3\x00"


def detect(path: Path) -> Detection | None:
    if not path.is_file():
        return None
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError:
        return None
    return "recording" if head == SQLITE_MAGIC else None


# What a damaged store file can raise while it is opened or read.
_DAMAGE: Final = (StoreError, sqlite3.Error, ValueError, KeyError, TypeError, AttributeError)


def _open(path: Path) -> Store:
    try:
        return Store(path, readonly=True)
    except _DAMAGE as exc:
        raise ImportFormatError(str(path), None, f"unreadable store ({exc})") from exc


def participants(paths: Sequence[Path], options: ImportOptions) -> list[str]:
    found: set[str] = set()
    for path in paths:
        with _open(path) as store:
            try:
                found.update(store.participants())
            except _DAMAGE as exc:
                raise ImportFormatError(str(path), None, f"unreadable store ({exc})") from exc
    if options.participant is not None:
        return [options.participant] if options.participant in found else []
    return sorted(found)


def read(paths: Sequence[Path], options: ImportOptions, stats: ImportStats) -> Iterator[Event]:
    """Every stored event (of ``options.participant`` only, if given), in stored order."""
    for path in paths:
        with _open(path) as store:
            try:
                total = store.count("events")
                size = path.stat().st_size
                stats.bytes_total += size
                offset = stats.bytes_read
                for done, event in enumerate(store.iter_events(options.participant), 1):
                    stats.rows += 1
                    if done % 1024 == 0 and total:
                        stats.bytes_read = offset + size * done // total
                    yield event
                stats.bytes_read = offset + size
            except _DAMAGE as exc:
                raise ImportFormatError(str(path), None, f"unreadable store ({exc})") from exc


FORMAT: Final = Format(
    name="store",
    description="stresstrack store (.db): raw events in stored order",
    detect=detect,
    participants=participants,
    read=read,
)
