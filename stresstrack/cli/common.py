"""Options shared by several commands."""

from __future__ import annotations

import argparse

from stresstrack.events import validate_participant_id
from stresstrack.pipeline.engine import PipelineConfig

__all__ = ["add_pipeline_options", "participant_arg", "pipeline_config"]


def add_pipeline_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("pipeline")
    d = PipelineConfig()
    g.add_argument(
        "--hrv-window",
        type=float,
        default=d.hrv_window_s,
        metavar="S",
        help=f"window of the time-domain HRV features, s (default {d.hrv_window_s:g})",
    )
    g.add_argument(
        "--eda-window",
        type=float,
        default=d.eda_window_s,
        metavar="S",
        help=f"window of the EDA features, s (default {d.eda_window_s:g})",
    )
    g.add_argument(
        "--hop",
        type=float,
        default=d.hop_s,
        metavar="S",
        help=f"time between window ends, s (default {d.hop_s:g})",
    )
    g.add_argument(
        "--baseline",
        type=float,
        default=d.baseline_s,
        metavar="S",
        help=f"baseline length when none is marked, s (default {d.baseline_s:g})",
    )


def pipeline_config(args: argparse.Namespace) -> PipelineConfig:
    return PipelineConfig(
        hrv_window_s=args.hrv_window,
        eda_window_s=args.eda_window,
        hop_s=args.hop,
        baseline_s=args.baseline,
    )


def participant_arg(text: str) -> str:
    """argparse type for a pseudonymous participant ID."""
    try:
        return validate_participant_id(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
