"""``--lsl`` outlets, read back by a real pylsl inlet (liblsl on loopback)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pylsl
import pytest

from stresstrack.events import (
    Beat,
    EdaSamples,
    Event,
    HeartRate,
    Marker,
    MarkerAction,
    Waveform,
    WaveformKind,
)
from stresstrack.lsl.outlet import Publisher
from stresstrack.lsl.streams import STRESS_CHANNELS
from stresstrack.pipeline.results import StressRow
from stresstrack.store.sqlite import Store

NS = 1_000_000_000
DEADLINE_S = 120.0  # generous: a busy 2-core machine (CI)


def _inlet(source_id: str) -> pylsl.StreamInlet:
    found = pylsl.resolve_byprop("source_id", source_id, 1, DEADLINE_S)
    assert found, f"stream {source_id} not resolved"
    inlet = pylsl.StreamInlet(found[0])
    inlet.open_stream(timeout=DEADLINE_S)
    return inlet


def _pull(inlet: pylsl.StreamInlet, n: int) -> tuple[list[list[object]], list[float]]:
    samples: list[list[object]] = []
    stamps: list[float] = []
    deadline = time.monotonic() + DEADLINE_S
    while len(samples) < n and time.monotonic() < deadline:
        s, t = inlet.pull_chunk(timeout=0.5)
        samples += s
        stamps += t
    return samples, stamps


def _channels(info: pylsl.StreamInfo) -> list[tuple[str, str]]:
    out = []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty():
        out.append((ch.child_value("label"), ch.child_value("unit")))
        ch = ch.next_sibling()
    return out


def test_outlet_streams_resolve_with_metadata_and_values() -> None:
    """Each signal's stream is found by its stable source id; a pylsl inlet reads its type,
    rate, channel labels and units, the participant's pseudonym and the values, with time
    stamps that keep the events' spacing."""
    study = f"t{uuid.uuid4().hex[:8]}"
    ids = {"participant": "P007", "study": study, "device": "C6:05:04:03:02:01"}
    t0 = time.time_ns()
    first: list[Event] = [
        Beat(time_ns=t0, rr_ms=812.5, **ids),
        HeartRate(time_ns=t0, bpm=71.0, **ids),
        EdaSamples(time_ns=t0, sampling_rate=4.0, values_us=(2.0,), **ids),
        Waveform(time_ns=t0, kind=WaveformKind.ECG, sampling_rate=130.0, values=(1.0,), **ids),
        Marker(time_ns=t0, action=MarkerAction.EVENT, kind="hello", **ids),
    ]
    pub = Publisher()
    pub.events(first)
    row = StressRow(
        time_ns=t0, participant="P007", study=study, index=55.0, confidence=0.8,
        components={"rmssd": 0.5}, version="v",
    )  # fmt: skip
    pub.stress([row])
    prefix = f"stresstrack/{study}/P007/C6:05:04:03:02:01/"
    inlets = {s: _inlet(prefix + s) for s in ("rr", "hr", "eda", "ecg", "markers")}
    inlets["stress"] = _inlet(f"stresstrack/{study}/P007/pipeline/stress")

    info = inlets["eda"].info(DEADLINE_S)
    assert (info.type(), info.nominal_srate(), info.channel_count()) == ("EDA", 4.0, 1)
    assert _channels(info) == [("EDA", "microsiemens")]
    assert info.desc().child("subject").child_value("id") == "P007"
    acq = info.desc().child("acquisition")
    assert (acq.child_value("manufacturer"), acq.child_value("model")) == (
        "stresstrack", "C6:05:04:03:02:01",
    )  # fmt: skip
    assert _channels(inlets["rr"].info(DEADLINE_S)) == [("RR", "ms")]
    assert inlets["rr"].info().nominal_srate() == pylsl.IRREGULAR_RATE
    assert _channels(inlets["ecg"].info(DEADLINE_S)) == [("ECG", "microvolts")]
    assert inlets["markers"].info(DEADLINE_S).channel_format() == pylsl.cf_string
    stress_info = inlets["stress"].info(DEADLINE_S)
    assert stress_info.type() == "StressIndex"
    assert [c[0] for c in _channels(stress_info)] == [c for c, _ in STRESS_CHANNELS]

    t1 = t0 + 2 * NS
    pub.events(
        [
            Beat(time_ns=t1, rr_ms=790.0, **ids),
            Beat(time_ns=t1 + 790_000_000, rr_ms=790.0, **ids),
            EdaSamples(time_ns=t1, sampling_rate=4.0, values_us=(2.5, 2.6, 2.7), **ids),
            Marker(time_ns=t1, action=MarkerAction.START, kind="self-care", **ids),
        ]
    )
    pub.stress([StressRow(time_ns=t1, participant="P007", study=study, index=None,
                          confidence=0.0, components={}, version="v")])  # fmt: skip
    rr, rr_t = _pull(inlets["rr"], 2)
    assert [s[0] for s in rr] == [790.0, 790.0]
    assert rr_t[1] - rr_t[0] == pytest.approx(0.79, abs=1e-6)
    assert rr_t[0] == pytest.approx(pub.lsl_time(t1), abs=1e-6)
    eda, eda_t = _pull(inlets["eda"], 3)
    assert [s[0] for s in eda] == [2.5, 2.6, 2.7]
    assert eda_t[2] - eda_t[0] == pytest.approx(0.5, abs=1e-6)
    markers, _ = _pull(inlets["markers"], 1)
    assert markers == [["start self-care"]]
    stress, _ = _pull(inlets["stress"], 1)
    assert len(stress[0]) == len(STRESS_CHANNELS)
    assert all(v != v for v in stress[0][:1])  # no index: NaN
    pub.close()


def test_a_restarted_publisher_is_the_same_stream_to_a_recorder() -> None:
    """LabRecorder-style: an inlet opened on the first run's RR stream (liblsl's recovery on,
    as LabRecorder has it) reads the beats of a second :class:`Publisher` of the same
    participant and device after the first one closed: the source id is the same, so liblsl
    reconnects on its own."""
    study = f"t{uuid.uuid4().hex[:8]}"
    ids = {"participant": "P008", "study": study, "device": "C6:05:04:03:02:09"}
    source = f"stresstrack/{study}/P008/C6:05:04:03:02:09/rr"
    first = Publisher()
    first.announce([Beat(time_ns=time.time_ns(), rr_ms=800.0, **ids)])
    inlet = _inlet(source)
    assert inlet.info(DEADLINE_S).source_id() == source
    first.events([Beat(time_ns=time.time_ns(), rr_ms=801.0, **ids)])
    assert [s[0] for s in _pull(inlet, 1)[0]] == [801.0]
    first.close()
    del first  # the outlet goes away with its last reference, as when collect exits

    second = Publisher()
    second.announce([Beat(time_ns=time.time_ns(), rr_ms=800.0, **ids)])
    got: list[float] = []
    deadline = time.monotonic() + DEADLINE_S
    while not got and time.monotonic() < deadline:
        # Beats sent before liblsl has reconnected are lost; keep sending until one arrives.
        second.events([Beat(time_ns=time.time_ns(), rr_ms=802.0, **ids)])
        got = [s[0] for s in inlet.pull_chunk(timeout=1.0)[0]]
    assert got and set(got) == {802.0}, "the inlet did not reconnect to the restarted stream"
    second.close()


@pytest.mark.slow
def test_collect_lsl_publishes_the_participants_streams(tmp_path: Path) -> None:
    """``collect --simulate --lsl``: a pylsl inlet finds the participant's RR stream by its
    source id (study, pseudonym, device) with the pseudonym in its header, and reads the
    beats that ``collect`` stores, live."""
    pid = f"p{uuid.uuid4().hex[:6]}"
    store = tmp_path / "c.db"
    collect = subprocess.Popen(
        [sys.executable, "-m", "stresstrack", "collect", "--simulate", "--participant", pid,
         "--no-consent-check", "--store", str(store), "--duration", "20", "--lsl"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        pred = f"type='RR' and starts-with(source_id, 'stresstrack/default/{pid}/')"
        found = pylsl.resolve_bypred(pred, 1, 60.0)
        assert found, "collect's RR stream was not found"
        inlet = pylsl.StreamInlet(found[0])
        inlet.open_stream(timeout=60.0)
        info = inlet.info(60.0)
        rr, _ = _pull(inlet, 3)
        _out, err = collect.communicate(timeout=120.0)
    finally:
        if collect.poll() is None:
            collect.kill()
            collect.communicate()
    assert collect.returncode == 0, err
    assert info.desc().child("subject").child_value("id") == pid
    assert _channels(info) == [("RR", "ms")]
    assert len(rr) >= 3 and all(300 < s[0] < 2000 for s in rr)
    with Store(store, readonly=True) as s:
        stored = {round(b.rr_ms, 6) for b in s.iter_events(pid) if isinstance(b, Beat)}
    assert {round(float(s[0]), 6) for s in rr} <= stored
