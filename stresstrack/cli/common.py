"""Options shared by several commands."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from stresstrack.events import validate_participant_id
from stresstrack.pipeline.engine import PipelineConfig

if TYPE_CHECKING:
    from stresstrack.sinks.influx import InfluxSink, InfluxTarget

__all__ = [
    "add_influx_options",
    "add_pipeline_options",
    "influx_replica",
    "influx_target",
    "participant_arg",
    "pipeline_config",
]


# (option, PipelineConfig field, help) of every window and hop, in seconds.
_PIPELINE_OPTIONS = (
    ("--hrv-window", "hrv_window_s", "window of mean HR, RMSSD, SDNN, pNN50, SD1/SD2, SI"),
    ("--freq-window", "freq_window_s", "window of LF, HF, LF/HF"),
    ("--nonlinear-window", "nonlinear_window_s", "window of DFA alpha1"),
    ("--eda-window", "eda_window_s", "window of SCL and SCRs"),
    ("--edasymp-window", "edasymp_window_s", "window of EDASymp"),
    ("--hop", "hop_s", "time between window ends"),
    ("--slow-hop", "slow_hop_s", "recompute LF/HF and DFA every"),
    ("--edasymp-hop", "edasymp_hop_s", "recompute EDASymp every"),
    ("--baseline", "baseline_s", "baseline length when none is marked"),
    ("--baseline-max", "baseline_max_s", "a marked baseline never stopped ends after"),
    ("--baseline-settle", "baseline_settle_s", "leave out of the baseline its first"),
)


def add_pipeline_options(p: argparse.ArgumentParser) -> None:
    """Window and hop options (seconds) of the pipeline; see docs/stress-index.md."""
    g = p.add_argument_group("pipeline (seconds)")
    d = PipelineConfig()
    for option, name, text in _PIPELINE_OPTIONS:
        default = getattr(d, name)
        g.add_argument(
            option, type=float, default=default, metavar="S", help=f"{text} (default {default:g})"
        )


def pipeline_config(args: argparse.Namespace) -> PipelineConfig:
    values = {
        name: getattr(args, option[2:].replace("-", "_")) for option, name, _ in _PIPELINE_OPTIONS
    }
    return PipelineConfig(**values)


def participant_arg(text: str) -> str:
    """argparse type for a pseudonymous participant ID."""
    try:
        return validate_participant_id(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# -- InfluxDB (docs/schema.md) -----------------------------------------------------------------
DEFAULT_INFLUX_WAIT_S = 10.0


def add_influx_options(p: argparse.ArgumentParser, *, required: bool = False) -> None:
    """``--influx-url/-org/-bucket/-token-file/-wait``; the token may come from the env."""
    g = p.add_argument_group(
        "InfluxDB replica",
        "Also send the data to InfluxDB (2.x/Cloud/3.x; 1.8+ with token user:password and "
        "bucket db/rp). The local store stays the source of truth: whatever InfluxDB does not "
        "take now waits in the store for `stresstrack sync`. Token: environment variable "
        "STRESSTRACK_INFLUX_TOKEN or --influx-token-file (never printed).",
    )
    g.add_argument("--influx-url", required=required, metavar="URL", help="e.g. http://host:8086")
    g.add_argument("--influx-org", default="-", metavar="ORG", help="organization (default -)")
    g.add_argument("--influx-bucket", metavar="BUCKET", help="bucket, or db/rp for InfluxDB 1.x")
    g.add_argument(
        "--influx-token-file",
        type=Path,
        metavar="FILE",
        help="file holding the token (else $STRESSTRACK_INFLUX_TOKEN)",
    )
    g.add_argument(
        "--influx-wait",
        type=float,
        default=DEFAULT_INFLUX_WAIT_S,
        metavar="S",
        help="at the end, give InfluxDB this long without progress to take the rest "
        f"(default {DEFAULT_INFLUX_WAIT_S:g} s)",
    )


def influx_target(args: argparse.Namespace) -> InfluxTarget | None:
    """The configured InfluxDB, or ``None`` when ``--influx-url`` is not given."""
    from stresstrack.errors import StressTrackError
    from stresstrack.sinks.influx import InfluxTarget, read_token

    if not getattr(args, "influx_url", None):
        return None
    if args.influx_wait < 0:
        raise StressTrackError("--influx-wait must be 0 or more seconds")
    return InfluxTarget(
        url=args.influx_url,
        org=args.influx_org,
        bucket=args.influx_bucket or "",
        token=read_token(args.influx_token_file),
    )


@contextlib.contextmanager
def influx_replica(args: argparse.Namespace, store_path: Path) -> Iterator[InfluxSink | None]:
    """Run the InfluxDB sink beside the command while it writes ``store_path``.

    Create the store before entering. On exit, wait for the sink to catch up (at most
    ``--influx-wait`` s without progress) and say what was delivered or is still queued.
    """
    target = influx_target(args)
    if target is None:
        yield None
        return
    from stresstrack.sinks.influx import InfluxSink

    sink = InfluxSink(store_path, target)
    sink.start()
    try:
        yield sink
    finally:
        report = sink.close(args.influx_wait)
        print(report.summary(), file=sys.stdout if report.delivered else sys.stderr)
