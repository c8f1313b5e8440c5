"""``stresstrack power``: participants needed for 80 / 90 % power, and the minimum detectable
effect for a given number of participants."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from stresstrack.analysis.power import DESIGNS, Design, min_detectable_dz, power, sample_size
from stresstrack.errors import StressTrackError

NAME = "power"
TARGETS = (0.8, 0.9)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        help="sample size and minimum detectable effect of a study's primary test",
        description="Power of the primary test (two-sided, exact noncentral t): crossover = "
        "the mixed model's condition term in an AB/BA crossover (n - 3 df), prepost = the "
        "paired t test of during - pre (n - 1 df). Give the effect as dz, or in outcome units "
        "with the SD of the within-participant differences (--sd, or --pilot STORE to measure "
        "it). See docs/sessions.md.",
    )
    p.add_argument("--design", choices=DESIGNS, default="crossover", help="(default crossover)")
    p.add_argument("--dz", type=float, default=None, help="standardised effect (Cohen's dz)")
    p.add_argument(
        "--effect", type=float, default=None, metavar="X", help="effect in outcome units"
    )
    p.add_argument(
        "--sd",
        type=float,
        default=None,
        metavar="S",
        help="SD of the participants' within-person differences, outcome units",
    )
    p.add_argument(
        "--pilot",
        type=Path,
        default=None,
        metavar="STORE",
        help="measure that SD in a pilot store (the mixed model's with a control, else the SD "
        "of during - pre of --kind)",
    )
    p.add_argument("--kind", default="self-care", help="pilot session kind (default self-care)")
    p.add_argument("--control", default=None, metavar="KIND", help="pilot control kind")
    p.add_argument("--n", type=int, default=None, help="participants: power and minimum effect")
    p.add_argument("--alpha", type=float, default=0.05, help="two-sided (default 0.05)")
    p.set_defaults(run=run)


def pilot_sd(store_path: Path, kind: str, control: str | None, design: Design) -> float:
    """SD of the within-participant differences of the primary outcome in a pilot store."""
    from dataclasses import replace

    from stresstrack.analysis import AnalysisSettings, analyze_store
    from stresstrack.store.sqlite import Store

    if not store_path.exists():
        raise StressTrackError(f"pilot store {store_path}: no such file")
    with Store(store_path, readonly=True) as store:
        a = analyze_store(store, replace(AnalysisSettings(boot=0), control=control))
    fx = a.effects
    if design == "crossover":
        primary = fx.primary
        if primary is None or not (primary.se > 0):
            why = (primary.note if primary is not None else fx.note) or "no controlled estimate"
            raise StressTrackError(f"pilot store {store_path}: no crossover SD ({why})")
        # t = effect / se and dz = t / sqrt(n): the SD of the adjusted differences is se·√n.
        return primary.se * math.sqrt(primary.n_participants)
    sds = [g.during[fx.design.primary if fx.design else "stress_index"] for g in a.groups]
    kinds = [g for g, s in zip(a.groups, sds, strict=True) if g.key[0] == kind and s.n >= 2]
    if not kinds:
        raise StressTrackError(f"pilot store {store_path}: no {kind} sessions of 2+ participants")
    return float(kinds[0].during["stress_index"].sd_delta)


def run(args: argparse.Namespace) -> int:
    design: Design = args.design
    if not 0 < args.alpha < 1:
        raise StressTrackError(f"--alpha must be within 0-1, got {args.alpha:g}")
    if (args.dz is None) == (args.effect is None):
        raise StressTrackError("give the effect as --dz D, or as --effect X with --sd or --pilot")
    sd: float | None = None
    if args.dz is not None:
        dz = args.dz
    else:
        if (args.sd is None) == (args.pilot is None):
            raise StressTrackError("--effect needs exactly one of --sd S or --pilot STORE")
        sd = (
            args.sd
            if args.sd is not None
            else pilot_sd(args.pilot, args.kind, args.control, design)
        )
        if not (sd is not None and sd > 0):
            raise StressTrackError(f"the SD must be > 0, got {sd}")
        dz = args.effect / sd
    if dz == 0 or not math.isfinite(dz):
        raise StressTrackError("the effect must be a finite number other than 0")
    test = (
        "mixed-model condition term, AB/BA crossover, n - 3 df"
        if design == "crossover"
        else "paired t test of during - pre, n - 1 df (not a causal design)"
    )
    print(f"design: {design} ({test}), two-sided alpha {args.alpha:g}")
    unit = "" if sd is None else f" = {args.effect:g} / SD {sd:.3g}"
    print(f"effect: dz {dz:.3f}{unit}")
    try:
        for target in TARGETS:
            n = sample_size(dz, target, design, args.alpha)
            print(f"participants for {target:.0%} power: {n}")
        if args.n is not None:
            p = power(dz, args.n, design, args.alpha)
            print(f"power with n = {args.n}: {p:.1%}" if math.isfinite(p) else "")
            for target in TARGETS:
                mde = min_detectable_dz(args.n, target, design, args.alpha)
                raw = "" if sd is None else f" ({mde * sd:.3g} outcome units)"
                print(
                    f"minimum detectable dz with n = {args.n} at {target:.0%} power: {mde:.3f}{raw}"
                )
    except ValueError as exc:
        raise StressTrackError(str(exc)) from None
    return 0
