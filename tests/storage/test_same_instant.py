"""Issue 16, item 7: beats sharing a timestamp all reach InfluxDB.

A recording whose times are rounded to the millisecond (or two intervals ending on one tick)
holds beats at the same instant; on commit 317c45e InfluxDB kept one point per series and
timestamp, so 330 beats in the store became 300 in InfluxDB while ``sync`` reported
everything delivered. The k-th beat at one instant is now written at time + k ns
(docs/schema.md, "Same instant"); the real server must hold every one.
"""

from __future__ import annotations

from pathlib import Path

from influx_adapter import InfluxAdapter
from servers import InfluxServer

from stresstrack.events import Beat
from stresstrack.sinks import InfluxTarget, sync_store
from stresstrack.store.sqlite import Store

NS = 1_000_000_000
T0 = 1_767_603_600 * NS


def test_beats_at_the_same_instant_are_all_kept(
    tmp_path: Path, influx_server: InfluxServer, influx_adapter: InfluxAdapter, influx_db: str
) -> None:
    beats = [
        Beat(time_ns=T0 + k * NS, participant="p-1", device="d", rr_ms=800.0) for k in range(300)
    ]
    beats += [
        Beat(time_ns=T0 + k * 10 * NS, participant="p-1", device="d", rr_ms=790.0)
        for k in range(30)
    ]
    path = tmp_path / "s.db"
    with Store(path) as store:
        store.add_events(beats)
    target = InfluxTarget(url=influx_adapter.url, bucket=influx_db, token=influx_server.token)
    report = sync_store(path, target)
    assert report.delivered
    assert influx_server.count("beat", db=influx_db) == 330
    rows = influx_server.rows(
        'SELECT "rr_ms" FROM "beat" WHERE time = 1767603600000000001', db=influx_db
    )
    assert [r["rr_ms"] for r in rows] == [790.0]
