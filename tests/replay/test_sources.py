"""Which recordings the command line's paths hold: detection, folders, loose files, names."""

from __future__ import annotations

from pathlib import Path

import pytest
from xdf_writer import XdfWriter

from stresstrack.errors import ImportFormatError, SettingError
from stresstrack.events import Beat
from stresstrack.replay import ImportOptions, ImportStats, find_recordings
from stresstrack.store import Store

T0 = 1_767_603_600
RR = "time,rr_ms\n" + "".join(f"{T0 + i},800\n" for i in range(3))


def _listing(paths: list[Path]) -> list[tuple[tuple[Path, ...], str]]:
    return [(r.paths, r.format.name) for r in find_recordings(paths)]


def _store(path: Path) -> Path:
    with Store(path) as store:
        store.add_events([Beat(time_ns=T0 * 10**9, participant=path.stem, rr_ms=800.0)])
    return path


def _xdf(path: Path) -> Path:
    w = XdfWriter()
    w.stream(1, "rr", "RR", 0, "float32")
    return w.samples(1, [1.0], [[800.0]]).write(path)


def test_a_folder_of_recordings_is_searched_in_name_order(tmp_path: Path) -> None:
    """Stores, XDF files, E4 exports and CSV folders side by side, some one level deeper;
    files that are no recording (a readme) are passed over."""
    root = tmp_path / "study"
    root.mkdir()
    b = _store(root / "b-01.db")
    a = _xdf(root / "a-01.xdf")
    (root / "readme.txt").write_text("study notes\n")
    e4 = root / "c-01"
    e4.mkdir()
    (e4 / "EDA.csv").write_text(f"{T0}\n4\n0.5\n")
    deeper = root / "site-2" / "d-01"
    deeper.mkdir(parents=True)
    (deeper / "rr.csv").write_text(RR)
    (root / ".hidden").mkdir()
    _store(root / ".hidden" / "x.db")
    assert _listing([root]) == [
        ((a,), "xdf"),
        ((b,), "store"),
        ((e4,), "e4"),
        ((deeper,), "csv"),
    ]


def test_loose_files_of_one_format_form_one_recording(tmp_path: Path) -> None:
    rr = tmp_path / "rr.csv"
    rr.write_text(RR)
    hr = tmp_path / "hr.csv"
    hr.write_text(f"time,hr_bpm\n{T0},70\n")
    db = _store(tmp_path / "s-01.db")
    assert _listing([rr, db, hr]) == [((rr, hr), "csv"), ((db,), "store")]


def test_participants_come_from_names_or_the_option(tmp_path: Path) -> None:
    folder = tmp_path / "p-21"
    folder.mkdir()
    (folder / "rr.csv").write_text(RR)
    (recording,) = find_recordings([folder])
    assert recording.participants(ImportOptions()) == ["p-21"]
    assert recording.participants(ImportOptions(participant="x-1")) == ["x-1"]
    named = tmp_path / "Jane Doe"
    named.mkdir()
    (named / "rr.csv").write_text(RR)
    (recording,) = find_recordings([named])
    with pytest.raises(ImportFormatError, match=r"not a pseudonym.*; name the participant$") as err:
        recording.participants(ImportOptions())
    assert err.value.setting == "participant"  # the CLI adds "(--participant)"


def test_stores_name_their_participants(tmp_path: Path) -> None:
    db = _store(tmp_path / "s-07.db")
    (recording,) = find_recordings([db])
    assert recording.participants(ImportOptions()) == ["s-07"]
    assert recording.participants(ImportOptions(participant="other")) == []


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "no such file or folder"),
        ("thing.bin", b"\x00\x01", "unknown format"),
        ("empty", b"", "no recordings found"),
    ],
)
def test_what_is_no_recording_is_a_clear_error(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if name == "empty":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(ImportFormatError) as exc:
        find_recordings([path])
    assert exc.value.path == str(path) and message in exc.value.problem


def test_a_named_format_reads_the_file_and_says_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "p-01" / "export.dat"
    path.parent.mkdir()
    path.write_text("Phone timestamp;Speed\n")
    assert _listing_format([path], "polar") == [((path,), "polar")]
    (recording,) = find_recordings([path], "polar")
    with pytest.raises(ImportFormatError, match="line 1: header 'Phone timestamp;Speed'"):
        list(recording.read(ImportOptions(), ImportStats()))
    with pytest.raises(SettingError, match=r"^format: unknown format 'fit'"):
        find_recordings([path], "fit")


def _listing_format(paths: list[Path], fmt: str) -> list[tuple[tuple[Path, ...], str]]:
    return [(r.paths, r.format.name) for r in find_recordings(paths, fmt)]


def test_the_command_offers_every_format() -> None:
    from stresstrack.cli.replay import FORMAT_NAMES
    from stresstrack.replay import FORMATS

    assert sorted(FORMAT_NAMES) == sorted(FORMATS)
