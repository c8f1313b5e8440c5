"""Pipeline speed and memory against naive NeuroKit2-per-window, on the same data.

Measures, in one run, on one core:

(a) the streaming pipeline (default configuration, full feature set);
(b) the same pipeline with every feature family's ``method="neurokit"``: every window's
    features computed by NeuroKit2's own functions (``hrv_time``, ``hrv_nonlinear`` for
    SD1/SD2/DFA, its interpolation and detrending for the spectrum, ``eda_clean``/
    ``eda_phasic``/``eda_peaks``, ``eda_sympathetic``, and ``signal_fixpeaks`` for the Kubios
    artefact passes), i.e. naive NeuroKit2 per window, and checks it gives the same feature
    rows (the run prints the largest relative difference over all features: 7.8e-4 on
    2026-12-07, the same before and after the speed work; tolerances per feature in
    docs/features.md);

(c) 24 h of one participant (RR + EDA at 32 Hz, 5-s hop) written as generic CSV files and
    replayed by the real command ``stresstrack replay FOLDER --store OUT.db`` in a fresh
    process (import, CSV parsing, events, pipeline and store writes): wall and CPU seconds;

and prints throughput as participants per core at a 5 s hop (a live participant needs one
window every 5 s: participants per core = 3600 s / CPU seconds per participant-hour), the
ratio, the time to process 24 h of one participant, and memory per live participant after
15 min and after 2 h (tracemalloc, many participants interleaved).

The four figures of issue 12 (targets: 24 h through the CLI <= 20 s, >= 40x naive,
>= 1000 participants per core, <= 5 MB per participant and flat) are printed last.

Run: python benchmarks/pipeline.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from stresstrack.events import Event
from stresstrack.pipeline import FeatureRow, Pipeline, PipelineConfig
from stresstrack.session.protocol import Phase, Protocol
from stresstrack.simulators.physiology import ParticipantModel, ParticipantParams
from stresstrack.simulators.recording import CLEAN, recording_events
from stresstrack.store import Store

sys.path.insert(0, str(Path(__file__).parent))
from replay_folder import write_csv

NS = 1_000_000_000
T0 = 1_767_603_600 * NS


def events_for(hours: float, seed: int, pid: str = "bench-1") -> list[Event]:
    phases = [Phase("baseline", 300.0)]
    while sum(p.duration_s for p in phases) < hours * 3600:
        phases += [Phase("rest", 900.0), Phase("stressor", 300.0), Phase("self-care", 600.0)]
    protocol = Protocol("bench", tuple(phases))
    model = ParticipantModel(protocol, ParticipantParams.draw(np.random.default_rng(seed)), seed)
    events = recording_events(
        pid, model, CLEAN, np.random.default_rng(seed), start_ns=T0, eda_hz=32.0
    )
    end = T0 + int(hours * 3600 * NS)
    return [e for e in events if e.time_ns < end]


def cpu_run(events: list[Event], config: PipelineConfig) -> tuple[float, list[FeatureRow]]:
    pipeline = Pipeline(config)
    t0 = time.process_time()
    out = pipeline.process_many(events) + pipeline.finish()
    return time.process_time() - t0, [o for o in out if isinstance(o, FeatureRow)]


def same_rows(a: list[FeatureRow], b: list[FeatureRow]) -> tuple[int, float]:
    """Number of compared values and the largest relative difference."""
    n, worst = 0, 0.0
    for ra, rb in zip(a, b, strict=True):
        assert ra.time_ns == rb.time_ns
        for k, va in ra.values.items():
            vb = rb.values[k]
            if va is None or vb is None or (isinstance(va, float) and math.isnan(va)):
                assert (va is None and vb is None) or (math.isnan(va) and math.isnan(vb)), k  # type: ignore[arg-type]
                continue
            n += 1
            worst = max(worst, abs(va - vb) / max(abs(vb), 1e-12))
    return n, worst


def memory_per_participant(n: int, hours: float) -> tuple[float, float]:
    streams = [events_for(hours, 100 + i, f"mem-{i:03d}") for i in range(n)]
    merged = sorted((e for s in streams for e in s), key=lambda e: e.time_ns)
    quarter = T0 + 15 * 60 * NS
    pipeline = Pipeline()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    at_15 = 0.0
    for e in merged:
        pipeline.process(e)  # outputs are dropped, as a sink would have written them
        if not at_15 and e.time_ns >= quarter:
            at_15 = (tracemalloc.get_traced_memory()[0] - base) / n / 1e6
    at_end = (tracemalloc.get_traced_memory()[0] - base) / n / 1e6
    tracemalloc.stop()
    return at_15, at_end


def replay_to_store(folder: Path, *options: str) -> tuple[float, float, float, int]:
    """Wall and CPU seconds and peak RSS (MB, of the largest child so far) of
    ``stresstrack replay FOLDER --store OUT.db OPTIONS`` in a fresh process, and the feature
    windows it stored."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.db"
        command = [sys.executable, "-m", "stresstrack.cli", "replay", str(folder), "--store",
                   str(out), *options]  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            sys.exit(f"replay failed ({done.returncode}):\n{done.stderr}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        with Store(out, readonly=True) as store:
            windows = store.count("features")
    return wall, cpu, after.ru_maxrss / 1024, windows


def cli_replay(events: list[Event]) -> tuple[float, float, int]:
    """Wall and CPU seconds of ``stresstrack replay`` on these events as generic CSV files,
    and the feature windows it stored."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "bench-day"
        write_csv(folder, events)
        wall, cpu, _, windows = replay_to_store(folder)
    return wall, cpu, windows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    args = parser.parse_args()
    hours = 0.5 if args.quick else 2.0
    naive_hours = 0.2 if args.quick else 0.5
    day_hours = 2.0 if args.quick else 24.0

    events = events_for(hours, 1)
    cpu, _ = cpu_run(events, PipelineConfig())
    per_core = 3600.0 / (cpu / hours)

    short = events_for(naive_hours, 2)
    cpu_fast, rows_fast = cpu_run(short, PipelineConfig())
    cpu_naive, rows_naive = cpu_run(short, PipelineConfig().with_methods("neurokit"))
    compared, worst = same_rows(rows_fast, rows_naive)
    naive_per_core = 3600.0 / (cpu_naive / naive_hours)
    fast_short_per_core = 3600.0 / (cpu_fast / naive_hours)

    day = events_for(day_hours, 3)
    day_cpu, _ = cpu_run(day, PipelineConfig())
    cli_wall, cli_cpu, cli_windows = cli_replay(day)

    mem_15, mem_end = memory_per_participant(10 if args.quick else 20, 0.5 if args.quick else 2.0)

    print(f"{'measure':<58}{'value':>12}")
    print(f"{'pipeline: participants per core at 5 s hop':<58}{per_core:>12.0f}")
    print(f"{'naive NeuroKit2 per window: participants per core':<58}{naive_per_core:>12.1f}")
    print(f"{'ratio (same data, same rows)':<58}{fast_short_per_core / naive_per_core:>12.1f}")
    print(
        f"{'feature values compared / largest relative difference':<58}{compared:>7d} {worst:.1e}"
    )
    print(f"{f'{day_hours:g} h of one participant (RR + EDA 32 Hz), CPU s':<58}{day_cpu:>12.1f}")
    print(f"{'memory per live participant after 15 min, MB':<58}{mem_15:>12.2f}")
    end_label = f"memory per live participant after {0.5 if args.quick else 2.0:g} h, MB"
    print(f"{end_label:<58}{mem_end:>12.2f}")
    cli_label = f"stresstrack replay of {day_hours:g} h CSV to a store: wall s"
    print(f"{cli_label:<58}{cli_wall:>12.1f}")
    print(f"{'  same, CPU s of the replay process':<58}{cli_cpu:>12.1f}")
    print(f"{'  feature windows stored':<58}{cli_windows:>12d}")
    ratio = fast_short_per_core / naive_per_core
    print()
    print("issue 12 figures (target):")
    print(f"  {day_hours:g} h via the CLI: {cli_wall:.1f} s wall, {cli_cpu:.1f} s CPU (<= 20 s)")
    print(f"  ratio vs naive NeuroKit2 per window: {ratio:.1f}x (>= 40x)")
    print(f"  live participants per core: {per_core:.0f} (>= 1000)")
    print(f"  memory per participant: {mem_15:.2f} MB at 15 min, {mem_end:.2f} MB later (<= 5 MB)")


if __name__ == "__main__":
    main()
