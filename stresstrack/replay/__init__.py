"""Offline replay of recordings through the same pipeline as live data.

One module per format (``stores``, ``csv_generic``, ``e4``, ``polar_sensor_logger``, ``xdf``,
``emotibit``, ``wesad``), each turning a recording into :mod:`stresstrack.events` events;
``sources`` finds the recordings of the command line and ``runner`` replays them, in parallel
processes for a folder of recordings.
"""

from stresstrack.replay.base import Format, ImportOptions, ImportStats
from stresstrack.replay.pacing import pace
from stresstrack.replay.runner import (
    RecordingResult,
    format_summary,
    group_recordings,
    replay_recordings,
)
from stresstrack.replay.sources import (
    FORMATS,
    Recording,
    detect_format,
    find_recordings,
    iter_source_events,
)

__all__ = [
    "FORMATS",
    "Format",
    "ImportOptions",
    "ImportStats",
    "Recording",
    "RecordingResult",
    "detect_format",
    "find_recordings",
    "format_summary",
    "group_recordings",
    "iter_source_events",
    "pace",
    "replay_recordings",
]
