"""A week of one participant: replay time and memory, streamed against materialised.

Run: ``python benchmarks/days.py [--days 7] [--default-hops]``. It writes one simulated
participant's week (``stresstrack.simulators.days``: RR intervals, EDA at 32 Hz, chest
accelerometer magnitude at 25 Hz, baseline and self-care markers) as generic CSV files
(kept in ``--data`` and reused), then measures in one run:

(a) the real command ``stresstrack replay FOLDER --store OUT.db --baseline-mode rolling``
    with the multi-day hops (``--hop 30 --slow-hop 60 --edasymp-hop 300``; docs/days.md;
    ``--default-hops`` keeps 5/30/60) in a fresh process: wall and CPU seconds and the
    process's peak RSS (interpreter, NumPy, pandas, NeuroKit2 and SQLite included);
(b) the pipeline's own memory while the simulated source streams through it chunk by chunk
    (tracemalloc, after each day: flat or not) over ``--memory-days`` (default 2: tracing
    doubles the run time; the replay's peak RSS covers the whole week);
(c) the naive alternative, every event of the recording in memory before processing (what
    a reader that loads a file whole does): tracemalloc of one day's event list, times the
    days; the ratio (c) / (b) is the memory the streaming saves.

The target of issue 20: the week replays in <= 2 min with <= 50 MB for the pipeline.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import TextIO

import numpy as np

from stresstrack.events import Beat, EdaSamples, Event, Marker, Waveform
from stresstrack.pipeline import Pipeline, PipelineConfig
from stresstrack.simulators.days import DaysPlan, simulate_days

sys.path.insert(0, str(Path(__file__).parent))
from pipeline import replay_to_store

NS = 1_000_000_000
MULTI_DAY_HOPS = {"hop_s": 30.0, "slow_hop_s": 60.0, "edasymp_hop_s": 300.0}
DEFAULT_HOPS = {"hop_s": 5.0, "slow_hop_s": 30.0, "edasymp_hop_s": 60.0}


def _sampled(out: TextIO, events: list[Event]) -> None:
    if not events:
        return
    rows = []
    for e in events:
        values = e.values_us if isinstance(e, EdaSamples) else e.values  # type: ignore[attr-defined]
        rate = e.sampling_rate  # type: ignore[attr-defined]
        t = e.time_ns / NS + np.arange(len(values)) / rate
        rows.append(np.column_stack([t, values]))
    np.savetxt(out, np.vstack(rows), fmt=("%.6f", "%.4f"), delimiter=",")


def write_week(folder: Path, plan: DaysPlan) -> None:
    """The simulated week as generic CSV files, an hour at a time."""
    folder.mkdir(parents=True)
    (_,), chunks = simulate_days(plan)
    names = ("rr.csv", "eda.csv", "acc.csv", "markers.csv")
    heads = ("time,rr_ms\n", "time,eda_us\n", "time,acc_mg\n", "time,action,kind,mode,label\n")
    files = [(folder / n).open("w") for n in names]
    try:
        for f, head in zip(files, heads, strict=True):
            f.write(head)
        rr, eda, acc, markers = files
        for chunk in chunks:
            beats = np.array([(e.time_ns / NS, e.rr_ms) for e in chunk if isinstance(e, Beat)])
            np.savetxt(rr, beats, fmt=("%.6f", "%.3f"), delimiter=",")
            _sampled(eda, [e for e in chunk if isinstance(e, EdaSamples)])
            _sampled(acc, [e for e in chunk if isinstance(e, Waveform)])
            for m in (e for e in chunk if isinstance(e, Marker)):
                fields = (f"{m.time_ns / NS:.6f}", m.action.value, m.kind, m.mode, m.label)
                markers.write(",".join(fields) + "\n")
    finally:
        for f in files:
            f.close()


def ensure_week(data: Path, plan: DaysPlan) -> Path:
    spec = {"days": plan.days, "seed": plan.seed, "eda_hz": plan.eda_hz, "acc_hz": plan.acc_hz}
    folder = data / f"day-001-{plan.days}d"
    marker = data / "spec.json"
    if marker.exists() and json.loads(marker.read_text()) == spec and folder.exists():
        print(f"reusing {folder}")
        return folder
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    t0 = time.perf_counter()
    write_week(folder, plan)
    marker.write_text(json.dumps(spec))
    print(f"wrote {plan.days} days of CSV in {time.perf_counter() - t0:.0f} s")
    return folder


def cli_replay(folder: Path, hops: dict[str, float]) -> tuple[float, float, float, int]:
    """Wall s, CPU s and peak RSS (MB) of ``stresstrack replay``, and the windows stored."""
    return replay_to_store(
        folder, "--baseline-mode", "rolling", "--hop", str(hops["hop_s"]),
        "--slow-hop", str(hops["slow_hop_s"]), "--edasymp-hop", str(hops["edasymp_hop_s"]),
    )  # fmt: skip


def streamed_memory(plan: DaysPlan, hops: dict[str, float]) -> list[float]:
    """MB traced after each day of the simulated week streamed through the pipeline (the
    chunk just processed released: what the pipeline itself holds)."""
    pipeline = Pipeline(PipelineConfig(baseline_mode="rolling", **hops))
    (_,), chunks = simulate_days(plan)
    per_day: list[float] = []
    tracemalloc.start()
    for k, chunk in enumerate(chunks):
        pipeline.process_many(chunk)
        del chunk
        if (k + 1) % round(86_400 / plan.chunk_s) == 0:
            per_day.append(tracemalloc.get_traced_memory()[0] / 1e6)
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return [*per_day, peak]


def materialised_day(plan: DaysPlan) -> float:
    """MB of one day's events held in a list (the naive reader), by tracemalloc."""
    (_,), chunks = simulate_days(DaysPlan(days=1, seed=plan.seed))
    tracemalloc.start()
    events: list[Event] = []
    for chunk in chunks:
        events.extend(chunk)
        del chunk
    held = tracemalloc.get_traced_memory()[0] / 1e6
    tracemalloc.stop()
    return held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--default-hops", action="store_true", help="5/30/60 s hops")
    parser.add_argument("--memory-days", type=int, default=2, help="days traced in (b)")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(tempfile.gettempdir()) / "stresstrack-bench-days",
        help="where the generated week is kept",
    )
    args = parser.parse_args()
    plan = DaysPlan(days=args.days, seed=7)
    hops = DEFAULT_HOPS if args.default_hops else MULTI_DAY_HOPS
    folder = ensure_week(args.data, plan)
    wall, cpu, rss, windows = cli_replay(folder, hops)
    memory = streamed_memory(DaysPlan(days=args.memory_days, seed=plan.seed), hops)
    naive = materialised_day(plan) * args.days
    label = f"{args.days} days, RR + EDA 32 Hz + ACC 25 Hz, hops {hops}"
    print(f"\n{label}")
    print(f"{'measure':<60}{'value':>10}")
    print(f"{'stresstrack replay (CSV -> store): wall s':<60}{wall:>10.1f}")
    print(f"{'  CPU s of the replay process':<60}{cpu:>10.1f}")
    print(f"{'  peak RSS of the replay process, MB':<60}{rss:>10.0f}")
    print(f"{'  feature windows stored':<60}{windows:>10d}")
    days = ", ".join(f"{m:.1f}" for m in memory[:-1])
    print(f"{f'pipeline memory after each of {args.memory_days} days, MB':<60}{days:>10}")
    print(f"{'pipeline traced peak (chunk being processed included), MB':<60}{memory[-1]:>10.1f}")
    print(f"{'naive: the events held in memory, MB (1 day x days)':<60}{naive:>10.0f}")
    print(f"{'ratio naive / streamed peak':<60}{naive / memory[-1]:>10.1f}")
    print(f"\nissue 20 target: <= 120 s and <= 50 MB: {wall:.0f} s wall, {memory[-1]:.0f} MB")


if __name__ == "__main__":
    main()
