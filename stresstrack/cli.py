"""The ``stresstrack`` command."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from stresstrack import __version__
from stresstrack.errors import StressTrackError
from stresstrack.events import validate_participant_id
from stresstrack.export import TABLES, export_table
from stresstrack.pipeline.engine import Pipeline, PipelineConfig
from stresstrack.progress import Progress
from stresstrack.protocol import DEFAULT_PROTOCOL, load_protocol
from stresstrack.recorder import Recorder
from stresstrack.store.sqlite import Store, StoreError

__all__ = ["main"]


def _pipeline_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("pipeline")
    d = PipelineConfig()
    g.add_argument(
        "--hrv-window",
        type=float,
        default=d.hrv_window_s,
        metavar="S",
        help=f"window of the time-domain HRV features, s (default {d.hrv_window_s:g})",
    )
    g.add_argument(
        "--eda-window",
        type=float,
        default=d.eda_window_s,
        metavar="S",
        help=f"window of the EDA features, s (default {d.eda_window_s:g})",
    )
    g.add_argument(
        "--hop",
        type=float,
        default=d.hop_s,
        metavar="S",
        help=f"time between window ends, s (default {d.hop_s:g})",
    )
    g.add_argument(
        "--baseline",
        type=float,
        default=d.baseline_s,
        metavar="S",
        help=f"baseline length when no baseline session is marked, s (default {d.baseline_s:g})",
    )


def _config(args: argparse.Namespace) -> PipelineConfig:
    return PipelineConfig(
        hrv_window_s=args.hrv_window,
        eda_window_s=args.eda_window,
        hop_s=args.hop,
        baseline_s=args.baseline,
    )


def _participant(text: str) -> str:
    try:
        return validate_participant_id(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stresstrack",
        description="Objective stress measurement (HRV, EDA) from wearables.",
    )
    parser.add_argument("--version", action="version", version=f"stresstrack {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="simulate a short study and write a store and an HTML report",
        description="Simulate participants wearing a heart-rate strap and an EDA "
        "band through the real collector and pipeline, as fast as the CPU allows.",
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("stresstrack-demo"),
        metavar="DIR",
        help="output folder (default: stresstrack-demo)",
    )
    demo.add_argument(
        "--participants", type=int, default=3, metavar="N", help="how many (default 3)"
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument(
        "--protocol",
        default=None,
        metavar="FILE_OR_NAME",
        help="study protocol TOML, or a shipped one: stress-selfcare-recovery "
        "(default), baseline-selfcare, partner-session",
    )
    _pipeline_options(demo)

    replay = sub.add_parser(
        "replay",
        help="run the pipeline over recorded data",
        description="Replay stresstrack stores or generic CSV files (see "
        "docs/formats.md) through the pipeline into a new store.",
    )
    replay.add_argument("sources", nargs="+", type=Path, metavar="SOURCE")
    replay.add_argument("--store", type=Path, required=True, metavar="OUT.db", help="output store")
    replay.add_argument(
        "--participant",
        type=_participant,
        default=None,
        metavar="ID",
        help="only this participant (stores) / the participant of CSV files",
    )
    replay.add_argument("--study", default="default", help="study name for CSV files")
    replay.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="skip and count malformed CSV rows instead of stopping",
    )
    _pipeline_options(replay)

    export = sub.add_parser("export", help="write a table of a store as CSV")
    export.add_argument("store", type=Path, metavar="STORE")
    export.add_argument("--table", choices=TABLES, required=True)
    export.add_argument("--participant", type=_participant, default=None, metavar="ID")
    export.add_argument("--out", type=Path, required=True, metavar="FILE.csv")

    report = sub.add_parser("report", help="write the HTML report of a store")
    report.add_argument("store", type=Path, metavar="STORE")
    report.add_argument("--out", type=Path, required=True, metavar="report.html")
    return parser


def cmd_demo(args: argparse.Namespace) -> int:
    from stresstrack.report import render_report
    from stresstrack.simulators.study import StudyPlan, simulate_study

    if args.participants < 1:
        raise StressTrackError("--participants must be at least 1")
    protocol = DEFAULT_PROTOCOL if args.protocol is None else load_protocol(args.protocol)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    db = out / "stresstrack.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)  # a demo store is regenerated
    plan = StudyPlan(participants=args.participants, seed=args.seed, protocol=protocol)
    t0 = time.monotonic()
    minutes = protocol.duration_s / 60
    progress = Progress(f"simulating {plan.participants} participants", minutes, "sim-min")
    with Store(db) as store:
        store.set_meta("study", plan.study)
        store.set_meta("protocol", protocol.name)
        recorder = Recorder(store, Pipeline(_config(args)))
        simulate_study(plan, recorder, on_progress=lambda f: progress.update(f * minutes))
        recorder.close()
        progress.close()
        report = render_report(store, out / "report.html", title=f"stresstrack demo ({plan.study})")
        _print_summary(store)
    print(
        f"\n{recorder.events} events, {protocol.duration_s / 60:.0f} min per participant, "
        f"simulated in {time.monotonic() - t0:.1f} s"
    )
    print(f"store:  {db}\nreport: {report}")
    return 0


def _print_summary(store: Store) -> None:
    """Mean stress index per participant and session kind."""
    print("\nmean stress index (50 = own baseline) per session:")
    for pid in store.participants():
        stress = store.stress(pid)
        parts = []
        for s in store.sessions(pid):
            end = s.end_ns if s.end_ns is not None else float("inf")
            vals = [
                r.index for r in stress if s.start_ns < r.time_ns <= end and r.index is not None
            ]
            if vals:
                parts.append(f"{s.kind} {sum(vals) / len(vals):5.1f}")
        print(f"  {pid}: " + " | ".join(parts))


def cmd_replay(args: argparse.Namespace) -> int:
    from stresstrack.replay import iter_source_events
    from stresstrack.replay.csv_generic import CsvStats

    out: Path = args.store
    if any(out.resolve() == s.resolve() for s in args.sources if s.exists()):
        raise StressTrackError(f"{out}: the output store must differ from the sources")
    stats = CsvStats()
    t0 = time.monotonic()
    n = 0
    with Store(out) as store:
        recorder = Recorder(store, Pipeline(_config(args)), batch=2000)
        events = iter_source_events(
            args.sources,
            participant=args.participant,
            study=args.study,
            skip_bad_rows=args.skip_bad_rows,
            stats=stats,
        )
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


def cmd_export(args: argparse.Namespace) -> int:
    with Store(args.store, readonly=True) as store:
        n = export_table(store, args.table, args.out, args.participant)
    print(f"wrote {n} rows to {args.out}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from stresstrack.report import render_report

    with Store(args.store, readonly=True) as store:
        path = render_report(store, args.out)
    print(f"report: {path}")
    return 0


COMMANDS = {"demo": cmd_demo, "replay": cmd_replay, "export": cmd_export, "report": cmd_report}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return COMMANDS[args.command](args)
    except (StressTrackError, StoreError, ValueError, OSError) as exc:
        print(f"stresstrack {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"stresstrack {args.command}: interrupted; data written so far is kept", file=sys.stderr
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
