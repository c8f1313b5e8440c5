"""The streaming rate fit that the CSV reader runs over a file's timestamps: the same rate
and gaps as a least-squares line through every timestamp, on real logger timestamps and on
µs-rounded 2048 Hz times, with memory that does not grow with the recording."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from real_data import package_file

from stresstrack.replay.base import DataFile
from stresstrack.replay.chunks import file_rate
from stresstrack.sample_rate import FIT_POINTS, RateFit

NS = 1_000_000_000


def _fed(times_ns: np.ndarray, *, buffer: int, blocks: int) -> RateFit:
    fit = RateFit(buffer=buffer)
    for block in np.array_split(times_ns, blocks):
        fit.add(block)
    return fit


def test_logger_timestamps_give_the_least_squares_rate() -> None:
    """heartpy 1.2.7 ``data/data3.csv``: a real PPG logged with millisecond-rounded, batched
    timestamps (~100.42 Hz, 11 min, no gap). Streamed in 17 blocks with a 2049-sample
    buffer (the streaming path from the 3rd second on), the rate is numpy's least-squares
    slope of time on sample index over every row, to 0.005 Hz."""
    lines = package_file("heartpy", "data", "data3.csv").read_text().splitlines()[1:]
    t_ns = np.array([np.datetime64(line.split(",")[0], "ns").astype(np.int64) for line in lines])
    slope, _ = np.polyfit(np.arange(t_ns.size), (t_ns - t_ns[0]) / NS, 1)
    fit = _fed(t_ns.astype(np.float64), buffer=2049, blocks=17)
    got = fit.result()
    assert got.rate_hz == pytest.approx(1.0 / slope, abs=0.005)
    assert 100.2 < got.rate_hz < 100.6
    assert got.segment_starts == ()


def test_long_rounded_stream_with_gaps_keeps_memory_bounded() -> None:
    """Three hours at 2048 Hz with µs-rounded times (22 M samples) and two gaps (lost 0.8 s,
    a 90 s reconnection): the rate is 2048 Hz to 1e-4, the gaps are found at their sample
    indices, and the fit never holds more than 6 * FIT_POINTS floats (9.6 MB; the whole-file
    fit held 5 floats a sample)."""
    n, rate = 22_118_400, 2048.0
    t = np.arange(n) / rate
    t[7_000_000:] += 0.8
    t[15_000_000:] += 90.0
    t_ns = np.round((1_767_600_000 + t), 6) * NS
    fit = RateFit()
    held = []
    for block in np.array_split(t_ns, 221):
        fit.add(block)
        held.append(fit.held)
    got = fit.result()
    assert got.rate_hz == pytest.approx(rate, abs=1e-4)
    assert got.segment_starts == (7_000_000, 15_000_000)
    assert max(held) <= 6 * FIT_POINTS


@pytest.mark.parametrize("rows", [1500, 600_000])
def test_file_rate_of_a_jittered_csv(tmp_path: Path, rows: int) -> None:
    """A generic CSV file of EDA at 32 Hz with ms-rounded times jittered by up to 4 ms,
    short (whole-file fit) and long (streamed past the 400 000-sample buffer): 32 Hz to
    5e-4 (the jitter leaves 1e-4 after 47 s)."""
    rng = np.random.default_rng(5)
    t = 1_767_600_000 + np.arange(rows) / 32.0 + rng.uniform(0, 0.004, rows)
    path = tmp_path / "eda.csv"
    data = np.column_stack([np.round(t, 3), rng.uniform(1, 10, rows)])
    np.savetxt(path, data, fmt=("%.3f", "%.3f"), delimiter=",", header="time,eda_us", comments="")
    assert file_rate(DataFile(path), "time").rate_hz == pytest.approx(32.0, abs=5e-4)
