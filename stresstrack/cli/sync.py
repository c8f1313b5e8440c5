"""``stresstrack sync``: send to InfluxDB everything of a store it does not have yet."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stresstrack.cli.common import add_influx_options, influx_target, sync_advice

NAME = "sync"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        help="send a store's data not yet in InfluxDB, then exit",
        description="Ship every point of the store that the InfluxDB target has not "
        "acknowledged yet (after an outage, or a run without --influx-url), in store order. "
        "Safe to run again at any time: points carry their timestamps and overwrite. "
        "Exits 1 when some data could not be delivered (it stays queued in the store).",
    )
    p.add_argument("store", type=Path, metavar="STORE")
    add_influx_options(p, required=True)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from stresstrack.sinks.influx import sync_store

    target = influx_target(args)
    assert target is not None  # --influx-url is required
    report = sync_store(args.store, target, wait_s=args.influx_wait)
    text = report.summary() if report.delivered else f"{report.summary()}\n{sync_advice(report)}"
    print(text, file=sys.stdout if report.delivered else sys.stderr)
    return 0 if report.delivered else 1
