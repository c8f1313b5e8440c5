"""``stresstrack lab``: import lab values (salivary cortisol, any analyte) from a CSV of
``time,participant,analyte,value,unit`` into a store (docs/formats.md, docs/endpoints.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from stresstrack.errors import StressTrackError
from stresstrack.store.sqlite import Store

NAME = "lab"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        help="import lab values (e.g. salivary cortisol) from CSV",
        description="Store lab samples (time,participant,analyte,value,unit) as events; "
        "`analyze` and `report` compute each session's cortisol AUCg/AUCi with the study "
        "file's lag (docs/endpoints.md).",
    )
    p.add_argument("csv", type=Path, metavar="FILE.csv")
    p.add_argument("--store", type=Path, default=Path("stresstrack.db"), metavar="PATH")
    p.add_argument("--study", type=Path, default=None, metavar="FILE", help="the study file")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from stresstrack.endpoints.csvio import read_lab_csv
    from stresstrack.session.study import load_study

    study = load_study(args.study) if args.study is not None else None
    with Store(args.store) as store:
        name = study.name if study else store.meta("study") or "default"
        samples = read_lab_csv(args.csv, study=name)
        if study is not None:
            for who in sorted({s.participant for s in samples}):
                if who not in study.participants:
                    raise StressTrackError(
                        f"{args.csv}: participant {who} is not listed in {args.study}"
                    )
        added = store.add_events(samples, unless_stored_by=store.last_positions()["events"])
    print(
        f"stored {len(added)} samples ({len(samples) - len(added)} already stored) in {args.store}"
    )
    return 0
