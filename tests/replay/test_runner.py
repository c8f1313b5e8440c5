"""Replaying recordings: parallel equals sequential, shared participants, failures, pacing."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from stresstrack.cli import main
from stresstrack.events import Beat, EdaSamples, Event, Marker, MarkerAction
from stresstrack.pipeline.engine import PipelineConfig
from stresstrack.replay import (
    ImportOptions,
    RecordingResult,
    find_recordings,
    format_summary,
    group_recordings,
    pace,
    replay_recordings,
)
from stresstrack.session.protocol import Phase, Protocol
from stresstrack.simulators.physiology import (
    ParticipantModel,
    ParticipantParams,
    simulate_beats,
    simulate_eda,
)
from stresstrack.store import Store

NS = 1_000_000_000
T0 = 1_767_603_600 * NS
PROTOCOL = Protocol("short", (Phase("baseline", 150.0), Phase("stressor", 150.0)))


def _events(pid: str, seed: int, offset_s: float = 0.0) -> list[Event]:
    """A simulated participant's beats, EDA at 4 Hz and phase markers, in time order."""
    model = ParticipantModel(PROTOCOL, ParticipantParams.draw(np.random.default_rng(seed)), seed)
    start = T0 + round(offset_s * NS)
    bt, rr = simulate_beats(model)
    et, eda = simulate_eda(model, 4.0)
    events: list[Event] = [
        Beat(time_ns=start + round(t * NS), participant=pid, rr_ms=float(r))
        for t, r in zip(bt, rr, strict=True)
    ]
    events += [
        EdaSamples(time_ns=start + round(et[i] * NS), participant=pid, sampling_rate=4.0,
                   values_us=tuple(float(v) for v in eda[i : i + 4]))
        for i in range(0, eda.size, 4)
    ]  # fmt: skip
    for begin, end, phase in PROTOCOL.phase_bounds():
        for action, t in ((MarkerAction.START, begin), (MarkerAction.STOP, end)):
            events.append(
                Marker(
                    time_ns=start + round(t * NS), participant=pid, action=action, kind=phase.kind
                )
            )
    return sorted(events, key=lambda e: e.time_ns)


def _store(path: Path, events: list[Event]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with Store(path) as store:
        store.add_events(events)
    return path


def _rows(path: Path) -> dict[str, list[object]]:
    with Store(path, readonly=True) as store:
        return {
            "events": list(store.iter_events()),
            "features": list(store.features()),
            "stress": list(store.stress()),
            "sessions": list(store.sessions()),
        }


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three recordings: p-01's session split over two stores, and p-02 alone."""
    root = tmp_path_factory.mktemp("recordings")
    p1 = _events("p-01", 1)
    half = len(p1) // 2
    _store(root / "a.db", p1[:half])
    _store(root / "b.db", p1[half:])
    _store(root / "c.db", _events("p-02", 2))
    return root


def test_recordings_sharing_a_participant_are_grouped(folder: Path) -> None:
    recordings = find_recordings([folder])
    assert [r.paths[0].name for r in recordings] == ["a.db", "b.db", "c.db"]
    assert group_recordings(recordings, ImportOptions()) == [[0, 1], [2]]


def test_parallel_replay_equals_sequential_replay(folder: Path, tmp_path: Path) -> None:
    recordings = find_recordings([folder])
    config, options = PipelineConfig(), ImportOptions()
    parallel = replay_recordings(recordings, tmp_path / "par.db", config, options, workers=2)
    sequential = replay_recordings(recordings, tmp_path / "seq.db", config, options, workers=1)
    par, seq = _rows(tmp_path / "par.db"), _rows(tmp_path / "seq.db")
    assert len(seq["features"]) > 50 and len(seq["sessions"]) == 4
    assert par == seq
    assert [(r.participants, r.events, r.windows, r.error) for r in parallel] == [
        (r.participants, r.events, r.windows, r.error) for r in sequential
    ]
    assert sum(r.windows for r in parallel) == len(par["features"])
    assert not list(tmp_path.glob(".par.db.parts-*"))  # temporary stores are removed


def test_workers_start_cleanly_beside_other_threads(folder: Path, tmp_path: Path) -> None:
    """With another thread running (as the InfluxDB replica does), workers come from a
    fork server, and the rows are the same."""
    config, options = PipelineConfig(), ImportOptions()
    recordings = find_recordings([folder])
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        replay_recordings(recordings, tmp_path / "threads.db", config, options, workers=2)
    finally:
        stop.set()
        other.join()
    replay_recordings(recordings, tmp_path / "seq.db", config, options)
    assert _rows(tmp_path / "threads.db") == _rows(tmp_path / "seq.db")


def test_each_recording_alone_gives_the_same_rows(folder: Path, tmp_path: Path) -> None:
    """p-02's recording replayed alone gives exactly its rows of the folder replay."""
    config, options = PipelineConfig(), ImportOptions()
    recordings = find_recordings([folder])
    replay_recordings(recordings, tmp_path / "all.db", config, options, workers=2)
    replay_recordings(find_recordings([folder / "c.db"]), tmp_path / "c.db", config, options)
    with Store(tmp_path / "all.db", readonly=True) as a, Store(tmp_path / "c.db") as c:
        assert a.features("p-02") == c.features() and len(c.features()) > 40
        assert a.stress("p-02") == c.stress()
        assert a.sessions("p-02") == c.sessions()


def test_a_bad_recording_does_not_stop_the_others(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "mixed"
    root.mkdir()
    (root / "c.db").write_bytes((folder / "c.db").read_bytes())
    bad = root / "p-03"
    bad.mkdir()
    rows = "".join(f"{T0 // NS + i},{800 + i % 7}\n" for i in range(30))
    (bad / "rr.csv").write_text("time,rr_ms\n" + rows + "later,800\n")
    out = tmp_path / "out.db"
    assert main(["replay", str(root), "--store", str(out), "--workers", "2"]) == 1
    captured = capsys.readouterr()
    assert f"{bad / 'rr.csv'}, line 32: time 'later' is neither Unix seconds nor ISO 8601" in (
        captured.out
    )
    assert "1 recording(s) failed" in captured.err
    with Store(out, readonly=True) as store:
        assert store.participants() == ["p-02", "p-03"]
        assert (
            sum(isinstance(e, Beat) for e in store.iter_events() if e.participant == "p-03") == 30
        )
        assert len(store.features("p-02")) > 40


def test_summary_table() -> None:
    ok = RecordingResult(
        "rec/a.db", "store", ["p-01"], events=1200, windows=60, first_ns=0, last_ns=3_723 * NS
    )
    bad = RecordingResult("rec/b", "e4", ["p-02"], events=10, skipped=2, error="rec/b/EDA.csv: x")
    assert format_summary([ok, bad]).splitlines() == [
        "recording  participant  format  duration  events  windows  errors",
        "rec/a.db   p-01         store    1:02:03    1200       60  -",
        "rec/b      p-02         e4       0:00:00      10        0  "
        "rec/b/EDA.csv: x; 2 bad rows skipped",
    ]


class _FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def _beats(*times_s: float) -> list[Event]:
    return [Beat(time_ns=T0 + round(t * NS), participant="p", rr_ms=800.0) for t in times_s]


@pytest.mark.parametrize(
    ("speed", "sleeps"),
    [
        (1.0, [1.0, 2.0]),  # real time: due 1 s and 3 s after the start
        (4.0, [0.25, 0.5]),
        (0.0, []),  # as fast as possible
    ],
)
def test_pace_lets_events_through_when_due(speed: float, sleeps: list[float]) -> None:
    fake = _FakeTime()
    flushed: list[float] = []
    events = _beats(0.0, 1.0, 0.5, 3.0)  # the third steps back: no wait for it
    out = list(
        pace(
            events,
            speed,
            on_wait=lambda: flushed.append(fake.now),
            clock=fake.clock,
            sleep=fake.sleep,
        )
    )
    assert out == events
    assert fake.sleeps == sleeps
    assert len(flushed) == len(sleeps)


def test_negative_speed_is_refused() -> None:
    with pytest.raises(ValueError, match="speed must be 0"):
        list(pace(_beats(0.0), -1.0))


def test_cli_speed_gives_the_same_rows(folder: Path, tmp_path: Path) -> None:
    """A short store at 600 times real time (its 10 s of data take about 1/60 s)."""
    short = _store(
        tmp_path / "short.db", [e for e in _events("p-09", 9) if e.time_ns < T0 + 10 * NS]
    )
    assert main(["replay", str(short), "--store", str(tmp_path / "fast.db")]) == 0
    assert (
        main(["replay", str(short), "--store", str(tmp_path / "paced.db"), "--speed", "600"]) == 0
    )
    assert _rows(tmp_path / "fast.db") == _rows(tmp_path / "paced.db")


def test_progress_goes_to_stderr_and_summary_to_stdout(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(folder), "--store", str(tmp_path / "o.db"), "--workers", "2"]) == 0
    captured = capsys.readouterr()
    assert "replaying 3 recording(s) [" in captured.err and "done in" in captured.err
    lines = captured.out.splitlines()
    assert lines[0].split() == [
        "recording", "participant", "format", "duration", "events", "windows", "errors"
    ]  # fmt: skip
    assert [line.split()[1:3] for line in lines[1:4]] == [
        ["p-01", "store"], ["p-01", "store"], ["p-02", "store"]
    ]  # fmt: skip
    assert "replayed 3 recording(s)" in captured.out


def test_each_event_is_checked_once(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner checks every event against the limits (an event outside them ends the
    recording with an error) and the recorder trusts it: a week's replay spent ~6 % of its
    CPU checking each event twice."""
    import stresstrack.limits
    import stresstrack.replay.runner
    import stresstrack.session.recorder

    recordings = find_recordings([folder / "c.db"])
    calls: list[int] = []
    real = stresstrack.limits.check_event

    def counting(event: Event, *, now_ns: int | None = None) -> Event:
        calls.append(event.time_ns)
        return real(event, now_ns=now_ns)

    monkeypatch.setattr(stresstrack.replay.runner, "check_event", counting)
    monkeypatch.setattr(stresstrack.session.recorder, "check_event", counting)
    (result,) = replay_recordings(recordings, tmp_path / "once.db", PipelineConfig(),
                                  ImportOptions())  # fmt: skip
    assert result.error is None and len(calls) == result.events > 500
    assert len(_rows(tmp_path / "once.db")["features"]) == result.windows > 40
