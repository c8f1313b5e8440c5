"""One exception base for stresstrack; subclasses carry structured fields and advice."""

from __future__ import annotations

__all__ = ["DecodeError", "EventError", "ImportFormatError", "SettingError", "StressTrackError"]


class StressTrackError(Exception):
    """Base of every error stresstrack raises on purpose; the CLI prints it, no traceback."""


class DecodeError(StressTrackError, ValueError):
    """Bytes from a device do not follow the characteristic's layout."""

    def __init__(self, what: str, data: bytes, problem: str) -> None:
        self.what = what
        self.data = bytes(data)
        self.problem = problem
        super().__init__(f"{what}: {problem} (bytes: {self.data.hex() or 'none'})")


class ImportFormatError(StressTrackError, ValueError):
    """A recording file is malformed; names the file, the line and the problem."""

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = f"{path}, line {line}" if line is not None else path
        super().__init__(f"{where}: {problem}")


class EventError(StressTrackError, ValueError):
    """An event whose values are outside the documented limits (stresstrack.limits)."""

    def __init__(self, what: str, problem: str) -> None:
        self.what = what
        self.problem = problem
        super().__init__(f"{what}: {problem}")


class SettingError(StressTrackError, ValueError):
    """A setting given to the library is wrong. ``setting`` names it in the library's terms
    (``"InfluxDB URL"``, ``"format"``); a front end says which of its options that was
    (the CLI: :data:`stresstrack.cli.OPTION_OF_SETTING`)."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        self.problem = problem
        super().__init__(f"{setting}: {problem}")
