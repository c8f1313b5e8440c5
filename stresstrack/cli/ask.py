"""``stresstrack ask``: a participant answers the self-report items due now in the terminal,
or a researcher imports answers from a CSV file (docs/endpoints.md, docs/formats.md).

Without ``--items``, the items of the earliest open prompt are asked (a prompt before or
after a session of the ``[ask]`` table, or an EMA prompt of today) and the answers carry its
id; with no prompt open, the ``[ask]`` items (default ``stress``) are asked unprompted.
Each answer is checked against its item's scale and asked again when out of range; each is
stored as soon as it is given, so an interrupted questionnaire keeps what was answered.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from stresstrack.cli.common import participant_arg
from stresstrack.endpoints.config import EndpointConfig, parse_endpoints
from stresstrack.endpoints.items import Item
from stresstrack.endpoints.prompts import open_prompt
from stresstrack.errors import StressTrackError
from stresstrack.events import SelfReport
from stresstrack.session.study import Study, check_consent, parse_study, read_study_text
from stresstrack.store.sqlite import Store

__all__ = ["ask_items"]

NAME = "ask"
DEVICE: Final = "terminal"
TRIES: Final = 5  # wrong answers to one item before giving up on it


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        help="answer the self-report items due now, or import answers from CSV",
        description="Ask the participant the items of their open prompt (before/after a "
        "session, EMA) and store the answers; or --import a CSV of answers "
        "(time,participant,item,value[,prompt_id]; docs/formats.md).",
    )
    p.add_argument("--study", type=Path, required=True, metavar="FILE", help="the study file")
    p.add_argument("--store", type=Path, default=Path("stresstrack.db"), metavar="PATH")
    p.add_argument("--participant", type=participant_arg, metavar="ID")
    p.add_argument("--items", default=None, metavar="ID,ID", help="ask these items instead")
    p.add_argument("--import", dest="csv", type=Path, default=None, metavar="FILE.csv")
    p.set_defaults(run=run)


def _load(path: Path) -> tuple[Study, EndpointConfig]:
    text = read_study_text(path)
    return parse_study(text, str(path)), parse_endpoints(text, str(path))


def ask_items(
    items: Sequence[Item],
    read: Callable[[str], str],
    write: Callable[[str], None],
    store_answer: Callable[[Item, float], None],
) -> int:
    """Ask each item until a valid answer (at most :data:`TRIES`); returns answers stored."""
    stored = 0
    for item in items:
        low, high = item.anchors
        hint = f" ({item.range_text}" + (f"; {low} … {high}" if low or high else "") + ")"
        for _ in range(TRIES):
            try:
                text = read(f"{item.question}{hint}: ")
            except EOFError:
                return stored
            try:
                value = item.check(float(text.strip()))
            except ValueError as exc:
                write(f"  not stored: {exc if text.strip() else 'no answer'}; try again")
                continue
            store_answer(item, value)
            stored += 1
            break
        else:
            write(f"  {item.id}: skipped after {TRIES} invalid answers")
    return stored


def _import(args: argparse.Namespace, study: Study, cfg: EndpointConfig) -> int:
    from stresstrack.endpoints.csvio import read_selfreport_csv

    answers = read_selfreport_csv(args.csv, cfg.items, study=study.name)
    for who in sorted({a.participant for a in answers}):
        if who not in study.participants:
            raise StressTrackError(f"{args.csv}: participant {who} is not listed in {args.study}")
    with Store(args.store) as store:
        added = store.add_events(answers, unless_stored_by=store.last_positions()["events"])
    print(
        f"stored {len(added)} answers ({len(answers) - len(added)} already stored) in {args.store}"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    study, cfg = _load(args.study)
    if args.csv is not None:
        return _import(args, study, cfg)
    if args.participant is None:
        raise StressTrackError("give --participant ID (or --import FILE.csv)")
    check_consent(study, args.participant)
    with Store(args.store) as store:
        prompt = (
            None
            if args.items
            else open_prompt(store, study.name, cfg, args.participant, time.time_ns())
        )
        if args.items:
            names = [n.strip() for n in args.items.split(",") if n.strip()]
        else:
            names = list(prompt.items if prompt else cfg.ask.items if cfg.ask else ("stress",))
        unknown = [n for n in names if n not in cfg.items]
        if unknown or not names:
            raise StressTrackError(
                f"--items: unknown item(s) {', '.join(unknown) or '(none)'} "
                f"(known: {', '.join(sorted(cfg.items))})"
            )

        def save(item: Item, value: float) -> None:
            store.add_events(
                [
                    SelfReport(
                        time_ns=time.time_ns(),
                        participant=args.participant,
                        study=study.name,
                        device=DEVICE,
                        item=item.id,
                        value=value,
                        prompt_id=prompt.id if prompt else "",
                    )
                ]
            )

        if prompt is not None:
            print(f"prompt {prompt.id}")
        n = ask_items([cfg.items[x] for x in names], input, print, save)
    print(f"stored {n} of {len(names)} answers in {args.store}")
    return 0
