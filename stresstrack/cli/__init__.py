"""The ``stresstrack`` command: one module per subcommand, each with ``register`` and ``run``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from stresstrack import __version__
from stresstrack.cli import (
    analyze,
    collect,
    dashboards,
    demo,
    doctor,
    export,
    influx,
    mark,
    pipeline,
    replay,
    report,
    scan,
    sync,
)
from stresstrack.errors import StressTrackError
from stresstrack.store.sqlite import StoreError

__all__ = ["build_parser", "main"]

# Order of the commands in --help.
COMMAND_MODULES = (
    demo, collect, mark, scan, replay, analyze, export, report, sync, doctor, influx,
    dashboards, pipeline,
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stresstrack",
        description="Objective stress measurement (HRV, EDA) from wearables.",
    )
    parser.add_argument("--version", action="version", version=f"stresstrack {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        code: int = args.run(args)
        return code
    except (StressTrackError, StoreError, ValueError, OSError) as exc:
        print(f"stresstrack {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"stresstrack {args.command}: interrupted; data written so far is kept", file=sys.stderr
        )
        return 130
