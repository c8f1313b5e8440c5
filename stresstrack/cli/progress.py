"""A small progress line on stderr: share done, amount, rate and time remaining.

On a terminal the line is redrawn in place (at most every 0.2 s); in a log (not a terminal)
one line is written per tenth of the work, so logs stay short.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress", "format_seconds"]

_BAR = 24


def format_seconds(seconds: float) -> str:
    """``1:02:03`` for an hour, ``2:03`` for minutes; ``?`` when unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    minutes, s = divmod(round(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}:{m:02d}:{s:02d}" if hours else f"{m}:{s:02d}"


class Progress:
    """``update(done)`` with ``done`` in [0, total]; redraws at most every 0.2 s."""

    def __init__(
        self,
        label: str,
        total: float,
        unit: str = "",
        stream: TextIO | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = max(total, 1e-9)
        self.unit = unit
        self.stream = stream or sys.stderr
        self._clock = clock
        self._t0 = clock()
        self._last = -math.inf
        self._done = 0.0
        self._tty = self.stream.isatty()
        self._printed_tenth = -1

    def line(self, done: float, now: float) -> str:
        """The progress line for ``done`` at time ``now``."""
        frac = min(1.0, max(0.0, done / self.total))
        elapsed = now - self._t0
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else math.inf
        bar = "#" * int(frac * _BAR)
        unit = f" {self.unit}" if self.unit else ""
        return (
            f"{self.label} [{bar:<{_BAR}}] {frac:4.0%} {done:.1f}/{self.total:.1f}{unit} "
            f"{rate:.1f}{unit}/s, {format_seconds(eta)} left"
        )

    def update(self, done: float) -> None:
        now = self._clock()
        self._done = done
        frac = min(1.0, max(0.0, done / self.total))
        if now - self._last < 0.2 and frac < 1.0:
            return
        self._last = now
        if self._tty:
            self.stream.write("\r" + self.line(done, now) + "\x1b[K")
            self.stream.flush()
        elif int(frac * 10) > self._printed_tenth:  # logs: one line per 10 %
            self._printed_tenth = int(frac * 10)
            self.stream.write(self.line(done, now) + "\n")

    def close(self) -> None:
        """Draw the finished line, with the elapsed time."""
        now = self._clock()
        line = self.line(self.total, now).rsplit(",", 1)[0]
        line += f", done in {format_seconds(now - self._t0)}"
        self.stream.write(("\r" + line + "\x1b[K\n") if self._tty else line + "\n")
        self.stream.flush()
