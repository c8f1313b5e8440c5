"""Command-line options of the MQTT link, shared by ``collect --publish`` and ``pipeline``."""

from __future__ import annotations

import argparse
from pathlib import Path

from stresstrack.errors import StressTrackError
from stresstrack.transport.mqtt import PASSWORD_ENV, Broker, parse_broker_url, read_password

__all__ = ["add_broker_options", "broker_from_args"]


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
        "--mqtt-client-id",
        metavar="ID",
        default=None,
        help="MQTT client ID (default: one per store, or per worker for `pipeline`)",
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
    password = read_password(args.mqtt_password_file)
    if password and not args.mqtt_user:
        raise StressTrackError("a MQTT password is set but no --mqtt-user")
    broker = Broker(
        host=host, port=port, tls=tls, ca_file=ca, username=args.mqtt_user, password=password
    )
    if tls:
        broker.tls_context()  # a bad CA file is an error now, not at every reconnect
    return broker
