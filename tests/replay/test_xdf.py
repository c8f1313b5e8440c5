"""XDF files (LabRecorder): real files written by a small XDF writer and read back by pyxdf.

The writer (``xdf_writer.py``) follows the XDF 1.0 specification; the files include a clock
offset chunk, so the test checks that pyxdf's clock synchronisation is applied.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from xdf_writer import XdfWriter, chunk

from stresstrack.errors import ImportFormatError
from stresstrack.events import (
    Beat,
    BeatSource,
    EdaSamples,
    Event,
    EventIds,
    HeartRate,
    Marker,
    MarkerAction,
    Waveform,
    WaveformKind,
)
from stresstrack.replay import FORMATS, ImportOptions, ImportStats, find_recordings
from stresstrack.replay.xdf import classify_stream, parse_marker

NS = 1_000_000_000
MS = 1_000_000
T0 = 1_767_603_600 * NS  # the file header's datetime, 2026-01-05T09:00:00Z


def _f32(x: float) -> float:
    """A float32 sample as the reader gets it."""
    return float(np.float32(x))


def _recording() -> XdfWriter:
    """An RR stream recorded on another computer whose clock is 2.5 s behind (the clock
    offsets say so), an EDA band at 4 Hz with deduced time stamps, an ECG in mV, markers, a
    heart-rate stream and an EEG stream nobody asked for."""
    w = XdfWriter()
    w.stream(1, "Polar H10 RR", "RR", 0, "float32", unit="ms")
    w.stream(2, "EDA band", "GSR", 4, "float32")
    w.stream(3, "Session markers", "Markers", 0, "string")
    w.stream(4, "EEG", "EEG", 2, "float32", channels=2)
    w.stream(5, "Chest ECG", "ECG", 2, "double64", unit="millivolts")
    w.stream(6, "hr", "HeartRate", 0, "float32")
    w.samples(1, [100.0, 100.8, 101.6], [[800], [800], [790]])
    w.samples(2, [100.0, None, None, None, 101.0, None], [[2.0], [2.1], [2.2], [2.3], [2.4], [2.5]])
    w.samples(3, [100.5, 101.5, 101.75], [["start baseline"], ["baseline stop"], ["cough"]])
    w.samples(4, [100.0, 100.5], [[1.0, 2.0], [3.0, 4.0]])
    w.samples(5, [100.0, 100.5], [[0.5], [-0.25]])
    w.samples(6, [101.0], [[72.0]])
    w.clock_offset(1, 90.0, 2.5).clock_offset(1, 110.0, 2.5)
    w.boundary()
    w.footer(1, 100.0, 101.6, 3)
    return w


def _read(path: Path, options: ImportOptions | None = None) -> tuple[list[Event], ImportStats]:
    stats = ImportStats()
    return list(FORMATS["xdf"].read([path], options or ImportOptions(), stats)), stats


def test_streams_decode_with_clock_offsets_applied(tmp_path: Path) -> None:
    """The earliest time stamp (100.0 s LSL) is the header's datetime. The RR stream's times
    move by its +2.5 s clock offset (100.0 → 102.5); the others have no offsets."""
    path = _recording().write(tmp_path / "s-01.xdf")
    events, stats = _read(path)

    def ids(device: str) -> EventIds:
        return EventIds(participant="s-01", study="default", device=device)

    eda, rr, markers = ids("EDA band"), ids("Polar H10 RR"), ids("Session markers")
    assert events == [
        EdaSamples(time_ns=T0, sampling_rate=4.0,
                   values_us=(2.0, _f32(2.1), _f32(2.2), _f32(2.3)), **eda),
        Waveform(time_ns=T0, kind=WaveformKind.ECG, sampling_rate=2.0, values=(500.0, -250.0),
                 **ids("Chest ECG")),  # mV → µV
        Marker(time_ns=T0 + 500 * MS, action=MarkerAction.START, kind="baseline", **markers),
        EdaSamples(time_ns=T0 + NS, sampling_rate=4.0, values_us=(_f32(2.4), 2.5), **eda),
        HeartRate(time_ns=T0 + NS, bpm=72.0, **ids("hr")),
        Marker(time_ns=T0 + 1500 * MS, action=MarkerAction.STOP, kind="baseline", **markers),
        Marker(time_ns=T0 + 1750 * MS, action=MarkerAction.EVENT, kind="cough", **markers),
        Beat(time_ns=T0 + 2500 * MS, rr_ms=800.0, source=BeatSource.FILE, **rr),
        Beat(time_ns=T0 + 3300 * MS, rr_ms=800.0, source=BeatSource.FILE, **rr),
        Beat(time_ns=T0 + 4100 * MS, rr_ms=790.0, source=BeatSource.FILE, **rr),
    ]  # fmt: skip
    assert stats.notes == ["s-01.xdf: stream 'EEG' (type 'EEG') ignored"]


def test_start_option_places_files_without_a_datetime(tmp_path: Path) -> None:
    w = XdfWriter(header_datetime=None)
    w.stream(1, "rr", "IBI", 0, "double64")
    w.samples(1, [5000.0, 5000.8], [[0.8], [0.81]])  # seconds: values below 10
    path = w.write(tmp_path / "s-02.xdf")
    with pytest.raises(ImportFormatError, match=r"give the start time of the first sample$"):
        _read(path)
    events, _ = _read(path, ImportOptions(start_ns=T0))
    ids = EventIds(participant="s-02", study="default", device="rr")
    assert events == [
        Beat(time_ns=T0, rr_ms=800.0, source=BeatSource.FILE, **ids),
        Beat(time_ns=T0 + 800 * MS, rr_ms=810.0, source=BeatSource.FILE, **ids),
    ]


@pytest.mark.parametrize(
    ("stream_type", "name", "fmt", "kind"),
    [
        ("ECG", "anything", "float32", "ecg"),
        ("BVP", "wrist", "float32", "ppg"),
        ("GSR", "", "float32", "eda"),
        ("", "Shimmer EDA", "float32", "eda"),
        ("IBI", "", "float32", "rr"),
        ("", "H10 RR intervals", "float32", "rr"),
        ("Markers", "", "string", "markers"),
        ("", "keyboard", "string", "markers"),
        ("EEG", "Cap", "float32", None),
        ("Mocap", "Error log", "float32", None),  # 'rr' inside a word is not an RR stream
    ],
)
def test_streams_are_classified_by_type_then_name(
    stream_type: str, name: str, fmt: str, kind: str | None
) -> None:
    assert classify_stream(stream_type, name, fmt) == kind


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("start self-care", (MarkerAction.START, "self-care")),
        ("Self-care  Begin", (MarkerAction.START, "Self-care")),
        ("stop: baseline", (MarkerAction.STOP, "baseline")),
        ("stressor end", (MarkerAction.STOP, "stressor")),
        ("button", (MarkerAction.EVENT, "button")),
        ("   ", None),
    ],
)
def test_marker_strings(text: str, expected: tuple[MarkerAction, str] | None) -> None:
    assert parse_marker(text) == expected


def _good() -> bytes:
    return _recording().data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"XDF", "not an XDF file"),
        (b"PK\x03\x04 not xdf", "not an XDF file"),
        (_good()[:-30], "truncated: the chunk needs"),
        (b"XDF:" + chunk(2, b"<info/>", 1), "the first chunk must be the file header"),
        (_good() + chunk(9, b"??"), "unknown chunk tag 9"),
        (_good() + b"\x03\x00\x00", "invalid length-size byte 3"),
        (_good() + chunk(3, b"\x01\x00", 77), "stream 77 has data but no stream header"),
        (_good() + chunk(4, b"\x00" * 8, 1), "clock offset chunk of 14 bytes"),
        (b"XDF:" + chunk(1, b'<!DOCTYPE x [<!ENTITY a "b">]><info/>'), "DTD or entities"),
        (b"XDF:" + chunk(1, b"<info><version>1.0</version></info>")
         + chunk(2, b"<info><channel_count>two</channel_count></info>", 1), "not a number"),
        (b"XDF:" + chunk(1, b"<info/>"), "no streams"),
    ],
)  # fmt: skip
def test_malformed_files_are_clear_errors(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "s-03.xdf"
    path.write_bytes(data)
    with pytest.raises(ImportFormatError) as exc:
        _read(path)
    assert exc.value.path == str(path)
    assert message in exc.value.problem


def test_truncated_file_with_skip_bad_rows_keeps_the_complete_chunks(tmp_path: Path) -> None:
    path = tmp_path / "s-04.xdf"
    path.write_bytes(_good()[:-30])  # the last chunk (the RR footer) is cut short
    events, stats = _read(path, ImportOptions(skip_bad_rows=True))
    assert stats.skipped == 1 and "truncated" in stats.skipped_examples[0]
    assert sum(isinstance(e, Beat) for e in events) == 3


def test_impossible_values_name_the_stream_and_sample(tmp_path: Path) -> None:
    w = XdfWriter()
    w.stream(1, "EDA band", "EDA", 4, "float32")
    w.samples(1, [100.0, 100.25, 100.5], [[2.0], [-3.0], [2.1]])
    path = w.write(tmp_path / "s-05.xdf")
    with pytest.raises(ImportFormatError) as exc:
        _read(path)
    assert str(exc.value) == f"{path} (stream 'EDA band'): sample 2: eda_us value -3 is impossible"
    events, stats = _read(path, ImportOptions(skip_bad_rows=True))
    assert [e.values_us for e in events if isinstance(e, EdaSamples)] == [(2.0,), (_f32(2.1),)]
    assert stats.skipped == 1


def test_xdf_files_are_recognised_by_their_magic(tmp_path: Path) -> None:
    path = _recording().write(tmp_path / "recording.bin")
    assert [(r.paths, r.format.name) for r in find_recordings([path])] == [((path,), "xdf")]


def test_sampled_stream_rate_is_fitted_to_its_time_stamps(tmp_path: Path) -> None:
    """An ECG stream declared 130 Hz whose device runs at 130.24 Hz of the recording clock
    (a real Polar H10, issue 12), time stamps rounded to the millisecond with ±3 ms jitter,
    over 5 min: its events carry the fitted rate, not the header's; ``--rate`` wins."""
    rng = np.random.default_rng(8)
    n = 130 * 300
    stamps = np.round((100.0 + np.arange(n) / 130.24 + rng.uniform(-3e-3, 3e-3, n)) * 1e3) / 1e3
    w = XdfWriter()
    w.stream(1, "Chest ECG", "ECG", 130, "float32", unit="microvolts")
    w.samples(1, stamps.tolist(), [[float(v)] for v in rng.integers(-500, 500, n)])
    path = w.write(tmp_path / "s-05.xdf")
    events, _ = _read(path)
    rates = {e.sampling_rate for e in events if isinstance(e, Waveform)}
    assert len(rates) == 1 and abs(rates.pop() - 130.24) < 0.01
    events, _ = _read(path, ImportOptions(rate=130.0))
    assert {e.sampling_rate for e in events if isinstance(e, Waveform)} == {130.0}
