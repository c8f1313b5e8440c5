"""Command-line options of the MQTT link, shared by ``collect --publish`` and ``pipeline``
(the library side is :mod:`stresstrack.transport`)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

from stresstrack.credentials import read_secret
from stresstrack.errors import StressTrackError
from stresstrack.transport.mqtt import PASSWORD_ENV, Broker, parse_broker_url

if TYPE_CHECKING:
    from stresstrack.runtime import Follower

__all__ = [
    "add_broker_options",
    "broker_from_args",
    "check_publish_args",
    "keys_from_args",
    "publisher_follower",
]

DEFAULT_PUBLISH_WAIT_S: Final = 10.0
MAX_PUBLISH_WAIT_S: Final = 1e9  # like every duration option (cli.common.finite_float)
PUBLISHER_STATUS_EVERY_S: Final = 60.0


def add_broker_options(p: argparse.ArgumentParser, *, option: str, text: str) -> None:
    """``option URL`` (``--publish`` or ``--subscribe``) and the ``--mqtt-*`` options."""
    g = p.add_argument_group(
        "MQTT",
        "Broker connection (docs/mqtt.md). TLS: an mqtts:// URL (server certificate checked "
        f"against the system CAs or --mqtt-ca). Password: environment variable {PASSWORD_ENV} "
        "or --mqtt-password-file (never printed).",
    )
    g.add_argument(option, metavar="URL", default=None, help=text)
    g.add_argument("--mqtt-user", metavar="NAME", default=None, help="user name on the broker")
    g.add_argument(
        "--mqtt-password-file",
        type=Path,
        metavar="FILE",
        help=f"file holding the password (else ${PASSWORD_ENV})",
    )
    g.add_argument(
        "--mqtt-ca", type=Path, metavar="FILE", help="CA certificate(s) of the broker (PEM)"
    )
    g.add_argument(
        "--mqtt-keys",
        type=Path,
        metavar="FILE",
        help="message key file (`stresstrack mqtt keys`, mode 0600): "
        + (
            "sign the messages of these participants"
            if option == "--publish"
            else "refuse (quarantine) messages of these participants not signed with their key"
        ),
    )
    g.add_argument(
        "--mqtt-client-id",
        metavar="ID",
        default=None,
        help="MQTT client ID (default: one per store, or per worker for `pipeline`)",
    )
    if option == "--publish":
        g.add_argument(
            "--publish-wait",
            type=float,
            default=DEFAULT_PUBLISH_WAIT_S,
            metavar="S",
            help="at the end, give the broker this long without progress to take the rest "
            f"(default {DEFAULT_PUBLISH_WAIT_S:g} s; the rest waits in the store)",
        )


def broker_from_args(args: argparse.Namespace, *, option: str) -> Broker | None:
    """The broker of ``option`` with TLS and credentials, or ``None`` without ``option``."""
    url = getattr(args, option.lstrip("-").replace("-", "_"), None)
    if not url:
        return None
    host, port, tls = parse_broker_url(url, option)
    ca: Path | None = args.mqtt_ca
    if ca is not None:
        if not tls:
            raise StressTrackError(f"--mqtt-ca needs an mqtts:// URL (TLS), not {url}")
        if not ca.is_file():
            raise StressTrackError(f"--mqtt-ca {ca}: no such file")
    password = read_secret(
        args.mqtt_password_file, PASSWORD_ENV, name="MQTT password", source="--mqtt-password-file"
    )
    if password and not args.mqtt_user:
        raise StressTrackError("a MQTT password is set but no --mqtt-user")
    broker = Broker(
        host=host, port=port, tls=tls, ca_file=ca, username=args.mqtt_user, password=password
    )
    if tls:
        broker.tls_context()  # a bad CA file is an error now, not at every reconnect
    return broker


def keys_from_args(args: argparse.Namespace) -> dict[str, str]:
    """Participant -> message key from ``--mqtt-keys`` (empty without it)."""
    from stresstrack.transport.auth import read_keys

    return read_keys(args.mqtt_keys) if args.mqtt_keys is not None else {}


def check_publish_args(args: argparse.Namespace) -> None:
    """Raise on a bad ``--publish`` URL, CA file, password, key file or wait, before
    collecting."""
    if broker_from_args(args, option="--publish") is not None:
        keys_from_args(args)
    # Not ``< 0``: NaN passes that and made the final drain spin for ever (issue 16, item 9).
    if not 0 <= args.publish_wait <= MAX_PUBLISH_WAIT_S:
        raise StressTrackError(
            f"--publish-wait must be a finite number of 0 to {MAX_PUBLISH_WAIT_S:g} seconds"
        )


def publisher_follower(
    args: argparse.Namespace, store_path: str | os.PathLike[str], say: Callable[[str], object]
) -> Follower | None:
    """A publisher of ``store_path`` to the ``--publish`` broker, to run beside a runtime
    (:func:`stresstrack.runtime.following`; ``None`` without ``--publish``); ``say`` gets the
    publisher's status lines (from its thread)."""
    broker = broker_from_args(args, option="--publish")
    if broker is None:
        return None
    from stresstrack.runtime import Follower
    from stresstrack.transport.publisher import Publisher

    publisher = Publisher(
        store_path,
        broker,
        client_id=args.mqtt_client_id,
        status_every_s=PUBLISHER_STATUS_EVERY_S,
        on_status=say,
        keys=keys_from_args(args),
    )
    return Follower(publisher, args.publish_wait)
