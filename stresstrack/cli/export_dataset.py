"""``stresstrack export STORE --bids DIR`` and ``--kubios DIR``: whole datasets, not tables."""

from __future__ import annotations

import argparse
from pathlib import Path

from stresstrack.errors import StressTrackError
from stresstrack.outputs import check_output
from stresstrack.store.sqlite import Store

__all__ = ["add_dataset_options", "run_dataset"]


def add_dataset_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--bids",
        type=Path,
        default=None,
        metavar="DIR",
        help="write the store as a BIDS dataset (physio, events, participants; "
        "docs/integrations.md) instead of a table",
    )
    p.add_argument(
        "--task",
        default=None,
        metavar="LABEL",
        help="BIDS task label (default: the store's protocol)",
    )
    p.add_argument(
        "--kubios",
        type=Path,
        default=None,
        metavar="DIR",
        help="write each participant's RR intervals, artefact-corrected with flags, as a "
        "text file Kubios HRV opens (DIR/<participant>_rr.txt)",
    )


def _folder(path: Path, option: str) -> None:
    """Refuse an output folder that exists as something else (a store, a file)."""
    if path.exists() and not path.is_dir():
        raise StressTrackError(f"{option} {path}: is a file, not a folder; name a folder")


def run_dataset(args: argparse.Namespace) -> int:
    if args.table is not None or args.out is not None:
        raise StressTrackError("--bids and --kubios write folders: leave out --table and --out")
    for option, folder in (("--bids", args.bids), ("--kubios", args.kubios)):
        if folder is not None:
            _folder(folder, option)
    with Store(args.store, readonly=True) as store:
        if args.bids is not None:
            from stresstrack.export.bids import export_bids

            if args.participant is not None:
                raise StressTrackError("--bids exports every participant: leave out --participant")
            if args.bids.exists() and any(args.bids.iterdir()):
                raise StressTrackError(f"{args.bids} is not empty: give a new or empty folder")
            summary = export_bids(store, args.bids, task=args.task)
            print(f"wrote a BIDS dataset of {summary.participants} participants to {args.bids}")
        if args.kubios is not None:
            from stresstrack.export.kubios import export_kubios, kubios_path

            # One file per participant: an earlier export (or a store) there is replaced
            # only with --force, and a store never.
            for pid in [args.participant] if args.participant else store.participants():
                check_output(
                    kubios_path(args.kubios, pid), force=args.force, setting="Kubios folder"
                )
            files = export_kubios(store, args.kubios, args.participant)
            print(f"wrote {len(files)} Kubios RR files to {args.kubios}")
    return 0
