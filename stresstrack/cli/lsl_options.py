"""The LSL options of ``collect``, ``demo`` and ``pipeline`` (docs/integrations.md)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stresstrack.lsl.inlet import Converter
    from stresstrack.pipeline.engine import Pipeline, PipelineConfig
    from stresstrack.session.study import Study

__all__ = ["add_lsl_inlet_options", "add_lsl_outlet_option", "lsl_inlets", "lsl_pipeline"]


def add_lsl_outlet_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lsl",
        action="store_true",
        help="also publish beats/RR, HR, EDA, ECG/PPG, markers and the stress index as Lab "
        "Streaming Layer streams (LabRecorder records them; docs/integrations.md)",
    )


def add_lsl_inlet_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lsl-markers",
        default=None,
        metavar="NAME_OR_QUERY",
        help="take session markers from this LSL marker stream (e.g. PsychoPy's), mapped "
        "through the study file's [lsl.markers] table; a name or an XPath predicate such as "
        "\"type='Markers'\"",
    )
    p.add_argument(
        "--lsl-source",
        action="append",
        default=[],
        metavar="NAME_OR_QUERY",
        help="collect an RR, HR, ECG, PPG or EDA stream of another LSL app (repeat for "
        "several); with no --device, collection stops when the sources close",
    )
    p.add_argument(
        "--lsl-channel",
        default="",
        metavar="LABEL_OR_N",
        help="channel of the --lsl-source streams to use: its label or 1-based number "
        "(default: the first)",
    )
    p.add_argument(
        "--lsl-unit",
        default="",
        metavar="UNIT",
        help="unit of the --lsl-source streams when their metadata does not say (e.g. mV)",
    )


def lsl_pipeline(args: argparse.Namespace, config: PipelineConfig) -> Pipeline:
    """The pipeline of a command: publishing to LSL with ``--lsl``."""
    if not getattr(args, "lsl", False):
        from stresstrack.pipeline.engine import Pipeline

        return Pipeline(config)
    from stresstrack.lsl.outlet import Publisher, PublishingPipeline

    return PublishingPipeline(config, publisher=Publisher())


def lsl_inlets(
    args: argparse.Namespace, participant: str, study: str, study_file: Study | None
) -> list[Converter]:
    """Resolve and open the ``--lsl-markers`` and ``--lsl-source`` streams."""
    if not (args.lsl_markers or args.lsl_source):
        return []
    from stresstrack.events import EventIds
    from stresstrack.lsl.inlet import (
        LslClock,
        MarkerInlet,
        SourceInlet,
        open_inlet,
        parse_marker_rule,
        resolve_query,
    )

    clock = LslClock.now()
    out: list[Converter] = []
    timeout = args.scan_timeout
    if args.lsl_markers:
        where = study_file.path if study_file is not None else "--study"
        table = study_file.lsl_markers if study_file is not None else {}
        rules = {
            k.strip(): parse_marker_rule(v, f"{where} [lsl.markers]") for k, v in table.items()
        }
        print(f"looking for LSL stream {args.lsl_markers} ({timeout:g} s at most)...", flush=True)
        info = resolve_query(args.lsl_markers, timeout)
        ids = EventIds(participant=participant, study=study, device=f"lsl:{info.name()}")
        out.append(MarkerInlet(open_inlet(info), ids, rules, clock))
    for query in args.lsl_source:
        print(f"looking for LSL stream {query} ({timeout:g} s at most)...", flush=True)
        info = resolve_query(query, timeout)
        ids = EventIds(participant=participant, study=study, device=f"lsl:{info.name()}")
        inlet = open_inlet(info)
        out.append(SourceInlet(inlet, ids, clock, unit=args.lsl_unit, channel=args.lsl_channel))
    return out
