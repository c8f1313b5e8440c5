"""``stresstrack report``: the self-contained HTML report of a store."""

from __future__ import annotations

import argparse
from pathlib import Path

from stresstrack.cli.analyze import (
    add_analysis_options,
    analysis_arms,
    analysis_endpoints,
    analysis_settings,
    analysis_unblinding,
)
from stresstrack.outputs import check_output
from stresstrack.store.sqlite import Store

NAME = "report"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        help="write the HTML report of a store",
        description="One offline HTML page: the session effects across participants (the "
        "analysis of `stresstrack analyze`, same options), and per participant the stress "
        "index, its components, the sessions and each session's before / during / after.",
    )
    p.add_argument("store", type=Path, metavar="STORE")
    p.add_argument("--out", type=Path, required=True, metavar="report.html")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument(
        "--tz",
        default="UTC",
        metavar="ZONE",
        help="time zone of the days section's clock hours, an IANA name (default UTC)",
    )
    add_analysis_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from stresstrack.report import render_report

    check_output(args.out, force=args.force, inputs=[args.store])
    settings = analysis_settings(args)
    arms = analysis_arms(args)
    key, blinding = analysis_unblinding(args)
    extra = []
    if args.study is not None:
        from stresstrack.report.audit import audit_section

        extra.append(audit_section(args.store, args.study, settings))
    with Store(args.store, readonly=True) as store:
        path = render_report(
            store,
            args.out,
            settings=settings,
            arms=arms,
            endpoints=analysis_endpoints(args),
            unblind=key,
            extra_sections=extra,
            tz=args.tz,
        )
    if blinding:
        print(blinding)
    print(f"report: {path}")
    return 0
