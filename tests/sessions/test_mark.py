"""``stresstrack mark`` against a finished recording, its errors, and the live-view hotkeys."""

from __future__ import annotations

import asyncio
import os
import pty
import termios
from pathlib import Path

import numpy as np
import pytest

from stresstrack.cli import main
from stresstrack.cli.mark import HotkeyMarker, parse_mark_time, terminal_keys
from stresstrack.errors import StressTrackError
from stresstrack.events import Event, Marker, MarkerAction
from stresstrack.pipeline.engine import Pipeline, PipelineConfig
from stresstrack.pipeline.results import Session
from stresstrack.session.protocol import Phase, Protocol
from stresstrack.session.recorder import Recorder
from stresstrack.simulators.physiology import ParticipantModel, ParticipantParams
from stresstrack.simulators.recording import CLEAN, recording_events
from stresstrack.store.sqlite import Store

NS = 1_000_000_000
T0 = 1_767_603_600 * NS  # 2026-01-05 09:00:00 UTC
CONFIG = ["--hrv-window", "30", "--eda-window", "30", "--baseline", "60", "--slow-hop", "30"]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 4-minute recording of P1 (no markers), results computed."""
    path = tmp_path_factory.mktemp("mark") / "rec.db"
    model = ParticipantModel(Protocol("rest", (Phase("rest", 240.0),)), ParticipantParams(), 1)
    events = recording_events("P1", model, CLEAN, np.random.default_rng(1), start_ns=T0, eda_hz=4)
    with Store(path) as store:
        store.set_meta("study", "calm")
        config = PipelineConfig(hrv_window_s=30, eda_window_s=30, baseline_s=60, slow_hop_s=30)
        recorder = Recorder(store, Pipeline(config))
        recorder.emit([e for e in events if not isinstance(e, Marker)])
        recorder.close()
    return path


def _copy(src: Path, dst: Path) -> Path:
    with Store(src, readonly=True) as s, Store(dst) as d:
        d.set_meta("study", "calm")
        d.add_events(list(s.iter_events()))
    return dst


def test_mark_a_past_session_then_replay_computes_it(
    recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _copy(recording, tmp_path / "s.db")
    base = ["--participant", "P1", "--store", str(store), "--kind", "self-care"]
    assert main(["mark", "start", *base, "--mode", "partner", "--label", "serum", "--note",
                 "first try", "--time", "2026-01-05T10:01:00+01:00"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert out.startswith(
        "marked start of self-care · partner · serum for P1 at 2026-01-05T09:01:00.000+00:00 in "
    )
    assert "replay the store" in out
    assert main(["mark", "stop", *base, "--time", str((T0 + 150 * NS) / NS)]) == 0
    assert main(["mark", "event", *base[:4], "--kind", "phone-call", "--time", "1767603700"]) == 0
    with Store(store, readonly=True) as s:
        marks = [e for e in s.iter_events() if isinstance(e, Marker)]
    assert marks == [
        Marker(time_ns=T0 + 60 * NS, participant="P1", study="calm", device="mark",
               action=MarkerAction.START, kind="self-care", mode="partner", label="serum",
               note="first try"),
        Marker(time_ns=T0 + 150 * NS, participant="P1", study="calm", device="mark",
               action=MarkerAction.STOP, kind="self-care"),
        Marker(time_ns=T0 + 100 * NS, participant="P1", study="calm", device="mark",
               action=MarkerAction.EVENT, kind="phone-call"),
    ]  # fmt: skip
    replayed = tmp_path / "replayed.db"
    assert main(["replay", str(store), "--store", str(replayed), *CONFIG]) == 0
    with Store(replayed, readonly=True) as r, Store(recording, readonly=True) as orig:
        assert r.sessions() == [
            Session(participant="P1", study="calm", kind="self-care", start_ns=T0 + 60 * NS,
                    end_ns=T0 + 150 * NS, mode="partner", label="serum", note="first try")
        ]  # fmt: skip
        assert r.stress() == orig.stress()  # markers change sessions, not the index


def test_mark_errors_are_clear(
    recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _copy(recording, tmp_path / "s.db")
    cases = [
        (["--participant", "P1", "--store", str(tmp_path / "none.db")], "none.db: no such store"),
        (["--participant", "P9", "--store", str(store)],
         "participant P9 has no data in " + str(store) + " (participants: P1); check the ID"),
        (["--participant", "P1", "--store", str(store), "--time", "2026-01-05 10:00"],
         "has no time zone"),
        (["--participant", "P1", "--store", str(store), "--time", "yesterday"],
         "is neither ISO 8601"),
        (["--participant", "P1", "--store", str(store), "--time", "4102444800"],
         "is in the future"),
        (["--participant", "P1", "--store", str(store), "--kind", " "], "--kind is empty"),
    ]  # fmt: skip
    for args, message in cases:
        kind = [] if "--kind" in args else ["--kind", "self-care"]
        assert main(["mark", "start", *kind, *args]) == 2, args
        assert message in capsys.readouterr().err, args
    with Store(store, readonly=True) as s:
        assert not [e for e in s.iter_events() if isinstance(e, Marker)]
    with pytest.raises(SystemExit):
        main(["mark", "start", "--kind", "x", "--participant", "P1", "--mode", "group"])
    assert main(["mark", "start", "--kind", "baseline", "--participant", "P9", "--store",
                 str(store), "--allow-unknown"]) == 0  # fmt: skip


def test_parse_mark_time() -> None:
    now = 2 * 10**18
    assert parse_mark_time("2026-01-05T09:00:00Z", now_ns=now) == T0
    assert parse_mark_time("1767603600.5", now_ns=now) == T0 + NS // 2
    with pytest.raises(StressTrackError, match="not a valid Unix time"):
        parse_mark_time("-5", now_ns=now)


class _Clock:
    def __init__(self) -> None:
        self.t = T0

    def now_ns(self) -> int:
        self.t += NS
        return self.t


class _Sink:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, events: list[Event]) -> None:
        self.events.extend(events)


def test_hotkeys_start_and_end_a_session() -> None:
    sink, said = _Sink(), []
    keys = HotkeyMarker(
        sink, _Clock(), participant="P1", study="calm", mode="solo", say=said.append
    )
    assert keys.press("x") is None and keys.press("e") is None  # nothing open to end
    started = keys.press("s")
    assert keys.press("s") is None  # already open
    ended = keys.press("e")
    keys.press("s")
    closed = keys.close_open()
    assert keys.close_open() is None
    common = {"participant": "P1", "study": "calm", "device": "keyboard", "kind": "self-care",
              "mode": "solo"}  # fmt: skip
    assert sink.events == [
        Marker(time_ns=T0 + NS, action=MarkerAction.START, **common),
        Marker(time_ns=T0 + 2 * NS, action=MarkerAction.STOP, **common),
        Marker(time_ns=T0 + 3 * NS, action=MarkerAction.START, **common),
        Marker(time_ns=T0 + 4 * NS, action=MarkerAction.STOP, note="collection stopped", **common),
    ]
    assert [started, ended, closed] == [sink.events[0], sink.events[1], sink.events[3]]
    assert said[0] == "self-care session started at 2026-01-05T09:00:01.000+00:00 (key)"


async def test_terminal_keys_reads_single_keys_from_a_terminal() -> None:
    """In cbreak mode keys arrive without Enter; the terminal is restored afterwards."""
    controller, terminal = pty.openpty()
    try:
        saved = termios.tcgetattr(terminal)
        got: list[str] = []
        arrived = asyncio.Event()

        def on_key(k: str) -> None:
            got.append(k)
            if len(got) == 2:
                arrived.set()

        with terminal_keys(on_key, fd=terminal) as active:
            assert active
            assert not termios.tcgetattr(terminal)[3] & termios.ICANON
            os.write(controller, b"se")
            await asyncio.wait_for(arrived.wait(), 5.0)
        assert got == ["s", "e"]
        assert termios.tcgetattr(terminal) == saved
        r, w = os.pipe()
        with terminal_keys(on_key, fd=r) as active:
            assert not active  # not a terminal: nothing to do
        os.close(r)
        os.close(w)
    finally:
        os.close(controller)
        os.close(terminal)
