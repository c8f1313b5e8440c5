"""``stresstrack pipeline --lsl``: a worker publishes what it computes on LSL."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pylsl
import pytest
from mqtt_link import ProcessWorker
from servers import MosquittoServer

from stresstrack.lsl.streams import STRESS_CHANNELS

pytestmark = pytest.mark.mqtt
WINDOWS = ["--hrv-window", "10", "--eda-window", "10", "--baseline", "10"]
WINDOWS += ["--hop", "5", "--slow-hop", "5"]
DEADLINE_S = 120.0  # generous: a busy 2-core machine (CI)


@pytest.mark.slow
def test_pipeline_worker_publishes_on_lsl(tmp_path: Path, broker: MosquittoServer) -> None:
    """``collect --simulate --publish`` feeds a worker started with ``--lsl``: the worker's
    stress stream for the participant is there (labelled channels, pseudonym) from its first
    data on, and a pylsl inlet reads the RR intervals the worker publishes live. (Stress
    samples themselves: tests/lsl/test_lsl_outlet.py and test_lsl_xdf.py.)"""
    url = f"mqtt://{broker.host}:{broker.port}"
    pid = f"sim-{uuid.uuid4().hex[:6]}"
    worker = ProcessWorker(tmp_path, url, 1, 1, "--lsl", *WINDOWS).start()
    try:
        worker.wait_connected()
        command = [sys.executable, "-m", "stresstrack", "collect", "--simulate", "--participant",
                   pid, "--store", str(tmp_path / "c.db"), "--duration", "25", "--publish", url,
                   *WINDOWS]  # fmt: skip
        collect = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            source = f"stresstrack/default/{pid}/pipeline/stress"
            found = pylsl.resolve_byprop("source_id", source, 1, DEADLINE_S)
            assert found, f"no stream {source}:\n{worker.output()}"
            info = pylsl.StreamInlet(found[0]).info(DEADLINE_S)
            pred = f"type='RR' and starts-with(source_id, 'stresstrack/default/{pid}/')"
            (rr_info,) = pylsl.resolve_bypred(pred, 1, DEADLINE_S)
            inlet = pylsl.StreamInlet(rr_info)
            inlet.open_stream(timeout=DEADLINE_S)
            rows: list[list[float]] = []
            deadline = time.monotonic() + DEADLINE_S
            while len(rows) < 3 and time.monotonic() < deadline:
                samples, _ = inlet.pull_chunk(timeout=1.0)
                rows += samples
            _out, err = collect.communicate(timeout=DEADLINE_S * 2)
        finally:
            if collect.poll() is None:
                collect.kill()
                collect.communicate()
        assert collect.returncode == 0, err
        assert worker.terminate() == 0
        log = worker.output()
    finally:
        worker.cleanup()
    assert info.type() == "StressIndex"
    assert info.desc().child("subject").child_value("id") == pid
    assert info.channel_count() == len(STRESS_CHANNELS)
    assert len(rows) >= 3, log
    assert all(300 < r[0] < 2000 for r in rows)  # RR intervals in ms, live from the worker
