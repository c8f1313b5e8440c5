"""One exception base for stresstrack; subclasses carry structured fields and advice."""

from __future__ import annotations

__all__ = ["DecodeError", "EventError", "ImportFormatError", "SettingError", "StressTrackError"]


class StressTrackError(Exception):
    """Base of every error stresstrack raises on purpose; the CLI prints it, no traceback.

    ``setting``, when given, names in the library's terms the setting that would fix the
    problem (the message ends with the advice to change it); the CLI appends the option that
    sets it (:func:`stresstrack.cli.error_text`), so the library never speaks in flags.

    >>> e = StressTrackError("the file has no date: give the start time", setting="start time")
    >>> str(e), e.setting
    ('the file has no date: give the start time', 'start time')
    """

    setting: str | None = None

    def __init__(self, *args: object, setting: str | None = None) -> None:
        super().__init__(*args)
        if setting is not None:
            self.setting = setting


class DecodeError(StressTrackError, ValueError):
    """Bytes from a device do not follow the characteristic's layout."""

    def __init__(self, what: str, data: bytes, problem: str) -> None:
        self.what = what
        self.data = bytes(data)
        self.problem = problem
        super().__init__(f"{what}: {problem} (bytes: {self.data.hex() or 'none'})")


class ImportFormatError(StressTrackError, ValueError):
    """A recording file is malformed; names the file, the line and the problem."""

    def __init__(
        self, path: str, line: int | None, problem: str, *, setting: str | None = None
    ) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = f"{path}, line {line}" if line is not None else path
        super().__init__(f"{where}: {problem}", setting=setting)


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
        self.problem = problem
        super().__init__(f"{setting}: {problem}", setting=setting)
