"""One way to read a secret (InfluxDB token, MQTT password, Grafana token): a file or a variable.

Secrets never come on the command line (they would show in process lists and shell history):
a file named by an option, else an environment variable. The text is stripped of surrounding
white space; it is never logged or put in an error message.

>>> import pathlib, tempfile
>>> f = pathlib.Path(tempfile.mkdtemp()) / "token"
>>> _ = f.write_text("s3cret\\n")
>>> read_secret(f, "NO_SUCH_VARIABLE", environ={})
's3cret'
>>> read_secret(None, "TOKEN", environ={"TOKEN": " t "})
't'
>>> read_secret(None, "TOKEN", environ={}, name="InfluxDB token", required=True)
Traceback (most recent call last):
stresstrack.credentials.SecretError: no InfluxDB token: set $TOKEN or give a secret file
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from stresstrack.errors import StressTrackError

__all__ = ["SecretError", "read_secret", "refuse_url_credentials"]


class SecretError(StressTrackError):
    """A secret that is needed but cannot be read; the message never holds the secret."""


def read_secret(
    file: Path | None,
    env_var: str,
    *,
    environ: Mapping[str, str] = os.environ,
    name: str = "secret",
    source: str = "secret file",
    required: bool = False,
) -> str:
    """The secret in ``file`` if given, else in ``$env_var`` ("" when neither and not required).

    ``name`` says what the secret is and ``source`` how the caller lets users name the file (a
    command-line front end passes its option, e.g. ``--influx-token-file``); both appear in
    errors.
    """
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretError(f"{source} {file}: cannot read it ({type(exc).__name__})") from None
        if required and not text:
            raise SecretError(f"{source} {file} is empty")
        return text
    text = environ.get(env_var, "").strip()
    if required and not text:
        raise SecretError(f"no {name}: set ${env_var} or give a {source}")
    return text


def refuse_url_credentials(url: str, option: str, instead: str) -> str:
    """``url`` unless it holds a user or password (``scheme://user:pass@host``), which would
    show in process lists and be written where the URL goes; the error never echoes the URL.

    >>> refuse_url_credentials("http://db:8086", "--influx-url", "a token file")
    'http://db:8086'
    >>> refuse_url_credentials("http://u:pw@db:8086", "--influx-url", "a token file")
    Traceback (most recent call last):
    stresstrack.credentials.SecretError: --influx-url: no credentials in the URL; use a token file
    """
    if "@" in urlsplit(url).netloc:
        raise SecretError(f"{option}: no credentials in the URL; use {instead}")
    return url
