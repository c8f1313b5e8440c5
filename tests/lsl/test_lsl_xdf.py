"""``--lsl`` streams recorded as LabRecorder does (XDF) replay to the same results."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pylsl
import pytest
from replay.xdf_writer import FILE_HEADER, MAGIC, SAMPLES, STREAM_HEADER, chunk, samples
from support_protocols import SHORT_PROTOCOL

from stresstrack.cli import main
from stresstrack.events import DeviceStatus
from stresstrack.export.tables import iso_utc
from stresstrack.lsl.outlet import Publisher, PublishingPipeline
from stresstrack.pipeline.engine import PipelineConfig
from stresstrack.session.recorder import Recorder
from stresstrack.simulators.study import StudyPlan, simulate_study
from stresstrack.store.sqlite import Store

DEADLINE_S = 120.0  # generous: a busy 2-core machine (CI)


class _Recorder(threading.Thread):
    """What LabRecorder does for one stream: the full header, then every sample."""

    def __init__(self, info: Any) -> None:
        super().__init__(daemon=True)
        self.inlet = pylsl.StreamInlet(info, max_buflen=36000)
        self.inlet.open_stream(timeout=DEADLINE_S)
        self.header = self.inlet.info(DEADLINE_S).as_xml()
        self.fmt = self.inlet.info().channel_format()
        self.type = self.inlet.info().type()
        self.stamps: list[float] = []
        self.values: list[list[Any]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            s, t = self.inlet.pull_chunk(timeout=0.2, max_samples=8192)
            self.values += s
            self.stamps += t


def _xdf(recorders: list[_Recorder], path: Path) -> None:
    names = {pylsl.cf_string: "string", pylsl.cf_double64: "double64"}
    data = MAGIC + chunk(FILE_HEADER, b'<?xml version="1.0"?><info><version>1.0</version></info>')
    for i, r in enumerate(recorders, start=1):
        data += chunk(STREAM_HEADER, r.header.encode(), i)
        if r.stamps:
            data += chunk(SAMPLES, samples(names[r.fmt], r.stamps, r.values), i)
    path.write_bytes(data)


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """The same keys, the same missing values, numbers equal to 1e-9 (relative)."""
    if a.keys() != b.keys():
        return False
    for k, va in a.items():
        vb = b[k]
        if isinstance(va, float) and isinstance(vb, float):
            if va != pytest.approx(vb, rel=1e-9, nan_ok=True):
                return False
        elif va != vb:
            return False
    return True


@pytest.mark.slow
def test_lsl_streams_recorded_to_xdf_replay_to_the_same_results(tmp_path: Path) -> None:
    """A simulated participant (strap RR + HR, EDA band, protocol markers) is published by
    the publishing pipeline while pylsl inlets record every stream; the XDF file they make
    (pyxdf reads it in ``replay --format xdf``) gives the live run's sessions, every feature
    of every window and the stress index (measured: identical to the last bit)."""
    config = PipelineConfig()
    live = tmp_path / "live.db"
    plan = StudyPlan(participants=1, seed=4, protocol=SHORT_PROTOCOL, prefix=f"x{time.time_ns()}")
    with Store(live) as store:
        rec = Recorder(store, PublishingPipeline(config, publisher=(pub := Publisher())))
        events = []

        class Tap:
            def emit(self, batch: Any) -> None:
                events.extend(batch)

        simulate_study(plan, Tap())
        pub.announce(events)
        infos = [pylsl.resolve_byprop("source_id", s, 1, DEADLINE_S)[0] for s in pub.source_ids]
        recorders = [_Recorder(info) for info in infos]
        for r in recorders:
            r.start()
        rec.emit(events)
        rec.close()
        expected = sum(len(getattr(e, "values_us", ())) or 1 for e in events
                       if not isinstance(e, DeviceStatus))  # fmt: skip
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            got = sum(len(r.stamps) for r in recorders if r.type != "StressIndex")
            if got >= expected:
                break
            time.sleep(0.2)  # polling the recording threads, bounded by the deadline
        for r in recorders:
            r.stop.set()
            r.join()
        live_features = store.features()
        live_sessions = store.sessions()
        live_stress = store.stress()
    from collections import Counter

    kinds = Counter(type(e).__name__ for e in events)
    assert got == expected, ([(r.type, len(r.stamps)) for r in recorders], kinds)
    xdf = tmp_path / "lab.xdf"
    _xdf(recorders, xdf)
    first = min(e.time_ns for e in events if not isinstance(e, DeviceStatus))
    out = tmp_path / "replayed.db"
    pid = events[0].participant
    assert main(["replay", str(xdf), "--format", "xdf", "--participant", pid,
                 "--start", iso_utc(first), "--store", str(out)]) == 0  # fmt: skip
    with Store(out, readonly=True) as replayed:
        features = replayed.features()
        sessions = replayed.sessions()
        stress = replayed.stress()
    assert [(s.kind, s.start_ns, s.end_ns) for s in sessions] == [
        (s.kind, s.start_ns, s.end_ns) for s in live_sessions
    ]
    assert [f.time_ns for f in features] == [f.time_ns for f in live_features]
    assert sum(f.values.get("rmssd_ms") is not None for f in features) > len(features) // 2
    for a, b in zip(features, live_features, strict=True):
        assert _same(a.values, b.values), a.time_ns
    assert sum(s.index is not None for s in stress) > 0
    assert [s.time_ns for s in stress] == [s.time_ns for s in live_stress]
    for x, y in zip(stress, live_stress, strict=True):
        assert _same({"i": x.index, "c": x.confidence, **x.components},
                     {"i": y.index, "c": y.confidence, **y.components}), x.time_ns  # fmt: skip
