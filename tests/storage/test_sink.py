"""The InfluxDB sink against a real influxd (through the test-only v2 adapter)."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import sqlite3
import time
from pathlib import Path

import pytest
from influx_adapter import InfluxAdapter
from influx_checks import distinct_series_times, influx_counts, simulate_into, store_counts
from servers import InfluxServer, free_port

from stresstrack.backoff import Backoff
from stresstrack.cli.common import sync_advice
from stresstrack.events import (
    Beat,
    DeviceState,
    DeviceStatus,
    EdaSamples,
    HeartRate,
    Marker,
    MarkerAction,
)
from stresstrack.pipeline.results import Session, StressRow
from stresstrack.session.protocol import Protocol
from stresstrack.sinks import InfluxSink, InfluxTarget, sync_store
from stresstrack.store import Store

T0 = 1_767_603_600_000_000_000
S = 1_000_000_000


def _target(
    adapter: InfluxAdapter, server: InfluxServer, db: str, *, raw: bool = False
) -> InfluxTarget:
    return InfluxTarget(url=adapter.url, bucket=db, token=server.token, raw=raw)


def test_simulated_study_is_replicated_exactly(
    tmp_path: Path,
    influx_server: InfluxServer,
    influx_adapter: InfluxAdapter,
    influx_db: str,
    short_protocol: Protocol,
) -> None:
    path = tmp_path / "study.db"
    simulate_into(path, 2, short_protocol).close()
    points, distinct = distinct_series_times(path, raw=True)
    assert points == distinct  # no two events share a series and a timestamp
    target = _target(influx_adapter, influx_server, influx_db, raw=True)
    report = sync_store(path, target, batch_points=2000)
    assert report.delivered and report.queued_points == 0 and report.dead_points == 0
    assert report.shipped_points == points
    expected = store_counts(path, raw=True)
    assert set(expected) == {
        "beat",
        "heart_rate",
        "eda",
        "marker",
        "device_status",
        "features",
        "stress",
        "session",
    }
    assert influx_counts(influx_server, influx_db) == expected
    # Values arrive unchanged: the stress curve of one participant, point by point.
    with Store(path, readonly=True) as store:
        stress = [r for r in store.stress("sim-001") if r.index is not None]
    rows = influx_server.rows(
        "SELECT stress_index, stress_confidence FROM stress WHERE participant = 'sim-001'",
        db=influx_db,
    )
    got = [(r["time"], r["stress_index"], r["stress_confidence"]) for r in rows]
    assert [g for g in got if g[1] is not None] == [
        (r.time_ns, r.index, r.confidence) for r in stress
    ]
    # A second sync has nothing to send and changes nothing.
    again = sync_store(path, target)
    assert again.delivered and again.shipped_points == 0
    assert influx_counts(influx_server, influx_db) == expected


def _sql_counts(path: Path) -> dict[str, int]:
    """Points per measurement counted from the store's tables with SQL (not our point
    builder): one per beat, reading, status and marker event and per result row, one per
    sample of the raw EDA chunks."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        one = dict(con.execute("SELECT type, COUNT(*) FROM events GROUP BY type").fetchall())
        (samples,) = con.execute(
            "SELECT SUM(json_array_length(payload, '$.values_us')) FROM events WHERE type = 'eda'"
        ).fetchone()
        tables = {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in
                  ("features", "stress", "sessions")}  # fmt: skip
    finally:
        con.close()
    return {
        "beat": one["beat"],
        "heart_rate": one["hr"],
        "device_status": one["status"],
        "marker": one["marker"],
        "features": tables["features"],
        "stress": tables["stress"],
        "session": tables["sessions"],
        "eda": samples,
    }


def test_raw_samples_are_replicated_only_with_the_option_and_none_are_lost(
    tmp_path: Path,
    influx_server: InfluxServer,
    influx_adapter: InfluxAdapter,
    influx_db: str,
    short_protocol: Protocol,
) -> None:
    """By default the raw EDA samples stay in the store: no ``eda`` measurement, every other
    measurement as many points as the store's tables hold (counted with SQL). Turned on later,
    the option sends every raw sample stored so far and nothing else again."""
    path = tmp_path / "study.db"
    simulate_into(path, 2, short_protocol).close()
    sql = _sql_counts(path)
    assert sql["eda"] > 10 * sql["beat"]  # the samples are the bulk (docs/schema.md)
    report = sync_store(path, _target(influx_adapter, influx_server, influx_db))
    assert report.delivered and report.queued_points == 0 and report.dead_points == 0
    without_raw = {m: n for m, n in sql.items() if m != "eda"}
    assert report.shipped_points == sum(without_raw.values())
    assert influx_counts(influx_server, influx_db) == without_raw
    names = [m["name"] for m in influx_server.rows("SHOW MEASUREMENTS", db=influx_db)]
    assert "eda" not in names and "beat" in names
    # Skipped raw events count as delivered: nothing queued, the next run sends nothing.
    again = sync_store(path, _target(influx_adapter, influx_server, influx_db))
    assert again.delivered and again.shipped_points == 0
    # --influx-raw later: all raw samples (from the start of the store), only them.
    raw = sync_store(path, _target(influx_adapter, influx_server, influx_db, raw=True))
    assert raw.delivered and raw.shipped_points == sql["eda"]
    assert influx_counts(influx_server, influx_db) == sql


def test_closed_session_is_sent_again_and_completes_the_point(
    tmp_path: Path, influx_server: InfluxServer, influx_adapter: InfluxAdapter, influx_db: str
) -> None:
    path = tmp_path / "a.db"
    target = _target(influx_adapter, influx_server, influx_db)
    opened = Session(
        participant="p1", study="s", kind="self-care", start_ns=T0, end_ns=None, mode="solo"
    )
    with Store(path) as store:
        store.add_results(sessions=[opened])
    assert sync_store(path, target).delivered
    q = 'SELECT * FROM "session"'
    assert influx_server.rows(q, db=influx_db) == [
        {
            "time": T0,
            "kind": "self-care",
            "mode": "solo",  # no label tag: empty tags are left out
            "open": 1,
            "participant": "p1",
            "start_ms": T0 // 1_000_000,
            "study": "s",
        }
    ]
    with Store(path) as store:
        store.add_results(sessions=[dataclasses.replace(opened, end_ns=T0 + 300 * S)])
    report = sync_store(path, target)
    assert report.delivered and report.shipped_points == 1
    assert influx_server.rows(q, db=influx_db) == [
        {
            "time": T0,
            "duration_s": 300.0,
            "end_ms": (T0 + 300 * S) // 1_000_000,
            "kind": "self-care",
            "mode": "solo",
            "open": 0,
            "participant": "p1",
            "start_ms": T0 // 1_000_000,
            "study": "s",
        }
    ]


NASTY = [
    "a b",
    "x,y=z",
    'quote"in',
    "back\\slash",
    "trailing\\",
    "new\nline",
    "ünïcödé ✓",
    "evil rr_ms=1 1\nbeat,participant=injected rr_ms=2 2",
]


def test_no_value_can_inject_line_protocol(
    tmp_path: Path, influx_server: InfluxServer, influx_adapter: InfluxAdapter, influx_db: str
) -> None:
    """Strings from files and devices land as one point each, in their own tag or field."""
    path = tmp_path / "a.db"
    events = []
    for i, text in enumerate(NASTY):
        t = T0 + i * S
        events.append(
            Marker(
                time_ns=t,
                participant="p1",
                study=text,
                device=text,
                action=MarkerAction.EVENT,
                kind=text,
                mode=text,
                label=text,
            )
        )
        events.append(
            DeviceStatus(
                time_ns=t,
                participant="p1",
                device=text,
                state=DeviceState.DISCONNECTED,
                detail=text,
            )
        )
    with Store(path) as store:
        store.add_events(events)
    report = sync_store(path, _target(influx_adapter, influx_server, influx_db))
    assert report.delivered and report.dead_points == 0
    assert influx_counts(influx_server, influx_db) == {
        "marker": len(NASTY),
        "device_status": len(NASTY),
    }
    rows = influx_server.rows('SELECT * FROM "marker"', db=influx_db)

    def tag(text: str) -> str:  # docs/schema.md: backslash and control characters -> "_"
        return "".join("_" if c == "\\" or ord(c) < 32 else c for c in text)

    def string(text: str) -> str:  # control characters -> space
        return "".join(" " if ord(c) < 32 else c for c in text)

    assert rows == [
        {
            "time": T0 + i * S,
            "action": "event",
            # a per-study pseudonym (docs/schema.md): SHA-256(study NUL device), 12 hex digits
            "device": "d-" + hashlib.sha256(f"{text}\x00{text}".encode()).hexdigest()[:12],
            "kind": tag(text),
            "label": string(text),
            "mode": string(text),
            "participant": "p1",
            "study": tag(text),
        }
        for i, text in enumerate(NASTY)
    ]
    details = influx_server.rows('SELECT "detail" FROM "device_status"', db=influx_db)
    assert [r["detail"] for r in details] == [string(t) for t in NASTY]
    measurements = influx_server.rows("SHOW MEASUREMENTS", db=influx_db)
    assert [m["name"] for m in measurements] == ["device_status", "marker"]


def test_rejected_points_go_to_dead_letters_with_the_server_message(
    tmp_path: Path, influx_server: InfluxServer, influx_adapter: InfluxAdapter, influx_db: str
) -> None:
    """A field type conflict (a bucket written by something else) rejects those points only."""
    path = tmp_path / "a.db"
    # Someone else wrote heart_rate.bpm as a string into this bucket's shard.
    influx_adapter_write(influx_server, influx_db, f'heart_rate,participant=p2 bpm="x" {T0}')
    events = [Beat(time_ns=T0 + i * S, participant="p1", rr_ms=800.0 + i) for i in range(50)]
    events.insert(20, HeartRate(time_ns=T0 + 5 * S, participant="p2", bpm=70.0))
    with Store(path) as store:
        store.add_events(events)
    report = sync_store(path, _target(influx_adapter, influx_server, influx_db), batch_points=16)
    assert report.delivered  # nothing left queued: 50 beats stored, 1 point dead-lettered
    assert report.dead_points == 1 and report.shipped_points == 50
    assert "dead_letters" in report.summary()
    assert influx_server.count("beat", db=influx_db) == 50
    with Store(path, readonly=True) as store:
        (dead,) = store.dead_letters()
    assert (dead.stream, dead.position, dead.status) == ("events", 21, 400)
    assert (
        dead.line
        == f'heart_rate,participant=p2,study=default bpm=70.0,contact="unsupported" {T0 + 5 * S}'
    )
    assert "field type conflict" in dead.message


def influx_adapter_write(server: InfluxServer, db: str, point: str) -> None:
    import urllib.parse
    import urllib.request

    params = urllib.parse.urlencode({"db": db, "u": server.user, "p": server.password})
    req = urllib.request.Request(f"{server.url}/write?{params}", data=point.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 204


def test_429_and_503_are_retried_honouring_retry_after(
    tmp_path: Path, influx_server: InfluxServer, influx_adapter: InfluxAdapter, influx_db: str
) -> None:
    path = tmp_path / "a.db"
    with Store(path) as store:
        store.add_events(
            [
                EdaSamples(
                    time_ns=T0,
                    participant="p1",
                    sampling_rate=4.0,
                    values_us=tuple(1.0 + i / 100 for i in range(40)),
                )
            ]
        )
    influx_adapter.inject(429, b'{"message":"slow down"}', {"Retry-After": "1"}, times=2)
    influx_adapter.inject(503, b'{"message":"busy"}', times=1)
    t0 = time.monotonic()
    report = sync_store(
        path,
        _target(influx_adapter, influx_server, influx_db, raw=True),
        backoff=Backoff(first_s=0.05, max_s=0.2),
    )
    elapsed = time.monotonic() - t0
    assert report.delivered and report.shipped_points == 40
    assert influx_adapter.stats.injected == 3
    assert elapsed >= 2.0  # two Retry-After: 1 waits, though our own backoff is 0.05-0.2 s
    rows = influx_server.rows('SELECT "conductance_us" FROM "eda"', db=influx_db)
    assert [(r["time"], r["conductance_us"]) for r in rows] == [
        (T0 + i * 250_000_000, 1.0 + i / 100) for i in range(40)
    ]


def test_unreachable_server_keeps_everything_queued_then_sync_delivers(
    tmp_path: Path,
    influx_server: InfluxServer,
    influx_adapter: InfluxAdapter,
    influx_db: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "a.db"
    with Store(path) as store:
        store.add_events(
            [Beat(time_ns=T0 + i * S, participant="p1", rr_ms=800.0) for i in range(30)]
        )
        store.add_results(
            stress=[
                StressRow(
                    time_ns=T0,
                    participant="p1",
                    study="s",
                    index=50.0,
                    confidence=1.0,
                    components={},
                    version="1",
                )
            ]
        )
    dead = InfluxTarget(url=f"http://127.0.0.1:{free_port()}", bucket=influx_db, token="t")
    with caplog.at_level(logging.WARNING):
        sink = InfluxSink(path, dead)
        sink.start()
        report = sink.close(0.5)
    assert not report.delivered
    assert report.queued_points == 31 and report.shipped_points == 0
    assert report.summary().startswith(
        f"InfluxDB unreachable, 31 points queued in {path} (connection refused)\n"
    )
    # The library says the data waits for a sync; the CLI adds the command (issue 17).
    assert "--" not in report.summary()
    advice = sync_advice(report)
    assert f"stresstrack sync {path} --influx-url {dead.url}" in advice
    assert "unreachable (connection refused); retrying" in caplog.text
    # Later, with the server back (here: the right URL), sync sends it all.
    report = sync_store(
        path, InfluxTarget(url=influx_adapter.url, bucket=influx_db, token=influx_server.token)
    )
    assert report.delivered and report.shipped_points == 31
    assert influx_counts(influx_server, influx_db) == {"beat": 30, "stress": 1}


def test_sink_tails_a_store_that_is_being_written(
    tmp_path: Path, influx_server: InfluxServer, influx_adapter: InfluxAdapter, influx_db: str
) -> None:
    """Live use: the recorder writes, the sink thread follows; drain waits for the rest."""
    path = tmp_path / "a.db"
    store = Store(path)
    sink = InfluxSink(path, _target(influx_adapter, influx_server, influx_db), poll_s=0.02)
    sink.start()
    for k in range(20):
        store.add_events(
            [Beat(time_ns=T0 + (k * 50 + i) * S, participant="p1", rr_ms=900.0) for i in range(50)]
        )
        time.sleep(0.01)
    assert sink.drain(10.0)
    report = sink.close(1.0)
    store.close()
    assert report.delivered and report.shipped_points == 1000
    assert influx_server.count("beat", db=influx_db) == 1000
