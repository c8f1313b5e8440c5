"""The live view of a running collection: one line per device and per participant.

On a terminal the table is redrawn in place; in a log (not a terminal) lines are written every
10 s, so logs stay short.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final, TextIO

if TYPE_CHECKING:
    from stresstrack.sensors.collector import DeviceCollector

__all__ = ["LiveStatus"]

NS: Final = 1_000_000_000
LOG_EVERY_S: Final = 10.0  # status lines when the output is not a terminal


def _age(now_ns: int, then_ns: int | None) -> str:
    if then_ns is None:
        return "-"
    return f"{max(0, now_ns - then_ns) / NS:.1f}s"


class LiveStatus:
    """One line per device; redrawn in place on a terminal, logged every 10 s otherwise."""

    HEADER: Final = (
        f"{'device':<26} {'link':<4} {'batt':>4} {'contact':<12} {'motion':<6} "
        f"{'last':>6} {'packets':>8} {'bad':>4} {'reconn':>6}"
    )

    def __init__(
        self,
        rows: Sequence[tuple[str, DeviceCollector]],
        stream: TextIO,
        *,
        every_s: float = LOG_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
        physiology: Callable[[], list[str]] = list,
    ) -> None:
        self.rows = rows
        self.physiology = physiology  # one line per participant: HR, RMSSD, SCL, stress
        self.stream = stream
        self.tty = stream.isatty()
        self.every_s = every_s
        self._clock = clock
        self._last_log = -float("inf")
        self._drawn = 0  # lines of the table on screen

    def table(self, now_ns: int) -> list[str]:
        lines = [self.HEADER]
        for label, c in self.rows:
            s = c.stats
            battery = f"{s.battery_pct}%" if s.battery_pct is not None else "-"
            motion = "-" if s.moving is None else "moving" if s.moving else "still"
            lines.append(
                f"{label[:26]:<26} {'up' if s.connected else 'down':<4} {battery:>4} "
                f"{s.contact.value:<12} {motion:<6} {_age(now_ns, s.last_data_ns):>6} "
                f"{s.notifications:>8} {s.bad_packets:>4} {s.reconnects:>6}"
            )
        return lines + self.physiology()

    def log_lines(self, now_ns: int) -> list[str]:
        stamp = time.strftime("%H:%M:%S", time.localtime(now_ns / NS))
        out = []
        for label, c in self.rows:
            s = c.stats
            battery = f"{s.battery_pct} %" if s.battery_pct is not None else "unknown"
            link = "connected" if s.connected else f"disconnected ({s.last_error or 'waiting'})"
            out.append(
                f"{stamp} {label}: {link}, battery {battery}, contact {s.contact.value}, "
                f"last data {_age(now_ns, s.last_data_ns)} ago, {s.notifications} packets, "
                f"{s.bad_packets} bad, {s.reconnects} reconnects"
            )
        return out + [f"{stamp} {line}" for line in self.physiology()]

    def refresh(self, now_ns: int) -> None:
        if self.tty:
            self._erase()
            lines = self.table(now_ns)
            self.stream.write("\n".join(lines) + "\n")
            self._drawn = len(lines)
        elif (now := self._clock()) - self._last_log >= self.every_s:
            self._last_log = now
            self.stream.write("\n".join(self.log_lines(now_ns)) + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        """A line above the table (e.g. a protocol prompt)."""
        self._erase()
        self.stream.write(text + "\n")
        self.stream.flush()

    def _erase(self) -> None:
        if self.tty and self._drawn:
            # Up to the table's first line, then clear to the end of the screen.
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0
