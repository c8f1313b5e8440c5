"""Random input fed to every importer: only ImportFormatError may come out.

Two kinds of input: random bytes and number-like text written after a valid start (a header
line, a magic number), so that reading gets past detection into the parsing; and valid
files (XDF, pickle, store) with random bytes overwritten and the end cut off.
"""

from __future__ import annotations

import contextlib
import functools
import pickle
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_xdf import _recording

from stresstrack.errors import ImportFormatError
from stresstrack.events import Beat, Marker, MarkerAction
from stresstrack.replay import FORMATS, ImportOptions, ImportStats
from stresstrack.store import Store

EMOTIBIT = "LocalTimestamp,EmotiBitTimestamp,PacketNumber,DataLength,TypeTag,ProtocolVersion,"
EMOTIBIT += "DataReliability"
T0 = 1_767_603_600


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
    "emotibit-ea": ("emotibit", _file("r_EA.csv", f"{EMOTIBIT},EA\n".encode())),
    "emotibit-un": ("emotibit", _file("r_UN.csv", f"{EMOTIBIT},UN\n".encode())),
    "wesad-pickle": ("wesad", _single("S2.pkl", b"\x80\x02")),
    "wesad-any": ("wesad", _single("S2.pkl")),
}
# Tokens that sit on the edges of what the parsers accept.
EDGE_TOKENS = (
    *("", " ", "0", "-1", "1e308", "1E999999", "nan", "inf", "-inf", "abc", "0.5", "800"),
    *("1767603600", "1767603600.25", "1560279825.000000", "4.000000", "12,5"),
    *("IBI", "2026-01-05T09:00:00.100", "MARKER_START", "EA", "start", "599616050941733632"),
)
TOKENS = st.one_of(
    st.sampled_from(EDGE_TOKENS),
    st.from_regex(r"-?[0-9]{1,12}(\.[0-9]{0,6})?([eE]-?[0-9]{1,6})?", fullmatch=True),
)
ROWS = st.tuples(st.sampled_from([",", ";"]), st.lists(st.lists(TOKENS, max_size=9), max_size=40))
NUMBER_TEXT = ROWS.map(lambda r: "\n".join(r[0].join(row) for row in r[1]).encode())


def _read_all(fmt: str, path: Path) -> None:
    for skip in (False, True):
        options = ImportOptions(skip_bad_rows=skip, start_ns=T0 * 10**9)
        with contextlib.suppress(ImportFormatError):
            list(FORMATS[fmt].read([path], options, ImportStats()))


@pytest.mark.parametrize("case", list(CASES))
@settings(max_examples=60, deadline=None)
@given(data=st.one_of(st.binary(max_size=300), NUMBER_TEXT))
def test_random_bytes_only_raise_the_import_error(case: str, data: bytes) -> None:
    fmt, build = CASES[case]
    root = Path(tempfile.mkdtemp())
    try:
        _read_all(fmt, build(root, data))
    finally:
        shutil.rmtree(root)


@functools.cache
def _valid_files() -> dict[str, tuple[str, bytes]]:
    labels = np.zeros(1400, dtype=np.int64)
    labels[300:900] = 1
    wesad = {
        "subject": "S2",
        "signal": {
            "chest": {"ECG": np.arange(1400.0).reshape(-1, 1)},
            "wrist": {"EDA": np.ones((8, 1)), "BVP": np.zeros((64, 1))},
        },
        "label": labels,
    }
    root = Path(tempfile.mkdtemp())
    try:
        with Store(root / "s.db") as store:
            marker = Marker(
                time_ns=T0 * 10**9, participant="p", action=MarkerAction.START, kind="baseline"
            )
            beats = [
                Beat(time_ns=(T0 + i) * 10**9, participant="p", rr_ms=800.0) for i in range(50)
            ]
            store.add_events([marker, *beats])
        db = (root / "s.db").read_bytes()
    finally:
        shutil.rmtree(root)
    return {
        "xdf": ("s-1.xdf", _recording().data),
        "wesad": ("S2.pkl", pickle.dumps(wesad, protocol=2)),
        "store": ("s-1.db", db),
    }


@pytest.mark.parametrize("fmt", ["xdf", "wesad", "store"])
@settings(max_examples=60, deadline=None)
@given(
    changes=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=8),
    keep=st.floats(0.05, 1.0),
)
def test_damaged_files_only_raise_the_import_error(
    fmt: str, changes: list[tuple[float, int]], keep: float
) -> None:
    name, good = _valid_files()[fmt]
    data = bytearray(good)
    for where, value in changes:
        data[min(len(data) - 1, int(where * len(data)))] = value
    root = Path(tempfile.mkdtemp())
    try:
        path = root / name
        path.write_bytes(bytes(data[: max(1, int(keep * len(data)))]))
        _read_all(fmt, path)
    finally:
        shutil.rmtree(root)
