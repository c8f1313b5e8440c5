"""Stored rows to points: every measurement of docs/schema.md, written out by hand."""

from __future__ import annotations

import hashlib

from stresstrack.events import (
    Beat,
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
from stresstrack.sinks.points import event_lines, result_line
from stresstrack.store import event_to_payload

T0 = 1_767_603_600_000_000_000
IDS = {"participant": "p-01", "study": "s1", "device": "F0:00:00:00:00:01"}
# The device tag is a per-study pseudonym: SHA-256 of "study NUL address", 12 hex digits
# (docs/schema.md); the Bluetooth address never reaches InfluxDB.
DEV = "device=d-" + hashlib.sha256(b"s1\x00F0:00:00:00:00:01").hexdigest()[:12]
PART = "participant=p-01"
TAGS = f"{DEV},{PART},study=s1"  # tags are sorted by key


def _lines(event: Event, rank: int = 0) -> list[str]:
    type_name, payload = event_to_payload(event)
    row = (1, type_name, event.time_ns, event.participant, event.study, event.device, payload)
    return event_lines(row, rank)


def test_raw_events() -> None:
    assert _lines(Beat(time_ns=T0, rr_ms=812.5, rr_ticks=832, **IDS)) == [
        f"beat,{DEV},{PART},source=hrs,study=s1 rr_ms=812.5,rr_ticks=832i {T0}"
    ]
    assert _lines(HeartRate(time_ns=T0, bpm=72.0, contact=Contact.DETECTED, **IDS)) == [
        f'heart_rate,{TAGS} bpm=72.0,contact="detected" {T0}'
    ]
    # One point per sample, each with its own time (32 Hz: 31 250 000 ns apart).
    assert _lines(
        EdaSamples(time_ns=T0, sampling_rate=32.0, values_us=(1.5, 1.25, 1.0), **IDS)
    ) == [
        f"eda,{TAGS} conductance_us=1.5 {T0}",
        f"eda,{TAGS} conductance_us=1.25 {T0 + 31_250_000}",
        f"eda,{TAGS} conductance_us=1.0 {T0 + 62_500_000}",
    ]
    ecg = Waveform(
        time_ns=T0, kind=WaveformKind.ECG, sampling_rate=130.0, values=(-12.0, 300.0), **IDS
    )
    assert _lines(ecg) == [
        f"ecg,{TAGS} ecg_uv=-12.0 {T0}",
        f"ecg,{TAGS} ecg_uv=300.0 {T0 + 7_692_308}",  # round(1e9 / 130)
    ]
    # Polar's accelerometer magnitude (Verity Sense: 52 Hz) has its own measurement.
    acc = Waveform(time_ns=T0, kind=WaveformKind.ACC, sampling_rate=52.0, values=(998.0,), **IDS)
    assert _lines(acc) == [f"acc,{TAGS} acc_mg=998.0 {T0}"]
    marker = Marker(
        time_ns=T0,
        action=MarkerAction.START,
        kind="self-care",
        mode="partner",
        label="serum A",
        note="private note",
        **IDS,
    )
    # The free-text note stays in the local store (docs/schema.md); rank 1 shifts by 1 ns.
    assert _lines(marker, rank=1) == [
        f"marker,action=start,{DEV},kind=self-care,{PART},study=s1 "
        f'mode="partner",label="serum A" {T0 + 1}'
    ]
    status = DeviceStatus(
        time_ns=T0,
        state=DeviceState.GAP,
        battery_pct=80,
        contact=Contact.NOT_DETECTED,
        gap_start_ns=T0 - 5_000_000_000,
        **IDS,
    )
    assert _lines(status) == [
        f'device_status,{TAGS} state="gap",connected=0i,battery_pct=80i,contact="not_detected",'
        f"gap_start_ms={(T0 - 5_000_000_000) // 1_000_000}i {T0}"
    ]
    assert _lines(DeviceStatus(time_ns=T0, state=DeviceState.CONNECTED, **IDS)) == [
        f'device_status,{TAGS} state="connected",connected=1i {T0}'
    ]


def test_results() -> None:
    f = FeatureRow(
        time_ns=T0,
        participant="p-01",
        study="s1",
        values={"mean_hr_bpm": 70.0, "rmssd_ms": 42.5, "scl_us": None, "scr_count": 3},
        quality={"hrv_coverage": 1.0, "beats": 60.0},
        reasons={"eda": "no data"},
    )
    assert result_line(f) == (
        "features,participant=p-01,study=s1 mean_hr_bpm=70.0,rmssd_ms=42.5,scr_count=3.0,"
        f'hrv_coverage=1.0,beats=60.0,eda_reason="no data",valid_features=3i {T0}'
    )
    s = StressRow(
        time_ns=T0,
        participant="p-01",
        study="s1",
        index=None,
        confidence=0.4,
        components={"hr": 1.5, "scl": None},
        version="1.0",
        reason="baseline",
    )
    assert result_line(s) == (
        "stress,participant=p-01,study=s1 "
        f'stress_confidence=0.4,z_hr=1.5,version="1.0",reason="baseline" {T0}'
    )
    x = Session(
        participant="p-01",
        study="s1",
        kind="self-care",
        start_ns=T0,
        end_ns=T0 + 600_000_000_000,
        mode="solo",
        note="private",
    )
    assert result_line(x) == (
        "session,kind=self-care,mode=solo,participant=p-01,study=s1 "
        f"open=0i,start_ms={T0 // 1_000_000}i,end_ms={(T0 + 600_000_000_000) // 1_000_000}i,"
        f"duration_s=600.0 {T0}"
    )
