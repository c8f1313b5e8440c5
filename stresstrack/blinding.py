"""Blinded arms: products are coded (A, B, ...) in everything collected; the key is kept apart.

A blinded study file declares its codes; arms and phase labels then hold codes only::

    [blinding]
    codes = ["A", "B"]              # the codes arms, labels and kinds may carry
    key_sha256 = "9f2c..."          # optional: the unblinding file's SHA-256 (checked later)

    [[participant]]
    id = "P001"
    arm = "A"                       # a code, never the product's name

The unblinding file (TOML, owner-only, kept by the person holding the key) maps each code to
what it stands for::

    [key]
    A = "serum"
    B = "placebo-cream"

``stresstrack blind --names serum,placebo-cream --key key.toml`` draws the codes at random,
writes the key owner-only and prints the ``[blinding]`` table. ``collect`` refuses a blinded
study whose arms or protocol labels are not codes, so the store, InfluxDB and the dashboards
only ever see codes. ``analyze --unblind key.toml`` (and ``report --unblind``) records the
unblinding in the store (time, command, key file name and SHA-256), then renames codes to
names in the analysis input (arms, kinds, labels, the design): the same analysis, whose
numbers are those of the coded data (tests/sessions/test_blinding.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import re
import stat
import time
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from stresstrack.errors import ImportFormatError, StressTrackError
from stresstrack.pipeline.results import Session
from stresstrack.session.protocol import Design, Protocol
from stresstrack.store.sqlite import Store

__all__ = [
    "AUDIT_PREFIX",
    "BLINDING_META",
    "KEY_HASH_META",
    "Blinding",
    "BlindingError",
    "audit_log",
    "check_blinded",
    "draw_key",
    "format_key",
    "key_sha256",
    "load_blinding",
    "load_key",
    "parse_blinding",
    "record_unblinding",
    "rename_design",
    "rename_sessions",
    "stamp_blinding",
    "unblind",
]

BLINDING_META: Final = "blinding"  # store meta: the codes, comma-separated
KEY_HASH_META: Final = "blinding/key_sha256"  # store meta: the declared key's SHA-256
AUDIT_PREFIX: Final = "audit/"  # store meta: "audit/<time_ns>" = JSON entry
_CODE_RE: Final = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,15}\Z")
_SHA_RE: Final = re.compile(r"\A[0-9a-f]{64}\Z")


class BlindingError(StressTrackError):
    """A blinded study would reveal a product, or an unblinding key does not fit."""


@dataclass(frozen=True, slots=True)
class Blinding:
    """A study's declared codes, and the SHA-256 of its key file when declared."""

    codes: tuple[str, ...]
    key_sha256: str = ""


def parse_blinding(raw: object, where: str) -> Blinding | None:
    """The ``[blinding]`` table of a study file (already read as TOML), or None.

    >>> parse_blinding({"codes": ["A", "B"]}, "s.toml")
    Blinding(codes=('A', 'B'), key_sha256='')
    """
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - {"codes", "key_sha256"}:
        raise ImportFormatError(where, None, "[blinding] holds codes = [...] and key_sha256")
    codes = raw.get("codes")
    if (
        not isinstance(codes, list)
        or len(codes) < 2
        or not all(isinstance(c, str) and _CODE_RE.match(c) for c in codes)
    ):
        raise ImportFormatError(
            where, None, '[blinding] codes must list at least two codes such as ["A", "B"]'
        )
    if len(set(codes)) != len(codes):
        raise ImportFormatError(where, None, f"[blinding] codes are listed twice: {codes}")
    digest = raw.get("key_sha256", "")
    if not isinstance(digest, str) or (digest and not _SHA_RE.match(digest)):
        raise ImportFormatError(where, None, "[blinding] key_sha256 must be 64 hex digits")
    return Blinding(tuple(codes), digest)


def load_blinding(study_path: str | Path) -> Blinding | None:
    """The ``[blinding]`` table of a study file, or None for an open-label study."""
    from stresstrack.session.study import read_study_text

    text = read_study_text(study_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ImportFormatError(str(study_path), None, f"not valid TOML ({exc})") from exc
    return parse_blinding(data.get("blinding"), str(study_path))


def check_blinded(
    blinding: Blinding | None, arms: Mapping[str, str], protocol: Protocol | None, where: str
) -> None:
    """Refuse a blinded study whose arms or phase labels are not codes (they would be stored
    and sent to InfluxDB as they are)."""
    if blinding is None:
        return
    codes = set(blinding.codes)
    for participant, arm in arms.items():
        if arm and arm not in codes:
            raise BlindingError(
                f"{where}: the study is blinded but participant {participant}'s arm {arm!r} is "
                f"not one of its codes ({', '.join(blinding.codes)}): write the code, keep the "
                "name in the unblinding file"
            )
    for phase in protocol.phases if protocol is not None else ():
        if phase.label and phase.label not in codes:
            raise BlindingError(
                f"protocol {protocol.name if protocol else ''}: phase {phase.kind!r} has label "
                f"{phase.label!r}, not one of the codes ({', '.join(blinding.codes)}) of the "
                f"blinded study {where}: use a coded protocol"
            )


def stamp_blinding(store: Store, blinding: Blinding | None) -> None:
    """Record a blinded study's codes (and declared key hash) in the store's meta."""
    if blinding is None:
        return
    store.set_meta(BLINDING_META, ",".join(blinding.codes))
    if blinding.key_sha256:
        store.set_meta(KEY_HASH_META, blinding.key_sha256)


def key_sha256(path: Path) -> str:
    """SHA-256 of a key file's bytes (what ``[blinding] key_sha256`` declares)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_key(path: Path) -> dict[str, str]:
    """An unblinding file's ``[key]`` table: code -> name. The file must be owner-only."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BlindingError(
            f"unblinding key {path}: no such key file", setting="unblinding key"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BlindingError(
            f"unblinding key {path}: cannot read ({exc})", setting="unblinding key"
        ) from exc
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise BlindingError(
            f"unblinding key {path}: the key file is readable by others (mode "
            f"{stat.filemode(mode)}); make it owner-only: chmod 600 {path}",
            setting="unblinding key",
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ImportFormatError(str(path), None, f"not valid TOML ({exc})") from exc
    key = data.get("key")
    if not isinstance(key, dict) or not key or not all(isinstance(v, str) for v in key.values()):
        raise ImportFormatError(str(path), None, 'needs a [key] table of CODE = "name" lines')
    names = [v.strip() for v in key.values()]
    if not all(names) or len(set(names)) != len(names):
        raise ImportFormatError(str(path), None, "[key]: every code needs its own non-empty name")
    return {str(k): v.strip() for k, v in key.items()}


def unblind(store_meta: Mapping[str, str | None], key_path: Path) -> dict[str, str]:
    """The key of ``key_path`` checked against a store's blinding: every code has a name and
    the file's hash is the declared one. ``store_meta`` holds the two blinding meta keys."""
    codes = (store_meta.get(BLINDING_META) or "").split(",")
    if codes == [""]:
        raise BlindingError(
            f"unblinding key {key_path}: this store was not collected blinded",
            setting="unblinding key",
        )
    key = load_key(key_path)
    missing = [c for c in codes if c not in key]
    if missing:
        raise BlindingError(
            f"unblinding key {key_path}: no name for code(s) {', '.join(missing)}",
            setting="unblinding key",
        )
    declared = store_meta.get(KEY_HASH_META)
    digest = key_sha256(key_path)
    if declared and declared != digest:
        raise BlindingError(
            f"unblinding key {key_path}: its SHA-256 ({digest[:12]}...) is not the key the "
            f"study declared ({declared[:12]}...): wrong or edited key file",
            setting="unblinding key",
        )
    return {c: key[c] for c in codes}


def record_unblinding(store: Store, key_path: Path, *, by: str, now_ns: int | None = None) -> str:
    """Append an audit entry (time, command, key file name and SHA-256) to the store's meta;
    returns the entry as JSON."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    entry = {
        "action": "unblind",
        "time": dt.datetime.fromtimestamp(now_ns / 1e9, dt.UTC).isoformat(),
        "by": by,
        "key_file": key_path.name,
        "key_sha256": key_sha256(key_path),
    }
    text = json.dumps(entry, sort_keys=True)
    store.set_meta(f"{AUDIT_PREFIX}{now_ns:020d}", text)
    return text


def audit_log(store: Store) -> list[dict[str, str]]:
    """The store's audit entries, oldest first."""
    return [json.loads(v) for _, v in store.meta_items(AUDIT_PREFIX)]


def rename_sessions(sessions: Iterable[Session], key: Mapping[str, str]) -> list[Session]:
    """Sessions with coded kinds and labels replaced by their names."""
    return [
        replace(s, kind=key.get(s.kind, s.kind), label=key.get(s.label, s.label)) for s in sessions
    ]


def rename_design(design: Design | None, key: Mapping[str, str]) -> Design | None:
    """A design whose coded conditions and control are replaced by their names."""
    if design is None:
        return None
    control = key.get(design.control, design.control) if design.control else design.control
    return replace(
        design, conditions=tuple(key.get(c, c) for c in design.conditions), control=control
    )


def draw_key(names: Iterable[str], seed: int | None = None) -> dict[str, str]:
    """Codes A, B, ... assigned to ``names`` in a random order (``seed`` for tests).

    >>> sorted(draw_key(["serum", "placebo"], seed=1).values())
    ['placebo', 'serum']
    """
    names = [n.strip() for n in names if n.strip()]
    if len(names) < 2 or len(set(names)) != len(names):
        raise BlindingError("blinding needs at least two distinct names")
    if len(names) > 26:
        raise BlindingError("at most 26 coded names (A-Z)")
    shuffled = list(names)
    (random.Random(seed) if seed is not None else random.SystemRandom()).shuffle(shuffled)
    return {chr(ord("A") + i): n for i, n in enumerate(shuffled)}


def format_key(key: Mapping[str, str]) -> str:
    """The unblinding file's text."""
    lines = ["# stresstrack unblinding key: keep owner-only, apart from the study team.", "[key]"]
    return "\n".join([*lines, *(f"{c} = {json.dumps(n)}" for c, n in key.items())]) + "\n"
