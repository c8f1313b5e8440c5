"""Self-report answers and lab values reach a real influxd as the measurements
``selfreport`` and ``lab`` (docs/schema.md), the sample's unit and the item as tags."""

from __future__ import annotations

import hashlib
from pathlib import Path

from influx_adapter import InfluxAdapter
from servers import InfluxServer

from stresstrack.events import LabSample, SelfReport
from stresstrack.sinks import InfluxTarget, sync_store
from stresstrack.store import Store

T0 = 1_767_603_600_000_000_000
S = 1_000_000_000


def test_answers_and_lab_values_are_replicated(
    tmp_path: Path, influx_server: InfluxServer, influx_adapter: InfluxAdapter, influx_db: str
) -> None:
    path = tmp_path / "a.db"
    with Store(path) as store:
        store.add_events(
            [
                SelfReport(time_ns=T0, participant="p1", study="s", device="terminal",
                           item="stress", value=64.0, prompt_id="after:stressor:1"),
                SelfReport(time_ns=T0, participant="p1", study="s", device="terminal",
                           item="calm", value=30.0, prompt_id="after:stressor:1"),
                LabSample(time_ns=T0 + 600 * S, participant="p1", study="s", device="csv",
                          analyte="cortisol", value=12.5, unit="nmol/L"),
            ]
        )  # fmt: skip
    target = InfluxTarget(url=influx_adapter.url, bucket=influx_db, token=influx_server.token)
    report = sync_store(path, target)
    assert report.delivered and report.shipped_points == 3 and report.dead_points == 0
    device = "d-" + hashlib.sha256(b"s\x00terminal").hexdigest()[:12]
    rows = influx_server.rows('SELECT * FROM "selfreport"', db=influx_db)
    # Two items at one instant: the second is written 1 ns later (docs/schema.md).
    assert sorted(rows, key=lambda r: r["time"]) == [
        {"time": T0, "device": device, "item": "stress", "participant": "p1",
         "prompt_id": "after:stressor:1", "study": "s", "value": 64.0},
        {"time": T0 + 1, "device": device, "item": "calm", "participant": "p1",
         "prompt_id": "after:stressor:1", "study": "s", "value": 30.0},
    ]  # fmt: skip
    lab = influx_server.rows('SELECT * FROM "lab"', db=influx_db)
    assert lab == [
        {"time": T0 + 600 * S, "analyte": "cortisol", "device": "d-"
         + hashlib.sha256(b"s\x00csv").hexdigest()[:12], "participant": "p1", "study": "s",
         "unit": "nmol/L", "value": 12.5}
    ]  # fmt: skip
