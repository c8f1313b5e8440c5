"""``stresstrack replay``: recordings through the same pipeline as live data."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from stresstrack.cli.common import (
    add_influx_options,
    add_pipeline_options,
    influx_replica,
    participant_arg,
    pipeline_config,
)
from stresstrack.errors import StressTrackError
from stresstrack.pipeline.engine import Pipeline
from stresstrack.recorder import Recorder
from stresstrack.store.sqlite import Store

NAME = "replay"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        help="run the pipeline over recorded data",
        description="Replay stresstrack stores or generic CSV files (see docs/formats.md) "
        "through the pipeline into a new store.",
    )
    p.add_argument("sources", nargs="+", type=Path, metavar="SOURCE")
    p.add_argument("--store", type=Path, required=True, metavar="OUT.db", help="output store")
    p.add_argument(
        "--participant",
        type=participant_arg,
        default=None,
        metavar="ID",
        help="only this participant (stores) / the participant of CSV files",
    )
    p.add_argument("--study", default="default", help="study name for CSV files")
    p.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="skip and count malformed CSV rows instead of stopping",
    )
    add_pipeline_options(p)
    add_influx_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from stresstrack.replay import iter_source_events
    from stresstrack.replay.csv_generic import CsvStats

    out: Path = args.store
    if any(out.resolve() == s.resolve() for s in args.sources if s.exists()):
        raise StressTrackError(f"{out}: the output store must differ from the sources")
    stats = CsvStats()
    t0 = time.monotonic()
    n = 0
    with Store(out) as store:
        recorder = Recorder(store, Pipeline(pipeline_config(args)), batch=2000)
        events = iter_source_events(
            args.sources,
            participant=args.participant,
            study=args.study,
            skip_bad_rows=args.skip_bad_rows,
            stats=stats,
        )
        with influx_replica(args, out):
            try:
                for e in events:
                    recorder.emit([e])
                    n += 1
                    if n % 50_000 == 0:
                        print(f"replay: {n} events", file=sys.stderr)
            finally:
                recorder.close()  # whatever was read is stored and processed
        counts = {t: store.count(t) for t in ("features", "stress", "sessions")}
    msg = f"replayed {n} events in {time.monotonic() - t0:.1f} s into {out}: " + ", ".join(
        f"{v} {k}" for k, v in counts.items()
    )
    if stats.skipped:
        msg += f"; skipped {stats.skipped} bad rows"
    print(msg)
    return 0
