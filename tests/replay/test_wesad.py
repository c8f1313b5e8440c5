"""WESAD subject folders: the pickle placed in time by its E4 folder, labels as sessions,
and a restricted unpickler that refuses anything but numpy arrays and plain data.

The fixture follows the dataset's readme: ``S2/S2.pkl`` holds ``subject``, ``signal``
(``chest`` at 700 Hz with ECG in mV, ``wrist`` with EDA at 4 Hz and BVP at 64 Hz) and
``label`` at 700 Hz; ``S2/S2_E4_Data`` is the E4's own export. It is written with pickle
protocol 2, as the dataset's Python 2 pickles are.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stresstrack.errors import ImportFormatError
from stresstrack.events import (
    Beat,
    BeatSource,
    EdaSamples,
    Event,
    EventIds,
    Marker,
    MarkerAction,
    Waveform,
    WaveformKind,
)
from stresstrack.replay import FORMATS, ImportOptions, ImportStats, find_recordings
from stresstrack.replay.wesad import load_pickle

NS = 1_000_000_000
START = 1_495_447_966  # 2017-05-22T10:12:46Z, the E4 export's first line
E4_EDA = [0.5, 0.51, 0.52, 0.53, 0.54, 0.55, 0.56, 0.57]
CHEST_N = 700 * 2  # 2 s


def _subject(root: Path, *, e4: bool = True, data: Any = None) -> Path:
    """S2: chest ECG ramps 0, 1, 2... µV·1000; labels 0 for 0.5 s, baseline (1) for 1 s,
    transient (0) for 0.25 s, stress (2) for 0.25 s; wrist EDA = E4 EDA.csv from sample 1."""
    folder = root / "S2"
    folder.mkdir(parents=True)
    labels = np.zeros(CHEST_N, dtype=np.int64)
    labels[350:1050] = 1
    labels[1225:] = 2
    data = data or {
        "subject": "S2",
        "signal": {
            "chest": {"ECG": (np.arange(CHEST_N) / 1000.0).reshape(-1, 1)},
            "wrist": {"EDA": np.array(E4_EDA[1:5]).reshape(-1, 1), "BVP": np.zeros((64, 1))},
        },
        "label": labels,
    }
    (folder / "S2.pkl").write_bytes(pickle.dumps(data, protocol=2))
    if e4:
        e4_dir = folder / "S2_E4_Data"
        e4_dir.mkdir()
        (e4_dir / "EDA.csv").write_text(f"{START}.000000\n4.000000\n" + "\n".join(map(str, E4_EDA)))
        (e4_dir / "IBI.csv").write_text(f"{START}.000000, IBI\n1.5,0.8\n")
    return folder


def _read(path: Path, options: ImportOptions | None = None) -> list[Event]:
    return list(FORMATS["wesad"].read([path], options or ImportOptions(), ImportStats()))


def test_pickle_is_placed_by_its_e4_folder_and_labels_become_sessions(tmp_path: Path) -> None:
    """The wrist EDA starts at EDA.csv's sample 1, so the pickle starts at START + 0.25 s;
    ECG chunks of 700 samples (1 s) in µV; sessions baseline [0.5 s, 1.5 s) and stressor
    [1.75 s, 2 s) from the pickle's start."""
    folder = _subject(tmp_path)
    assert [(r.paths, r.format.name) for r in find_recordings([tmp_path])] == [((folder,), "wesad")]
    events = _read(folder)
    t0 = START * NS + NS // 4
    e4 = EventIds(participant="S2", study="default", device="empatica-e4")
    chest = EventIds(participant="S2", study="default", device="respiban")
    protocol = EventIds(participant="S2", study="default", device="wesad-protocol")
    ecg_uv = np.arange(CHEST_N) / 1000.0 * 1000.0  # mV → µV, as the reader computes it
    assert [e for e in events if isinstance(e, Waveform)] == [
        Waveform(time_ns=t0, kind=WaveformKind.ECG, sampling_rate=700.0,
                 values=tuple(float(v) for v in ecg_uv[:700]), **chest),
        Waveform(time_ns=t0 + NS, kind=WaveformKind.ECG, sampling_rate=700.0,
                 values=tuple(float(v) for v in ecg_uv[700:]), **chest),
    ]  # fmt: skip
    assert [e for e in events if isinstance(e, Marker)] == [
        Marker(time_ns=t0 + NS // 2, action=MarkerAction.START, kind="baseline",
               label="WESAD", note="WESAD label 1", **protocol),
        Marker(time_ns=t0 + 3 * NS // 2, action=MarkerAction.STOP, kind="baseline",
               label="WESAD", note="WESAD label 1", **protocol),
        Marker(time_ns=t0 + 7 * NS // 4, action=MarkerAction.START, kind="stressor",
               label="WESAD", note="WESAD label 2", **protocol),
        Marker(time_ns=t0 + 2 * NS, action=MarkerAction.STOP, kind="stressor",
               label="WESAD", note="WESAD label 2", **protocol),
    ]  # fmt: skip
    # The E4 folder's own data, at its own (calendar) times.
    assert [e for e in events if isinstance(e, EdaSamples)] == [
        EdaSamples(time_ns=START * NS, sampling_rate=4.0, values_us=tuple(E4_EDA[:4]), **e4),
        EdaSamples(time_ns=(START + 1) * NS, sampling_rate=4.0, values_us=tuple(E4_EDA[4:]), **e4),
    ]
    assert [e for e in events if isinstance(e, Beat)] == [
        Beat(time_ns=START * NS + 3 * NS // 2, rr_ms=800.0, source=BeatSource.FILE, **e4)
    ]


def test_without_the_e4_folder_start_gives_the_time(tmp_path: Path) -> None:
    folder = _subject(tmp_path, e4=False)
    with pytest.raises(ImportFormatError, match=r"no SX_E4_Data folder .*give the start time$"):
        _read(folder)
    events = _read(folder, ImportOptions(start_ns=START * NS))
    eda = [e for e in events if isinstance(e, EdaSamples)]
    assert eda == [
        EdaSamples(time_ns=START * NS, sampling_rate=4.0, values_us=tuple(E4_EDA[1:5]),
                   participant="S2", study="default", device="empatica-e4"),
    ]  # fmt: skip
    assert {(e.kind, e.sampling_rate) for e in events if isinstance(e, Waveform)} == {
        (WaveformKind.ECG, 700.0),
        (WaveformKind.PPG, 64.0),
    }


class _Evil:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, ("echo unpickled > /dev/null",))


def test_unpickling_refuses_code(tmp_path: Path) -> None:
    path = tmp_path / "S9.pkl"
    path.write_bytes(pickle.dumps({"signal": _Evil()}, protocol=2))
    with pytest.raises(ImportFormatError, match=r"refused to load \w+\.system"):
        load_pickle(path)


def test_unpickling_allows_numpy_arrays_and_scalars_of_any_protocol(tmp_path: Path) -> None:
    data = {"a": np.arange(3.0), "b": [np.float32(2.5), 7, "x"], "c": (np.int16(3),)}
    for protocol in (2, 4, 5):
        path = tmp_path / f"p{protocol}.pkl"
        path.write_bytes(pickle.dumps(data, protocol=protocol))
        loaded = load_pickle(path)
        assert loaded.keys() == data.keys()
        assert np.array_equal(loaded["a"], data["a"]) and loaded["b"] == data["b"]
        assert loaded["c"] == data["c"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "the pickle is not a dict"),
        ({"label": np.zeros(3)}, "no 'signal' → 'chest' → 'ECG' in the pickle"),
        (
            {
                "label": np.zeros(3),
                "signal": {"chest": {"ECG": np.zeros(4)}, "wrist": {"EDA": [1]}},
            },
            "chest ECG has 4 samples but label has 3",
        ),
        (
            {"label": np.zeros(3), "signal": {"chest": {"ECG": "abc"}, "wrist": {"EDA": [1]}}},
            "is not a numeric array",
        ),
    ],
)
def test_malformed_pickles_are_clear_errors(tmp_path: Path, data: Any, message: str) -> None:
    folder = _subject(tmp_path, data=data)
    with pytest.raises(ImportFormatError) as exc:
        _read(folder)
    assert exc.value.path == str(folder / "S2.pkl")
    assert message in exc.value.problem


def test_a_pickle_that_does_not_match_its_e4_folder_is_an_error(tmp_path: Path) -> None:
    folder = _subject(tmp_path)
    (folder / "S2_E4_Data" / "EDA.csv").write_text(f"{START}\n4\n" + "9.9\n" * 10)
    with pytest.raises(ImportFormatError, match="wrist EDA does not occur in"):
        _read(folder)


def test_truncated_pickle(tmp_path: Path) -> None:
    folder = _subject(tmp_path)
    pkl = folder / "S2.pkl"
    pkl.write_bytes(pkl.read_bytes()[:100])
    with pytest.raises(ImportFormatError, match="not a WESAD pickle"):
        _read(folder)
