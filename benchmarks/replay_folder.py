"""Replay of a folder of recordings in parallel: participant-hours replayed per minute.

Run: ``python benchmarks/replay_folder.py`` (defaults: 12 participants x 4 h = 48
participant-hours, 2 workers). It simulates the recordings with
``stresstrack.simulators.physiology`` (a long protocol of rest with a 5-minute baseline; RR
intervals, EDA at 8 Hz and the two phase markers), writes one stresstrack store (or one
generic CSV folder, ``--format csv``) per participant, then times the real command
``stresstrack replay FOLDER --store OUT.db --workers N`` in a fresh process, import time
included. Generated recordings are kept in ``--data`` and reused when they match.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from stresstrack.events import Beat, EdaSamples, Event, Marker, MarkerAction
from stresstrack.session.protocol import Phase, Protocol
from stresstrack.simulators.physiology import (
    ParticipantModel,
    ParticipantParams,
    simulate_beats,
    simulate_eda,
)
from stresstrack.store import Store

NS = 1_000_000_000
T0 = 1_767_603_600 * NS  # 2026-01-05T09:00:00Z
EDA_HZ = 8.0


def participant_events(pid: str, hours: float, seed: int) -> list[Event]:
    """One participant's beats, EDA in 1 s chunks and the phase markers, in time order."""
    protocol = Protocol("bench", (Phase("baseline", 300.0), Phase("rest", hours * 3600 - 300)))
    model = ParticipantModel(protocol, ParticipantParams.draw(np.random.default_rng(seed)), seed)
    bt, rr = simulate_beats(model)
    et, eda = simulate_eda(model, EDA_HZ)
    events: list[Event] = [
        Beat(time_ns=T0 + round(t * NS), participant=pid, rr_ms=float(r))
        for t, r in zip(bt, rr, strict=True)
    ]
    step = int(EDA_HZ)
    events += [
        EdaSamples(
            time_ns=T0 + round(et[i] * NS),
            participant=pid,
            sampling_rate=EDA_HZ,
            values_us=tuple(float(v) for v in eda[i : i + step]),
        )
        for i in range(0, eda.size, step)
    ]
    for start, end, phase in protocol.phase_bounds():
        for action, t in ((MarkerAction.START, start), (MarkerAction.STOP, end)):
            events.append(
                Marker(time_ns=T0 + round(t * NS), participant=pid, action=action, kind=phase.kind)
            )
    events.sort(key=lambda e: e.time_ns)
    return events


def write_csv(folder: Path, events: list[Event]) -> None:
    folder.mkdir(parents=True)
    with (
        (folder / "rr.csv").open("w") as rr,
        (folder / "eda.csv").open("w") as eda,
        (folder / "markers.csv").open("w") as markers,
    ):
        rr.write("time,rr_ms\n")
        eda.write("time,eda_us\n")
        markers.write("time,action,kind\n")
        for e in events:
            if isinstance(e, Beat):
                rr.write(f"{e.time_ns / NS:.6f},{e.rr_ms:.3f}\n")
            elif isinstance(e, EdaSamples):
                for i, v in enumerate(e.values_us):
                    eda.write(f"{e.sample_time_ns(i) / NS:.6f},{v:.5f}\n")
            elif isinstance(e, Marker):
                markers.write(f"{e.time_ns / NS:.6f},{e.action.value},{e.kind}\n")


def generate(data: Path, participants: int, hours: float, fmt: str) -> None:
    spec = {"participants": participants, "hours": hours, "format": fmt, "eda_hz": EDA_HZ}
    marker = data / "spec.json"
    if marker.exists() and json.loads(marker.read_text()) == spec:
        print(f"reusing the recordings in {data}")
        return
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    t0 = time.perf_counter()
    for i in range(participants):
        pid = f"bench-{i + 1:03d}"
        events = participant_events(pid, hours, seed=i + 1)
        if fmt == "store":
            with Store(data / f"{pid}.db") as store:
                for k in range(0, len(events), 20_000):
                    store.add_events(events[k : k + 20_000])
        else:
            write_csv(data / pid, events)
    marker.write_text(json.dumps(spec))
    print(f"generated {participants} x {hours:g} h in {time.perf_counter() - t0:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=12)
    parser.add_argument("--hours", type=float, default=4.0, help="hours per participant")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--format", choices=("store", "csv"), default="store")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(tempfile.gettempdir()) / "stresstrack-bench-replay",
        help="where the generated recordings are kept",
    )
    args = parser.parse_args()
    data = args.data / args.format
    generate(data, args.participants, args.hours, args.format)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.db"
        command = [sys.executable, "-m", "stresstrack.cli", "replay", str(data), "--store",
                   str(out), "--workers", str(args.workers)]  # fmt: skip
        t0 = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            sys.exit(f"replay failed ({done.returncode}):\n{done.stderr}")
        with Store(out, readonly=True) as store:
            events, windows = store.count("events"), store.count("features")
    hours = args.participants * args.hours
    print(f"{'benchmark':<46}{'value':>12}")
    print(f"{'recordings (format ' + args.format + ')':<46}{args.participants:>12}")
    print(f"{'participant-hours':<46}{hours:>12.1f}")
    print(f"{'workers (cores on this machine: ' + str(os.cpu_count()) + ')':<46}{args.workers:>12}")
    print(f"{'events':<46}{events:>12}")
    print(f"{'feature windows':<46}{windows:>12}")
    print(f"{'wall time, s':<46}{wall:>12.1f}")
    print(f"{'participant-hours per minute':<46}{hours / wall * 60:>12.1f}")
    print(f"{'events per second':<46}{events / wall:>12.0f}")


if __name__ == "__main__":
    main()
