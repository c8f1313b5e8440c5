"""An ECG stream of another LSL app, through ``--lsl-source``, and the same samples from CSV."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
import uuid
import weakref
from pathlib import Path

import neurokit2 as nk
import numpy as np
import pylsl
import pytest

from stresstrack.cli import main
from stresstrack.events import Waveform, WaveformKind
from stresstrack.lsl.inlet import LslClock, SourceInlet, open_inlet, pull
from stresstrack.pipeline.engine import Pipeline, PipelineConfig
from stresstrack.session.recorder import Recorder
from stresstrack.store.sqlite import Store, StoreError

NS = 1_000_000_000
RATE = 250.0
DEADLINE_S = 120.0  # generous: a busy 2-core machine (CI)
PROCESS_S = 180.0  # a subprocess starting, or stopping, on a busy 2-core machine
PIPELINE = ["--hrv-window", "30", "--hop", "5", "--slow-hop", "30", "--baseline", "60"]
CONFIG = PipelineConfig(hrv_window_s=30, hop_s=5, slow_hop_s=30, baseline_s=60)


def _ecg_mv(seconds: float) -> np.ndarray:
    """NeuroKit2's ECGSYN ECG (mV) with noise and HRV, seeded."""
    return np.asarray(
        nk.ecg_simulate(duration=seconds, sampling_rate=int(RATE), heart_rate=68, heart_rate_std=4,
                        noise=0.05, random_state=7),
        dtype=float,
    )  # fmt: skip


def _ecg_outlet(name: str, unit: str = "millivolts") -> pylsl.StreamOutlet:
    """An ECG stream as a BITalino/OpenSignals-style app announces it: millivolts."""
    info = pylsl.StreamInfo(name, "ECG", 1, RATE, pylsl.cf_double64, name)
    ch = info.desc().append_child("channels").append_child("channel")
    ch.append_child_value("label", "ECG")
    ch.append_child_value("unit", unit)
    return pylsl.StreamOutlet(info, chunk_size=32)


def test_lsl_ecg_gives_the_features_of_the_same_samples_from_csv(tmp_path: Path) -> None:
    """150 s of 250 Hz ECG (whole µV, as an ADC gives) pushed with explicit time stamps by a
    pylsl outlet and read by the source inlet through the pipeline give the features a CSV
    replay of the same samples (``ecg_uv``) at the same times gives.

    The inlet is opened without clock synchronisation (sender and receiver share this clock):
    liblsl re-measures the clock offset as it goes and on a busy machine it moves by ~10 µs
    between 1 s chunks, which the LSL path keeps (each chunk is timed by its first sample) and
    the CSV replay's time grid does not; RMSSD then differed by 37 µs. The clock-synchronised
    inlet that ``collect`` opens is checked in tests/lsl/test_lsl_markers.py.

    Whole µV, so that both paths see the very same values: a µV value from mV (× 1000) or one
    read back from text by an older pandas (2.2.2's C parser) can be one ulp off, and R-peak
    detection can turn that into a different peak sample (RMSSD 44.88 against 44.92 ms).

    The times are those the inlet delivered: liblsl adds its estimate of the clock offset, which
    on one machine is microseconds when idle but some milliseconds on a busy one, and moves as
    it is re-measured. That shifts beats across a window's edge or a histogram bin (Baevsky's
    index), so the CSV carries the delivered times, checked against the pushed ones."""
    ecg = np.round(_ecg_mv(150.0) * 1000.0)  # µV
    name = f"ecg-{uuid.uuid4().hex[:8]}"
    outlet = _ecg_outlet(name, "microvolts")
    found = pylsl.resolve_byprop("source_id", name, 1, DEADLINE_S)
    base = pylsl.local_clock() - 200.0  # the recording started 200 s ago on the sender's clock
    clock = LslClock(lsl_s=base, utc_ns=1_767_603_600 * NS)  # 2026-01-05T09:00:00Z
    ids = {"participant": "p-ecg", "study": "s", "device": f"lsl:{name}"}
    inlet = pylsl.StreamInlet(found[0], max_buflen=360, recover=False)  # no clock sync: above
    inlet.open_stream(timeout=DEADLINE_S)
    source = SourceInlet(inlet, ids, clock)  # type: ignore[arg-type]
    assert outlet.wait_for_consumers(DEADLINE_S)
    stamps = base + np.arange(len(ecg)) / RATE
    for v, t in zip(ecg, stamps, strict=True):
        outlet.push_sample([float(v)], float(t))

    with Store(tmp_path / "lsl.db") as store:
        recorder = Recorder(store, Pipeline(CONFIG))
        deadline = time.monotonic() + DEADLINE_S
        while source.samples < len(ecg) and time.monotonic() < deadline:
            events = pull(source)
            assert events is not None
            recorder.emit(events)
        recorder.emit(source.flush())
        recorder.close()
        assert source.samples == len(ecg)
        lsl_features = store.features()
        waves = [e for e in store.iter_events() if isinstance(e, Waveform)]
    assert {(w.kind, w.sampling_rate) for w in waves} == {(WaveformKind.ECG, RATE)}
    assert sum(len(w.values) for w in waves) == len(ecg)

    folder = tmp_path / "csv"
    folder.mkdir()
    with (folder / "ecg.csv").open("w") as f:
        f.write("time,ecg_uv\n")
        for v, t in zip(ecg, stamps, strict=True):
            ns = clock.to_ns(float(t))
            f.write(f"{ns // NS}.{ns % NS:09d},{int(v)}\n")
    replayed = tmp_path / "csv.db"
    assert main(["replay", str(folder), "--format", "csv", "--participant", "p-ecg",
                 "--store", str(replayed), *PIPELINE]) == 0  # fmt: skip
    with Store(replayed, readonly=True) as r:
        csv_features = r.features()

    # Same samples at the same times: the same windows and features (to rounding).
    assert [f.time_ns for f in lsl_features] == [f.time_ns for f in csv_features]
    assert len(lsl_features) >= 15
    rmssd = [f.values.get("rmssd_ms") for f in lsl_features]
    assert sum(v is not None for v in rmssd) >= 10
    for a, b in zip(lsl_features, csv_features, strict=True):
        assert a.values.keys() == b.values.keys()
        for k, va in a.values.items():
            vb = b.values[k]
            assert (va is None) == (vb is None), k
            if va is not None and vb is not None:
                assert va == pytest.approx(vb, rel=1e-4, abs=1e-3), (k, a.time_ns)


def _stored_samples(store: Path) -> int:
    try:
        with Store(store, readonly=True) as s:
            return sum(len(e.values) for e in s.iter_events() if isinstance(e, Waveform))
    except StoreError:  # not created yet, or created and its tables not yet
        return 0


@pytest.mark.slow
def test_collect_lsl_source_stores_the_stream_and_stops_when_it_closes(tmp_path: Path) -> None:
    """``collect --lsl-source`` with no device: every sample the stream delivered is stored as
    ECG waveform events (µV from the stream's mV), and collection ends when the sender closes.

    The sender pushes 21 s and closes once the store holds 20 s: the 21st second's first sample
    has then arrived (it is what ends the 20th 1-s chunk), so at least 20 s and a sample are
    stored; liblsl may drop the rest of what was pushed but not yet delivered when the outlet
    goes, so what is stored must be exactly the start of what was sent."""
    ecg = _ecg_mv(21.0)
    whole = int(20 * RATE)
    name = f"ecg-{uuid.uuid4().hex[:8]}"
    outlet = _ecg_outlet(name)
    gone = weakref.ref(outlet)
    store = tmp_path / "live.db"
    collect = subprocess.Popen(
        [sys.executable, "-m", "stresstrack", "collect", "--participant", "p-02",
         "--no-consent-check", "--store", str(store), "--lsl-source", f"source_id='{name}'",
         "--duration", "900"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert outlet.wait_for_consumers(PROCESS_S), "collect did not subscribe"
        t0 = pylsl.local_clock() - len(ecg) / RATE
        for i, v in enumerate(ecg):
            outlet.push_sample([float(v)], t0 + i / RATE)
        deadline = time.monotonic() + PROCESS_S
        while _stored_samples(store) < whole:
            assert time.monotonic() < deadline, f"{whole} samples not stored in {PROCESS_S:g} s"
            assert collect.poll() is None, "collect ended early"
            time.sleep(0.2)  # polling the store, bounded by the deadline
        del outlet  # the sender closes its stream: the outlet's only reference
        gc.collect()
        assert gone() is None, "the outlet is still referenced, so it is still open"
        out, err = collect.communicate(timeout=PROCESS_S)
    finally:
        if collect.poll() is None:
            collect.kill()
            collect.communicate()
    assert collect.returncode == 0, err
    assert "LSL sources closed" in out, out
    with Store(store, readonly=True) as s:
        waves = [e for e in s.iter_events() if isinstance(e, Waveform)]
    values = np.concatenate([w.values for w in waves])
    assert whole < len(values) <= len(ecg)
    np.testing.assert_array_equal(values, ecg[: len(values)] * 1000.0)


def test_a_channel_of_a_multichannel_stream_with_its_unit() -> None:
    """A BITalino/OpenSignals-style stream (type ``Physio``, several channels): ``channel="EDA"``
    takes that channel, tells the signal from its label, and converts the nanosiemens its
    header declares to µS; an unknown channel is a clear error naming the channels."""
    from stresstrack.events import EdaSamples
    from stresstrack.lsl.inlet import LslError

    name = f"bitalino-{uuid.uuid4().hex[:8]}"
    info = pylsl.StreamInfo(name, "Physio", 2, 4.0, pylsl.cf_double64, name)
    chans = info.desc().append_child("channels")
    for label, unit in (("ACC", "g"), ("EDA", "nanosiemens")):
        ch = chans.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("unit", unit)
    outlet = pylsl.StreamOutlet(info)
    (found,) = pylsl.resolve_byprop("source_id", name, 1, DEADLINE_S)
    clock = LslClock(lsl_s=0.0, utc_ns=1_767_603_600 * NS)
    ids = {"participant": "p", "study": "s", "device": f"lsl:{name}"}
    with pytest.raises(LslError, match="no channel 'GSR' \\(channels: ACC, EDA"):
        SourceInlet(open_inlet(found), ids, clock, channel="GSR")  # type: ignore[arg-type]
    with pytest.raises(LslError, match="not an RR, HR, ECG, PPG or EDA stream"):
        SourceInlet(open_inlet(found), ids, clock)  # type: ignore[arg-type]
    source = SourceInlet(open_inlet(found), ids, clock, channel="EDA")  # type: ignore[arg-type]
    assert (source.kind, source.channel, source.scale) == ("eda", 1, 1e-3)
    assert outlet.wait_for_consumers(DEADLINE_S)
    t0 = pylsl.local_clock()
    for i in range(8):
        outlet.push_sample([0.5, 2000.0 + i], t0 + i / 4.0)
    events: list[object] = []
    deadline = time.monotonic() + DEADLINE_S
    while source.samples < 8 and time.monotonic() < deadline:
        got = pull(source)
        assert got is not None
        events += got
    events += source.flush()
    values = [v for e in events if isinstance(e, EdaSamples) for v in e.values_us]
    assert values == pytest.approx([2.0 + i / 1000 for i in range(8)])
