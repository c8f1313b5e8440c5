"""``stresstrack export``: a table of a store as CSV."""

from __future__ import annotations

import argparse
from pathlib import Path

from stresstrack.cli.common import participant_arg
from stresstrack.cli.export_dataset import add_dataset_options, run_dataset
from stresstrack.errors import StressTrackError
from stresstrack.export.tables import TABLES, export_table
from stresstrack.outputs import check_output
from stresstrack.store.sqlite import Store

NAME = "export"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(NAME, help="write a table of a store as CSV or Parquet")
    p.add_argument("store", type=Path, metavar="STORE")
    p.add_argument("--table", choices=TABLES, default=None)
    p.add_argument("--participant", type=participant_arg, default=None, metavar="ID")
    p.add_argument("--out", type=Path, default=None, metavar="FILE.csv|FILE.parquet")
    p.add_argument(
        "--format",
        choices=("csv", "parquet"),
        default=None,
        help="file format (default: from the --out suffix, .parquet or else CSV)",
    )
    add_dataset_options(p)
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.bids is not None or args.kubios is not None:
        return run_dataset(args)
    if args.table is None or args.out is None:
        raise StressTrackError("give --table and --out (or --bids DIR, or --kubios DIR)")
    fmt = args.format or ("parquet" if args.out.suffix.lower() == ".parquet" else "csv")
    check_output(args.out, force=args.force, inputs=[args.store])
    with Store(args.store, readonly=True) as store:
        if fmt == "parquet":
            from stresstrack.export.parquet import export_table_parquet

            n = export_table_parquet(store, args.table, args.out, args.participant)
        else:
            n = export_table(store, args.table, args.out, args.participant)
    print(f"wrote {n} rows to {args.out}")
    return 0
