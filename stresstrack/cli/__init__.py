"""The ``stresstrack`` command: one module per subcommand, each with ``register`` and ``run``."""

from __future__ import annotations

import time

# When the command was invoked, before any heavy import: `mark` stamps its marker with this.
INVOKED_NS = time.time_ns()

import argparse  # noqa: E402
import importlib  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from types import ModuleType  # noqa: E402

from stresstrack import __version__  # noqa: E402
from stresstrack.errors import SettingError, StressTrackError  # noqa: E402
from stresstrack.store.sqlite import StoreError  # noqa: E402

__all__ = ["OPTION_OF_SETTING", "build_parser", "main"]

# The option a library setting (StressTrackError.setting) comes from: the library speaks in
# its own terms, the CLI in its flags.
OPTION_OF_SETTING: dict[str, str] = {
    "InfluxDB URL": "--influx-url",
    "InfluxDB bucket": "--influx-bucket",
    "format": "--format",
    "start time": "--start",
    "consent check": "--no-consent-check",
    "LSL channel": "--lsl-channel",
    "unblinding key": "--unblind",
    "worker": "--worker",
    "time zone": "--timezone",
    "participant": "--participant",
    "output file": "--out",
    "replace existing files": "--force",
    "unblinding key file": "--key",
    "message key file": "--mqtt-keys",
    "message key file to update": "--out",
    "MQTT CA file": "--mqtt-ca",
    "Grafana URL": "--grafana-url",
    "Kubios folder": "--kubios",
    "load threshold": "--threshold",
    "personal threshold k": "--threshold-k",
}


def error_text(exc: BaseException) -> str:
    """An error as the CLI says it: a wrong setting named by its option, and advice to change
    a setting followed by the option.

    >>> error_text(SettingError("format", "unknown format 'fit'"))
    "--format: unknown format 'fit'"
    >>> error_text(StressTrackError("no date: give the start time", setting="start time"))
    'no date: give the start time (--start)'
    """
    setting = exc.setting if isinstance(exc, StressTrackError) else None
    option = OPTION_OF_SETTING.get(setting) if setting is not None else None
    if option is None:
        return str(exc)
    if isinstance(exc, SettingError):
        return f"{option}: {exc.problem}"
    return f"{exc} ({option})"


# Order of the commands in --help; each is loaded only when a parser needs it.
COMMANDS = (
    "demo", "collect", "mark", "ask", "lab", "scan", "replay", "analyze", "days", "audit",
    "blind", "power", "export", "report", "sync", "doctor", "influx", "dashboards", "pipeline",
    "mqtt", "serve",
)  # fmt: skip
# Commands that load only their own module (quick to start: `mark` during a session).
QUICK_COMMANDS = ("mark",)


def _modules(names: Sequence[str]) -> list[ModuleType]:
    return [importlib.import_module(f"stresstrack.cli.{n}") for n in names]


def build_parser(commands: Sequence[str] = COMMANDS) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stresstrack",
        description="Objective stress measurement (HRV, EDA) from wearables.",
    )
    parser.add_argument("--version", action="version", version=f"stresstrack {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _modules(commands):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    invoked_ns = INVOKED_NS if argv is None else time.time_ns()
    words = list(sys.argv[1:] if argv is None else argv)
    first = next((w for w in words if not w.startswith("-")), None)
    parser = build_parser((first,) if first in QUICK_COMMANDS else COMMANDS)
    args = parser.parse_args(words)
    args.invoked_ns = invoked_ns
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        code: int = args.run(args)
        return code
    except (StressTrackError, StoreError, ValueError, OSError) as exc:
        print(f"stresstrack {args.command}: error: {error_text(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"stresstrack {args.command}: interrupted; data written so far is kept", file=sys.stderr
        )
        return 130
