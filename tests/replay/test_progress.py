"""The progress line: share, amount, rate and time left; short in logs, redrawn on terminals."""

from __future__ import annotations

import io

import pytest

from stresstrack.cli.progress import Progress, format_seconds


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.0, "0:00"), (59.6, "1:00"), (125.0, "2:05"), (3723.0, "1:02:03"), (float("inf"), "?")],
)
def test_format_seconds(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


def test_a_log_gets_one_line_per_tenth() -> None:
    clock, out = _Clock(), io.StringIO()
    bar = Progress("replaying", 100.0, "MB", out, clock=clock)
    for t, done in ((1.0, 10.0), (1.5, 15.0), (2.0, 20.0), (4.0, 40.0)):
        clock.now = t
        bar.update(done)
    clock.now = 5.0
    bar.close()
    assert out.getvalue().splitlines() == [
        "replaying [##                      ]  10% 10.0/100.0 MB 10.0 MB/s, 0:09 left",
        "replaying [####                    ]  20% 20.0/100.0 MB 10.0 MB/s, 0:08 left",
        "replaying [#########               ]  40% 40.0/100.0 MB 10.0 MB/s, 0:06 left",
        "replaying [########################] 100% 100.0/100.0 MB 20.0 MB/s, done in 0:05",
    ]


def test_a_terminal_line_is_redrawn_at_most_five_times_a_second() -> None:
    clock, out = _Clock(), _Terminal()
    bar = Progress("sim", 10.0, "min", out, clock=clock)
    for t in (0.5, 0.6, 0.8):  # 0.6 comes too soon after 0.5
        clock.now = t
        bar.update(t)
    assert out.getvalue().count("\r") == 2
    assert out.getvalue().endswith("8% 0.8/10.0 min 1.0 min/s, 0:09 left\x1b[K")


def test_unknown_rate_says_so() -> None:
    clock, out = _Clock(), io.StringIO()
    bar = Progress("x", 10.0, "", out, clock=clock)
    assert bar.line(0.0, 0.0) == "x [                        ]   0% 0.0/10.0 0.0/s, ? left"
