"""Random bytes fed to every importer: only ImportFormatError may come out.

Each case writes the random bytes where the importer will read them, after a valid start
(a header line, a magic number) so that the reading gets past detection into the parsing.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stresstrack.errors import ImportFormatError
from stresstrack.replay import FORMATS, ImportOptions, ImportStats

EMOTIBIT = "LocalTimestamp,EmotiBitTimestamp,PacketNumber,DataLength,TypeTag,ProtocolVersion,"
EMOTIBIT += "DataReliability"


def _file(name: str, prefix: bytes = b"") -> Callable[[Path, bytes], Path]:
    """A recording folder ``p-1`` holding ``name`` = prefix + the random bytes."""

    def build(root: Path, data: bytes) -> Path:
        folder = root / "p-1"
        folder.mkdir()
        (folder / name).write_bytes(prefix + data)
        return folder

    return build


def _single(name: str, prefix: bytes = b"") -> Callable[[Path, bytes], Path]:
    def build(root: Path, data: bytes) -> Path:
        path = root / name
        path.write_bytes(prefix + data)
        return path

    return build


CASES: dict[str, tuple[str, Callable[[Path, bytes], Path]]] = {
    "store": ("store", _single("s-1.db", b"SQLite format 3\x00")),
    "csv-eda": ("csv", _file("eda.csv", b"time,eda_us\n")),
    "csv-markers": ("csv", _file("m.csv", b"time,action,kind,note\n")),
    "e4-eda": ("e4", _file("EDA.csv", b"1560279825.000000\n4.000000\n")),
    "e4-ibi": ("e4", _file("IBI.csv", b"1560279825.000000, IBI\n")),
    "e4-tags": ("e4", _file("tags.csv")),
    "e4-zip": ("e4", _single("s-1.zip", b"PK\x03\x04")),
    "polar-ecg": (
        "polar",
        _file("X_ECG.txt", b"Phone timestamp;sensor timestamp [ns];timestamp [ms];ecg [uV]\n"),
    ),
    "polar-rr": ("polar", _file("X_RR.txt", b"Phone timestamp;RR-interval [ms]\n")),
    "polar-hr": ("polar", _file("X_HR.txt", b"Phone timestamp;HR [bpm]\n")),
    "polar-any": ("polar", _file("X_HR.txt")),
    "xdf-magic": ("xdf", _single("s-1.xdf", b"XDF:")),
    "xdf-header": (
        "xdf",
        _single("s-1.xdf", b"XDF:\x01\x12\x01\x00<info><a/></info>"),
    ),
    "emotibit-ea": ("emotibit", _file("r_EA.csv", f"{EMOTIBIT},EA\n".encode())),
    "emotibit-un": ("emotibit", _file("r_UN.csv", f"{EMOTIBIT},UN\n".encode())),
    "wesad-pickle": ("wesad", _single("S2.pkl", b"\x80\x02")),
    "wesad-any": ("wesad", _single("S2.pkl")),
}


@pytest.mark.parametrize("case", list(CASES))
@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=300))
def test_random_bytes_only_raise_the_import_error(case: str, data: bytes) -> None:
    fmt, build = CASES[case]
    root = Path(tempfile.mkdtemp())
    try:
        path = build(root, data)
        for skip in (False, True):
            options = ImportOptions(skip_bad_rows=skip, start_ns=1_767_603_600 * 10**9)
            with contextlib.suppress(ImportFormatError):
                list(FORMATS[fmt].read([path], options, ImportStats()))
    finally:
        shutil.rmtree(root)
