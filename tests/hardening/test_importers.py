"""Issue 16, items 3, 8, 9 and 10: importers against bad data.

Every case comes from the adversarial run on commit 317c45e, where it hung, ran out of memory,
printed a traceback or read nothing without a word. Each must now end quickly with one error
line naming the file (and the line where there is one), or a note for a file it skips.
"""

from __future__ import annotations

import json
import pickle
import re
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from stresstrack.cli import main
from stresstrack.errors import ImportFormatError
from stresstrack.events import Beat
from stresstrack.pipeline.engine import Pipeline
from stresstrack.pipeline.results import FeatureRow
from stresstrack.replay import FORMATS, ImportOptions, ImportStats
from stresstrack.replay.wesad import load_pickle
from stresstrack.store.sqlite import Store

NS = 1_000_000_000
T0 = 1_767_603_600
EMOTIBIT = "LocalTimestamp,EmotiBitTimestamp,PacketNumber,DataLength,TypeTag,ProtocolVersion,"
EMOTIBIT += "DataReliability"
MEMORY_CAP = 1 << 30  # address space of the child process: 1 GiB


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 * MEMORY_CAP, 2 * MEMORY_CAP))


def _replay_in_child(path: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """``stresstrack replay`` in a child with 2 GiB of address space and 120 s at most: on
    the original code these cases ran for minutes and grew past 1.7 GB."""
    cmd = [sys.executable, "-m", "stresstrack", "replay", str(path), "--store", str(out)]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=120, preexec_fn=_limit_memory, check=False
    )


def test_a_timestamp_in_2200_is_an_error_at_its_line(tmp_path: Path) -> None:
    """Item 3: ``rr.csv`` with a row dated 2200 used to run > 60 s at 1.7 GB."""
    rr = tmp_path / "rr.csv"
    rr.write_text(f"time,rr_ms\n{T0},800\n{T0 + 1},800\n7258118000,800\n", encoding="utf-8")
    done = _replay_in_child(rr, tmp_path / "o.db")
    assert done.returncode == 2, done.stderr
    assert f"{rr}, line 4: time '7258118000' is outside 1970-2099" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_gap_of_a_day_costs_no_windows() -> None:
    """Item 3: a 1-day gap made 17,269 empty rows; windows now exist only near data."""
    beats = [Beat(time_ns=(T0 + k) * NS, participant="p", rr_ms=1000.0) for k in range(600)]
    later = T0 + 86_400
    beats += [Beat(time_ns=(later + k) * NS, participant="p", rr_ms=1000.0) for k in range(600)]
    pipeline = Pipeline()
    rows = [
        o for o in pipeline.process_many(beats) + pipeline.finish() if isinstance(o, FeatureRow)
    ]
    # Two 10-minute blocks: windows every 5 s while data lie in the longest window (300 s).
    assert len(rows) <= 2 * (600 + 300) // 5 + 2
    assert {r.time_ns // NS // 86_400 for r in rows} == {T0 // 86_400, later // 86_400}
    assert max(r.time_ns for r in rows) <= (later + 600 + 300) * NS
    assert any(r.time_ns > later * NS for r in rows)


@pytest.mark.parametrize(
    ("fmt", "files", "message"),
    [
        (
            "e4",
            {"EDA.csv": f"{T0}.000000\n0.000000001\n0.5\n0.5\n"},
            "EDA sample rate 1e-09 Hz is outside 1-4000 Hz",
        ),
        (
            "emotibit",
            {
                "r_EA.csv": f"{EMOTIBIT},EA\n{T0}.0,1.000,1,1,EA,1,100,0.03\n",
                "r_info.json": json.dumps([{"info": {"typeTags": ["EA"], "nominal_srate": 1e-9}}]),
            },
            "EDA sample rate 1e-09 Hz is outside",
        ),
        (
            "emotibit",
            {
                "r_EA.csv": f"{EMOTIBIT},EA\n{T0}.0,1.000,1,1,EA,1,100,0.03\n",
                "r_info.json": "[" * 200_000 + "]" * 200_000,
            },
            "unreadable info file",
        ),
        (
            "polar",
            {
                "X_HR.txt": "Phone timestamp;HRV [ms];HR [bpm]\n2026-01-05T09:00:01.000;74\n",
            },
            "line 2: no HR value (column 3 of the header)",
        ),
        (
            "polar",
            {
                "X_ECG.txt": "Phone timestamp;sensor timestamp [ns];timestamp [ms];ecg [uV]\n"
                + "".join(
                    f"2026-01-05T09:00:00.100;{599616050941733632 + k * 1000};0;-166\n"
                    for k in range(20)
                ),
            },
            "ECG sample rate 976562 Hz is outside",
        ),
    ],
    ids=["e4-rate", "emotibit-rate", "emotibit-deep-json", "polar-hr-column", "polar-1mhz"],
)
def test_impossible_rates_and_shapes_are_one_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
    files: dict[str, str],
    message: str,
) -> None:
    """Items 3, 9 and 11: rates of 1e-9 Hz or 1 MHz, a 200,000-deep JSON, a missing column."""
    folder = tmp_path / "p-1"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    with pytest.raises(ImportFormatError, match=re.escape(message)):
        list(FORMATS[fmt].read([folder], ImportOptions(), ImportStats()))
    assert main(["replay", str(folder), "--format", fmt, "--store", str(tmp_path / "o.db")]) == 2
    assert message in capsys.readouterr().err


def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_e4_zip_bombs_and_corrupt_members_are_refused(tmp_path: Path) -> None:
    """Item 10: a ~1 MB zip holding a 1 GiB line was read at 2.3 GB; a small zip expanding
    to 52 M samples ran > 90 s; item 9: a corrupt LZMA member gave a traceback."""
    line = _zip(tmp_path / "line.zip", {"EDA.csv": f"{T0}\n4\n".encode() + b"5" * (1 << 30)})
    samples = _zip(
        tmp_path / "samples.zip", {"EDA.csv": f"{T0}\n4\n".encode() + b"0.5\n" * 52_000_000}
    )
    lz = _zip(
        tmp_path / "lz.zip", {"EDA.csv": f"{T0}\n4\n".encode() + b"0.5\n" * 1000}, zipfile.ZIP_LZMA
    )
    with zipfile.ZipFile(lz) as z:
        info = z.getinfo("EDA.csv")
    raw = bytearray(lz.read_bytes())
    data = info.header_offset + 30 + len(info.filename) + len(info.extra)  # APPNOTE 4.3.7
    raw[data + 12 : data + 52] = b"\xff" * 40  # inside the LZMA stream, past its header
    lz.write_bytes(bytes(raw))
    for path, message in ((line, "refused"), (samples, "refused"), (lz, "cannot read")):
        with pytest.raises(ImportFormatError) as info:
            list(FORMATS["e4"].read([path], ImportOptions(participant="p-1"), ImportStats()))
        assert message in str(info.value)[:300], str(info.value)[:300]  # never 1 GiB of text


def test_a_pickle_cannot_request_any_allocation(tmp_path: Path) -> None:
    """Item 10: a 60-byte pickle (``bytearray(2**40)``) asked for a terabyte."""
    path = tmp_path / "S2.pkl"
    path.write_bytes(
        b"\x80\x02c__builtin__\nbytearray\nq\x00\x8a\x06\x00\x00\x00\x00\x00\x01\x85R."
    )
    assert len(path.read_bytes()) < 60
    with pytest.raises(ImportFormatError, match="asks for 1099511627776 elements"):
        load_pickle(path)
    arrays = {"a": np.arange(1000.0), "b": [1, 2, 3], "c": {"x": np.zeros((10, 3))}}
    path.write_bytes(pickle.dumps(arrays, protocol=2))
    back = load_pickle(path)
    assert np.array_equal(back["a"], arrays["a"]) and back["b"] == [1, 2, 3]


@pytest.mark.parametrize(
    ("fmt", "name", "data"),
    [
        ("csv", "rr.csv", b""),
        ("csv", "rr.csv", bytes(range(256)) * 2),
        ("csv", "rr.csv", "time,rr_ms\n1767603600,800\n".encode("utf-16")),
        ("polar", "X_RR.txt", b""),
        ("polar", "X_RR.txt", bytes(range(256)) * 2),
        ("polar", "X_RR.txt", "Phone timestamp;RR-interval [ms]\n".encode("utf-16")),
        ("emotibit", "r_EA.csv", b""),
        ("emotibit", "r_EA.csv", bytes(range(256)) * 2),
        ("emotibit", "r_EA.csv", f"{EMOTIBIT},EA\n".encode("utf-16")),
    ],
)
def test_corrupt_files_in_a_folder_are_never_skipped_silently(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str, name: str, data: bytes
) -> None:
    """Item 8: an empty, random or UTF-16 file beside a good one: exit 0, 0 beats, no note."""
    good = {
        "csv": ("hr.csv", f"time,hr_bpm\n{T0},70\n{T0 + 1},71\n"),
        "polar": ("X_HR.txt", "Phone timestamp;HR [bpm]\n2026-01-05T09:00:01.000;74\n"),
        "emotibit": ("r_HR.csv", f"{EMOTIBIT},HR\n{T0}.0,1.000,1,1,HR,1,100,72\n"),
    }[fmt]
    folder = tmp_path / "p-1"
    folder.mkdir()
    (folder / name).write_bytes(data)
    (folder / good[0]).write_text(good[1], encoding="utf-8")
    out = tmp_path / "o.db"
    main(["replay", str(folder), "--format", fmt, "--store", str(out)])
    err = capsys.readouterr().err
    assert f"{name}: not " in err and "skipped" in err, err


def test_an_xdf_datetime_in_year_9999_is_one_error(tmp_path: Path) -> None:
    """Item 9: ``<datetime>9999-12-31T23:59:59-12:00`` raised OverflowError."""
    from replay.xdf_writer import FILE_HEADER, MAGIC, chunk

    header = b'<?xml version="1.0"?><info><version>1.0</version>'
    header += b"<datetime>9999-12-31T23:59:59-12:00</datetime></info>"
    path = tmp_path / "s.xdf"
    path.write_bytes(MAGIC + chunk(FILE_HEADER, header))
    with pytest.raises(ImportFormatError, match="datetime"):
        list(FORMATS["xdf"].read([path], ImportOptions(participant="p-1"), ImportStats()))


@pytest.mark.parametrize(
    "argv",
    [
        ["replay", "x.csv", "--hop", "inf"],
        ["replay", "x.csv", "--hrv-window", "inf"],
        ["replay", "x.csv", "--hop", "1e300"],
        ["collect", "--simulate", "1", "--duration", "inf"],
        ["analyze", "s.db", "--pre", "inf"],
        ["analyze", "s.db", "--pre", "nan"],
        [
            "influx",
            "setup",
            "--influx-url",
            "http://127.0.0.1:9",
            "--influx-bucket",
            "b",
            "--backfill-hours",
            "inf",
        ],
    ],
)
def test_infinite_option_values_are_one_error_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 9: ``inf`` for any duration or window gave an OverflowError traceback."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "is not a finite number" in capsys.readouterr().err


@pytest.mark.parametrize("wait", ["nan", "inf", "-1"])
def test_publish_wait_must_be_a_finite_duration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], wait: str
) -> None:
    """Item 9: ``--publish-wait nan`` passed the ``< 0`` check, and the final drain of an
    unreachable broker then waited ``nan`` seconds at a time, for ever; ``inf`` for ever too.
    Refused before anything is collected."""
    store = tmp_path / "s.db"
    argv = ["collect", "--simulate", "--participant", "p-1", "--no-consent-check", "--store",
            str(store), "--duration", "1", "--publish", "mqtt://127.0.0.1:9", "--publish-wait",
            wait]  # fmt: skip
    assert main(argv) == 2
    assert "--publish-wait must be a finite number of 0 to 1e+09 seconds" in capsys.readouterr().err
    assert not store.exists()


def test_a_store_holding_an_out_of_limits_event_can_still_be_replayed(tmp_path: Path) -> None:
    """Item 2: a store with a marker that is not valid Unicode (an older release stored
    ``"\\udce9"``) used to make ``sync`` and ``replay`` fail for ever."""
    src = tmp_path / "s.db"
    with Store(src) as store:
        store.add_events(
            [Beat(time_ns=(T0 + k) * NS, participant="p-1", rr_ms=800.0) for k in range(5)]
        )
        store._db.execute(  # as an older release wrote it
            "INSERT INTO events (time_ns, study, participant, device, type, payload) VALUES "
            "(?, 'default', 'p-1', 'mark', 'marker', ?)",
            ((T0 + 2) * NS, '{"action":"start","kind":"self-care \\udce9"}'),
        )
    assert main(["replay", str(src), "--store", str(tmp_path / "o.db")]) == 0
    with Store(tmp_path / "o.db", readonly=True) as out:
        assert out.count("events") == 5
    from stresstrack.sinks.outbox import store_points

    with Store(src, readonly=True) as store:
        points = list(store_points(store))
    assert sum(p.startswith("beat,") for p in points) == 5
    assert all("\udce9" not in p for p in points)


def test_an_xdf_spanning_300_days_replays_in_bounded_memory(tmp_path: Path) -> None:
    """Item 3: an XDF recording whose streams span 300 days ran out of memory (MemoryError)
    on 317c45e. In a child process capped at 2 GiB of address space it now ends within the
    time limit, with one error line or a store, and never a traceback."""
    from replay.xdf_writer import XdfWriter

    day = 86_400.0
    w = XdfWriter()
    w.stream(1, "Polar H10 RR", "RR", 0, "float32", unit="ms")
    w.stream(2, "EDA band", "GSR", 4, "float32")
    for start in (100.0, 100.0 + 300 * day):
        w.samples(1, [start + 0.8 * k for k in range(60)], [[800.0]] * 60)
        w.samples(
            2, [start + 0.25 * k for k in range(200)], [[2.0 + 0.001 * k] for k in range(200)]
        )
    path = w.write(tmp_path / "p-01.xdf")
    out = tmp_path / "o.db"
    done = _replay_in_child(path, out)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 2), done.stderr
    if done.returncode == 0:
        with Store(out, readonly=True) as s:
            beats = [e for e in s.iter_events() if isinstance(e, Beat)]
        assert len(beats) == 120  # both days' beats, nothing lost across the gap
    else:
        assert str(path) in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("text", "message", "kept"),
    [
        ("Time (s)\tRR (s)\n0.8\t0.8\ninf\t0.8\n", "line 4: time inf s from the start", 1),
        ("Time (s)\tRR (s)\n0.8\t0.8\n1e300\t0.8\n", "line 4: time 1e+300 s from the", 1),
        ("0.8\nnan\n0.8\n", "line 3: RR nan ms outside 200-3000", 2),
    ],
    ids=["time-inf", "time-1e300", "rr-nan"],
)
def test_kubios_times_that_are_not_times_are_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str, kept: int
) -> None:
    """Item 9 in the Kubios RR reader (not in the original run): a time column holding
    ``inf`` or ``1e300`` raised ``OverflowError`` (a traceback); a ``nan`` interval made the
    median ``nan`` and blamed the good line 2 for being 0.8 ms."""
    path = tmp_path / "p-1.txt"
    path.write_text("# KUBIOS RR\n" + text, encoding="utf-8")
    argv = ["replay", str(path), "--format", "kubios", "--start", "2026-01-05T09:00:00Z",
            "--store", str(tmp_path / "o.db")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{path}, {message}" in err and "Traceback" not in err
    assert main([*argv, "--skip-bad-rows"]) == 0
    with Store(tmp_path / "o.db", readonly=True) as store:
        assert [e.rr_ms for e in store.iter_events() if isinstance(e, Beat)] == [800.0] * kept
