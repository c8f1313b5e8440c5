"""The WESAD dataset (Schmidt et al., ICMI 2018): one folder per subject.

Layout (the dataset's readme, quoted in public analysis scripts such as
github.com/njfritter/Characteristic-Based-Time-Series-Clustering
``rCode2012/src/python/WESADAnalysis.py``): ``SX/SX.pkl`` is a Python 2 pickle of a dict with

* ``subject``: ``SX``;
* ``signal``: ``chest`` (RespiBAN, every channel at 700 Hz: ``ACC``, ``ECG`` in mV, ``EDA`` in
  µS, ``EMG``, ``Resp``, ``Temp``) and ``wrist`` (Empatica E4: ``ACC`` 32 Hz, ``BVP`` 64 Hz,
  ``EDA`` 4 Hz, ``TEMP`` 4 Hz), synchronised to each other;
* ``label``: the protocol condition at 700 Hz: 0 not defined / transient, 1 baseline,
  2 stress, 3 amusement, 4 meditation, 5-7 to be ignored;

and ``SX/SX_E4_Data/`` holds the E4's own session export (EDA.csv, BVP.csv, HR.csv, IBI.csv,
tags.csv..., see :mod:`stresstrack.replay.e4`) with calendar times.

Reading: the E4 folder gives the wrist EDA, BVP, heart rate, beat intervals (``IBI.csv``,
the only beat-to-beat data of the dataset) and button presses, with their Unix times. The
pickle's wrist EDA is a cut of the E4's EDA.csv, so finding where its first samples occur in
EDA.csv places the pickle in calendar time exactly; then the chest ECG becomes an ECG
:class:`~stresstrack.events.Waveform` (µV) and each run of labels 1-4 a session (start and stop
:class:`~stresstrack.events.Marker`): 1 ``baseline``, 2 ``stressor`` (the TSST), 3
``amusement``, 4 ``meditation``. Without the E4 folder, the pickle's wrist EDA and BVP are
used and ``--start`` must give the time of the first sample.

Unpickling runs code chosen by whoever wrote the file, so the pickle is read with a
restricted unpickler that only rebuilds numpy arrays, dtypes and scalars and plain builtin
containers and numbers; anything else is refused with an error naming the file.
"""

from __future__ import annotations

import builtins
import codecs
import functools
import io
import math
import pickle
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from stresstrack.errors import ImportFormatError
from stresstrack.events import Event, EventIds, Marker, MarkerAction, WaveformKind
from stresstrack.replay.base import (
    NS,
    Detection,
    Format,
    ImportOptions,
    ImportStats,
    merge_by_time,
    parse_number,
    parse_unix_ns,
    participant_from_name,
)
from stresstrack.replay.chunks import eda_maker, grid_chunks, waveform_maker
from stresstrack.replay.e4 import DEVICE as E4_DEVICE
from stresstrack.replay.e4 import read_session, session_files

__all__ = ["FORMAT", "LABEL_KINDS", "load_pickle"]

CHEST_HZ: Final = 700.0
WRIST_EDA_HZ: Final = 4.0
WRIST_BVP_HZ: Final = 64.0
LABEL_KINDS: Final = {1: "baseline", 2: "stressor", 3: "amusement", 4: "meditation"}
ECG_UV_PER_MV: Final = 1000.0
ALIGN_SAMPLES: Final = 40  # wrist EDA samples (10 s) matched against the E4's EDA.csv
ALIGN_TOLERANCE_US: Final = 1e-5  # EDA.csv holds 6 decimals
CHEST_DEVICE: Final = "respiban"
PROTOCOL_DEVICE: Final = "wesad-protocol"
PICKLE_PROTOCOL_2: Final = b"\x80\x02"
# Allocation cap of the unpickler: a WESAD pickle's arrays are stored in its own bytes, so no
# call needs more elements than the file has bytes (times a margin for dtype widening).
PICKLE_EXPANSION: Final = 8
MIN_PICKLE_LIMIT: Final = 1 << 20


@functools.cache
def _safe_globals() -> dict[tuple[str, str], Any]:
    """The only globals a WESAD pickle needs (numpy 1.x and 2.x spellings)."""
    reconstruct = np.zeros(1).__reduce__()[0]
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]
    scalar = np.float64(0).__reduce__()[0]
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,
    }
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = frombuffer
    for name in ("dict", "list", "tuple", "set", "frozenset", "int", "float", "complex",
                 "str", "bytes", "bytearray", "bool", "slice", "range"):  # fmt: skip
        allowed[("builtins", name)] = getattr(builtins, name)
        allowed[("__builtin__", name)] = getattr(builtins, name)  # Python 2 spelling
    return allowed


def _requested(arg: object) -> int:
    """How many elements or bytes an argument asks a constructor to allocate."""
    if isinstance(arg, bool):
        return 0
    if isinstance(arg, int):
        return arg  # bytearray(n), bytes(n)
    if isinstance(arg, range):
        return len(arg)  # list(range(n)), bytes(range(n))
    if isinstance(arg, tuple) and arg and all(isinstance(a, int) for a in arg):
        return math.prod(abs(a) for a in arg)  # a shape
    return 0


class _RestrictedUnpickler(pickle.Unpickler):
    """Only :func:`_safe_globals`, and no call may ask for more than ``limit`` elements: a
    60-byte pickle must not make us allocate gigabytes (``bytearray(10**12)``)."""

    def __init__(self, file: io.BytesIO, limit: int) -> None:
        super().__init__(file, encoding="latin1")
        self.limit = limit

    def find_class(self, module: str, name: str) -> Any:
        try:
            found = _safe_globals()[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refused to load {module}.{name}: only numpy arrays and plain data are allowed"
            ) from None
        if isinstance(found, type) and issubclass(found, np.generic | np.ndarray | np.dtype):
            return found  # passed to _reconstruct as a class, not called with a size
        limit = self.limit

        def capped(*args: Any, **kwargs: Any) -> Any:
            for arg in (*args, *kwargs.values()):
                if _requested(arg) > limit:
                    raise pickle.UnpicklingError(
                        f"{module}.{name} asks for {_requested(arg)} elements, more than the "
                        f"file could hold ({limit})"
                    )
            return found(*args, **kwargs)

        return capped


def load_pickle(path: Path) -> Any:
    """Unpickle ``path`` allowing only numpy arrays, dtypes, scalars and builtin data."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFormatError(str(path), None, f"cannot read ({exc.strerror})") from exc
    if not data:
        raise ImportFormatError(str(path), None, "empty file")
    try:
        # latin1: the pickles were written by Python 2 (numpy arrays inside str objects).
        limit = max(MIN_PICKLE_LIMIT, PICKLE_EXPANSION * len(data))
        return _RestrictedUnpickler(io.BytesIO(data), limit).load()
    except pickle.UnpicklingError as exc:
        raise ImportFormatError(str(path), None, f"not a WESAD pickle ({exc})") from exc
    except Exception as exc:  # a corrupt pickle can fail in any of the loader's steps
        raise ImportFormatError(
            str(path), None, f"not a WESAD pickle ({type(exc).__name__}: {exc})"
        ) from exc


def _pickle_of(path: Path) -> Path | None:
    if path.is_file():
        return path if path.suffix.lower() == ".pkl" else None
    if path.is_dir():
        named = path / f"{path.name}.pkl"
        if named.is_file():
            return named
        pickles = sorted(path.glob("*.pkl"))
        if len(pickles) == 1 and any(path.glob("*_E4_Data")):
            return pickles[0]
    return None


def detect(path: Path) -> Detection | None:
    pkl = _pickle_of(path)
    if pkl is None:
        return None
    try:
        with pkl.open("rb") as f:
            head = f.read(2)
    except OSError:
        return None
    return "recording" if head[:1] == PICKLE_PROTOCOL_2[:1] else None


def participants(paths: Sequence[Path], options: ImportOptions) -> list[str]:
    path = paths[0]
    return [participant_from_name(options, path, use_stem=path.is_file())]


def _e4_folder(pkl: Path) -> Path | None:
    folders = sorted(p for p in pkl.parent.glob("*_E4_Data") if p.is_dir())
    preferred = pkl.parent / f"{pkl.stem}_E4_Data"
    if preferred in folders:
        return preferred
    return folders[0] if folders else None


def _array(data: Any, keys: tuple[str, ...], path: Path, *, required: bool = True) -> Any:
    node = data
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            if not required:
                return None
            raise ImportFormatError(
                str(path), None, f"no {' → '.join(repr(k) for k in keys)} in the pickle"
            )
        node = node[key]
    try:
        array = np.asarray(node, dtype=np.float64)
    except (TypeError, ValueError):
        raise ImportFormatError(
            str(path), None, f"{' → '.join(keys)} is not a numeric array"
        ) from None
    if array.ndim == 2:
        array = array[:, 0]
    if array.ndim != 1:
        raise ImportFormatError(str(path), None, f"{' → '.join(keys)} has shape {array.shape}")
    return array


def read(paths: Sequence[Path], options: ImportOptions, stats: ImportStats) -> Iterator[Event]:
    path = paths[0]
    pkl = _pickle_of(path)
    if pkl is None:
        raise ImportFormatError(str(path), None, "no SX.pkl file")
    pid = participants(paths, options)[0]
    size = pkl.stat().st_size
    stats.bytes_total += size
    data = load_pickle(pkl)
    if not isinstance(data, dict):
        raise ImportFormatError(str(pkl), None, "the pickle is not a dict")
    labels = _array(data, ("label",), pkl)
    ecg = _array(data, ("signal", "chest", "ECG"), pkl)
    wrist_eda = _array(data, ("signal", "wrist", "EDA"), pkl)
    if ecg.size != labels.size:
        raise ImportFormatError(
            str(pkl), None, f"chest ECG has {ecg.size} samples but label has {labels.size}"
        )
    if not np.all(np.isfinite(labels)):
        raise ImportFormatError(str(pkl), None, "label holds non-numbers")
    stats.bytes_read += size
    stats.rows += labels.size
    ids = EventIds(participant=pid, study=options.study, device=CHEST_DEVICE)
    streams: list[Iterator[Event]] = []
    e4 = _e4_folder(pkl)
    if e4 is not None:
        files = session_files([e4])
        if "eda.csv" not in files:
            raise ImportFormatError(str(e4), None, "no EDA.csv to align the pickle with")
        t0 = _align(wrist_eda, files["eda.csv"].path, pkl)
        e4_ids = EventIds(participant=pid, study=options.study, device=E4_DEVICE)
        streams.append(read_session(files, e4_ids, options, stats))
    elif options.start_ns is not None:
        t0 = options.start_ns
        stats.note(f"{pkl.name}: no E4 folder; wrist EDA and BVP from the pickle, no beats")
        wrist = EventIds(participant=pid, study=options.study, device=E4_DEVICE)
        bvp = _array(data, ("signal", "wrist", "BVP"), pkl, required=False)
        streams.append(_grid(eda_maker(WRIST_EDA_HZ, wrist), t0, WRIST_EDA_HZ, wrist_eda))
        if bvp is not None:
            make = waveform_maker(WaveformKind.PPG, WRIST_BVP_HZ, wrist)
            streams.append(_grid(make, t0, WRIST_BVP_HZ, bvp))
    else:
        raise ImportFormatError(
            str(pkl),
            None,
            "no SX_E4_Data folder to place the recording in time: give the start time",
            setting="start time",
        )
    ecg_make = waveform_maker(WaveformKind.ECG, CHEST_HZ, ids)
    streams.append(_grid(ecg_make, t0, CHEST_HZ, ecg * ECG_UV_PER_MV))
    protocol = EventIds(participant=pid, study=options.study, device=PROTOCOL_DEVICE)
    streams.append(_sessions(labels, t0, protocol))
    return merge_by_time(streams)


def _grid(
    make: Callable[[int, tuple[float, ...]], Event], t0: int, rate: float, values: Any
) -> Iterator[Event]:
    finite = np.isfinite(values)
    pairs = ((int(i), float(values[i])) for i in np.flatnonzero(finite))
    return grid_chunks(make, t0, rate, pairs)


def _align(wrist_eda: Any, eda_csv: Path, pkl: Path) -> int:
    """Calendar time (ns) of the pickle's first sample, from where its EDA sits in EDA.csv."""
    try:
        lines = eda_csv.read_text(encoding="utf-8").split()
        start = parse_unix_ns(lines[0].split(",")[0], "start time")
        rate = parse_number(lines[1].split(",")[0], "sample rate")
        e4 = np.array([parse_number(x, "EDA") for x in lines[2:]], dtype=np.float64)
    except (OSError, UnicodeDecodeError, ValueError, IndexError) as exc:
        raise ImportFormatError(str(eda_csv), None, f"unreadable E4 EDA file ({exc})") from exc
    n = min(ALIGN_SAMPLES, wrist_eda.size)
    if n == 0 or e4.size < n or rate != WRIST_EDA_HZ:
        raise ImportFormatError(str(pkl), None, f"cannot align with {eda_csv} (too short)")
    windows = sliding_window_view(e4, n)
    match = np.flatnonzero(np.all(np.abs(windows - wrist_eda[:n]) <= ALIGN_TOLERANCE_US, axis=1))
    if match.size == 0:
        raise ImportFormatError(
            str(pkl),
            None,
            f"its wrist EDA does not occur in {eda_csv}: cannot place it in time; replay the "
            "E4 folder alone, or move it away and give the start time",
            setting="start time",
        )
    return start + round(int(match[0]) * NS / rate)


def _sessions(labels: Any, t0: int, ids: EventIds) -> Iterator[Event]:
    """Start and stop markers of every run of a known condition label."""
    values = labels.astype(np.int64)
    change = np.flatnonzero(np.diff(values)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [values.size]])
    for a, b in zip(starts, ends, strict=True):
        kind = LABEL_KINDS.get(int(values[a]))
        if kind is None:
            continue
        note = f"WESAD label {int(values[a])}"
        yield Marker(time_ns=t0 + round(int(a) * NS / CHEST_HZ), action=MarkerAction.START,
                     kind=kind, label="WESAD", note=note, **ids)  # fmt: skip
        yield Marker(time_ns=t0 + round(int(b) * NS / CHEST_HZ), action=MarkerAction.STOP,
                     kind=kind, label="WESAD", note=note, **ids)  # fmt: skip


FORMAT: Final = Format(
    name="wesad",
    description="WESAD subject folder (SX/SX.pkl with SX_E4_Data/): condition labels as sessions",
    detect=detect,
    participants=participants,
    read=read,
)
