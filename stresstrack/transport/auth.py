"""Authenticated publishers: per-participant message keys and Mosquitto credentials and ACLs.

Two layers (docs/mqtt.md, "Authenticated publishers"):

* **Message keys.** Each participant has a random 256-bit key. A collector holding it signs
  every message for that participant with HMAC-SHA256 over the exact payload bytes; the
  signature travels as the payload's first field, ``{"sig":"<64 hex>",...}``, and covers the
  rest of the payload (the payload without that field). A worker holding the participant's
  key quarantines any message for them that is unsigned or wrongly signed. Key files are TOML
  (``[keys]`` table, participant -> hex key), owner-only (0600), never printed.
* **Broker accounts.** :func:`broker_accounts` gives one Mosquitto user per collector (the
  study file's ``collector`` of each participant, by default ``collector-<participant>``)
  allowed to publish only its participants' topics, plus one ``stresstrack-worker`` user that
  may only read events; :func:`password_line` writes Mosquitto's PBKDF2-SHA512 hash format.

>>> key = bytes(32).hex()
>>> signed = sign_payload(key, b'{"v":1}')
>>> signed[:8], len(signed)
(b'{"sig":"', 80)
>>> check_signature(key, signed)
b'{"v":1}'
>>> check_signature(key, b'{"v":1}')
Traceback (most recent call last):
stresstrack.transport.auth.SignatureError: unsigned message (this worker has the participant's key)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from stresstrack.errors import SettingError, StressTrackError
from stresstrack.session.study import Study
from stresstrack.transport.mqtt import TOPIC_ROOT, events_topic

__all__ = [
    "WORKER_USER",
    "BrokerAccount",
    "KeyFileError",
    "SignatureError",
    "broker_accounts",
    "check_signature",
    "new_keys",
    "password_line",
    "read_keys",
    "render_acl",
    "sign_payload",
    "write_keys",
]

WORKER_USER: Final = "stresstrack-worker"
_SIG_HEAD: Final = b'{"sig":"'
_SIG_HEX: Final = 64  # HMAC-SHA256, hex
_KEY_BYTES: Final = 32
# Mosquitto 2.0 password file: $7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512>.
PBKDF2_ITERATIONS: Final = 101
_SALT_BYTES: Final = 12


class SignatureError(StressTrackError):
    """A message for a participant whose key the worker has, unsigned or wrongly signed."""


class KeyFileError(SettingError):
    """A key file that cannot be read or is malformed; never shows a key. ``setting`` names
    the file (``"message key file"``)."""


def sign_payload(key_hex: str, payload: bytes) -> bytes:
    """``payload`` (a JSON object) with its HMAC-SHA256 under ``key_hex`` as first field."""
    if not payload.startswith(b"{"):
        raise ValueError("only a JSON object payload can be signed")
    digest = hmac.new(bytes.fromhex(key_hex), payload, hashlib.sha256).hexdigest()
    rest = payload[1:]
    return _SIG_HEAD + digest.encode("ascii") + (b'",' if rest != b"}" else b'"') + rest


def check_signature(key_hex: str, payload: bytes) -> bytes:
    """The payload as signed (without the signature) if its signature is right under
    ``key_hex``; :class:`SignatureError` if it is unsigned or wrongly signed."""
    head = len(_SIG_HEAD)
    if not payload.startswith(_SIG_HEAD) or payload[head + _SIG_HEX : head + _SIG_HEX + 1] != b'"':
        raise SignatureError("unsigned message (this worker has the participant's key)")
    sig = payload[head : head + _SIG_HEX]
    rest = payload[head + _SIG_HEX + 1 :]
    if rest.startswith(b","):
        rest = rest[1:]
    signed = b"{" + rest
    digest = hmac.new(bytes.fromhex(key_hex), signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(digest.encode("ascii"), sig):
        raise SignatureError("wrong signature (not signed with the participant's key)")
    return signed


# -- key files -------------------------------------------------------------------------------
def new_keys(participants: Iterable[str], have: Mapping[str, str] | None = None) -> dict[str, str]:
    """``have`` plus a fresh random key for each participant without one."""
    keys = dict(have or {})
    for p in participants:
        keys.setdefault(p, secrets.token_hex(_KEY_BYTES))
    return keys


def read_keys(path: Path, setting: str = "message key file") -> dict[str, str]:
    """Participant -> hex key from a key file; :class:`KeyFileError` naming the file and the
    problem (a file others may read is refused: keys are secrets)."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(setting, f"{path}: cannot read it ({type(exc).__name__})") from None
    if mode & 0o077:
        raise KeyFileError(
            setting, f"{path}: readable by others (mode {mode & 0o777:o}); chmod 600 it"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        raise KeyFileError(setting, f"{path}: not TOML (a [keys] table)") from None
    table = data.get("keys")
    if not isinstance(table, dict):
        raise KeyFileError(setting, f"{path}: no [keys] table")
    keys: dict[str, str] = {}
    for participant, value in table.items():
        ok = isinstance(value, str) and len(value) == 2 * _KEY_BYTES
        try:
            ok = ok and bool(bytes.fromhex(value))
        except ValueError:
            ok = False
        if not ok:
            raise KeyFileError(
                setting, f"{path}: the key of {participant!r} is not {2 * _KEY_BYTES} hex digits"
            )
        keys[participant] = value
    return keys


def write_keys(path: Path, keys: Mapping[str, str]) -> None:
    """Write a key file, mode 0600, through a temporary file."""
    from stresstrack.files import write_private

    lines = ["# stresstrack MQTT message keys: secret, keep owner-only (docs/mqtt.md)", "[keys]"]
    lines += [f'"{p}" = "{k}"' for p, k in sorted(keys.items())]
    write_private(path, "\n".join(lines) + "\n")


# -- broker accounts -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BrokerAccount:
    """A Mosquitto user and the topics it may write (collectors) or read (the worker)."""

    user: str
    write: tuple[str, ...] = ()
    read: tuple[str, ...] = ()


def broker_accounts(study: Study) -> list[BrokerAccount]:
    """The worker account, then one account per collector of the study file."""
    topics: dict[str, list[str]] = {}
    for p in sorted(study.participants.values(), key=lambda p: p.id):
        topics.setdefault(p.collector or f"collector-{p.id}", []).append(
            events_topic(study.name, p.id)
        )
    if WORKER_USER in topics:
        raise StressTrackError(f"{study.path}: the collector name {WORKER_USER} is reserved")
    worker = BrokerAccount(WORKER_USER, read=(f"{TOPIC_ROOT}/+/+/events/+",))
    return [worker] + [BrokerAccount(u, write=tuple(t)) for u, t in sorted(topics.items())]


def render_acl(accounts: Iterable[BrokerAccount]) -> str:
    """A Mosquitto ``acl_file``: each user may use only the topics listed (nothing else)."""
    lines = ["# stresstrack: generated by `stresstrack mqtt acl` (docs/mqtt.md)"]
    for a in accounts:
        lines += ["", f"user {a.user}"]
        lines += [f"topic write {t}" for t in a.write]
        lines += [f"topic read {t}" for t in a.read]
    return "\n".join(lines) + "\n"


def password_line(user: str, password: str, salt: bytes | None = None) -> str:
    """One line of a Mosquitto (2.0+) password file: PBKDF2-HMAC-SHA512, 101 iterations, a
    12-byte salt, as ``mosquitto_passwd`` writes it.

    >>> password_line("u", "p", bytes(12))[:26]
    'u:$7$101$AAAAAAAAAAAAAAAA$'
    """
    salt = os.urandom(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, PBKDF2_ITERATIONS)
    b64 = base64.b64encode
    return f"{user}:$7${PBKDF2_ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"
