"""EmotiBit DataParser output: packets, rates from the info file, notes and clear errors.

Rows follow the parsed-file example of EmotiBit_Docs (``Working_with_emotibit_data.md``):
``LocalTimestamp,EmotiBitTimestamp,PacketNumber,DataLength,TypeTag,ProtocolVersion,
DataReliability,<TAG>``, one data point per row, rows of a packet sharing its number.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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

NS = 1_000_000_000
BASE = "2024-09-18_22-59-45"
HEADER = "LocalTimestamp,EmotiBitTimestamp,PacketNumber,DataLength,TypeTag,ProtocolVersion,"
HEADER += "DataReliability"
FILES = {
    f"{BASE}_EA.csv": f"{HEADER},EA\n"
    "1726714786.598369,531473.000,17305,2,EA,1,100,0.030269\n"
    "1726714786.598369,531473.000,17305,2,EA,1,100,0.030300\n"
    "1726714786.731,531606.000,17320,1,EA,1,100,0.0304\n",
    f"{BASE}_PG.csv": f"{HEADER},PG\n"
    "1726714786.6,531480.000,17306,2,PG,1,100,169093\n"
    "1726714786.64,531520.000,17306,2,PG,1,100,169120\n",
    f"{BASE}_BI.csv": f"{HEADER},BI\n1726714787.0,531900.000,17400,1,BI,1,100,812.5\n",
    f"{BASE}_HR.csv": f"{HEADER},HR\n1726714787.0,531900.000,17401,1,HR,1,100,72\n",
    f"{BASE}_UN.csv": f"{HEADER},UN\n"
    "1726714788.0,531950.000,17402,1,UN,1,100,start of massage, left cheek\n",
    f"{BASE}_AX.csv": f"{HEADER},AX\n1726714786.598369,531473.000,17305,3,AX,1,100,-0.436\n",
}
INFO = [
    {"info": {"name": "EmotiBitData", "type": "Multimodal"}},
    {"info": {"name": "ElectrodermalActivity", "typeTags": ["EA"], "nominal_srate": 15}},
    {"info": {"name": "PPG", "typeTags": ["PI", "PR", "PG"], "nominal_srate": 25}},
]


def _folder(path: Path, files: dict[str, str], info: object | None = INFO) -> Path:
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).write_text(text)
    if info is not None:
        (path / f"{BASE}_info.json").write_text(json.dumps(info))
    return path


def _read(path: Path, options: ImportOptions | None = None) -> tuple[list[Event], ImportStats]:
    stats = ImportStats()
    return list(FORMATS["emotibit"].read([path], options or ImportOptions(), stats)), stats


def test_parsed_files_decode_by_packet(tmp_path: Path) -> None:
    """Hand-decoded: EDA packet 17305 (2 samples at 15 Hz) at its first LocalTimestamp, then
    packet 17320; PPG green packet 17306 at 25 Hz; one beat interval, one heart rate; the
    user note (with a comma) as a point marker; accelerometer skipped."""
    events, stats = _read(_folder(tmp_path / "p-emo", FILES))
    ids = EventIds(participant="p-emo", study="default", device="emotibit")
    assert events == [
        EdaSamples(time_ns=1_726_714_786_598_369_000, sampling_rate=15.0,
                   values_us=(0.030269, 0.0303), **ids),
        Waveform(time_ns=1_726_714_786_600_000_000, kind=WaveformKind.PPG, sampling_rate=25.0,
                 values=(169093.0, 169120.0), **ids),
        EdaSamples(time_ns=1_726_714_786_731_000_000, sampling_rate=15.0, values_us=(0.0304,),
                   **ids),
        Beat(time_ns=1_726_714_787 * NS, rr_ms=812.5, source=BeatSource.FILE, **ids),
        HeartRate(time_ns=1_726_714_787 * NS, bpm=72.0, **ids),
        Marker(time_ns=1_726_714_788 * NS, action=MarkerAction.EVENT, kind="note",
               note="start of massage, left cheek", **ids),
    ]  # fmt: skip
    assert stats.notes == [f"{BASE}_AX.csv: type tag AX has no event type, skipped"]


def test_rates_come_from_the_info_file(tmp_path: Path) -> None:
    info = [{"info": {"typeTags": ["EA"], "nominal_srate": 25}}]
    events, _ = _read(
        _folder(tmp_path / "p-emo", {f"{BASE}_EA.csv": FILES[f"{BASE}_EA.csv"]}, info)
    )
    assert {e.sampling_rate for e in events if isinstance(e, EdaSamples)} == {25.0}
    events, stats = _read(
        _folder(tmp_path / "p-em2", {f"{BASE}_EA.csv": FILES[f"{BASE}_EA.csv"]}, None)
    )
    assert {e.sampling_rate for e in events if isinstance(e, EdaSamples)} == {15.0}
    assert stats.notes == [f"{BASE}_info.json not found: stock rates used (EDA 15 Hz, PPG 25 Hz)"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", None, "empty file"),
        ("time,EA\n1,2\n", 1, "is not the DataParser header"),
        (f"{HEADER},EA\n1726714786.5,5,1,1,PI,1,100,0.03\n", 2, "type tag 'PI' in a EA file"),
        (f"{HEADER},EA\n1726714786.5,5,1,1,EA,1,100,wet\n", 2, "EA value 'wet' is not a number"),
        (f"{HEADER},EA\n1726714786.5,5,1,1,EA,1,100,-4\n", 2, "outside the plausible range"),
        (f"{HEADER},EA\n1726714786.5,5,1,1,EA\n", 2, "5 fields, header has 8 (truncated?)"),
        (f"{HEADER},EA\n1726714786.5,5,1,1,EA,1,100,0.03\n1726714780,5,2,1,EA,1,100,0.03\n", 3,
         "time goes backwards"),
        (f"{HEADER},EA\n565464.0,5,1,1,EA,1,100,0.03\n", 2, "not a Unix time between 1990"),
    ],
)  # fmt: skip
def test_malformed_files_name_file_line_and_problem(
    tmp_path: Path, text: str, line: int | None, message: str
) -> None:
    folder = tmp_path / "p-emo"
    folder.mkdir()
    path = folder / f"{BASE}_EA.csv"
    path.write_text(text)
    with pytest.raises(ImportFormatError) as exc:
        _read(path)
    assert exc.value.path == str(path)
    assert exc.value.line == line
    assert message in exc.value.problem


def test_skip_bad_rows_counts_them(tmp_path: Path) -> None:
    text = (
        f"{HEADER},HR\n1726714787.0,5,1,1,HR,1,100,72\n"
        "1726714788.0,5,2,1,HR,1,100,?\n1726714789.0,5,3,1,HR,1,100,74\n"
    )
    events, stats = _read(
        _folder(tmp_path / "p-emo", {f"{BASE}_HR.csv": text}), ImportOptions(skip_bad_rows=True)
    )
    assert [e.bpm for e in events if isinstance(e, HeartRate)] == [72.0, 74.0]
    assert stats.skipped == 1


def test_detection(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "p-emo", FILES)
    assert [(r.paths, r.format.name) for r in find_recordings([folder])] == [
        ((folder,), "emotibit")
    ]
