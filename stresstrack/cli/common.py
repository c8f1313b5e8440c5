"""Options shared by several commands."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING

from stresstrack.errors import StressTrackError
from stresstrack.events import validate_participant_id

if TYPE_CHECKING:
    from stresstrack.pipeline.engine import PipelineConfig
    from stresstrack.runtime import Follower
    from stresstrack.sinks.influx import SinkReport
    from stresstrack.sinks.influx_client import InfluxTarget

__all__ = [
    "add_influx_options",
    "add_pipeline_options",
    "influx_follower",
    "influx_target",
    "participant_arg",
    "pipeline_config",
    "sync_advice",
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

# (option, PipelineConfig field, choices, help) of the pipeline's methods (docs/features.md).
_CHOICE_OPTIONS = (
    (
        "--artefact-correction", "artefact_correction", ("kubios", "none"),
        "beat artefact correction: kubios (Lipponen & Tarvainen 2019) or none, for NN "
        "intervals that are already edited",
    ),
    (
        "--spectrum", "spectrum", ("kubios", "neurokit"),
        "HRV spectrum: kubios (smoothness priors, fixed 150 s Welch segments) or neurokit "
        "(exactly nk.hrv_frequency at 4 Hz)",
    ),
    (
        "--baseline-mode", "baseline_mode", ("fixed", "rolling"),
        "fixed: the first baseline holds for the whole recording; rolling: recomputed every "
        "UTC midnight (and hourly through the first day) from the resting windows of the "
        "last --baseline-days days, for multi-day recordings (docs/days.md)",
    ),
)  # fmt: skip


MAX_OPTION_NUMBER = 1e9  # seconds: about 31 years; larger durations overflow ns arithmetic


def finite_float(text: str) -> float:
    """An option's number: finite and at most 1e9 in size (``inf``, ``nan`` and ``1e999`` are
    refused by argparse with one error line, never an ``OverflowError`` traceback).

    >>> finite_float("2.5")
    2.5
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or abs(value) > MAX_OPTION_NUMBER:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a finite number of at most {MAX_OPTION_NUMBER:g}"
        )
    return value


def add_pipeline_options(p: argparse.ArgumentParser) -> None:
    """Window and hop options (seconds) and artefact correction of the pipeline; see
    docs/stress-index.md and docs/features.md."""
    from stresstrack.pipeline.engine import PipelineConfig

    g = p.add_argument_group("pipeline (seconds)")
    d = PipelineConfig()
    for option, name, text in _PIPELINE_OPTIONS:
        default = getattr(d, name)
        g.add_argument(
            option,
            type=finite_float,
            default=default,
            metavar="S",
            help=f"{text} (default {default:g})",
        )
    for option, name, choices, text in _CHOICE_OPTIONS:
        default = getattr(d, name)
        g.add_argument(option, choices=choices, default=default, help=f"{text} (default {default})")
    g.add_argument(
        "--max-artefact-share",
        type=float,
        default=d.max_artefact_share,
        metavar="F",
        help="withhold RMSSD, pNN50, SD1, PNS and the spectrum above this share of artefact "
        f"beats (default {d.max_artefact_share:g})",
    )
    g.add_argument(
        "--baseline-days",
        type=finite_float,
        default=d.baseline_days,
        metavar="N",
        help=f"days of resting windows a rolling baseline uses (default {d.baseline_days:g})",
    )


def pipeline_config(args: argparse.Namespace) -> PipelineConfig:
    from stresstrack.pipeline.engine import PipelineConfig

    values = {
        name: getattr(args, option[2:].replace("-", "_")) for option, name, _ in _PIPELINE_OPTIONS
    }
    choices = {
        name: getattr(args, option[2:].replace("-", "_")) for option, name, *_ in _CHOICE_OPTIONS
    }
    try:
        return PipelineConfig(
            **values,
            **choices,
            max_artefact_share=args.max_artefact_share,
            baseline_days=args.baseline_days,
        )
    except ValueError as exc:
        raise StressTrackError(f"pipeline options: {exc}") from None


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
        "--influx-raw",
        action="store_true",
        help="also replicate the raw signal samples (EDA, ECG, PPG, ACC: one point per "
        "sample, over 90 %% of the points); off by default, the store keeps them. Turned on "
        "later, it sends every raw sample stored so far",
    )
    g.add_argument(
        "--influx-wait",
        type=finite_float,
        default=DEFAULT_INFLUX_WAIT_S,
        metavar="S",
        help="at the end, give InfluxDB this long without progress to take the rest "
        f"(default {DEFAULT_INFLUX_WAIT_S:g} s)",
    )


def influx_target(args: argparse.Namespace) -> InfluxTarget | None:
    """The configured InfluxDB, or ``None`` when ``--influx-url`` is not given."""
    from stresstrack.credentials import read_secret
    from stresstrack.errors import StressTrackError
    from stresstrack.sinks.influx_client import TOKEN_ENV, InfluxTarget

    if not getattr(args, "influx_url", None):
        return None
    if args.influx_wait < 0:
        raise StressTrackError("--influx-wait must be 0 or more seconds")
    return InfluxTarget(
        url=args.influx_url,
        org=args.influx_org,
        bucket=args.influx_bucket or "",
        token=read_secret(
            args.influx_token_file, TOKEN_ENV, name="InfluxDB token", source="--influx-token-file"
        ),
        raw=bool(getattr(args, "influx_raw", False)),
    )


def influx_follower(args: argparse.Namespace, store_path: Path) -> Follower | None:
    """The InfluxDB replica of ``store_path`` to run beside a runtime
    (:func:`stresstrack.runtime.following`), or ``None`` without ``--influx-url``; at the end
    it is given ``--influx-wait`` s without progress to catch up."""
    target = influx_target(args)
    if target is None:
        return None
    from stresstrack.runtime import Follower
    from stresstrack.sinks.influx import InfluxSink

    return Follower(InfluxSink(store_path, target), args.influx_wait, advice=sync_advice)


def sync_advice(report: SinkReport) -> str:
    """The command that sends later what ``report`` left queued in its store (never the token)."""
    from stresstrack.sinks.influx_client import TOKEN_ENV

    t = report.target
    raw = " --influx-raw" if t.raw else ""
    return (
        f"  send them later with: stresstrack sync {report.store} --influx-url {t.url} "
        f"--influx-org {t.org} --influx-bucket {t.bucket}{raw} "
        f"(token from ${TOKEN_ENV} or --influx-token-file)"
    )
