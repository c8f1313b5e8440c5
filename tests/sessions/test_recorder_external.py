"""A recorder follows its store: events other writers append (``stresstrack mark``) reach its
pipeline in store order, so live results equal a replay of the store."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stresstrack.events import Event, Marker, MarkerAction
from stresstrack.pipeline.engine import Pipeline, PipelineConfig
from stresstrack.pipeline.results import Session, StressRow
from stresstrack.session.protocol import Phase, Protocol
from stresstrack.session.recorder import Recorder
from stresstrack.simulators.physiology import ParticipantModel, ParticipantParams
from stresstrack.simulators.recording import CLEAN, recording_events
from stresstrack.store.sqlite import Store

NS = 1_000_000_000
T0 = 1_767_603_600 * NS
CONFIG = PipelineConfig(hrv_window_s=30.0, eda_window_s=30.0, baseline_s=60.0, slow_hop_s=30.0)
PROTOCOL = Protocol("rest", (Phase("rest", 240.0),))


def _data(pid: str, seed: int) -> list[Event]:
    model = ParticipantModel(PROTOCOL, ParticipantParams.draw(np.random.default_rng(seed)), seed)
    events = recording_events(pid, model, CLEAN, np.random.default_rng(seed), start_ns=T0, eda_hz=4)
    return [e for e in events if not isinstance(e, Marker)]


def _marker(pid: str, action: MarkerAction, t_s: float, kind: str = "self-care") -> Marker:
    return Marker(
        time_ns=T0 + int(t_s * NS),
        participant=pid,
        study="default",
        device="mark",
        action=action,
        kind=kind,
        mode="solo",
        label="serum",
    )


def _results(store: Store) -> tuple[list[object], list[object], list[Session]]:
    return store.features(), store.stress(), store.sessions()


def _replay(src: Path, dst: Path) -> tuple[list[object], list[object], list[Session]]:
    """What ``stresstrack replay`` does with a store: its events in id order, one pipeline."""
    with Store(src, readonly=True) as s, Store(dst) as out:
        recorder = Recorder(out, Pipeline(CONFIG), batch=500, store_raw=False)
        recorder.emit(list(s.iter_events()))
        recorder.close()
        return _results(out)


class _Interleaving(Store):
    """A store where another writer appends right after each of the recorder's own batches,
    before the recorder reads its rows back (the worst case for telling them apart)."""

    def __init__(self, path: Path, other: Store) -> None:
        super().__init__(path)
        self.other = other
        self.after_next: list[Event] = []

    def add_events(self, events: Sequence[Event], **kwargs: Any) -> list[Event]:
        stored = super().add_events(events, **kwargs)
        if self.after_next:
            self.other.add_events(self.after_next)
            self.after_next = []
        return stored


def test_external_markers_reach_the_live_pipeline_in_store_order(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    Store(path).close()
    other = Store(path)  # `stresstrack mark` in another terminal
    store = _Interleaving(path, other)
    recorder = Recorder(store, Pipeline(CONFIG), batch=1 << 30)
    p1, p2 = _data("P1", 1), _data("P2", 2)
    chunks = [p1[i : i + 60] for i in range(0, len(p1), 60)]
    assert len(chunks) > 6
    for k, chunk in enumerate(chunks):
        recorder.emit(chunk)
        t = (chunk[-1].time_ns - T0) / NS
        if k == 2:  # stored while our batch is pending: before it in the store
            other.add_events([_marker("P1", MarkerAction.START, t)])
        if k == 4:  # stored right after our batch: after it in the store
            store.after_next = [_marker("P1", MarkerAction.STOP, t)]
        if k == 3:  # P2 is not ours yet: its marker waits until P2's first event
            other.add_events([_marker("P2", MarkerAction.START, t, "stressor")])
        if k == 5:
            recorder.emit(p2[:400])
        recorder.flush()
    recorder.emit(p2[400:])
    recorder.close()
    assert recorder.external == 3
    live = _results(store)
    store.close()
    other.close()
    (s1,) = [s for s in live[2] if s.participant == "P1"]
    assert s1.kind == "self-care" and s1.mode == "solo" and s1.end_ns is not None
    (s2,) = [s for s in live[2] if s.participant == "P2"]
    assert (s2.kind, s2.end_ns) == ("stressor", None)
    assert len(live[1]) > 40
    replayed = _replay(path, tmp_path / "replayed.db")
    assert replayed == live


def test_poll_without_own_events_picks_up_markers(tmp_path: Path) -> None:
    """Devices silent (nothing pending): the periodic call still feeds a new marker."""
    path = tmp_path / "s.db"
    with Store(path) as store, Store(path) as other:
        recorder = Recorder(store, Pipeline(CONFIG), participants=["P1"])
        recorder.emit(_data("P1", 3)[:200])
        recorder.flush()
        before = recorder.results
        other.add_events([_marker("P1", MarkerAction.START, 30.0)])
        assert recorder.poll_external() == 1
        assert recorder.poll_external() == 0  # fed once, never twice
        assert recorder.results == before + 1  # the open session
        assert [(s.kind, s.end_ns) for s in store.sessions("P1")] == [("self-care", None)]
        assert store.count("events") == 201  # not stored again


def test_events_stored_before_the_recorder_started_are_not_fed(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path) as store:
        store.add_events([_marker("P1", MarkerAction.START, 1.0)])  # an earlier run's
        recorder = Recorder(store, Pipeline(CONFIG))
        recorder.emit(_data("P1", 4)[:50])
        recorder.close()
        assert recorder.external == 0
        assert store.sessions() == []


@pytest.mark.parametrize("store_raw", [False, True])
def test_replay_and_plain_recording_are_unchanged(tmp_path: Path, store_raw: bool) -> None:
    """Without other writers the recorder gives the same results as the bare pipeline."""
    events = [*_data("P1", 5), _marker("P1", MarkerAction.START, 100.0)]
    events.sort(key=lambda e: e.time_ns)
    with Store(tmp_path / "s.db") as store:
        recorder = Recorder(store, Pipeline(CONFIG), batch=97, store_raw=store_raw)
        recorder.emit(events)
        recorder.close()
        assert recorder.external == 0
        pipe = Pipeline(CONFIG)
        out = pipe.process_many(events) + pipe.finish()
        assert store.stress() == sorted(
            (o for o in out if isinstance(o, StressRow)), key=lambda r: r.time_ns
        )
        assert len(store.stress()) > 30
        assert store.count("events") == (len(events) if store_raw else 0)
