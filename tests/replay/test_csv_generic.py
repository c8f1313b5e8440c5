"""The generic CSV layout: decoded values, timestamps, markers, and clear errors."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stresstrack.cli import main
from stresstrack.errors import ImportFormatError
from stresstrack.events import (
    Beat,
    BeatSource,
    EdaSamples,
    Event,
    HeartRate,
    Marker,
    MarkerAction,
    Waveform,
)
from stresstrack.replay import ImportOptions, ImportStats, iter_source_events
from stresstrack.replay.base import DataFile
from stresstrack.replay.csv_generic import iter_csv_file, read_csv_file
from stresstrack.session.protocol import Phase, Protocol
from stresstrack.simulators.physiology import ParticipantModel, ParticipantParams, simulate_beats
from stresstrack.store import Store

T0 = 1_767_603_600  # 2026-01-05T09:00:00Z
NS = 1_000_000_000
OPTS = ImportOptions(participant="p-07", study="s1")


def _write(path: Path, text: str) -> Path:
    path.write_text(text.lstrip(), encoding="utf-8")
    return path


def test_rr_hr_and_markers_decode(tmp_path: Path) -> None:
    rr = _write(tmp_path / "rr.csv", f"time,rr_ms\n{T0}.5,812.5\n{T0 + 1}.3125,800\n")
    hr = _write(tmp_path / "hr.csv", "time,hr_bpm\n2026-01-05T09:00:01Z,73\n")
    mk = _write(
        tmp_path / "m.csv",
        "time,action,kind,mode,label,note\n"
        '2026-01-05T09:00:00+00:00,start,self-care,partner,serum A,"with, comma"\n'
        "2026-01-05T09:05:00,stop,self-care,,,\n",
    )
    assert read_csv_file(rr, OPTS) == [
        Beat(
            time_ns=(T0 * NS) + NS // 2,
            participant="p-07",
            study="s1",
            device="rr.csv",
            rr_ms=812.5,
            source=BeatSource.FILE,
        ),
        Beat(
            time_ns=(T0 + 1) * NS + 312_500_000,
            participant="p-07",
            study="s1",
            device="rr.csv",
            rr_ms=800.0,
            source=BeatSource.FILE,
        ),
    ]
    assert read_csv_file(hr, OPTS) == [
        HeartRate(time_ns=(T0 + 1) * NS, participant="p-07", study="s1", device="hr.csv", bpm=73.0)
    ]
    assert read_csv_file(mk, OPTS) == [
        Marker(
            time_ns=T0 * NS,
            participant="p-07",
            study="s1",
            device="m.csv",
            action=MarkerAction.START,
            kind="self-care",
            mode="partner",
            label="serum A",
            note="with, comma",
        ),
        Marker(
            time_ns=(T0 + 300) * NS,
            participant="p-07",
            study="s1",
            device="m.csv",
            action=MarkerAction.STOP,
            kind="self-care",
        ),
    ]


def test_eda_is_chunked_at_its_rate_and_at_gaps(tmp_path: Path) -> None:
    rows = [f"{T0 + i / 4},{1.0 + i / 100}" for i in range(10)]
    rows += [f"{T0 + 10 + i / 4},{2.0}" for i in range(3)]  # a 7.75 s gap, then 3 samples
    path = _write(tmp_path / "eda.csv", "time,eda_us\n" + "\n".join(rows) + "\n")
    events = read_csv_file(path, OPTS)
    assert all(isinstance(e, EdaSamples) and e.sampling_rate == 4.0 for e in events)
    assert [(e.time_ns, len(e.values_us)) for e in events if isinstance(e, EdaSamples)] == [
        (T0 * NS, 4),
        ((T0 + 1) * NS, 4),
        ((T0 + 2) * NS, 2),
        ((T0 + 10) * NS, 3),
    ]
    first = events[0]
    assert isinstance(first, EdaSamples) and first.values_us == (1.0, 1.01, 1.02, 1.03)


def test_accelerometer_magnitude_becomes_acc_waveforms(tmp_path: Path) -> None:
    """``acc_mg``: a chest strap's magnitude at 25 Hz, as the multi-day simulator writes it,
    becomes 1 s ACC waveform chunks on the fitted grid; a negative magnitude is an error."""
    rows = [f"{T0 + i / 25:.2f},{1000 + (i % 5)}" for i in range(60)]
    path = _write(tmp_path / "acc.csv", "time,acc_mg\n" + "\n".join(rows) + "\n")
    events = read_csv_file(path, OPTS)
    assert [(e.time_ns, len(e.values)) for e in events if isinstance(e, Waveform)] == [
        (T0 * NS, 25),
        ((T0 + 1) * NS, 25),
        ((T0 + 2) * NS, 10),
    ]
    first = events[0]
    assert isinstance(first, Waveform) and first.kind.value == "acc"
    assert first.sampling_rate == 25.0 and first.values[:6] == (1000, 1001, 1002, 1003, 1004, 1000)
    bad = _write(tmp_path / "bad.csv", f"time,acc_mg\n{T0},1000\n{T0}.04,-3\n")
    with pytest.raises(ImportFormatError, match=r"bad\.csv.*line 3"):
        read_csv_file(bad, OPTS)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", None, "empty file"),
        ("t,rr_ms\n1,800\n", 1, "no 'time' column"),
        ("time,rr_ms,hr_bpm\n1,800,70\n", 1, "exactly one of"),
        ("time,rr_ms\n1,800\n0.5,810\n", 3, "time goes backwards"),
        ("time,rr_ms\n1,800\n2,abc\n", 3, "'abc' is not a number"),
        ("time,rr_ms\n1,800\n2\n", 3, "truncated"),
        ("time,rr_ms\n1,800\n2,99999\n", 3, "plausible range"),
        ("time,rr_ms\n1,800\nyesterday,800\n", 3, "neither Unix seconds nor ISO 8601"),
        ("time,rr_ms\n", None, "no data rows"),
        ("time,action,kind\n1,begin,self-care\n", 2, "not start, stop or event"),
    ],
)
def test_malformed_files_name_file_line_and_problem(
    tmp_path: Path, text: str, line: int | None, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ImportFormatError) as exc:
        read_csv_file(path, OPTS)
    assert exc.value.line == line
    assert message in exc.value.problem
    assert str(exc.value).startswith(f"{path}, line {line}: " if line else f"{path}: ")


def test_skip_bad_rows_counts_them(tmp_path: Path) -> None:
    path = _write(tmp_path / "rr.csv", "time,rr_ms\n1,800\n2,oops\n3,810\n2.5,800\n4,820\n")
    stats = ImportStats()
    events = read_csv_file(path, ImportOptions(participant="p", skip_bad_rows=True), stats)
    assert [e.rr_ms for e in events if isinstance(e, Beat)] == [800.0, 810.0, 820.0]
    assert (stats.rows, stats.skipped) == (3, 2)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=400))
def test_random_bytes_only_raise_the_import_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "random.csv"
    path.write_bytes(b"time,eda_us\n" + data)
    with contextlib.suppress(ImportFormatError):
        read_csv_file(path, OPTS)


def _rest_beats(seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Beat times (s) and RR (ms) of a simulated participant at rest (about 76 bpm)."""
    model = ParticipantModel(Protocol("rest", (Phase("rest", seconds),)), ParticipantParams(), seed)
    return simulate_beats(model)


def test_replay_of_csv_files_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "p-11"
    folder.mkdir()
    times, rrs = _rest_beats(900.0, seed=3)
    rows = "".join(f"{T0 + t:.4f},{rr:.3f}\n" for t, rr in zip(times, rrs, strict=True))
    _write(folder / "rr.csv", "time,rr_ms\n" + rows)
    _write(
        folder / "markers.csv", f"time,action,kind\n{T0},start,baseline\n{T0 + 300},stop,baseline\n"
    )
    out = tmp_path / "out.db"
    assert (
        main(["replay", str(folder / "rr.csv"), str(folder / "markers.csv"), "--store", str(out)])
        == 0
    )
    assert "replayed 1 recording(s)" in capsys.readouterr().out
    with Store(out, readonly=True) as store:
        assert store.participants() == ["p-11"]  # taken from the folder name
        feats = store.features("p-11")
        assert len(feats) > 100
        window = feats[50]
        in_window = (T0 + times > window.time_ns / NS - 60) & (T0 + times <= window.time_ns / NS)
        assert window.values["mean_hr_bpm"] == pytest.approx(
            60_000 / float(np.mean(rrs[in_window])), rel=0.02
        )
        assert window.values["scl_us"] is None and "eda" in window.reasons
        assert [s.kind for s in store.sessions()] == ["baseline"]


def test_a_folder_of_csv_files_is_one_recording(tmp_path: Path) -> None:
    folder = tmp_path / "p-12"
    folder.mkdir()
    _write(folder / "hr.csv", f"time,hr_bpm\n{T0},70\n{T0 + 1},71\n")
    _write(folder / "m.csv", f"time,action,kind\n{T0}.5,event,cough\n")
    (folder / "notes.txt").write_text("not a recording file\n")
    events = list(iter_source_events([folder], ImportOptions(study="s1")))
    ids = {"participant": "p-12", "study": "s1"}
    assert events == [
        HeartRate(time_ns=T0 * NS, device="hr.csv", bpm=70.0, **ids),
        Marker(
            time_ns=T0 * NS + NS // 2,
            device="m.csv",
            action=MarkerAction.EVENT,
            kind="cough",
            **ids,
        ),
        HeartRate(time_ns=(T0 + 1) * NS, device="hr.csv", bpm=71.0, **ids),
    ]


def test_rows_before_a_bad_row_are_handed_on(tmp_path: Path) -> None:
    """A bad row at line 42 of a 4 Hz EDA file: the 40 samples before it come out first."""
    path = _write(
        tmp_path / "eda.csv",
        "time,eda_us\n"
        + "".join(f"{T0 + i / 4},{2 + i / 100}\n" for i in range(40))
        + f"{T0 + 10},x\n",
    )
    out: list[Event] = []
    with pytest.raises(ImportFormatError, match="line 42: eda_us value 'x' is not a number"):
        for event in iter_csv_file(DataFile(path), "p-07", OPTS, ImportStats()):
            out.append(event)
    assert [len(e.values_us) for e in out if isinstance(e, EdaSamples)] == [4] * 10


def test_replay_cli_error_keeps_what_was_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _write(
        tmp_path / "rr.csv", "time,rr_ms\n" + "".join(f"{T0 + i},800\n" for i in range(5))
    )
    bad = _write(
        tmp_path / "eda.csv",
        "time,eda_us\n" + "".join(f"{T0 + i / 4},2\n" for i in range(40)) + f"{T0 + 10},x\n",
    )
    out = tmp_path / "o.db"
    assert main(["replay", str(good), str(bad), "--participant", "p1", "--store", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}, line 42: eda_us value 'x' is not a number" in err
    with Store(out, readonly=True) as store:
        stored = list(store.iter_events())
    assert sum(isinstance(e, Beat) for e in stored) == 5
    assert sum(len(e.values_us) for e in stored if isinstance(e, EdaSamples)) == 40


def test_unknown_source_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "thing.bin"
    path.write_bytes(b"\x00\x01")
    with pytest.raises(ImportFormatError, match="unknown format"):
        list(iter_source_events([path]))


def test_block_reader_and_row_reader_agree_and_bad_rows_name_their_line(tmp_path: Path) -> None:
    """A long EDA file is read in blocks while it is clean; a bad row far in makes the reader
    go on row by row from that block: the error names the row's line, and with
    ``--skip-bad-rows`` the samples are those of the clean file without that row."""
    n, bad = 120_000, 110_000
    rows = [f"{T0 + i / 32:.6f},{2.0 + (i % 97) / 100:.5f}" for i in range(n)]
    (tmp_path / "clean").mkdir()
    (tmp_path / "dirty").mkdir()
    clean = _write(tmp_path / "clean" / "eda.csv", "time,eda_us\n" + "\n".join(rows) + "\n")
    broken = [*rows[:bad], "oops,1.0", *rows[bad:]]
    dirty = _write(tmp_path / "dirty" / "eda.csv", "time,eda_us\n" + "\n".join(broken) + "\n")
    with pytest.raises(ImportFormatError, match=f"line {bad + 2}"):
        read_csv_file(dirty, OPTS)
    ok = read_csv_file(clean, OPTS)
    skipped = read_csv_file(dirty, ImportOptions(participant="p-07", skip_bad_rows=True))
    values = [v for e in ok if isinstance(e, EdaSamples) for v in e.values_us]
    assert [v for e in skipped if isinstance(e, EdaSamples) for v in e.values_us] == values
    assert len(values) == n
    assert ok[0].time_ns == skipped[0].time_ns == round(T0 * 1e9)
    assert abs(ok[-1].time_ns - skipped[-1].time_ns) <= 1e9 / 32


def test_rate_option_overrides_the_fit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--rate`` gives a sampled signal's rate; timestamps then only anchor the grid."""
    rows = [f"{T0 + round(i / 130.24, 3):.3f},{(i % 50) * 10.0}" for i in range(1000)]
    path = _write(tmp_path / "ecg.csv", "time,ecg_uv\n" + "\n".join(rows) + "\n")
    fitted = read_csv_file(path, OPTS)
    given = read_csv_file(path, ImportOptions(participant="p-07", rate=130.0))
    (rate,) = {e.sampling_rate for e in fitted if isinstance(e, Waveform)}
    assert rate == pytest.approx(130.24, abs=1e-3)
    assert {e.sampling_rate for e in given if isinstance(e, Waveform)} == {130.0}
    code = main(["replay", str(path), "--store", str(tmp_path / "o.db"), "--rate", "-5"])
    assert code == 2 and "--rate -5" in capsys.readouterr().err
