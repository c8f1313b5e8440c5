"""``stresstrack audit``: do signal quality, the index and the prompts work equally well for
every group of participants (sex, age band, skin type)? See docs/endpoints.md."""

from __future__ import annotations

import argparse
import csv
import math
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from stresstrack.cli.common import finite_float
from stresstrack.outputs import check_output, csv_safe, private_output

if TYPE_CHECKING:
    from stresstrack.analysis.audit import AuditResult

NAME = "audit"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        help="fairness audit: compare groups of participants on quality, index and prompts",
        description="Groups come from the consented [attributes.ID] tables of the study file "
        "(sex, age_band, skin_type). Each group is compared with the others on window "
        "exclusion, optical beat loss, baseline spread, index confidence, prompts per hour of "
        "high stress and the session effect's group x condition interaction; a difference "
        "whose 95%% CI excludes 0 and that reaches the metric's bound is FLAGGED. "
        "See docs/endpoints.md.",
    )
    p.add_argument("--store", type=Path, required=True, metavar="STORE")
    p.add_argument("--study", type=Path, required=True, metavar="FILE")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="write audit.csv (group aggregates) to this folder",
    )
    p.add_argument(
        "--participants",
        action="store_true",
        help="with --out, also write audit_participants.csv: each participant's attributes "
        "and values (personal data: only when asked)",
    )
    p.add_argument(
        "--min-confidence",
        type=finite_float,
        default=0.5,
        metavar="F",
        help="confidence a window's index needs to count (default 0.5, as analyze)",
    )
    p.add_argument(
        "--protocol",
        default=None,
        metavar="FILE_OR_NAME",
        help="protocol whose [design] gives the session effect's conditions (default: the "
        "protocol the store records)",
    )
    p.set_defaults(run=run)


def _num(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{x:+.3g}"


def run(args: argparse.Namespace) -> int:
    from stresstrack.analysis.audit_store import store_audit, write_audit
    from stresstrack.analysis.sessions import AnalysisSettings
    from stresstrack.errors import StressTrackError
    from stresstrack.store.sqlite import Store

    if not args.store.exists():
        raise StressTrackError(f"--store {args.store}: no such store")
    if args.participants and args.out is None:
        raise StressTrackError("--participants needs --out DIR")
    from stresstrack.session.protocol import load_protocol

    design = load_protocol(args.protocol).design if args.protocol else None
    try:
        settings = AnalysisSettings(min_confidence=args.min_confidence, boot=0, design=design)
    except ValueError as exc:
        raise StressTrackError(f"--min-confidence: {exc}") from None
    with Store(args.store, readonly=True) as store:
        result = store_audit(store, args.study, settings)
    for note in result.notes:
        print(f"note: {note}")
    for attribute, values in result.groups.items():
        sizes = ", ".join(f"{v} ({len(ps)})" for v, ps in sorted(values.items()))
        print(f"{attribute}: {sizes}")
    for c in result.comparisons:
        d = c.difference
        verdict = "FLAGGED" if c.flagged else "ok"
        print(
            f"  {verdict:7} {c.attribute} {c.group} vs {c.other}, {c.metric}: {_num(d.estimate)} "
            f"[{_num(d.ci[0])}, {_num(d.ci[1])}] (bound {c.bound:g})"
            + (f" ({c.note})" if c.note else "")
        )
    print(
        f"{len(result.flagged)} of {len(result.comparisons)} comparisons flagged (each at a "
        "nominal 5 % false-flag rate for equal groups)"
    )
    if args.out is not None:
        for name in ("audit.csv", "audit_participants.csv"):  # rewritten, never over a store
            check_output(args.out / name, force=True, inputs=[args.store])
        n = write_audit(result, args.out / "audit.csv")
        print(f"wrote audit.csv ({n} rows) to {args.out}")
        if args.participants:
            _write_participants(result, args.study, args.out / "audit_participants.csv")
    return 0


def _write_participants(result: AuditResult, study: Path, path: Path) -> None:
    from stresstrack.attributes import ATTRIBUTES, load_attributes

    attributes = load_attributes(study)
    with private_output(path, newline="") as f:
        w = csv.writer(f)
        rows = [asdict(q) for q in result.qualities]
        head = list(rows[0]) if rows else ["participant"]
        w.writerow([*ATTRIBUTES, *head])
        for row in rows:
            attrs = attributes.get(str(row["participant"]), {})
            cells = [csv_safe(attrs.get(a, "")) for a in ATTRIBUTES]
            w.writerow(cells + [csv_safe(str(v)) for v in row.values()])
    print(f"wrote {path.name} (participant attributes: keep it private)")
