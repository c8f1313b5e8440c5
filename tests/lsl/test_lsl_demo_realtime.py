"""``stresstrack demo --realtime --lsl``: the simulated study published live on LSL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pylsl
import pytest

DEADLINE_S = 120.0  # generous: a busy 2-core machine (CI)
PROTOCOL = """
name = "tiny"
[[phase]]
kind = "baseline"
minutes = 0.1
[[phase]]
kind = "self-care"
mode = "solo"
minutes = 0.1
"""


@pytest.mark.slow
def test_demo_realtime_publishes_live_streams(tmp_path: Path) -> None:
    """A pylsl inlet finds the demo's HR stream while it runs and reads readings stamped
    with the current LSL time (real time, not the simulation's virtual time); the markers
    stream carries the protocol's phases."""
    protocol = tmp_path / "tiny.toml"
    protocol.write_text(PROTOCOL)
    demo = subprocess.Popen(
        [sys.executable, "-m", "stresstrack", "demo", "--realtime", "--lsl", "--participants",
         "1", "--protocol", str(protocol), "--out", str(tmp_path / "demo")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        pred = "type='HR' and starts-with(source_id, 'stresstrack/demo/sim-001/')"
        deadline = time.monotonic() + DEADLINE_S
        while not (found := pylsl.resolve_bypred(pred, 1, 1.0)):
            assert demo.poll() is None, f"the demo ended early: {demo.communicate()[1]}"
            assert time.monotonic() < deadline, "the demo's HR stream was not found"
        inlet = pylsl.StreamInlet(found[0])
        inlet.open_stream(timeout=DEADLINE_S)
        values: list[list[float]] = []
        stamps: list[float] = []
        deadline = time.monotonic() + DEADLINE_S
        while len(values) < 3 and time.monotonic() < deadline:
            v, t = inlet.pull_chunk(timeout=1.0)
            values += v
            stamps += t
        now = pylsl.local_clock()
        out, err = demo.communicate(timeout=DEADLINE_S)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate()
    assert demo.returncode == 0, err
    assert len(values) >= 3 and all(40 < v[0] < 200 for v in values)
    assert all(abs(now - t) < 10.0 for t in stamps)
    assert "store:" in out
