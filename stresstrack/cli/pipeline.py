"""``stresstrack pipeline``: a worker taking collectors' events from an MQTT broker.

Worker I of N owns the participants of its partitions (docs/mqtt.md), stores their events
exactly once and in order, and computes features and the stress index live; with
``--influx-*`` it also feeds InfluxDB. Ctrl-C or SIGTERM stops it cleanly: the pipeline
finishes the windows the data covers and a summary is printed. Restarted, it gets from the
broker what it missed.
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Final

from stresstrack.cli.broker import add_broker_options, broker_from_args, keys_from_args
from stresstrack.cli.common import (
    add_influx_options,
    add_pipeline_options,
    finite_float,
    influx_follower,
    pipeline_config,
)
from stresstrack.cli.lsl_options import add_lsl_outlet_option, lsl_pipeline
from stresstrack.errors import StressTrackError
from stresstrack.runtime import following
from stresstrack.store.sqlite import Store
from stresstrack.transport.mqtt import parse_worker

NAME = "pipeline"
STATUS_EVERY_S: Final = 10.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        help="a pipeline worker: collectors' events from an MQTT broker into a store",
        description="Subscribe to the events collectors publish (`collect --publish`), store "
        "them exactly once and in order, and compute features and the stress index live. "
        "With --worker I/N, this worker takes the participants of its share (each participant "
        "has exactly one worker); give each worker its own store. See docs/mqtt.md.",
    )
    add_broker_options(
        p, option="--subscribe", text="the broker, mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"
    )
    p.add_argument("--store", type=Path, required=True, metavar="PATH", help="this worker's store")
    p.add_argument(
        "--worker",
        default="1/1",
        metavar="I/N",
        help="this is worker I of N (1-based, default 1/1)",
    )
    p.add_argument(
        "--status-every",
        type=finite_float,
        default=STATUS_EVERY_S,
        metavar="S",
        help=f"status line and status events every S seconds (default {STATUS_EVERY_S:g})",
    )
    add_pipeline_options(p)
    add_lsl_outlet_option(p)
    add_influx_options(p)
    p.set_defaults(run=run)


def _say(text: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    print(f"{stamp} {text}", flush=True)


def run(args: argparse.Namespace) -> int:
    from stresstrack.transport.worker import Worker

    broker = broker_from_args(args, option="--subscribe")
    if broker is None:
        raise StressTrackError("--subscribe mqtt://HOST[:PORT] is required")
    index, count = parse_worker(args.worker)
    keys = keys_from_args(args)
    if not args.status_every > 0:
        raise StressTrackError("--status-every must be more than 0 seconds")
    store_path: Path = args.store
    stop = threading.Event()
    reason = ["stopped"]

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: do not wait for the last windows
        reason[0] = f"{signal.Signals(signum).name} received"
        stop.set()

    # Installed before anything slow (the store, the pipeline's warm-up): a SIGTERM from now
    # on stops the worker cleanly (Worker.run returns at once when stop is already set).
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with Store(store_path):
            pass  # created before the InfluxDB replica starts following it
        worker = Worker(
            store_path,
            broker,
            index=index,
            count=count,
            config=pipeline_config(args),
            client_id=args.mqtt_client_id,
            status_every_s=args.status_every,
            on_status=_say,
            pipeline_factory=lambda config: lsl_pipeline(args, config),
            keys=keys,
        )
        _say(
            f"worker {index}/{count}: {broker.describe()} -> {store_path} "
            f"(client {worker.client_id}; Ctrl-C to stop)"
        )
        with following([influx_follower(args, store_path)]):
            stats = worker.run(stop)
            print(f"\n{reason[0]}: {stats.line()}", flush=True)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0
