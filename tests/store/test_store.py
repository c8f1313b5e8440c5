"""The SQLite store: lossless events, results, arrival order, permissions, bad files."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stresstrack.events import (
    Beat,
    BeatSource,
    Contact,
    DeviceState,
    DeviceStatus,
    EdaSamples,
    Event,
    HeartRate,
    Marker,
    MarkerAction,
    Waveform,
    WaveformKind,
)
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.store import Store, StoreError, event_from_payload, event_to_payload

T0 = 1_767_603_600_000_000_000

ALL_KINDS: list[Event] = [
    Beat(time_ns=T0, participant="p1", study="s", device="AA", rr_ms=812.5, rr_ticks=832),
    Beat(time_ns=T0 + 1, participant="p1", rr_ms=800.0, source=BeatSource.PPI),
    HeartRate(time_ns=T0 + 2, participant="p1", bpm=72.0, contact=Contact.DETECTED, energy_kj=12),
    EdaSamples(time_ns=T0 + 3, participant="p1", sampling_rate=32.0, values_us=(1.0, 2.5)),
    Waveform(
        time_ns=T0 + 4,
        participant="p1",
        kind=WaveformKind.ECG,
        sampling_rate=130.0,
        values=(-12.0, 300.0),
    ),
    Marker(
        time_ns=T0 + 5,
        participant="p1",
        action=MarkerAction.START,
        kind="self-care",
        mode="partner",
        label="serum A",
        note='ünïcode, "quotes"',
    ),
    DeviceStatus(
        time_ns=T0 + 6,
        participant="p1",
        state=DeviceState.GAP,
        battery_pct=80,
        contact=Contact.NOT_DETECTED,
        gap_start_ns=T0,
    ),
]


@pytest.mark.parametrize("event", ALL_KINDS, ids=lambda e: type(e).__name__)
def test_codec_round_trip(event: Event) -> None:
    type_name, payload = event_to_payload(event)
    back = event_from_payload(
        type_name, event.time_ns, event.participant, event.study, event.device, payload
    )
    assert back == event
    assert type(back) is type(event)


@pytest.mark.parametrize("event", ALL_KINDS, ids=lambda e: type(e).__name__)
def test_codec_payload_is_the_json_of_the_fields_stored_so_far(event: Event) -> None:
    """The payload text is what every store holds: ``json.dumps`` of the type-specific fields
    (tuples as lists) with compact separators, byte for byte, so old and new stores agree."""
    import dataclasses
    import json

    base = {"time_ns", "participant", "study", "device"}
    body = {
        f.name: list(v) if isinstance(v := getattr(event, f.name), tuple) else v
        for f in dataclasses.fields(event)
        if f.name not in base
    }
    assert event_to_payload(event)[1] == json.dumps(body, separators=(",", ":"))


@settings(max_examples=60, deadline=None)
@given(
    rr=st.floats(min_value=1, max_value=5000, allow_nan=False),
    ticks=st.one_of(st.none(), st.integers(0, 65535)),
    values=st.lists(st.floats(min_value=-1000, max_value=1000), min_size=1, max_size=40),
)
def test_codec_round_trip_any_values(rr: float, ticks: int | None, values: list[float]) -> None:
    for event in (
        Beat(time_ns=T0, participant="p", rr_ms=rr, rr_ticks=ticks),
        EdaSamples(time_ns=T0, participant="p", sampling_rate=4.0, values_us=tuple(values)),
    ):
        back = event_from_payload(*_row(event))
        assert back == event


def _row(e: Event) -> tuple[str, int, str, str, str, str]:
    type_name, payload = event_to_payload(e)
    return type_name, e.time_ns, e.participant, e.study, e.device, payload


def test_store_keeps_arrival_order_and_filters(tmp_path: Path) -> None:
    events = [*list(reversed(ALL_KINDS)), Beat(time_ns=T0, participant="p2", rr_ms=900.0)]
    with Store(tmp_path / "a.db") as store:
        store.add_events(events[:3])
        store.add_events(events[3:])
        assert list(store.iter_events(batch=2)) == events
        assert list(store.iter_events("p2")) == events[-1:]
        assert store.participants() == ["p1", "p2"]
        assert store.integrity_check() == "ok"


def test_store_results_round_trip_and_replace(tmp_path: Path) -> None:
    f = FeatureRow(
        time_ns=T0,
        participant="p1",
        study="s",
        values={"rmssd_ms": 40.0, "scl_us": None},
        quality={"hrv_coverage": 1.0},
        reasons={"eda": "no data"},
    )
    s = StressRow(
        time_ns=T0,
        participant="p1",
        study="s",
        index=61.5,
        confidence=0.9,
        components={"hr": 1.2, "scl": None},
        version="1.0",
    )
    open_session = Session(participant="p1", study="s", kind="self-care", start_ns=T0, end_ns=None)
    closed = Session(participant="p1", study="s", kind="self-care", start_ns=T0, end_ns=T0 + 10)
    with Store(tmp_path / "a.db") as store:
        store.add_results([f], [s], [open_session])
        store.add_results(sessions=[closed])  # closing replaces the open row
        assert store.features() == [f]
        assert store.stress("p1") == [s]
        assert store.sessions() == [closed]


def test_store_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "health.db"
    Store(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_store_rejects_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "x.db"
    bad.write_bytes(b"not a database at all, just text" * 100)
    with pytest.raises(StoreError, match="not a stresstrack store"):
        Store(bad)
    with pytest.raises(StoreError, match="no such store"):
        Store(tmp_path / "missing.db", readonly=True)


def test_failed_batch_leaves_store_unchanged(tmp_path: Path) -> None:
    """A batch is one transaction: when the database refuses a row, none of the batch is kept."""
    path = tmp_path / "a.db"
    with Store(path) as store:
        store.add_events(ALL_KINDS[:2])
        db = sqlite3.connect(path)
        db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.participant = 'boom' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
        db.commit()
        db.close()
        batch = [*ALL_KINDS[2:4], Beat(time_ns=T0, participant="boom", rr_ms=1.0)]
        with pytest.raises(sqlite3.IntegrityError, match="refused"):
            store.add_events(batch)
        assert store.count("events") == 2
        store.add_events(ALL_KINDS[2:4])  # the store is still usable
        assert store.count("events") == 4
