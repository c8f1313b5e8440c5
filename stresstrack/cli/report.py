"""``stresstrack report``: the self-contained HTML report of a store."""

from __future__ import annotations

import argparse
from pathlib import Path

from stresstrack.store.sqlite import Store

NAME = "report"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(NAME, help="write the HTML report of a store")
    p.add_argument("store", type=Path, metavar="STORE")
    p.add_argument("--out", type=Path, required=True, metavar="report.html")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from stresstrack.report import render_report

    with Store(args.store, readonly=True) as store:
        path = render_report(store, args.out)
    print(f"report: {path}")
    return 0
