"""Replay sources: which recordings the paths on the command line hold, and in what format.

A *recording* is what one participant's session left behind: a stresstrack store, an XDF
file, a WESAD subject folder, an E4 export (folder or zip), or a few files that belong
together (generic CSV, Polar Sensor Logger or EmotiBit files named one by one, or a folder
holding them). A folder that is not itself a recording is a folder *of* recordings: it is
searched (sorted by name, recursively) and each recording found is replayed on its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from stresstrack.errors import ImportFormatError, SettingError
from stresstrack.events import Event
from stresstrack.replay import (
    csv_generic,
    e4,
    emotibit,
    kubios,
    polar_sensor_logger,
    stores,
    wesad,
    xdf,
)
from stresstrack.replay.base import Detection, Format, ImportOptions, ImportStats

__all__ = [
    "FORMATS",
    "Recording",
    "detect_format",
    "find_recordings",
    "iter_source_events",
]

# Most specific first: a generic CSV folder is recognised last.
FORMATS: Final[dict[str, Format]] = {
    f.name: f
    for f in (
        stores.FORMAT,
        xdf.FORMAT,
        wesad.FORMAT,
        e4.FORMAT,
        polar_sensor_logger.FORMAT,
        emotibit.FORMAT,
        kubios.FORMAT,
        csv_generic.FORMAT,
    )
}


@dataclass(frozen=True, slots=True)
class Recording:
    """One recording: the paths that make it up and their format."""

    paths: tuple[Path, ...]
    format: Format

    @property
    def label(self) -> str:
        first = str(self.paths[0])
        return first if len(self.paths) == 1 else f"{first} (+{len(self.paths) - 1} files)"

    def participants(self, options: ImportOptions) -> list[str]:
        return self.format.participants(self.paths, options)

    def read(self, options: ImportOptions, stats: ImportStats) -> Iterator[Event]:
        return self.format.read(self.paths, options, stats)

    def size(self) -> int:
        """Bytes on disk, to weigh progress between recordings."""
        total = 0
        for path in self.paths:
            if path.is_dir():
                total += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
            elif path.exists():
                total += path.stat().st_size
        return total


def _format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise SettingError(
            "format", f"unknown format {name!r} (one of {', '.join(FORMATS)})"
        ) from None


def detect_format(path: Path, fmt: str | None = None) -> tuple[Format, Detection] | None:
    """The format of ``path`` (one named format only, if ``fmt`` is given) and what it is."""
    candidates = [_format(fmt)] if fmt else list(FORMATS.values())
    for candidate in candidates:
        found = candidate.detect(path)
        if found is not None:
            return candidate, found
    return None


def find_recordings(sources: Sequence[Path], fmt: str | None = None) -> list[Recording]:
    """The recordings of the command line's sources, in order.

    Loose files of one format (``rr.csv markers.csv``) form one recording, placed where the
    first of them was named; a folder that is no recording is searched for recordings.
    """
    order: list[Recording | str] = []
    loose: dict[str, tuple[Format, list[Path]]] = {}
    for path in sources:
        if not path.exists():
            raise ImportFormatError(str(path), None, "no such file or folder")
        found = detect_format(path, fmt)
        if found is None and fmt is not None and path.is_file():
            # A named format reads the file and says precisely what is wrong with it.
            forced = _format(fmt)
            found = (forced, "part" if forced.name in _LOOSE_FORMATS else "recording")
        if found is not None and found[1] == "recording":
            order.append(Recording((path,), found[0]))
        elif found is not None:
            name = found[0].name
            if name not in loose:
                loose[name] = (found[0], [])
                order.append(name)
            loose[name][1].append(path)
        elif path.is_dir():
            inside = _search(path, fmt)
            if not inside:
                raise ImportFormatError(
                    str(path), None, f"no recordings found (formats: {', '.join(FORMATS)})"
                )
            order.extend(inside)
        else:
            raise ImportFormatError(
                str(path),
                None,
                "unknown format (expected a stresstrack store, generic CSV, E4, Polar Sensor "
                "Logger, XDF, EmotiBit or WESAD recording; see docs/formats.md)",
            )
    return [
        item if isinstance(item, Recording) else Recording(tuple(loose[item][1]), loose[item][0])
        for item in order
    ]


_LOOSE_FORMATS: Final = ("csv", "polar", "emotibit", "e4")


def _search(folder: Path, fmt: str | None) -> list[Recording]:
    found: list[Recording] = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith("."):
            continue
        detected = detect_format(child, fmt)
        if detected is not None and detected[1] == "recording":
            found.append(Recording((child,), detected[0]))
        elif detected is None and child.is_dir():
            found.extend(_search(child, fmt))
    return found


def iter_source_events(
    sources: Sequence[Path],
    options: ImportOptions | None = None,
    stats: ImportStats | None = None,
    *,
    fmt: str | None = None,
) -> Iterator[Event]:
    """Events of every recording of ``sources``, one recording after the other."""
    options = options or ImportOptions()
    stats = stats or ImportStats()
    for recording in find_recordings(sources, fmt):
        yield from recording.read(options, stats)
