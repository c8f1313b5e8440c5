"""``stresstrack days``: days, nights and rhythms of multi-day recordings (docs/days.md).

Writes days.csv (per participant and local date), episodes.csv, rhythm.csv (per participant,
over the recording) and selfcare.csv into ``--out``, and prints one line per participant.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from stresstrack.cli.common import finite_float
from stresstrack.errors import StressTrackError
from stresstrack.store.sqlite import Store

if TYPE_CHECKING:
    from stresstrack.days import DaysResult, DaysSettings

NAME = "days"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from stresstrack.days import DaysSettings, LoadSettings

    d, ld = DaysSettings(), LoadSettings()
    p = sub.add_parser(
        NAME,
        help="days, nights and rhythms of multi-day recordings",
        description="Per participant and day: the 24-h cosinor of HR and of the stress index "
        "(MESOR, amplitude, acrophase with 95%% CIs), sleep from the accelerometer "
        "(Cole-Kripke 1992) or `sleep` sessions with the night's resting HR and RMSSD, the "
        "daily stress load and episodes (exercise kept apart), and each self-care session "
        "against the same hours of other days. See docs/days.md.",
    )
    p.add_argument("store", type=Path, metavar="STORE")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the CSVs")
    p.add_argument("--force", action="store_true", help="replace the CSVs if they exist")
    options = (
        ("--tz", str, d.tz, "ZONE", "time zone of clock hours and dates, an IANA name"),
        ("--threshold", _threshold, "personal", "INDEX",
         "load threshold: `personal` (each participant's own, per day: median + k robust SD of "
         "their awake still minutes, within 60-75) or one stress index for everyone"),
        ("--threshold-k", finite_float, ld.k, "K", "k of the personal threshold"),
        ("--min-confidence", finite_float, ld.min_confidence, "F",
         "confidence a window needs to count"),
        ("--selfcare-hours", finite_float, d.selfcare_hours, "H",
         "hours after a self-care session compared"),
    )  # fmt: skip
    for option, kind, default, metavar, text in options:
        p.add_argument(option, type=kind, default=default, metavar=metavar,
                       help=f"{text} (default {default})")  # fmt: skip
    p.set_defaults(run=run)


def _threshold(text: str) -> float | None:
    """``personal`` (None) or a finite stress index."""
    if text.strip().lower() == "personal":
        return None
    try:
        return finite_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r}: give `personal` or a stress index") from None


def _settings(args: argparse.Namespace) -> DaysSettings:
    from stresstrack.days import DaysSettings, LoadSettings

    if not 0.0 <= args.min_confidence <= 1.0:
        raise StressTrackError(f"--min-confidence must be within 0-1, got {args.min_confidence:g}")
    load = LoadSettings(threshold=args.threshold, k=args.threshold_k,
                        min_confidence=args.min_confidence)  # fmt: skip
    try:
        d = DaysSettings(tz=args.tz, selfcare_hours=args.selfcare_hours)
    except ValueError as exc:
        raise StressTrackError(str(exc)) from None
    return replace(d, load=load)


def _line(r: DaysResult) -> str:
    from stresstrack.days.cosinor import clock

    load = [d.load_min for d in r.days]
    acro = "–" if r.hr is None else clock(r.hr.acrophase_h)
    mean = r.selfcare_mean
    care = "" if not mean.n else f", self-care {mean.mean:+.1f} (n={mean.n})"
    nightly = [n.hr_bpm for n in r.nights if math.isfinite(n.hr_bpm)]
    night = f", night HR {sum(nightly) / len(nightly):.0f} bpm" if nightly else ""
    return (
        f"{r.participant}: {r.span_days:.1f} days, HR peak {acro}, {len(r.nights)} nights{night}, "
        f"stress load {sum(load) / max(1, len(load)):.0f} min/day, {len(r.episodes)} episodes"
        f"{care}"
    )


def run(args: argparse.Namespace) -> int:
    from stresstrack.days import profile_store
    from stresstrack.days.tables import TABLE_FILES, write_days_tables
    from stresstrack.outputs import check_output

    settings = _settings(args)
    if args.out.exists() and not args.out.is_dir():
        raise StressTrackError(f"--out {args.out}: is a file; name a folder")
    for name in TABLE_FILES:
        check_output(args.out / name, force=args.force, inputs=[args.store])
    with Store(args.store, readonly=True) as store:
        study = profile_store(store, settings)
    for r in study.participants:
        print(_line(r))
    if study.selfcare.n:
        lo, hi = study.selfcare.ci
        print(f"self-care across {study.selfcare.n} participants: {study.selfcare.mean:+.1f} "
              f"[{lo:.1f}, {hi:.1f}] index points vs the same hours of other days")  # fmt: skip
    for path in write_days_tables(study, args.out):
        print(f"wrote {path}")
    return 0
