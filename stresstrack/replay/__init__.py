"""Offline replay of recordings through the same pipeline as live data."""

from stresstrack.replay.csv_generic import VALUE_COLUMNS, CsvOptions, read_csv_file
from stresstrack.replay.sources import detect_format, iter_source_events

__all__ = ["VALUE_COLUMNS", "CsvOptions", "detect_format", "iter_source_events", "read_csv_file"]
