"""Empatica E4 session exports: folder and zip, every signal, tags, and clear errors.

The fixture follows the layout of E4 connect exports (``info.txt`` of every export, and the
files in github.com/im-ethz/flirt ``test/wearable-data/empatica``): start time and rate on
the first two lines; IBI.csv starts with ``<start>, IBI``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from stresstrack.cli import main
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
from stresstrack.store import Store

NS = 1_000_000_000
START = 1_560_279_825  # 2019-06-11T19:03:45Z, the start of the flirt sample export
FILES = {
    "EDA.csv": f"{START}.000000\n4.000000\n0.5\n0.51\n0.52\n0.53\n0.54\n0.55\n",
    "BVP.csv": f"{START}.000000\n64.000000\n1.5\n-2.25\n3.0\n",
    "HR.csv": f"{START + 10}.000000\n1.000000\n93.00\n101.00\n",
    "IBI.csv": f"{START}.000000, IBI\n83.503822,0.609403\n99.973326,0.843789\n",
    "tags.csv": f"{START + 75}.25\n{START + 135}.5\n",
    "TEMP.csv": f"{START}.000000\n4.000000\n33.1\n",
}


def _session(folder: Path, files: dict[str, str] = FILES) -> Path:
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def _read(path: Path, options: ImportOptions | None = None) -> tuple[list[Event], ImportStats]:
    stats = ImportStats()
    return list(FORMATS["e4"].read([path], options or ImportOptions(), stats)), stats


def _expected(pid: str, tags: list[Marker] | None = None) -> list[Event]:
    """Hand-decoded: EDA at 4 Hz in 1 s chunks, BVP at 64 Hz, HR at 1 Hz from START + 10,
    beats at START + offset with IBI × 1000 ms, tags as point markers."""
    ids = EventIds(participant=pid, study="default", device="empatica-e4")
    t = START * NS
    marker = MarkerAction.EVENT
    tags = tags or [
        Marker(time_ns=t + 75_250_000_000, action=marker, kind="tag", note="E4 button press 1",
               **ids),
        Marker(time_ns=t + 135_500_000_000, action=marker, kind="tag", note="E4 button press 2",
               **ids),
    ]  # fmt: skip
    return [
        EdaSamples(time_ns=t, sampling_rate=4.0, values_us=(0.5, 0.51, 0.52, 0.53), **ids),
        Waveform(time_ns=t, kind=WaveformKind.PPG, sampling_rate=64.0, values=(1.5, -2.25, 3.0),
                 **ids),
        EdaSamples(time_ns=t + NS, sampling_rate=4.0, values_us=(0.54, 0.55), **ids),
        HeartRate(time_ns=t + 10 * NS, bpm=93.0, **ids),
        HeartRate(time_ns=t + 11 * NS, bpm=101.0, **ids),
        tags[0],
        Beat(time_ns=t + 83_503_822_000, rr_ms=0.609403 * 1000, source=BeatSource.FILE, **ids),
        Beat(time_ns=t + 99_973_326_000, rr_ms=0.843789 * 1000, source=BeatSource.FILE, **ids),
        tags[1],
    ]  # fmt: skip


def test_folder_decodes_every_signal_in_time_order(tmp_path: Path) -> None:
    events, stats = _read(_session(tmp_path / "p-e4"))
    assert events == _expected("p-e4")
    assert stats.notes == ["TEMP.csv: no event type for this signal, skipped"]
    assert stats.rows == 6 + 3 + 2 + 2 + 2
    assert stats.fraction == 1.0


def test_zip_export_reads_like_the_folder(tmp_path: Path) -> None:
    archive = tmp_path / "1560279825_A01234.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name, text in FILES.items():
            z.writestr(name, text)
    assert [(r.paths, r.format.name) for r in find_recordings([archive])] == [((archive,), "e4")]
    events, _ = _read(archive)
    assert events == _expected("1560279825_A01234")  # participant from the zip's name


def test_tags_pair_up_as_sessions_when_asked(tmp_path: Path) -> None:
    events, _ = _read(_session(tmp_path / "p-e4"), ImportOptions(tag_sessions="self-care"))
    ids = EventIds(participant="p-e4", study="default", device="empatica-e4")
    t = START * NS
    assert [e for e in events if isinstance(e, Marker)] == [
        Marker(time_ns=t + 75_250_000_000, action=MarkerAction.START, kind="self-care",
               note="E4 button press 1", **ids),
        Marker(time_ns=t + 135_500_000_000, action=MarkerAction.STOP, kind="self-care",
               note="E4 button press 2", **ids),
    ]  # fmt: skip


def test_loose_files_form_one_recording(tmp_path: Path) -> None:
    folder = _session(tmp_path / "p-e4")
    recordings = find_recordings([folder / "EDA.csv", folder / "IBI.csv"])
    assert [(r.paths, r.format.name) for r in recordings] == [
        ((folder / "EDA.csv", folder / "IBI.csv"), "e4")
    ]
    events = list(recordings[0].read(ImportOptions(), ImportStats()))
    assert [type(e).__name__ for e in events] == ["EdaSamples", "EdaSamples", "Beat", "Beat"]


@pytest.mark.parametrize(
    ("name", "text", "line", "message"),
    [
        ("EDA.csv", "", None, "empty file"),
        ("EDA.csv", f"{START}\n", None, "truncated: line 2 (the sample rate) is missing"),
        ("EDA.csv", "time,eda\n4\n1\n", 1, "start time 'time' is not a Unix time"),
        ("EDA.csv", "12\n4\n1\n", 1, "not a Unix time between 1990 and 2100"),
        ("EDA.csv", f"{START}\n0\n1\n", 2, "sample rate 0 Hz is impossible"),
        ("EDA.csv", f"{START}\n4\n0.5\nabc\n", 4, "EDA value 'abc' is not a number"),
        ("EDA.csv", f"{START}\n4\n0.5\n500\n", 4, "outside the plausible range 0..100"),
        ("HR.csv", f"{START}\n1\n70\n400\n", 4, "hr_bpm value 400 is outside"),
        ("IBI.csv", f"{START}\n1,0.8\n", 1, "is not '<start time>, IBI'"),
        ("IBI.csv", f"{START}, IBI\n1.0\n", 2, "1 field, expected 'offset_s,ibi_s'"),
        ("IBI.csv", f"{START}, IBI\n2.0,0.8\n1.5,0.8\n", 3, "time goes backwards"),
        ("IBI.csv", f"{START}, IBI\n2.0,8\n", 2, "IBI (ms) value 8000 is outside"),
        ("tags.csv", f"{START + 9}\n{START + 1}\n", 2, "time goes backwards"),
        ("EDA.csv", f"{START}\n4\n0.5\n\xff\n", 4, "not UTF-8 text"),
    ],
)
def test_malformed_files_name_file_line_and_problem(
    tmp_path: Path, name: str, text: str, line: int | None, message: str
) -> None:
    folder = _session(tmp_path / "p-e4", {**FILES, name: ""})
    (folder / name).write_bytes(text.encode("latin-1"))
    with pytest.raises(ImportFormatError) as exc:
        _read(folder)
    assert exc.value.path == str(folder / name)
    assert exc.value.line == line
    assert message in exc.value.problem


def test_skip_bad_rows_keeps_the_sample_grid(tmp_path: Path) -> None:
    eda = f"{START}\n4\n0.5\nx\n0.52\n0.53\n"
    folder = _session(tmp_path / "p-e4", {"EDA.csv": eda})
    events, stats = _read(folder, ImportOptions(skip_bad_rows=True))
    ids = EventIds(participant="p-e4", study="default", device="empatica-e4")
    t = START * NS
    assert events == [
        EdaSamples(time_ns=t, sampling_rate=4.0, values_us=(0.5,), **ids),
        # the bad sample 1 is left out: sample 2 keeps its time, START + 0.5 s
        EdaSamples(time_ns=t + NS // 2, sampling_rate=4.0, values_us=(0.52, 0.53), **ids),
    ]
    assert stats.skipped == 1
    assert stats.skipped_examples == [
        f"{folder / 'EDA.csv'}, line 4: EDA value 'x' is not a number"
    ]


def test_cli_error_names_the_file_and_keeps_what_was_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    eda = f"{START}\n4\n" + "0.5\n" * 40 + "oops\n"
    folder = _session(tmp_path / "p-e4", {**FILES, "EDA.csv": eda})
    out = tmp_path / "out.db"
    assert main(["replay", str(folder), "--store", str(out)]) == 2
    assert f"{folder / 'EDA.csv'}, line 43: EDA value 'oops' is not a number" in (
        capsys.readouterr().err
    )
    with Store(out, readonly=True) as store:
        stored = list(store.iter_events())
    assert sum(len(e.values_us) for e in stored if isinstance(e, EdaSamples)) == 40
