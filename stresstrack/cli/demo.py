"""``stresstrack demo``: a simulated study, store and report, as fast as the CPU allows."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from stresstrack.cli.common import (
    add_influx_options,
    add_pipeline_options,
    influx_follower,
    pipeline_config,
)
from stresstrack.cli.lsl_options import add_lsl_outlet_option, lsl_pipeline
from stresstrack.cli.progress import Progress
from stresstrack.errors import StressTrackError
from stresstrack.outputs import check_output
from stresstrack.runtime import Runtime, following
from stresstrack.session.protocol import load_protocol
from stresstrack.store.sqlite import Store

NAME = "demo"
DEMO_PROTOCOL = "stress-selfcare-vs-rest"  # counterbalanced self-care vs rest crossover
DEMO_PARTICIPANTS = 8


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        help="simulate a short study and write a store and an HTML report",
        description="Simulate participants wearing a heart-rate strap and an EDA band, through "
        "the real collector and pipeline, as fast as the CPU allows. By default a "
        "counterbalanced crossover (self-care vs rest after a stressor, AB/BA), so the report "
        "leads with the controlled estimate.",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("stresstrack-demo"),
        metavar="DIR",
        help="output folder (default: stresstrack-demo)",
    )
    p.add_argument(
        "--force", action="store_true", help="replace the store and report already in --out"
    )
    p.add_argument(
        "--participants",
        type=int,
        default=None,
        metavar="N",
        help=f"how many (default {DEMO_PARTICIPANTS}: the crossover's model needs at least 4; "
        "with --days, 1)",
    )
    p.add_argument(
        "--days",
        type=int,
        default=None,
        metavar="N",
        help="simulate N days and nights of everyday life instead of a lab study: circadian "
        "rhythm, sleep, activity, daily stressors and self-care sessions, with the rolling "
        "baseline (docs/simulators.md, docs/days.md)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--protocol",
        default=None,
        metavar="FILE_OR_NAME",
        help=f"study protocol TOML, or a shipped one: {DEMO_PROTOCOL} (default), "
        "stress-selfcare-recovery, baseline-selfcare, partner-session",
    )
    p.add_argument(
        "--realtime",
        action="store_true",
        help="run the study on the wall clock (e.g. with --lsl for LabRecorder), not as fast "
        "as the CPU allows",
    )
    add_pipeline_options(p)
    add_lsl_outlet_option(p)
    add_influx_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from stresstrack.report import render_report
    from stresstrack.simulators.study import StudyPlan, simulate_study

    if args.participants is None:
        args.participants = 1 if args.days is not None else DEMO_PARTICIPANTS
    if args.participants < 1:
        raise StressTrackError("--participants must be at least 1")
    if args.days is not None:
        return run_days_demo(args)
    from stresstrack.session.study import stamp_order

    protocol = load_protocol(DEMO_PROTOCOL if args.protocol is None else args.protocol)
    out: Path = args.out
    db = _fresh_outputs(args)
    plan = StudyPlan(participants=args.participants, seed=args.seed, protocol=protocol)
    t0 = time.monotonic()
    minutes = protocol.duration_s / 60
    progress = Progress(f"simulating {plan.participants} participants", minutes, "sim-min")
    with Store(db) as store:
        store.set_meta("study", plan.study)
        store.set_meta("protocol", DEMO_PROTOCOL if args.protocol is None else args.protocol)
        for i, pid in enumerate(plan.participant_ids()):
            stamp_order(store, pid, protocol.order_for(i))
        runtime = Runtime(store, lsl_pipeline(args, pipeline_config(args)))
        with following([influx_follower(args, db)]):
            if args.realtime:
                from stresstrack.cli.demo_realtime import run_realtime

                run_realtime(plan, runtime, lambda f: progress.update(f * minutes))
            else:
                simulate_study(plan, runtime, on_progress=lambda f: progress.update(f * minutes))
            runtime.close()
            progress.close()
        report = render_report(store, out / "report.html", title=f"stresstrack demo ({plan.study})")
        print_summary(store)
    print(
        f"\n{runtime.events} events, {minutes:.0f} min per participant, "
        f"simulated in {time.monotonic() - t0:.1f} s"
    )
    print(f"store:  {db}\nreport: {report}")
    return 0


def _fresh_outputs(args: argparse.Namespace) -> Path:
    """The store's path in ``--out``, after checking what would be replaced."""
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    db = out / "stresstrack.db"
    check_output(db, force=args.force, writes_store=True)
    check_output(out / "report.html", force=args.force)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)  # a demo store is regenerated
    return db


def run_days_demo(args: argparse.Namespace) -> int:
    """``demo --days N``: multi-day participants through the runtime (store and pipeline)."""
    from stresstrack.cli.demo_days import days_config, print_days_summary, run_days
    from stresstrack.report import render_report
    from stresstrack.simulators.days import DaysPlan

    if not 1 <= args.days <= 366:
        raise StressTrackError("--days must be between 1 and 366")
    if args.protocol is not None or args.realtime:
        raise StressTrackError("--days simulates everyday life: --protocol and --realtime apply "
                               "to a lab study only")  # fmt: skip
    db = _fresh_outputs(args)
    plan = DaysPlan(days=args.days, participants=args.participants, seed=args.seed)
    t0 = time.monotonic()
    hours = plan.duration_s / 3600
    progress = Progress(f"simulating {plan.participants} participant(s)", hours, "sim-h")
    with Store(db) as store:
        store.set_meta("study", plan.study)
        runtime = Runtime(store, lsl_pipeline(args, days_config(pipeline_config(args))))
        with following([influx_follower(args, db)]):
            truths = run_days(plan, runtime, lambda f: progress.update(f * hours))
            runtime.close()
            progress.close()
        report = render_report(store, args.out / "report.html", title="stresstrack demo (days)")
        print_days_summary(store, truths)
    print(
        f"\n{runtime.events} events, {args.days} day(s) per participant, "
        f"simulated in {time.monotonic() - t0:.1f} s"
    )
    print(f"store:  {db}\nreport: {report}")
    return 0


def print_summary(store: Store) -> None:
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
