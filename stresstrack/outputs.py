"""Files that hold participant data: created owner-only, never overwritten by mistake.

Every report, export, analysis table and temporary file is created with mode 0600 (like the
store) and written to a temporary file beside its target, then renamed over it, so a reader
never sees half a file. Commands check their outputs first (:func:`check_output`): an existing
file is replaced only with ``--force``, a store never by anything that is not a store, and an
output is never one of the command's inputs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Final

from stresstrack.errors import SettingError, StressTrackError

__all__ = [
    "check_output",
    "csv_safe",
    "is_sqlite",
    "private_file",
    "private_output",
    "same_file",
]

_SQLITE_MAGIC: Final = b"SQLite format 3\x00"  # https://sqlite.org/fileformat.html, 1.3
PRIVATE_MODE: Final = 0o600


def is_sqlite(path: Path) -> bool:
    """Whether ``path`` is an SQLite database (a store, or another tool's)."""
    try:
        with path.open("rb") as f:
            return f.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    except OSError:
        return False


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file (links and relative paths included)."""
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(
    out: Path,
    *,
    force: bool,
    inputs: Sequence[Path] = (),
    writes_store: bool = False,
    setting: str = "output file",
) -> None:
    """Refuse ``out`` if it is one of ``inputs``, an existing store that a non-store would
    replace, or any existing file without ``force``; a :class:`SettingError` on ``setting``
    (the output), or a :class:`StressTrackError` advising to allow replacing (``"replace
    existing files"``) says why.

    >>> check_output(Path("/nonexistent/report.html"), force=False)
    """
    for source in inputs:
        if same_file(out, source) or out.resolve() == source.resolve():
            raise SettingError(setting, f"{out}: that is the input; write elsewhere")
    if not out.exists():
        return
    if out.is_dir():
        raise SettingError(setting, f"{out}: is a folder; name a file")
    if is_sqlite(out) and not writes_store:
        raise SettingError(
            setting,
            f"{out}: is a store (SQLite database); it is never replaced by a report or an "
            "export, even when replacing existing files is allowed",
        )
    if not force:
        raise StressTrackError(
            f"{out}: already exists; name another file, or allow replacing existing files",
            setting="replace existing files",
        )


def private_file(path: Path) -> Path:
    """Create ``path`` empty, readable and writable by its owner only (replacing a stale
    one), for writers that open it themselves."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_MODE)
    os.close(fd)
    return path


@contextlib.contextmanager
def private_output(out: Path, newline: str | None = None) -> Iterator[IO[str]]:
    """Write text to ``out`` through a 0600 temporary file beside it, renamed over ``out``
    when the block ends without error (removed otherwise)."""
    tmp = private_file(out.with_name(f".{out.name}.tmp"))
    try:
        with tmp.open("w", encoding="utf-8", newline=newline) as f:
            yield f
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(cell: str) -> str:
    """A CSV cell that spreadsheets will not run as a formula (OWASP "CSV Injection"): text
    starting with ``= + - @``, tab or carriage return gets a leading ``'``; numbers such as
    ``-0.5`` stay numbers.

    >>> csv_safe("=HYPERLINK(\\"http://x\\")"), csv_safe("-0.25"), csv_safe("self-care")
    ('\\'=HYPERLINK("http://x")', '-0.25', 'self-care')
    """
    if cell.startswith(_FORMULA_START):
        try:
            float(cell)
        except ValueError:
            return "'" + cell
        if cell.strip() == cell:
            return cell
        return "'" + cell
    return cell
