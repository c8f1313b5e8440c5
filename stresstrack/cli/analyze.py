"""``stresstrack analyze``: did the sessions lower stress, for whom, and by how much?

Writes effects.csv (the study's answer), sessions.csv, participants.csv, summary.csv and
measures.csv (docs/sessions.md) and prints the controlled estimate first, then the
uncontrolled during − pre changes, labelled as not causal.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from pathlib import Path
from typing import Final

from stresstrack.analysis import Analysis, AnalysisSettings
from stresstrack.analysis.effects import NOT_CAUSAL, Effect
from stresstrack.cli.common import finite_float
from stresstrack.endpoints.config import EndpointConfig
from stresstrack.errors import StressTrackError
from stresstrack.outputs import check_output
from stresstrack.session.protocol import Design

NAME = "analyze"

__all__ = [
    "add_analysis_options",
    "analysis_arms",
    "analysis_endpoints",
    "analysis_settings",
    "analysis_unblinding",
    "format_summary",
]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        help="the study's answer: each condition vs the control, and before / during / after",
        description="With a control condition (a protocol's [design], or --control): each "
        "condition minus the control in a linear mixed model (condition, period and the "
        "pre-session value; random intercept per participant), with its 95%% CI, p, dz, a "
        "carry-over check, Holm-adjusted secondary outcomes, per-kind/mode and per-arm "
        "interaction tests and responders. Always: for every session (other than baselines) "
        "before, during and after it, and per kind, mode, label and arm the during - pre "
        "change (which includes natural recovery and time effects: not causal). "
        "See docs/sessions.md.",
    )
    p.add_argument("store", type=Path, metavar="STORE")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder for the CSV tables (default: 'analysis' next to the store)",
    )
    add_analysis_options(p)
    p.set_defaults(run=run)


# (option, AnalysisSettings field, type, metavar, help) of the analysis's numbers.
_NUMBER_OPTIONS: Final = (
    ("--pre", "pre_s", finite_float, "S", "seconds before"),
    ("--post", "post_s", finite_float, "S", "seconds after"),
    ("--window", "window_s", finite_float, "S", "the pipeline's window length: a window counts "
     "for a period when it lies wholly inside it"),
    ("--min-coverage", "min_coverage", finite_float, "F", "exclude a session when less than "
     "this share of its pre or during windows has a confident index"),
    ("--min-confidence", "min_confidence", finite_float, "F",
     "confidence a window's index needs to count"),
    ("--boot", "boot", int, "N", "bootstrap resamples"),
    ("--seed", "seed", int, None, "bootstrap seed"),
)  # fmt: skip


def add_analysis_options(p: argparse.ArgumentParser) -> None:
    """Windows, thresholds and bootstrap of the session analysis; its design and study."""
    d = AnalysisSettings()
    g = p.add_argument_group("session analysis")
    for option, name, kind, metavar, text in _NUMBER_OPTIONS:
        default = getattr(d, name)
        g.add_argument(
            option,
            type=kind,
            default=default,
            metavar=metavar,
            help=f"{text} (default {default:g})",
        )
    _add_design_options(g)


def _add_design_options(g: argparse._ArgumentGroup) -> None:
    """What the analysis compares: control, protocol, conditions, study file, unblinding."""
    g.add_argument(
        "--control",
        default=None,
        metavar="KIND",
        help="the control condition (a session kind, e.g. rest): each condition is "
        "compared with it in the mixed model (default: the protocol's [design] control)",
    )
    g.add_argument(
        "--protocol",
        default=None,
        metavar="FILE_OR_NAME",
        help="protocol whose [design] gives conditions, control and outcomes (default: the "
        "protocol the store records)",
    )
    g.add_argument(
        "--conditions",
        default=None,
        metavar="KIND,KIND",
        help="session kinds compared (default: the design's; with --control alone, every "
        "kind but baseline, stressor and recovery)",
    )
    g.add_argument(
        "--smallest-effect",
        type=float,
        default=None,
        metavar="X",
        help="smallest effect of interest in primary-outcome units: adds an equivalence "
        "test (TOST)",
    )
    g.add_argument(
        "--study",
        type=Path,
        default=None,
        metavar="FILE",
        help="study file giving the participants' arms (default: the arms the store recorded) "
        "and the self-report items, lab lags and endpoints (docs/endpoints.md)",
    )
    g.add_argument(
        "--unblind",
        type=Path,
        default=None,
        metavar="KEYFILE",
        help='a blinded study\'s unblinding file (owner-only TOML, [key] CODE = "name"): '
        "codes are shown as names, and the unblinding is recorded in the store "
        "(docs/endpoints.md)",
    )


def analysis_settings(args: argparse.Namespace) -> AnalysisSettings:
    """The settings the options give; a bad value is a clear error."""
    try:
        return AnalysisSettings(
            pre_s=args.pre,
            post_s=args.post,
            window_s=args.window,
            min_coverage=args.min_coverage,
            min_confidence=args.min_confidence,
            boot=args.boot,
            seed=args.seed,
            control=args.control,
            design=_design(args),
        )
    except ValueError as exc:
        raise StressTrackError(str(exc)) from None


def _design(args: argparse.Namespace) -> Design | None:
    """The design from --protocol, --conditions, --control and --smallest-effect; None
    leaves it to the store's protocol (or to --control alone)."""
    from stresstrack.session.protocol import load_protocol

    design: Design | None = None
    if getattr(args, "protocol", None):
        design = load_protocol(args.protocol).design
        if design is None:
            raise ValueError(f"protocol {args.protocol!r} has no [design] (conditions, control)")
    conditions = getattr(args, "conditions", None)
    if conditions:
        kinds = tuple(k.strip() for k in conditions.split(",") if k.strip())
        control = args.control or (design.control if design else None)
        if control is not None and control not in kinds:
            kinds = (*kinds, control)
        design = (
            replace(design, conditions=kinds, control=control)
            if design
            else Design(conditions=kinds, control=control)
        )
    sesoi = getattr(args, "smallest_effect", None)
    if sesoi is not None:
        if not sesoi > 0:
            raise ValueError(f"--smallest-effect must be > 0, got {sesoi:g}")
        if design is None:
            if args.control is None:
                raise ValueError("--smallest-effect needs a control (--control or a design)")
            design = Design(conditions=(args.control,), control=args.control)
            # The conditions are filled from the sessions (AnalysisSettings.resolved_design).
            design = replace(design, conditions=())
        design = replace(design, smallest_effect=sesoi)
    return design


def analysis_arms(args: argparse.Namespace) -> dict[str, str] | None:
    """Participant -> arm from `--study FILE`, or None (the arms the store recorded)."""
    if args.study is None:
        return None
    from stresstrack.session.study import load_study

    return load_study(args.study).arms()


def analysis_endpoints(args: argparse.Namespace) -> EndpointConfig | None:
    """The endpoint tables of `--study FILE`, or None (built-in items, default lags)."""
    if args.study is None:
        return None
    from stresstrack.endpoints.config import load_endpoints

    return load_endpoints(str(args.study))


def analysis_unblinding(args: argparse.Namespace) -> tuple[dict[str, str] | None, str]:
    """``--unblind KEYFILE``: the key (code -> name) once checked and recorded in the store,
    and a line saying what the outputs show; (None, line) without it."""
    from stresstrack.blinding import BLINDING_META, KEY_HASH_META, record_unblinding, unblind
    from stresstrack.store.sqlite import Store

    if not args.store.exists():
        raise StressTrackError(f"{args.store}: no such store")
    if args.unblind is None:
        with Store(args.store, readonly=True) as store:
            codes = store.meta(BLINDING_META)
        return None, (f"BLINDED: arms and labels are codes ({codes})" if codes else "")
    with Store(args.store) as store:
        meta = {k: store.meta(k) for k in (BLINDING_META, KEY_HASH_META)}
        key = unblind(meta, args.unblind)
        entry = record_unblinding(store, args.unblind, by=f"stresstrack {args.command}")
    names = ", ".join(f"{c} = {n}" for c, n in key.items())
    return key, f"UNBLINDED ({names}); recorded in the store: {entry}"


def _num(x: float, fmt: str = ".1f") -> str:
    return "–" if not math.isfinite(x) else format(x, fmt)


def _p(x: float) -> str:
    return "–" if not math.isfinite(x) else ("< 0.001" if x < 0.001 else f"{x:.3f}")


def _effect_line(e: Effect) -> str:
    line = (
        f"{e.outcome}: {_num(e.estimate, '+.2f')} [{_num(e.ci[0], '.2f')}, "
        f"{_num(e.ci[1], '.2f')}], p {_p(e.p)}"
        + ("" if e.primary else f" (Holm {_p(e.p_adjusted)})")
        + f", dz {_num(e.dz, '+.2f')} [{_num(e.dz_ci[0], '.2f')}, {_num(e.dz_ci[1], '.2f')}], "
        f"n={e.n_participants}"
    )
    if math.isfinite(e.tost_p):
        line += f", equivalence (TOST) p {_p(e.tost_p)}"
    return line + (f" ({e.note})" if e.note else "")


def format_effects(analysis: Analysis) -> list[str]:
    """The controlled answer: primary estimate, secondary outcomes, carry-over, for whom."""
    fx = analysis.effects
    if fx.note:
        return [f"no controlled estimate: {fx.note}", ""]
    controlled = [e for e in fx.effects if e.controlled]
    if not controlled:
        return []
    lines = ["controlled estimate (mixed model: condition + period + pre value, random "
             "intercept per participant):"]  # fmt: skip
    primary = fx.primary
    if primary is not None:
        lines.append(f"  PRIMARY {primary.contrast}, {_effect_line(primary)}")
    for e in controlled:
        if not e.primary:
            lines.append(f"  {e.contrast}, {_effect_line(e)}")
    for c in fx.carryover:
        pre = c.pre
        lines.append(
            f"  carry-over, pre-value check ({c.treatment}): pre value after {c.treatment} "
            f"{_num(pre.estimate, '+.2f')} vs after the control, p {_p(pre.p)}, "
            f"{'FLAGGED' if pre.flagged else 'not flagged'} at 0.05"
            + (f" ({pre.note})" if pre.note else "")
            + "; within participants: sees carry-over still present when the next condition "
            "starts, not carry-over that shows only in the response to it"
        )
        lines.append(
            f"  carry-over, {c.treatment} × period term: p {_p(c.p)}, "
            f"{'FLAGGED' if c.flagged else 'not flagged'} at 0.10"
            + (f" ({c.note})" if c.note else "")
            + "; between participants: little power"
        )
    for b in fx.breakdowns:
        levels = "; ".join(
            f"{lv.name} {_num(lv.estimate, '+.2f')} [{_num(lv.ci[0], '.2f')}, "
            f"{_num(lv.ci[1], '.2f')}] n={lv.n_participants}"
            for lv in b.levels
        )
        lines.append(
            f"  for whom ({b.treatment} by {b.moderator}): interaction p {_p(b.p_interaction)}"
            + (f"; {levels}" if levels else "")
            + (f" ({b.note})" if b.note else "")
        )
    if fx.responders:
        lines.append(
            "  responders (reliable change, |RCI| >= 1.96): "
            + ", ".join(f"{k} {v}" for k, v in fx.responder_counts().items())
        )
    return [*lines, ""]


def format_summary(analysis: Analysis) -> str:
    """The controlled answer, then the during - pre summary per group, as printed by
    ``analyze``."""
    lines = [
        f"study {analysis.study or '–'}, stress index {analysis.index_version or '–'}, "
        f"stresstrack {analysis.stresstrack_version}",
        f"{len(analysis.sessions)} sessions, "
        f"{sum(not r.included for r in analysis.sessions)} excluded",
        "",
        *format_effects(analysis),
        "stress index change (during - pre), one value per participant:",
        f"  NOTE: {NOT_CAUSAL}",
    ]
    if not analysis.groups:
        lines.append("  no sessions other than baselines")
    for g in analysis.groups:
        s = g.during["stress_index"]
        lines.append(
            f"  {g.label or '(no kind)'} (not causal): n={s.n}, mean {_num(s.mean_delta, '+.1f')} "
            f"[{_num(s.mean_ci[0])}, {_num(s.mean_ci[1])}], dz {_num(s.dz, '+.2f')} "
            f"[{_num(s.dz_ci[0], '.2f')}, {_num(s.dz_ci[1], '.2f')}], "
            f"Wilcoxon p={_num(s.wilcoxon_p, '.3g')}, t test p={_num(s.ttest_p, '.3g')}"
            + (f"; {g.excluded} session(s) excluded" if g.excluded else "")
        )
        c = g.control.get("stress_index")
        if c is not None:
            lines.append(
                f"    vs {analysis.settings.control}: n={c.n}, mean difference "
                f"{_num(c.mean_delta, '+.1f')} [{_num(c.mean_ci[0])}, {_num(c.mean_ci[1])}], "
                f"Wilcoxon p={_num(c.wilcoxon_p, '.3g')}"
            )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from stresstrack.analysis import TABLE_FILES, analyze_store, write_tables
    from stresstrack.analysis.proximal import store_proximal, write_proximal
    from stresstrack.store.sqlite import Store

    settings = analysis_settings(args)
    arms = analysis_arms(args)
    out: Path = args.out if args.out is not None else args.store.parent / "analysis"
    from stresstrack.analysis.endpoint_tables import ENDPOINT_FILES

    # Rewritten on every run, never over a store.
    for name in (*TABLE_FILES, *ENDPOINT_FILES, "proximal.csv"):
        check_output(out / name, force=True, inputs=[args.store])
    endpoints = analysis_endpoints(args)
    key, blinding = analysis_unblinding(args)
    with Store(args.store, readonly=True) as store:
        analysis = analyze_store(store, settings, arms=arms, endpoints=endpoints, unblind=key)
        prompts = store_proximal(store)  # just-in-time prompts (docs/companion.md)
    counts = write_tables(analysis, out)
    if blinding:
        print(blinding)
    print(format_summary(analysis))
    if analysis.endpoints is not None:
        from stresstrack.analysis.endpoint_tables import write_endpoint_tables
        from stresstrack.report.endpoints import format_convergence

        print(format_convergence(analysis.endpoints))
        counts |= write_endpoint_tables(analysis.endpoints, out)
    if prompts is not None:
        print(write_proximal(prompts, out / "proximal.csv"))
        counts["proximal.csv"] = 1
    print(f"\nwrote {', '.join(f'{name} ({n} rows)' for name, n in counts.items())} to {out}")
    return 0
