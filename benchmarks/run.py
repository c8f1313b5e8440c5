"""Speed of the demo, the pipeline and replay on this machine. Run: python benchmarks/run.py"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from stresstrack.events import Event
from stresstrack.pipeline import Pipeline
from stresstrack.session.protocol import Phase, Protocol
from stresstrack.simulators.physiology import ParticipantModel, ParticipantParams
from stresstrack.simulators.recording import CLEAN, recording_events
from stresstrack.store import Store

NS = 1_000_000_000
T0 = 1_767_603_600 * NS


def participant_events(pid: str, hours: float, seed: int) -> list[Event]:
    protocol = Protocol("bench", (Phase("baseline", 300.0), Phase("rest", hours * 3600 - 300)))
    model = ParticipantModel(protocol, ParticipantParams.draw(np.random.default_rng(seed)), seed)
    rng = np.random.default_rng(seed)
    return recording_events(pid, model, CLEAN, rng, start_ns=T0, eda_hz=32.0)


def bench_pipeline(hours: float) -> dict[str, float]:
    events = participant_events("bench-1", hours, 1)
    pipeline = Pipeline()
    t0 = time.process_time()
    out = pipeline.process_many(events) + pipeline.finish()
    cpu = time.process_time() - t0
    windows = hours * 3600 / pipeline.config.hop_s
    return {
        "events": len(events),
        "outputs": len(out),
        "cpu_s": cpu,
        "windows_per_s": windows / cpu,
        "participants_per_core_at_5s_hop": windows / cpu * 5.0,
        "participant_hours_per_min": hours / cpu * 60,
    }


def bench_demo() -> float:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "stresstrack.cli", "demo", "--out", d],
                       check=True, capture_output=True)  # fmt: skip
        return time.perf_counter() - t0


def bench_replay(hours: float) -> float:
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "src.db"
        with Store(src) as store:
            store.add_events(participant_events("bench-2", hours, 2))
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "stresstrack.cli", "replay", str(src), "--store",
                        str(Path(d) / "out.db")], check=True, capture_output=True)  # fmt: skip
        return hours / (time.perf_counter() - t0) * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=1.0, help="simulated hours per benchmark")
    args = parser.parse_args()
    demo_s = bench_demo()
    p = bench_pipeline(args.hours)
    replay = bench_replay(args.hours)
    print(f"{'benchmark':<44}{'value':>12}")
    print(f"{'demo wall time (3 participants x 18 min), s':<44}{demo_s:>12.1f}")
    print(f"{'pipeline events':<44}{p['events']:>12.0f}")
    print(f"{'pipeline window evaluations per CPU s':<44}{p['windows_per_s']:>12.0f}")
    print(
        f"{'pipeline participants per core at 5 s hop':<44}"
        f"{p['participants_per_core_at_5s_hop']:>12.0f}"
    )
    print(
        f"{'pipeline participant-hours per CPU minute':<44}{p['participant_hours_per_min']:>12.1f}"
    )
    print(f"{'replay (store, CLI) participant-hours/min':<44}{replay:>12.1f}")


if __name__ == "__main__":
    main()
