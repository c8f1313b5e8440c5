"""``stresstrack blind``: code a study's products (A, B, ...) and write the unblinding key."""

from __future__ import annotations

import argparse
from pathlib import Path

from stresstrack.outputs import check_output, private_output

NAME = "blind"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        help="draw codes for a blinded study's products and write the unblinding key",
        description="Assigns the codes A, B, ... to the named products in a random order, "
        "writes the key owner-only to --key (keep it away from the study team) and prints "
        "the [blinding] table to paste into the study file. Arms and protocol labels then "
        "use the codes; `analyze --unblind KEY` shows the names. See docs/endpoints.md.",
    )
    p.add_argument("--names", required=True, metavar="NAME,NAME", help="the products/arms")
    p.add_argument("--key", type=Path, required=True, metavar="KEYFILE")
    p.add_argument("--force", action="store_true", help="replace --key if it exists")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from stresstrack.blinding import draw_key, format_key, key_sha256

    check_output(args.key, force=args.force, setting="unblinding key file")
    key = draw_key(args.names.split(","))
    with private_output(args.key) as f:
        f.write(format_key(key))
    codes = ", ".join(f'"{c}"' for c in key)
    print(f"wrote the unblinding key to {args.key} (owner-only; the codes' names are in it)")
    print("add to the study file:\n")
    print(f'[blinding]\ncodes = [{codes}]\nkey_sha256 = "{key_sha256(args.key)}"')
    return 0
