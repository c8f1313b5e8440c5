"""The streaming pipeline: event time, quality reasons, baselines, sessions."""

from __future__ import annotations

import numpy as np
import pytest

from stresstrack.events import Beat, BeatSource, EdaSamples, Event, Marker, MarkerAction
from stresstrack.pipeline import (
    STRESS_INDEX_VERSION,
    FeatureRow,
    Pipeline,
    PipelineConfig,
    Session,
    StressRow,
)
from stresstrack.pipeline.engine import Output
from stresstrack.pipeline.movement import MOVEMENT_FEATURES
from stresstrack.simulators.physiology import (
    ParticipantModel,
    ParticipantParams,
    simulate_beats,
    simulate_eda,
)

T0 = 1_767_603_600_000_000_000
NS = 1_000_000_000


def _events(protocol, seed: int = 3, participant: str = "p1") -> list[Event]:  # type: ignore[no-untyped-def]
    model = ParticipantModel(
        protocol, ParticipantParams.draw(np.random.default_rng(seed), non_responder_share=0), seed
    )
    bt, rr = simulate_beats(model)
    et, eda = simulate_eda(model, 8.0)
    events: list[Event] = [
        Beat(time_ns=T0 + int(t * NS), participant=participant, rr_ms=float(r))
        for t, r in zip(bt, rr, strict=True)
    ]
    for i in range(0, eda.size, 8):
        events.append(
            EdaSamples(
                time_ns=T0 + int(et[i] * NS),
                participant=participant,
                sampling_rate=8.0,
                values_us=tuple(float(v) for v in eda[i : i + 8]),
            )
        )
    for start, end, phase in protocol.phase_bounds():
        for action, t in ((MarkerAction.START, start), (MarkerAction.STOP, end)):
            events.append(
                Marker(
                    time_ns=T0 + int(t * NS),
                    participant=participant,
                    action=action,
                    kind=phase.kind,
                    mode=phase.mode,
                    label=phase.label,
                )
            )
    events.sort(key=lambda e: e.time_ns)
    return events


def _run(events: list[Event], config: PipelineConfig | None = None) -> list[Output]:
    p = Pipeline(config)
    out = p.process_many(events)
    return out + p.finish()


def test_results_do_not_depend_on_batching_or_interleaving(short_protocol) -> None:  # type: ignore[no-untyped-def]
    a = _events(short_protocol, participant="a")
    b = _events(short_protocol, seed=4, participant="b")
    alone = _run(a) + _run(b)
    # Interleave the two participants' streams: each participant's results must not change.
    mixed = sorted(a + b, key=lambda e: e.time_ns)
    together = _run(mixed)
    for pid in ("a", "b"):
        mine = [o for o in alone if o.participant == pid]
        theirs = [o for o in together if o.participant == pid]
        assert sorted(map(repr, mine)) == sorted(map(repr, theirs))
    # Batching: the same stream given one event at a time, or in uneven batches (as the
    # recorder and a replay hand it over), gives the same outputs in the same order.
    one_by_one = Pipeline()
    single = [o for e in mixed for o in one_by_one.process(e)] + one_by_one.finish()
    batched = Pipeline()
    sizes = np.random.default_rng(5).integers(1, 700, len(mixed))
    chunks: list[Output] = []
    i = 0
    for size in sizes:
        if i >= len(mixed):
            break
        chunks += batched.process_many(mixed[i : i + int(size)])
        i += int(size)
    chunks += batched.finish()
    assert together and list(map(repr, single)) == list(map(repr, together))
    assert list(map(repr, chunks)) == list(map(repr, together))


def test_windows_on_a_shared_grid_with_features(short_protocol) -> None:  # type: ignore[no-untyped-def]
    out = _run(_events(short_protocol))
    rows = [o for o in out if isinstance(o, FeatureRow)]
    assert rows and all(r.time_ns % (5 * NS) == 0 for r in rows)
    assert [r.time_ns for r in rows] == sorted({r.time_ns for r in rows})
    early = rows[5]
    fast = [
        "mean_hr_bpm",
        "rmssd_ms",
        "sdnn_ms",
        "pnn50_pct",
        "baevsky_si",
        "scl_us",
        "scr_per_min",
    ]
    assert all(early.values[k] is not None for k in fast), early.reasons
    # Long-window families wait for their window to fill, and say so.
    assert early.values["lf_hf"] is None and "cover" in early.reasons["freq"]
    full = rows[-1]
    # Movement needs an accelerometer, which these events lack; everything else is there.
    assert all(full.values[k] is None for k in MOVEMENT_FEATURES)
    assert all(v is not None for k, v in full.values.items() if k not in MOVEMENT_FEATURES), (
        full.reasons
    )
    assert 40 < full.values["mean_hr_bpm"] < 120  # type: ignore[operator]


def test_gap_gives_no_value_and_says_why(short_protocol) -> None:  # type: ignore[no-untyped-def]
    events = [
        e
        for e in _events(short_protocol)
        if not (isinstance(e, Beat) and T0 + 200 * NS < e.time_ns < T0 + 240 * NS)
    ]
    rows = {o.time_ns: o for o in _run(events) if isinstance(o, FeatureRow)}
    hole = rows[T0 + 250 * NS]
    assert hole.values["rmssd_ms"] is None
    assert "cover" in hole.reasons["hrv"]
    assert hole.values["scl_us"] is not None  # EDA was fine
    stress = {o.time_ns: o for o in _run(events) if isinstance(o, StressRow)}
    assert stress[T0 + 250 * NS].components["hr"] is None
    assert stress[T0 + 250 * NS].confidence < stress[T0 + 100 * NS].confidence


def test_marked_baseline_centres_the_index_and_stress_raises_it(short_protocol) -> None:  # type: ignore[no-untyped-def]
    out = _run(_events(short_protocol))
    stress = [o for o in out if isinstance(o, StressRow) and o.index is not None]
    sessions = {o.kind: o for o in out if isinstance(o, Session) and o.end_ns is not None}
    assert set(sessions) == {"baseline", "stressor", "self-care", "recovery"}

    def mean_in(kind: str) -> float:
        s = sessions[kind]
        assert s.end_ns is not None
        return float(
            np.mean([r.index for r in stress if s.start_ns + 60 * NS < r.time_ns <= s.end_ns])
        )

    assert mean_in("baseline") == pytest.approx(50, abs=8)
    assert mean_in("stressor") > 75
    # Self-care lowers stress a little (the simulator's effect is dz 0.3-0.6, docs/simulators.md)
    assert mean_in("self-care") < 50
    assert all(r.version == STRESS_INDEX_VERSION for r in stress)


def test_sessions_open_then_closed() -> None:
    p = Pipeline()
    start = Marker(
        time_ns=T0, participant="p", action=MarkerAction.START, kind="self-care", mode="partner"
    )
    stop = Marker(time_ns=T0 + 60 * NS, participant="p", action=MarkerAction.STOP, kind="self-care")
    assert p.process(start) == [
        Session(
            participant="p",
            study="default",
            kind="self-care",
            start_ns=T0,
            end_ns=None,
            mode="partner",
        )
    ]
    closed = [o for o in p.process(stop) if isinstance(o, Session)]
    assert closed == [
        Session(
            participant="p",
            study="default",
            kind="self-care",
            start_ns=T0,
            end_ns=T0 + 60 * NS,
            mode="partner",
        )
    ]


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="hop_s"):
        PipelineConfig(hop_s=0)


def test_ecg_waveform_becomes_the_beat_stream() -> None:
    """ECG chunks (as a Polar H10 streams them) give the same mean HR as their beats."""
    import neurokit2 as nk

    from stresstrack.events import Waveform, WaveformKind

    fs = 130
    ecg = nk.ecg_simulate(duration=200, sampling_rate=fs, heart_rate=72, random_state=5)
    events: list[Event] = []
    for i in range(0, ecg.size, 73):
        chunk = tuple(float(v) * 1000 for v in ecg[i : i + 73])
        events.append(
            Waveform(
                time_ns=T0 + round(i * NS / fs),
                participant="p",
                device="h10",
                kind=WaveformKind.ECG,
                sampling_rate=float(fs),
                values=chunk,
            )
        )
    rows = [o for o in _run(events) if isinstance(o, FeatureRow)]
    good = [r for r in rows if r.values["mean_hr_bpm"] is not None]
    assert len(good) >= 20
    assert all(r.quality["beat_source"] == 0.0 for r in good)  # "ecg", the preferred source
    assert np.median([r.values["mean_hr_bpm"] for r in good]) == pytest.approx(72, abs=2)


def test_best_covering_source_is_used() -> None:
    """Strap RR and optical PPI for the same person: the strap wins; without it, PPI is used."""
    rr = 800 + 40 * np.sin(np.arange(400) / 3)
    t = T0 + np.cumsum(rr * 1e6).astype(np.int64)
    strap = [
        Beat(time_ns=int(a), participant="p", rr_ms=float(b)) for a, b in zip(t, rr, strict=True)
    ]
    ppi = [
        Beat(
            time_ns=int(a) + 200_000_000, participant="p", rr_ms=float(b) + 5, source=BeatSource.PPI
        )
        for a, b in zip(t, rr, strict=True)
    ]
    both = sorted(strap + ppi, key=lambda e: e.time_ns)
    rows = [o for o in _run(both) if isinstance(o, FeatureRow) and o.values["mean_rr_ms"]]
    assert all(r.quality["beat_source"] == 1.0 for r in rows)
    assert rows[3].values["mean_rr_ms"] == pytest.approx(np.mean(rr), abs=15)
    only_ppi = [o for o in _run(ppi) if isinstance(o, FeatureRow) and o.values["mean_rr_ms"]]
    assert only_ppi and all(r.quality["beat_source"] == 3.0 for r in only_ppi)
