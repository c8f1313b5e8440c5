"""``stresstrack analyze``: did the sessions lower stress, for whom, and by how much?

Writes sessions.csv, participants.csv, summary.csv and measures.csv (docs/sessions.md) and
prints the summary.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from stresstrack.analysis import Analysis, AnalysisSettings
from stresstrack.cli.common import finite_float
from stresstrack.errors import StressTrackError
from stresstrack.outputs import check_output

NAME = "analyze"

__all__ = ["add_analysis_options", "analysis_arms", "analysis_settings", "format_summary"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        help="effect of each session kind: before / during / after, paired statistics",
        description="For every session (other than baselines): the stress index, its "
        "components and key features before, during and after it; per kind, mode, label and "
        "arm: the mean change, Cohen's dz with a bootstrap 95%% CI, the paired t test and the "
        "Wilcoxon signed-rank test across participants. See docs/sessions.md.",
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


def add_analysis_options(p: argparse.ArgumentParser) -> None:
    """Windows, thresholds and bootstrap of the session analysis."""
    d = AnalysisSettings()
    g = p.add_argument_group("session analysis")
    g.add_argument(
        "--pre",
        type=finite_float,
        default=d.pre_s,
        metavar="S",
        help=f"seconds before (default {d.pre_s:g})",
    )
    g.add_argument(
        "--post",
        type=finite_float,
        default=d.post_s,
        metavar="S",
        help=f"seconds after (default {d.post_s:g})",
    )
    g.add_argument(
        "--window",
        type=finite_float,
        default=d.window_s,
        metavar="S",
        help="the pipeline's window length: a window counts for a period when it lies wholly "
        f"inside it (default {d.window_s:g})",
    )
    g.add_argument(
        "--min-coverage",
        type=finite_float,
        default=d.min_coverage,
        metavar="F",
        help="exclude a session when less than this share of its pre or during windows has "
        f"a confident index (default {d.min_coverage:g})",
    )
    g.add_argument(
        "--min-confidence",
        type=finite_float,
        default=d.min_confidence,
        metavar="F",
        help=f"confidence a window's index needs to count (default {d.min_confidence:g})",
    )
    g.add_argument(
        "--boot",
        type=int,
        default=d.boot,
        metavar="N",
        help=f"bootstrap resamples (default {d.boot})",
    )
    g.add_argument("--seed", type=int, default=d.seed, help=f"bootstrap seed (default {d.seed})")
    g.add_argument(
        "--control",
        default=None,
        metavar="KIND",
        help="also compare every group's change with the same participants' change in "
        "sessions of this kind (e.g. rest)",
    )
    g.add_argument(
        "--study",
        type=Path,
        default=None,
        metavar="FILE",
        help="study file giving the participants' arms (default: the arms the store recorded)",
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
        )
    except ValueError as exc:
        raise StressTrackError(str(exc)) from None


def analysis_arms(args: argparse.Namespace) -> dict[str, str] | None:
    """Participant -> arm from `--study FILE`, or None (the arms the store recorded)."""
    if args.study is None:
        return None
    from stresstrack.study import load_study

    return load_study(args.study).arms()


def _num(x: float, fmt: str = ".1f") -> str:
    return "–" if not math.isfinite(x) else format(x, fmt)


def format_summary(analysis: Analysis) -> str:
    """The stress index summary per group, as printed by ``analyze``."""
    lines = [
        f"study {analysis.study or '–'}, stress index {analysis.index_version or '–'}, "
        f"stresstrack {analysis.stresstrack_version}",
        f"{len(analysis.sessions)} sessions, "
        f"{sum(not r.included for r in analysis.sessions)} excluded",
        "",
        "stress index change (during - pre), one value per participant:",
    ]
    if not analysis.groups:
        lines.append("  no sessions other than baselines")
    for g in analysis.groups:
        s = g.during["stress_index"]
        lines.append(
            f"  {g.label or '(no kind)'}: n={s.n}, mean {_num(s.mean_delta, '+.1f')} "
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
    from stresstrack.store.sqlite import Store

    settings = analysis_settings(args)
    arms = analysis_arms(args)
    out: Path = args.out if args.out is not None else args.store.parent / "analysis"
    for name in TABLE_FILES:  # the tables are rewritten on every run, never over a store
        check_output(out / name, force=True, inputs=[args.store])
    with Store(args.store, readonly=True) as store:
        analysis = analyze_store(store, settings, arms=arms)
    counts = write_tables(analysis, out)
    print(format_summary(analysis))
    print(f"\nwrote {', '.join(f'{name} ({n} rows)' for name, n in counts.items())} to {out}")
    return 0
