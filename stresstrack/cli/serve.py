"""``stresstrack serve``: the participant companion web app (docs/companion.md).

Phones pair the band with Web Bluetooth and send its raw bytes here; the same decoders, store
and pipeline as ``collect`` turn them into events and results. Binds to 127.0.0.1 unless told
otherwise; for phones on a network put it behind a TLS reverse proxy or pass ``--tls-cert``
and ``--tls-key`` (Web Bluetooth needs a secure context: https, or localhost).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from stresstrack.cli.common import (
    add_influx_options,
    add_pipeline_options,
    influx_follower,
    pipeline_config,
)
from stresstrack.errors import StressTrackError
from stresstrack.runtime import following

NAME = "serve"
TOKEN_ENV: Final = "STRESSTRACK_RESEARCHER_TOKEN"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        help="the participant companion web app (pair the band from a phone, sessions, prompts)",
        description="Serve the participant page (enrolment, consent, Web Bluetooth pairing, "
        "sessions, just-in-time prompts) and the researcher page, on the store and pipeline "
        "collect uses. See docs/companion.md.",
    )
    p.add_argument("--study", required=True, type=Path, metavar="FILE", help="the study file")
    p.add_argument(
        "--store", type=Path, default=Path("stresstrack.db"), help="store (default stresstrack.db)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--public-url",
        default="",
        metavar="URL",
        help="the address phones open, put in the enrolment QR codes (e.g. "
        "https://study.example.org behind a reverse proxy); default: the address the "
        "researcher page was opened at",
    )
    p.add_argument("--tls-cert", type=Path, metavar="PEM", help="serve https with this cert")
    p.add_argument("--tls-key", type=Path, metavar="PEM", help="... and this private key")
    p.add_argument(
        "--researcher-token-file",
        type=Path,
        metavar="FILE",
        help=f"file holding the researcher token (else ${TOKEN_ENV}; else one is created "
        "next to the store, readable by its owner only)",
    )
    add_pipeline_options(p)
    add_influx_options(p)
    p.set_defaults(run=run)


class _Stopped(Exception):
    """SIGTERM arrived; uvicorn shut down first and passed the signal on."""


@contextlib.contextmanager
def _sigterm_stops() -> Iterator[None]:
    """Turn SIGTERM into :class:`_Stopped` so that cleanups run (uvicorn stops gracefully on
    SIGTERM, then raises it again with the handler it found: this one)."""

    def stop(_signum: int, _frame: object) -> None:
        raise _Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def researcher_token(args: argparse.Namespace) -> tuple[str, str]:
    """The researcher token and where it came from (the token itself is never printed)."""
    if args.researcher_token_file is not None:
        try:
            token = args.researcher_token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise StressTrackError(
                f"--researcher-token-file {args.researcher_token_file}: cannot read it "
                f"({type(exc).__name__})"
            ) from None
        where = str(args.researcher_token_file)
    elif os.environ.get(TOKEN_ENV, "").strip():
        token, where = os.environ[TOKEN_ENV].strip(), f"${TOKEN_ENV}"
    else:
        path = args.store.with_name(args.store.name + ".researcher-token")
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(secrets.token_urlsafe(24) + "\n")
        token, where = path.read_text(encoding="utf-8").strip(), str(path)
    if len(token) < 16:
        raise StressTrackError(f"the researcher token in {where} is too short (16+ characters)")
    return token, where


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from stresstrack.companion.app import create_app
    from stresstrack.companion.runtime import Companion, CompanionError
    from stresstrack.companion.settings import load_companion
    from stresstrack.credentials import refuse_url_credentials
    from stresstrack.store.sqlite import Store

    if (args.tls_cert is None) != (args.tls_key is None):
        raise StressTrackError("--tls-cert and --tls-key go together")
    if args.public_url:  # printed in every enrolment QR code: no credentials in it
        refuse_url_credentials(args.public_url, "--public-url", "the researcher token file")
    if args.public_url and not args.public_url.startswith(("https://", "http://")):
        raise StressTrackError(f"--public-url {args.public_url!r}: an http(s):// address")
    settings = load_companion(args.study)
    token, where = researcher_token(args)
    with Store(args.store) as store:
        try:
            companion = Companion(
                store, settings, config=pipeline_config(args), researcher_token=token
            )
        except CompanionError as exc:
            raise StressTrackError(exc.message) from None
        scheme = "https" if args.tls_cert else "http"
        print(
            f"study {settings.study.name}: participant page {scheme}://{args.host}:{args.port}/ ,"
            f" researcher page {scheme}://{args.host}:{args.port}/researcher (token: {where});"
            " Ctrl-C stops",
            flush=True,
        )
        config = uvicorn.Config(
            create_app(companion, public_url=args.public_url),
            host=args.host,
            port=args.port,
            access_log=False,  # URLs hold pseudonyms: not logged
            log_level="warning",
            ssl_certfile=str(args.tls_cert) if args.tls_cert else None,
            ssl_keyfile=str(args.tls_key) if args.tls_key else None,
            ws="websockets-sansio",
        )
        try:
            with following([influx_follower(args, args.store)]), _sigterm_stops():
                uvicorn.Server(config).run()
        except _Stopped:
            pass  # SIGTERM (a service manager): the replica has had its --influx-wait
    print(f"stopped; everything received is in {args.store}")
    return 0
