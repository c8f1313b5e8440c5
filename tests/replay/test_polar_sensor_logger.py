"""Polar Sensor Logger exports: every stream, both PPI layouts, time zones and clear errors.

Headers are the ones real exports carry (see the module docstring of
``stresstrack.replay.polar_sensor_logger`` for where they were verified). Sensor timestamps
count ns from 2000-01-01 (Polar BLE SDK ``TimeSystemExplained.md``); only their differences
are used.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stresstrack.errors import ImportFormatError, SettingError
from stresstrack.events import (
    Beat,
    BeatSource,
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
MS = 1_000_000
# 2026-01-05T09:00:00 in Paris (UTC+1 in winter) is 08:00:00Z.
T0 = 1_767_600_000 * NS
DEVICE = "Polar_H10_A1B2C3D4_20260105_090000"
ECG = (
    "Phone timestamp;sensor timestamp [ns];timestamp [ms];ecg [uV]\n"
    "2026-01-05T09:00:00.100;599616050941733632;0.0;-166\n"
    "2026-01-05T09:00:00.100;599616050949425940;7.692308;-150\n"
    "2026-01-05T09:00:00.100;599616050957118248;15.384616;-120\n"
)
RR = (
    "Phone timestamp;RR-interval [ms]\n"
    "2026-01-05T09:00:01.000;812\n"
    "2026-01-05T09:00:02.000;790\n"
    "2026-01-05T09:00:02.000;805\n"
)
HR = (
    "Phone timestamp;HR [bpm];HRV [ms];Breathing interval [rpm];\n"
    "2026-01-05T09:00:01.000;74\n"
    "2026-01-05T09:00:02.000;75;12,5;\n"
)
ACC = (
    "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]\n"
    "2026-01-05T09:00:00.100;599616050941733632;1;2;3\n"
)
MARKERS = (
    "Phone timestamp;Marker start/stop\n"
    "2026-01-05T09:00:00.500;MARKER_START\n"
    "2026-01-05T09:00:03.000;MARKER_STOP\n"
)


def _folder(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def _read(path: Path, **options: object) -> tuple[list[Event], ImportStats]:
    stats = ImportStats()
    opts = ImportOptions(**{"timezone": "Europe/Paris", **options})  # type: ignore[arg-type]
    return list(FORMATS["polar"].read([path], opts, stats)), stats


def test_h10_export_decodes_ecg_rr_hr_and_markers(tmp_path: Path) -> None:
    """Hand-decoded (phone times in Paris, UTC+1):

    - ECG: 3 samples 7.692308 ms apart on the sensor clock (130 Hz), the first at the phone
      time of the first row, 08:00:00.100Z;
    - RR: one notification at 09:00:01 with 812 ms (the beat at the receive time), one at
      09:00:02 with 790 and 805 ms: the chain (01.000 + 0.790 = 01.790) runs ahead of what
      the receive time allows (02.000 - 0.805 = 01.195), so BeatTimer pulls it back to 01.195;
    - HR: 74 and 75 bpm (the HRV column, with a decimal comma, is not a heart rate);
    - markers: a start and a stop of a "marked" session.
    """
    folder = _folder(
        tmp_path / "p-psl",
        {
            f"{DEVICE}_ECG.txt": ECG,
            f"{DEVICE}_RR.txt": RR,
            f"{DEVICE}_HR.txt": HR,
            f"{DEVICE}_ACC.txt": ACC,
            "MARKER_20260105_090000.txt": MARKERS,
        },
    )
    events, stats = _read(folder)
    ids = EventIds(participant="p-psl", study="default", device=DEVICE)
    marker_ids = EventIds(participant="p-psl", study="default", device="polar-sensor-logger")
    assert events == [
        Waveform(time_ns=T0 + 100 * MS, kind=WaveformKind.ECG, sampling_rate=130.0,
                 values=(-166.0, -150.0, -120.0), **ids),
        Marker(time_ns=T0 + 500 * MS, action=MarkerAction.START, kind="marked", **marker_ids),
        HeartRate(time_ns=T0 + NS, bpm=74.0, **ids),
        Beat(time_ns=T0 + NS, rr_ms=812.0, source=BeatSource.FILE, **ids),
        Beat(time_ns=T0 + 1195 * MS, rr_ms=790.0, source=BeatSource.FILE, **ids),
        HeartRate(time_ns=T0 + 2 * NS, bpm=75.0, **ids),
        Beat(time_ns=T0 + 2 * NS, rr_ms=805.0, source=BeatSource.FILE, **ids),
        Marker(time_ns=T0 + 3 * NS, action=MarkerAction.STOP, kind="marked", **marker_ids),
    ]  # fmt: skip
    assert stats.notes == [f"{DEVICE}_ACC.txt: no event type for this signal, skipped"]


def test_utc_is_the_default_zone(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "p-psl", {f"{DEVICE}_HR.txt": HR})
    events, _ = _read(folder, timezone="UTC")
    assert [e.time_ns for e in events] == [T0 + 3601 * NS, T0 + 3602 * NS]


def test_old_hr_files_hold_rr_intervals_in_extra_columns(tmp_path: Path) -> None:
    """Older versions: 'Phone timestamp;HR [bpm]' and the notification's RR values after."""
    text = (
        "Phone timestamp;HR [bpm]\n"
        "2026-01-05T09:00:01.000;74;812\n"
        "2026-01-05T09:00:02.000;75;790;805\n"
    )
    folder = _folder(tmp_path / "p-psl", {f"{DEVICE}_HR.txt": text})
    events, _ = _read(folder)
    ids = EventIds(participant="p-psl", study="default", device=DEVICE)
    assert events == [
        Beat(time_ns=T0 + NS, rr_ms=812.0, source=BeatSource.FILE, **ids),
        HeartRate(time_ns=T0 + NS, bpm=74.0, **ids),
        Beat(time_ns=T0 + 1195 * MS, rr_ms=790.0, source=BeatSource.FILE, **ids),
        Beat(time_ns=T0 + 2 * NS, rr_ms=805.0, source=BeatSource.FILE, **ids),
        HeartRate(time_ns=T0 + 2 * NS, bpm=75.0, **ids),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Phone timestamp;sensor timestamp [ns];HR [bpm];PP-interval [ms];error estimate [ms];"
        "blocker;skin contact;skin contact supported\n"
        "2026-01-05T09:00:05.000;0;75;800;10;0;1;1\n"
        "2026-01-05T09:00:05.000;0;75;810;10;0;1;1\n",
        "Phone Data RX timestamp;PP-interval [ms];error estimate [ms];blocker;contact;contact;"
        "hr [bpm]\n"
        "2026-01-05T09:00:05.000;800;10;0;1;1;75\n"
        "2026-01-05T09:00:05.000;810;10;0;1;1;75\n",
    ],
    ids=["sensor-column-layout", "rx-layout"],
)
def test_both_ppi_layouts_give_the_same_beats(tmp_path: Path, text: str) -> None:
    folder = _folder(tmp_path / "p-psl", {"Polar_Sense_B5C6D7E8_20260105_090000_PPI.txt": text})
    events, _ = _read(folder)
    ids = EventIds(
        participant="p-psl", study="default", device="Polar_Sense_B5C6D7E8_20260105_090000"
    )
    assert events == [
        Beat(time_ns=T0 + 4190 * MS, rr_ms=800.0, source=BeatSource.PPI, **ids),
        Beat(time_ns=T0 + 5 * NS, rr_ms=810.0, source=BeatSource.PPI, **ids),
    ]


def test_sensor_clock_reset_reanchors_on_the_phone_time(tmp_path: Path) -> None:
    """After a reconnection the H10's clock restarted: the samples follow the phone time."""
    text = (
        "Phone timestamp;sensor timestamp [ns];timestamp [ms];ecg [uV]\n"
        "2026-01-05T09:00:00.000;1000000000;0.0;10\n"
        "2026-01-05T09:00:00.000;1007692308;7.692308;11\n"
        "2026-01-05T09:01:00.000;5000000000;0.0;12\n"
    )
    folder = _folder(tmp_path / "p-psl", {f"{DEVICE}_ECG.txt": text})
    events, _ = _read(folder)
    waves = [e for e in events if isinstance(e, Waveform)]
    assert [(e.time_ns, e.values) for e in waves] == [
        (T0, (10.0, 11.0)),
        (T0 + 60 * NS, (12.0,)),  # a gap: a new chunk, at the phone time
    ]
    assert {e.sampling_rate for e in waves} == {130.0}


@pytest.mark.parametrize(
    ("name", "text", "line", "message"),
    [
        (f"{DEVICE}_HR.txt", "", None, "empty file"),
        (f"{DEVICE}_HR.txt", "Phone timestamp;Speed [km/h]\n", 1, "not a Polar Sensor Logger"),
        (f"{DEVICE}_HR.txt", HR + "yesterday;70\n", 4, "'yesterday' is not a date and time"),
        (f"{DEVICE}_HR.txt", HR + "2026-01-05T09:00:03.000\n", 4, "truncated row"),
        (f"{DEVICE}_HR.txt", HR + "2026-01-05T08:00:03.000;70\n", 4, "time goes backwards"),
        (f"{DEVICE}_HR.txt", HR + "2026-01-05T09:00:03.000;fast\n", 4, "'fast' is not a number"),
        (f"{DEVICE}_RR.txt", RR + "2026-01-05T09:00:03.000;9000\n", 5, "interval (ms) value 9000"),
        (f"{DEVICE}_ECG.txt", ECG + "2026-01-05T09:00:00.100;599616050964810556;23;x\n", 5,
         "ECG value 'x' is not a number"),
        (f"{DEVICE}_ECG.txt", ECG + "2026-01-05T09:00:00.100;5;23;7\n", 5,
         "sensor time goes backwards"),
        ("MARKER_1.txt", "Phone timestamp;Marker start/stop\n2026-01-05T09:00:00;PAUSE\n", 2,
         "is not MARKER_START or MARKER_STOP"),
    ],
)  # fmt: skip
def test_malformed_files_name_file_line_and_problem(
    tmp_path: Path, name: str, text: str, line: int | None, message: str
) -> None:
    folder = tmp_path / "p-psl"
    folder.mkdir()
    (folder / name).write_text(text)
    with pytest.raises(ImportFormatError) as exc:
        _read(folder / name)  # named explicitly: read as Polar Sensor Logger
    assert exc.value.path == str(folder / name)
    assert exc.value.line == line
    assert message in exc.value.problem


def test_skip_bad_rows_counts_them(tmp_path: Path) -> None:
    text = RR + "2026-01-05T09:00:03.000;x\n2026-01-05T09:00:04.000;800\n"
    folder = _folder(tmp_path / "p-psl", {f"{DEVICE}_RR.txt": text})
    events, stats = _read(folder, skip_bad_rows=True)
    assert [e.rr_ms for e in events if isinstance(e, Beat)] == [812.0, 790.0, 805.0, 800.0]
    assert stats.skipped == 1


def test_unknown_time_zone_is_a_clear_error(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "p-psl", {f"{DEVICE}_HR.txt": HR})
    with pytest.raises(SettingError, match=r"^time zone: unknown time zone 'Mars/Olympus'"):
        _read(folder, timezone="Mars/Olympus")


def test_detection_of_files_and_folders(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "p-psl", {f"{DEVICE}_HR.txt": HR, f"{DEVICE}_RR.txt": RR})
    assert [(r.paths, r.format.name) for r in find_recordings([folder])] == [((folder,), "polar")]
    files = (folder / f"{DEVICE}_HR.txt", folder / f"{DEVICE}_RR.txt")
    assert [(r.paths, r.format.name) for r in find_recordings(list(files))] == [(files, "polar")]


def test_waveform_rate_is_fitted_to_the_whole_file(tmp_path: Path) -> None:
    """A real H10 runs at about 130.24 Hz of the phone's clock (issue 12). Sensor timestamps
    rounded to the millisecond, with ±2 ms jitter and 30 rows at the start arriving in a burst
    (stamped 1 ms apart), over 5 min: the rate is the whole file's fit, not the first rows'
    (whose median spacing said 1000 Hz)."""
    import numpy as np

    rng = np.random.default_rng(4)
    n = 130 * 300
    true_ns = np.arange(n) * (NS / 130.24)
    sensor = np.round((true_ns + rng.uniform(-2, 2, n) * MS) / MS) * MS
    sensor[:30] = np.arange(30) * MS  # a burst of buffered samples
    sensor = np.maximum.accumulate(sensor).astype(np.int64) + 599616050941733632
    sensor[1:] = np.maximum(sensor[1:], sensor[:-1] + 1)  # strictly increasing, as devices do
    rows = [
        f"2026-01-05T09:00:00.000;{s};0.0;{v}"
        for s, v in zip(sensor, rng.integers(-200, 200, n), strict=True)
    ]
    header = "Phone timestamp;sensor timestamp [ns];timestamp [ms];ecg [uV]\n"
    folder = _folder(tmp_path / "p-psl", {f"{DEVICE}_ECG.txt": header + "\n".join(rows) + "\n"})
    events, _ = _read(folder)
    rates = {e.sampling_rate for e in events if isinstance(e, Waveform)}
    assert len(rates) == 1
    assert abs(rates.pop() - 130.24) < 0.01
    events, _ = _read(folder, rate=130.0)  # --rate wins
    assert {e.sampling_rate for e in events if isinstance(e, Waveform)} == {130.0}
