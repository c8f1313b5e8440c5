"""Files written for others to read (BIDS, Kubios): atomically and owner-only, like the store."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

__all__ = ["write_private"]


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (gzip-compressed, reproducibly, for ``.gz``) with mode 0600
    through a temporary file, creating missing folders with mode 0700."""
    missing = [d for d in (path.parent, *path.parent.parents) if not d.exists()]
    for folder in reversed(missing):  # mkdir(parents=True) would not give them the mode
        folder.mkdir(mode=0o700, exist_ok=True)
    data = text.encode("utf-8")
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
