"""``stresstrack replay``: recordings through the same pipeline as live data.

Size (issue 17): ``add_replay_options`` declares the command's options (one argparse call
each); ``run`` is the replay's one sequence (check the output, choose the format, plan,
replay serially or in parallel, report), kept in order.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from stresstrack.cli import error_text
from stresstrack.cli.common import (
    add_influx_options,
    add_pipeline_options,
    finite_float,
    influx_follower,
    participant_arg,
    pipeline_config,
)
from stresstrack.errors import StressTrackError
from stresstrack.runtime import following
from stresstrack.store.sqlite import Store

NAME = "replay"
FORMAT_NAMES = ("store", "csv", "e4", "polar", "xdf", "emotibit", "wesad", "kubios")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        help="run the pipeline over recorded data",
        description="Replay recordings through the pipeline into a store: stresstrack stores, "
        "generic CSV, Empatica E4, Polar Sensor Logger, XDF (LabRecorder), EmotiBit and WESAD "
        "(see docs/formats.md). A folder of recordings is replayed in parallel, one process "
        "per recording, with the same results as one after the other.",
    )
    p.add_argument(
        "sources",
        nargs="+",
        type=Path,
        metavar="SOURCE",
        help="a recording (store, XDF file, E4 zip, folder), files of one recording, or a "
        "folder of recordings",
    )
    p.add_argument("--store", type=Path, required=True, metavar="OUT.db", help="output store")
    add_replay_options(p)
    add_pipeline_options(p)
    add_influx_options(p)
    p.set_defaults(run=run)


def add_replay_options(p: argparse.ArgumentParser) -> None:
    """The options of what to read and how fast."""
    p.add_argument(
        "--format",
        choices=FORMAT_NAMES,
        default=None,
        help="format of the sources (default: recognised from each file or folder)",
    )
    p.add_argument(
        "--participant",
        type=participant_arg,
        default=None,
        metavar="ID",
        help="only this participant (stores); the participant of other recordings (default: "
        "the file or folder name, when it is a pseudonym)",
    )
    p.add_argument("--study", default="default", help="study name for imported recordings")
    p.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="skip and count malformed rows instead of stopping at the first",
    )
    p.add_argument(
        "--speed",
        type=finite_float,
        default=0.0,
        metavar="0|1|N",
        help="0: as fast as possible (default); 1: real time (demos to live dashboards); "
        "N: N times real time",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help=f"parallel processes for a folder of recordings (default: {os.cpu_count() or 1}, "
        "the number of cores)",
    )
    p.add_argument(
        "--start",
        default=None,
        metavar="TIME",
        help="time of the first sample (ISO 8601 or Unix s), for recordings without calendar time "
        "(XDF without a header datetime, a WESAD .pkl without its E4 folder)",
    )
    p.add_argument(
        "--timezone",
        default="UTC",
        metavar="ZONE",
        help="time zone of local times written without one (Polar Sensor Logger), "
        "e.g. Europe/Paris (default UTC)",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=None,
        metavar="HZ",
        help="sampling rate of the sampled signals of generic CSV files (ECG, PPG, EDA); "
        "default: fitted to the timestamps of the whole file",
    )
    p.add_argument(
        "--tag-sessions",
        default=None,
        metavar="KIND",
        help="E4 button presses (and Polar Sensor Logger markers) delimit sessions of KIND: "
        "1st press starts, 2nd stops... (default: E4 presses are point events)",
    )


def _start_ns(text: str | None) -> int | None:
    if text is None:
        return None
    from stresstrack.replay.csv_generic import parse_time

    try:
        return parse_time(text)
    except ValueError:
        raise StressTrackError(f"--start {text!r} is not an ISO 8601 time") from None


def _remove_if_empty(path: Path) -> None:
    with Store(path, readonly=True) as store:
        empty = not store.participants()
    if empty:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def run(args: argparse.Namespace) -> int:
    from stresstrack.cli.progress import Progress
    from stresstrack.replay import ImportOptions, find_recordings, format_summary
    from stresstrack.replay.base import resolve_timezone
    from stresstrack.replay.runner import replay_recordings

    if args.speed < 0:
        raise StressTrackError("--speed must be 0 (as fast as possible), 1 (real time) or more")
    if args.workers < 1:
        raise StressTrackError("--workers must be at least 1")
    out: Path = args.store
    if any(out.resolve() == s.resolve() for s in args.sources if s.exists()):
        raise StressTrackError(f"{out}: the output store must differ from the sources")
    resolve_timezone(args.timezone)
    if args.rate is not None and not 0 < args.rate <= 100_000:
        raise StressTrackError(f"--rate {args.rate:g}: must be a sampling rate in Hz (0-100000]")
    options = ImportOptions(
        participant=args.participant,
        study=args.study,
        skip_bad_rows=args.skip_bad_rows,
        start_ns=_start_ns(args.start),
        timezone=args.timezone,
        tag_sessions=args.tag_sessions,
        rate=args.rate,
    )
    recordings = find_recordings(args.sources, args.format)
    t0 = time.monotonic()
    created = not out.exists()
    with Store(out):
        pass  # created before the InfluxDB replica starts following it
    with following([influx_follower(args, out)]):
        results = replay_recordings(
            recordings,
            out,
            pipeline_config(args),
            options,
            workers=args.workers,
            speed=args.speed,
            progress_bar=Progress,
        )
    elapsed = time.monotonic() - t0
    failed = [r for r in results if r.error]
    for r in failed:  # advice to change a setting names the option that sets it
        r.error = error_text(StressTrackError(r.error or "", setting=r.error_setting))
    if created and len(failed) == len(results):
        _remove_if_empty(out)  # a failed replay leaves no empty store behind
    if len(results) == 1 and failed:
        # One recording: the error is the message (what was read before it is kept).
        raise StressTrackError(failed[0].error or "")
    print(format_summary(results))
    for r in results:
        for note in r.notes:
            print(f"note: {r.recording}: {note}", file=sys.stderr)
    hours = sum(r.duration_s for r in results) / 3600
    events = sum(r.events for r in results)
    print(
        f"\nreplayed {len(results)} recording(s), {events} events, {hours:.2f} participant-hours "
        f"in {elapsed:.1f} s into {out}"
    )
    if failed:
        print(f"{len(failed)} recording(s) failed; see the errors column", file=sys.stderr)
        return 1
    return 0
