"""A small progress line on stderr: share done, rate and time remaining."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """``update(done)`` with ``done`` in [0, total]; redraws at most every 0.2 s."""

    def __init__(
        self, label: str, total: float, unit: str = "", stream: TextIO | None = None
    ) -> None:
        self.label = label
        self.total = max(total, 1e-9)
        self.unit = unit
        self.stream = stream or sys.stderr
        self._t0 = time.monotonic()
        self._last = 0.0
        self._tty = self.stream.isatty()
        self._printed_pct = -10

    def update(self, done: float) -> None:
        now = time.monotonic()
        frac = min(1.0, max(0.0, done / self.total))
        if now - self._last < 0.2 and frac < 1.0:
            return
        self._last = now
        elapsed = now - self._t0
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        bar = "#" * int(frac * 24)
        eta_text = f"{eta:5.0f}s left" if eta != float("inf") else "  ?s left"
        line = f"{self.label} [{bar:<24}] {frac:4.0%} {rate:8.1f} {self.unit}/s {eta_text}"
        if self._tty:
            self.stream.write("\r" + line)
            self.stream.flush()
        elif int(frac * 100) >= self._printed_pct + 10:  # logs: one line per 10 %
            self._printed_pct = int(frac * 100)
            self.stream.write(line + "\n")

    def close(self) -> None:
        self.update(self.total)
        if self._tty:
            self.stream.write("\n")
        self.stream.flush()
